"""``pip install steward`` is the client and the CLI: pydantic and the standard library.
The platform's libraries (onnxruntime, pyarrow, numpy, powertools, boto3) are the
``server`` extra, which ``local`` and ``dev`` include; the CLI's API commands and the
client run with all of them (and botocore) unimportable."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER = ("onnxruntime", "pyarrow", "numpy", "aws-lambda-powertools", "boto3")
BLOCKED = ("onnxruntime", "pyarrow", "numpy", "aws_lambda_powertools", "boto3", "botocore")
BLOCKED_TOO = ("pandas", "moto", "aws_cdk")
# The steward modules a user's client and CLI may load: nothing of the platform (the
# evidence verifier and the audit chain's hash are standard library only, for the CLI).
CLIENT_MODULES = re.compile(
    r"steward(\.(cli(\..+)?|client|polling|profiles|records|packs|auditchain))?"
)


def _project() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=~!; ]", requirement, maxsplit=1)[0].lower()


def _closure(extra: str, extras: dict[str, list[str]]) -> set[str]:
    """Every distribution ``steward[extra]`` installs, extras of steward followed."""
    names: set[str] = set()
    for requirement in extras[extra]:
        if requirement.startswith("steward["):
            for inner in requirement[len("steward[") : requirement.index("]")].split(","):
                names |= _closure(inner.strip(), extras)
        else:
            names.add(_name(requirement))
    return names


def test_the_base_install_pulls_no_platform_library() -> None:
    project = _project()
    base = {_name(r) for r in project["dependencies"]}
    assert base == {"pydantic"}
    extras = project["optional-dependencies"]
    assert set(SERVER) <= _closure("server", extras)
    assert _closure("aws", extras) == {"botocore"}
    for extra in ("local", "dev"):
        assert set(SERVER) <= _closure(extra, extras), extra
    assert {"pandas", "scikit-learn", "moto", "botocore"} <= _closure("dev", extras)


# A probe's first lines: the packages named in argv[1] fail to import, as if not installed.
BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = set(sys.argv[1].split(","))

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is not installed (blocked by the test)")
            return None

    sys.meta_path.insert(0, Blocker())
    """
)
PROBE = BLOCKER + textwrap.dedent(
    """
    import contextlib, io, json, threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Api(BaseHTTPRequestHandler):
        def _answer(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._answer({"status": "ok", "version": "test"})

        def do_POST(self):
            sent = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self._answer({"path": self.path, "sent": sent})

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}"

    from steward.cli.main import main
    from steward.client import Client

    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0, exc.code
    assert main(["--url", url, "--json", "health"]) == 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--url", url, "--json", "predict", "churn", "--file", sys.argv[2]]) == 0
    sent = json.loads(out.getvalue())["sent"]
    assert sent == {"instances": [{"x": 1.5, "plan": "basic"}, {"x": None, "plan": "pro"}]}, sent
    answer = Client(url=url).predict("churn", [{"x": 1.5}], version=2)
    assert answer == {"path": "/models/churn/predict?version=2",
                      "sent": {"instances": [{"x": 1.5}]}}, answer
    loaded = sorted(m for m in sys.modules if m.split(".")[0] == "steward")
    try:  # a deployed profile without botocore says which extra to install
        main(["--profile", "prod", "health"])
    except SystemExit as exc:
        assert "pip install 'steward[aws]'" in str(exc.code), exc.code
    else:
        raise AssertionError("a deployed profile ran without botocore")
    try:
        main(["local", "up"])
    except SystemExit as exc:
        assert "pip install 'steward[local]'" in str(exc.code), exc.code
    print(json.dumps(loaded))
    """
)


def test_the_cli_and_client_run_without_the_platform_libraries(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[profiles.prod]\nstack = "Steward"\n')
    records = tmp_path / "records.csv"
    records.write_text("x,plan\n1.5,basic\n,pro\n")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(BLOCKED + BLOCKED_TOO), str(records)],
        env={
            "PYTHONPATH": str(ROOT / "layers" / "steward"),
            "PATH": "/usr/bin:/bin",
            "STEWARD_CONFIG": str(tmp_path / "config.toml"),
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    loaded = json.loads(lines[-1])
    assert [m for m in loaded if not CLIENT_MODULES.fullmatch(m)] == []
    assert "usage: steward" in result.stdout  # --help printed
    assert "local" in result.stdout
