"""Evidence packs over HTTP on the local platform: exported by the CLI and the client,
byte-identical for the same instant, signed with the platform's key and verified offline
with its public key; a viewer may not export."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from steward.cli.main import main
from steward.client import ApiError, Client
from steward.local.platform import LocalPlatform
from steward.packs import verify
from steward.polling import until
from tests.factories import model_spec, register_body

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".cache" / "local-e2e"


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(port=0, data_dir=DATA) as running:
        yield running


def test_export_over_http_verifies_offline(
    platform: LocalPlatform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = Client(url=platform.url, user="alice"), Client(url=platform.url, user="bob")
    alice.post("/models", model_spec("evidence-churn"))
    alice.post("/models/evidence-churn/versions", register_body())
    until(
        lambda: alice.get("/models/evidence-churn/versions/1")["status"] == "PENDING_APPROVAL",
        10,
        step_s=0.05,
        what="validation",
    )
    bob.post("/models/evidence-churn/versions/1/decision", {"decision": "approve", "comment": "ok"})
    alice.put("/models/evidence-churn/aliases/production", {"version": 1})
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    until(lambda: datetime.now(UTC) > at, 5, step_s=0.1, what="the instant to pass")

    first = alice.evidence("evidence-churn", at)
    alice.post("/models/evidence-churn/versions", register_body())  # after `at`
    assert bob.evidence("evidence-churn", at) == first
    public = (DATA / "evidence-ed25519.pub").read_bytes()
    verdict = verify(first, public)
    assert verdict.ok and verdict.signature_checked, verdict.problem
    with zipfile.ZipFile(io.BytesIO(first)) as pack:
        names = pack.namelist()
        manifest = json.loads(pack.read("manifest.json"))
    assert "versions/1/approvals.json" in names and not any(
        n.startswith("versions/2") for n in names
    )
    assert manifest["at"] == at.isoformat()

    out = tmp_path / "pack.zip"
    url = ["--url", platform.url, "--user", "carol"]
    assert (
        main([*url, "evidence", "export", "evidence-churn", "--at", at.isoformat(), "-o", str(out)])
        == 0
    )
    assert out.read_bytes() == first
    key = tmp_path / "key.pub"
    key.write_bytes(public)
    assert main(["evidence", "verify", str(out), "--public-key", str(key)]) == 0
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info, data + b" " if info.filename == "model.json" else data)
    assert main(["evidence", "verify", str(broken)]) == 1

    # a pack over the inline size: kept in the reports bucket, fetched from a presigned URL
    from steward.api.routes import evidence as route

    monkeypatch.setattr(route, "INLINE_BYTES", 1024)
    reply = alice.exchange(
        "GET", f"/models/evidence-churn/evidence?at={quote(at.isoformat())}", raw=True
    )
    assert reply.status == 303 and "evidence/evidence-churn/" in (reply.header("Location") or "")
    assert alice.evidence("evidence-churn", at) == first

    with pytest.raises(ApiError) as refused:
        Client(url=platform.url, user="viewer").evidence("evidence-churn")
    assert refused.value.status == 403
