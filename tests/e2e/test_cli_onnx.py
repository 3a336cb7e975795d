"""The registry acceptance over HTTP, driven by the `steward` CLI: an ONNX model converted
from scikit-learn with skl2onnx, the approval rules, aliases, and `steward audit verify`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest

from steward.cli.main import main
from steward.local.platform import LocalPlatform

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(port=0, data_dir=ROOT / ".cache" / "local-e2e") as running:
        yield running


def steward(
    platform: LocalPlatform, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, object]:
    code = main(["--url", platform.url, "--json", *argv])
    out = capsys.readouterr()
    try:
        return code, json.loads(out.out) if out.out.strip() else out.err
    except json.JSONDecodeError:
        return code, out.out + out.err


def _onnx_model(tmp_path: Path) -> tuple[Path, Path, Path]:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    y = (x[:, 0] - x[:, 2] > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    onnx_model = to_onnx(model, x[:1], options={id(model): {"zipmap": False}})
    artifact = tmp_path / "model.onnx"
    artifact.write_bytes(onnx_model.SerializeToString())
    names = ["tenure", "charges", "usage"]
    signature = tmp_path / "signature.json"
    signature.write_text(json.dumps({"inputs": [{"name": n, "type": "double"} for n in names]}))
    reference = tmp_path / "reference.json"
    reference.write_text(json.dumps([dict(zip(names, map(float, row), strict=True)) for row in x]))
    return artifact, signature, reference


def test_onnx_lifecycle_through_the_cli(
    platform: LocalPlatform, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    artifact, signature, reference = _onnx_model(tmp_path)
    code, model = steward(
        platform,
        capsys,
        "--user",
        "alice",
        "models",
        "create",
        "--name",
        "cli-onnx",
        "--task",
        "classification",
    )
    assert code == 0 and model["name"] == "cli-onnx"  # type: ignore[index]
    code, version = steward(
        platform,
        capsys,
        "--user",
        "alice",
        "register",
        "cli-onnx",
        "--flavor",
        "onnx",
        "--artifact",
        str(artifact),
        "--signature",
        str(signature),
        "--reference",
        str(reference),
        "--metric",
        "auc=0.93",
    )
    assert code == 0 and version["version"] == 1  # type: ignore[index]
    for _ in range(100):
        _, v = steward(platform, capsys, "--user", "bob", "approvals")
        if any(i["name"] == "cli-onnx" for i in v["items"]):  # type: ignore[index]
            break
    else:
        pytest.fail("never reached the approval inbox")

    code, denied = steward(platform, capsys, "--user", "alice", "deploy", "cli-onnx", "1")
    assert code == 1 and "409" in str(denied)
    code, denied = steward(
        platform, capsys, "--user", "alice", "approve", "cli-onnx", "1", "-m", "mine"
    )
    assert code == 1 and "403" in str(denied)
    code, approved = steward(
        platform, capsys, "--user", "bob", "approve", "cli-onnx", "1", "-m", "ok"
    )
    assert code == 0 and approved["status"] == "APPROVED"  # type: ignore[index]
    code, deployed = steward(platform, capsys, "--user", "alice", "deploy", "cli-onnx", "1")
    assert code == 0 and deployed["aliases"] == {"production": 1}  # type: ignore[index]

    code, trail = steward(platform, capsys, "--user", "alice", "audit", "list", "cli-onnx")
    actions = [e["action"] for e in trail["items"]]  # type: ignore[index]
    assert actions[:7] == [
        "model.created",
        "version.registered",
        "version.validating",
        "version.checked",
        "version.pending_approval",
        "approval.requested",
        "version.approved",
    ]
    assert actions[7:] == ["alias.set"]
    code, verified = steward(platform, capsys, "--user", "alice", "audit", "verify", "cli-onnx")
    assert code == 0 and verified["ok"]  # type: ignore[index]

    # Someone with direct access to the table rewrites who approved.
    db = boto3.client("dynamodb")
    table = os.environ["STEWARD_AUDIT_TABLE"]
    key = {"stream": {"S": "cli-onnx"}, "seq": {"N": "7"}}  # version.approved
    item = db.get_item(TableName=table, Key=key)["Item"]
    db.put_item(
        TableName=table, Item={**item, "doc": {"S": item["doc"]["S"].replace("bob", "eve")}}
    )
    code, _ = steward(platform, capsys, "--user", "alice", "audit", "verify", "cli-onnx")
    assert code == 1


def test_pickle_upload_is_422_through_the_cli(
    platform: LocalPlatform, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import pickle

    steward(
        platform,
        capsys,
        "--user",
        "alice",
        "models",
        "create",
        "--name",
        "cli-pickle",
        "--task",
        "classification",
    )
    artifact = tmp_path / "model.pkl"
    artifact.write_bytes(pickle.dumps({"weights": [1, 2]}))
    code, error = steward(
        platform,
        capsys,
        "--user",
        "alice",
        "register",
        "cli-pickle",
        "--flavor",
        "sklearn",
        "--artifact",
        str(artifact),
        "--signature",
        str(_onnx_model(tmp_path)[1]),
    )
    assert code == 1 and "422" in str(error) and "skops" in str(error)
