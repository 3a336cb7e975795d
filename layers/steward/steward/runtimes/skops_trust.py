"""Which types a skops artifact may name: skops's own defaults, Steward's reviewed list of
scikit-learn's internal types (:mod:`steward.runtimes.skops_allowlist`), and what the
deployment's admin adds (CDK context ``steward:skopsTrusted``, environment variable
``STEWARD_SKOPS_TRUSTED`` on the local platform). docs/skops-allowlist.md says how the list
was built and reviewed.

The review rules are here, in one place, for the generator, the test of the shipped list, the
CDK app (which refuses to synthesize a deployment naming a forbidden type) and the runtime:
a name in a module that runs code, reads files or builds callables is never trusted, whoever
asks; the shipped list holds only classes defined in ``sklearn.*`` modules.
"""

from __future__ import annotations

import importlib
import re

from steward.runtimes.skops_allowlist import TRUSTED

ENV = "STEWARD_SKOPS_TRUSTED"
CONTEXT = "steward:skopsTrusted"
DOCS = "docs/skops-allowlist.md"

TYPE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")

# Modules whose names run code, import, reach the OS, files or the network, or (de)serialize
# with pickle: nothing in them is ever trusted (prefixes: ``os`` covers ``os.path``).
NEVER_MODULES = (
    "builtins",
    "__builtin__",
    "os",
    "posix",
    "nt",
    "sys",
    "subprocess",
    "shutil",
    "pathlib",
    "io",
    "tempfile",
    "socket",
    "ssl",
    "http",
    "urllib",
    "requests",
    "functools",
    "operator",
    "itertools",
    "types",
    "inspect",
    "importlib",
    "pkgutil",
    "runpy",
    "code",
    "codeop",
    "ctypes",
    "cffi",
    "pty",
    "signal",
    "threading",
    "multiprocessing",
    "concurrent",
    "asyncio",
    "pickle",
    "_pickle",
    "copyreg",
    "marshal",
    "shelve",
    "dill",
    "cloudpickle",
    "joblib",
    "skops",
    "numpy.ctypeslib",
    "numpy.f2py",
    "numpy.distutils",
    "numpy.testing",
    "numpy.lib.format",
    "numpy.lib.npyio",
    "scipy.io",
    "scipy.LowLevelCallable",
    "sklearn.externals",
    "sklearn.utils._testing",
    "sklearn.utils.estimator_checks",
    "sklearn.datasets",
)
# numpy names that read or write files, or call a Python callable they are given.
NEVER_NAMES = frozenset(
    {
        "numpy.load",
        "numpy.loadtxt",
        "numpy.genfromtxt",
        "numpy.fromfile",
        "numpy.fromregex",
        "numpy.save",
        "numpy.savez",
        "numpy.savez_compressed",
        "numpy.savetxt",
        "numpy.memmap",
        "numpy.DataSource",
        "numpy.vectorize",
        "numpy.frompyfunc",
        "numpy.fromfunction",
        "numpy.apply_along_axis",
        "numpy.apply_over_axes",
        "numpy.piecewise",
        "numpy.nditer",
    }
)
# Index-holding Cython types Steward does not bounds-check (steward.runtimes.tree_checks
# checks Tree and TreePredictor): not shipped; an admin may add them for artifacts from a
# source they control.
UNCHECKED_INDEX_TYPES = frozenset(
    {"sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._ball_tree.BallTree"}
)
CHECKED_INDEX_TYPES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)


def forbidden(name: str) -> str | None:
    """Why ``name`` may never be trusted, by anyone; ``None`` when it may. No import."""
    if not TYPE_NAME.match(name):
        return "not a dotted module.Name"
    if name in NEVER_NAMES or any(name == m or name.startswith(m + ".") for m in NEVER_MODULES):
        return "it can run code, import, or touch files, processes or the network"
    return None


def resolve(name: str) -> object | None:
    """The object ``name`` names, importing its module; ``None`` if there is none."""
    module, _, attr = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return None


def shipped_refusal(name: str) -> str | None:
    """Why ``name`` may not be on the shipped list (imports its module)."""
    why = forbidden(name)
    if why:
        return why
    if not name.startswith("sklearn."):
        return "outside scikit-learn"
    if name in UNCHECKED_INDEX_TYPES:
        return (
            "holds raw node indices scikit-learn follows without bounds checks, "
            "and Steward does not check them"
        )
    obj = resolve(name)
    if not isinstance(obj, type):
        return "not a class (a function or other callable)"
    if obj.__module__.split(".")[0] != "sklearn":
        return f"defined in {obj.__module__}, not in scikit-learn"
    return None


def parse_extra(value: object) -> list[str]:
    """The admin's additions, from a list or a comma-separated string; a forbidden name is
    a configuration error (raised, naming it), never silently dropped."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        names = [n.strip() for n in value.split(",") if n.strip()]
    elif isinstance(value, list | tuple) and all(isinstance(n, str) for n in value):
        names = [n.strip() for n in value]
    else:
        raise ValueError(f"{CONTEXT} / {ENV}: a list of type names, or names separated by commas")
    refused = {n: why for n in names if (why := forbidden(n))}
    if refused:
        listed = "; ".join(f"{n}: {why}" for n, why in sorted(refused.items()))
        raise ValueError(f"{CONTEXT} / {ENV} names types that are never trusted ({listed})")
    return sorted(set(names))


_added: list[str] = []


def trust_added(added: list[str]) -> None:
    """Set the deployment's additions (``steward.wiring`` does, from the settings, when it
    builds the services: the runtimes and the registry read no settings themselves)."""
    _added[:] = parse_extra(added)


def added() -> list[str]:
    """The deployment's additions, as last set by :func:`trust_added`."""
    return list(_added)


def effective(extra: list[str] | None = None) -> list[str]:
    """Every type trusted beyond skops's defaults: the shipped list and ``extra`` (the
    deployment's additions by default)."""
    return sorted(set(TRUSTED) | set(added() if extra is None else extra))


def untrusted_message(names: list[str]) -> str:
    """The 422 for an artifact naming types this deployment does not trust."""
    never = [n for n in names if forbidden(n)]
    others = [n for n in names if n not in never]
    parts = []
    if others:
        parts.append(
            f"the skops file names types this deployment does not trust: {', '.join(others)}. "
            f"If you know what they hold and trust where the file comes from, an admin can "
            f"add them: CDK context {CONTEXT} (a list of type names) in AWS, the environment "
            f"variable {ENV} (comma-separated) on the local platform; see {DOCS}"
        )
    if never:
        parts.append(
            f"the skops file names types that are never trusted (they can run code or "
            f"touch files): {', '.join(never)}; convert the model to ONNX or drop them"
        )
    return ". ".join(parts)
