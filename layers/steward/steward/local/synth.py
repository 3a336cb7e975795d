"""Synthesize the CDK app for the local platform (bundling skipped: the handlers run in-process).

Run in a subprocess so that the platform process never hosts the CDK's Node runtime; the
template is cached by a fingerprint of everything that shapes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from steward.local.paths import repo_root

STACK = "Steward"
# The platform serves console/ itself: no CloudFront (which moto's CloudFormation lacks).
# authMode=local (a header names the caller) is refused by synth without both
# steward:localPlatform and skipped bundling (``cdk deploy`` always bundles its stacks).
LOCAL_CONTEXT = {
    "aws:cdk:bundling-stacks": [],
    "steward:authMode": "local",
    "steward:localPlatform": True,
    "steward:console": False,
    # moto's CloudFormation has no CodeBuild: the codebuild trainer branch fails in words.
    "steward:codebuildTrainer": "false",
}


def fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    files = [root / "cdk.json", *sorted((root / "infra").rglob("*.py"))]
    files += sorted((root / "layers" / "deps").glob("*.txt"))
    files += sorted((root / "functions").glob("*/*.py"))
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    digest.update(json.dumps(LOCAL_CONTEXT, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def local_template(cache_dir: Path) -> dict[str, Any]:
    """The stack template as ``cdk synth`` makes it, synthesized once per change of the app."""
    root = repo_root()
    cached = cache_dir / f"template-{fingerprint(root)}.json"
    if not cached.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        outdir = cache_dir / "cdk.out"
        env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "steward.local.synth", str(outdir)],
            cwd=root,
            env=env,
            check=True,
        )
        cached.write_text((outdir / f"{STACK}.template.json").read_text())
    template: dict[str, Any] = json.loads(cached.read_text())
    return template


def main() -> None:
    root = repo_root()
    sys.path.insert(0, str(root))
    from infra.app import build_app

    app, _ = build_app(outdir=sys.argv[1], context=dict(LOCAL_CONTEXT), nag=False)
    app.synth()


if __name__ == "__main__":
    main()
