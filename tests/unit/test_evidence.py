"""Evidence packs on fakes: byte-reproducible at an instant, nothing after it, every member
hashed and checked offline, the index's links inside the pack, a valid CycloneDX 1.6 SBOM,
a signed manifest verified with the public key alone."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steward.adapters.memory import MemoryLogFiles, MemoryReportStore
from steward.domain.errors import BadRequest
from steward.domain.identity import UserDirectory
from steward.evidence.pack import EvidenceBuilder
from steward.packs import MANIFEST, SIGNATURE, verify
from steward.registry.requests import Decision, RegisterVersion
from steward.registry.service import Registry
from tests.factories import model_spec, parquet_log, reference_rows, register_body
from tests.unit.conftest import drift_service, plain_registry

USERS = UserDirectory()
T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)
CUT = datetime(2026, 11, 3, tzinfo=UTC)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def world(registry: Registry) -> tuple[Registry, MemoryReportStore]:
    """churn v1 in production with one drift report before CUT."""
    service = drift_service(registry, model_spec(), register_body(), T0 + timedelta(hours=3))
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    logs.files["predictions/model=churn/date=2026-11-02/hour=10/a.parquet"] = parquet_log(
        reference_rows(500, seed=3), T0
    )
    service.evaluate("churn", T0, T0 + timedelta(hours=1))
    reports = service.reports
    assert isinstance(reports, MemoryReportStore)
    return registry, reports


def _later_changes(registry: Registry, reports: MemoryReportStore) -> None:
    """After CUT: v2 registered, approved and in production, the risk tier raised, and a
    second report."""
    registry.clock.now = CUT + timedelta(days=1)  # type: ignore[attr-defined]
    alice, bob = USERS.identify("alice"), USERS.identify("bob")
    registry.register_version("churn", RegisterVersion.model_validate(register_body()), alice)
    registry.validate("churn", 2)
    registry.decide("churn", 2, Decision(decision="approve", comment="later"), bob)
    registry.set_alias("churn", "production", 2, alice)
    from steward.registry.requests import ModelUpdate

    registry.update_model("churn", ModelUpdate(risk_tier="high", reason="audit"), bob)
    (report, page), *_ = reports.reports.values()
    later = {**report, "report_id": "later", "created_at": "2026-11-20T00:00:00+00:00"}
    reports.save("churn", later, page)


def _build(registry: Registry, reports: MemoryReportStore, **kw: Any) -> bytes:
    pack = EvidenceBuilder(registry, reports, clock=lambda: NOW, **kw).build("churn", CUT)
    return pack.file.read()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_same_instant_same_bytes_even_after_later_changes(
    world: tuple[Registry, MemoryReportStore],
) -> None:
    registry, reports = world
    first = _build(registry, reports)
    assert _build(registry, reports) == first
    _later_changes(registry, reports)
    assert _build(registry, reports) == first
    assert verify(first).ok


def test_nothing_after_the_instant(world: tuple[Registry, MemoryReportStore]) -> None:
    registry, reports = world
    _later_changes(registry, reports)
    members = _members(_build(registry, reports))
    events = [json.loads(line) for line in members["audit/events.jsonl"].splitlines()]
    assert events and all(e["at"] <= CUT.isoformat() for e in events)
    assert not any(e["target"] == "churn/2" for e in events)
    assert not any(n.startswith("versions/2/") for n in members)
    model = json.loads(members["model.json"])
    assert model["aliases"] == {"production": 1} and model["risk_tier"] == "medium"
    assert "monitoring/reports/later.json" not in members
    assert len(json.loads(members["monitoring/history.json"])) == 1
    v1 = json.loads(members["versions/1/version.json"])
    assert v1["status"] == "APPROVED" and [a["actor"] for a in v1["approvals"]] == ["bob"]
    manifest = json.loads(members[MANIFEST])
    assert manifest["audit"]["head"]["seq"] == len(events)
    # the whole trail, exported now, holds the later events
    everything = _members(
        EvidenceBuilder(registry, reports, clock=lambda: NOW).build("churn").file.read()
    )
    assert b"churn/2" in everything["audit/events.jsonl"]
    assert json.loads(everything["model.json"])["aliases"] == {"production": 2}


def test_contents_card_sbom_and_index(world: tuple[Registry, MemoryReportStore]) -> None:
    registry, reports = world
    members = _members(_build(registry, reports))
    for name in (
        "model.json",
        "card/model-card.md",
        "card/model-card.html",
        "card/model-card.json",
        "versions/1/lineage.json",
        "versions/1/validation.json",
        "versions/1/gates.json",
        "versions/1/approvals.json",
        "versions/1/profile.json",
        "versions/1/explanations/attribution.json",  # the attribution profile (issue 17)
        "monitoring/latest.html",
        "monitoring/fairness.json",
        "sbom.cdx.json",
        "index.html",
    ):
        assert name in members, name
    assert json.loads(members["versions/1/lineage.json"])["code_ref"] == "git:abc123"
    assert json.loads(members["versions/1/approvals.json"])[0]["comment"] == "ok"
    assert b"# Model card: churn v1" in members["card/model-card.md"]
    index = members["index.html"].decode()
    links = re.findall(r"href='([^']*)'", index)
    assert links and all(link in members for link in links)
    assert "<script" not in index and "http" not in index
    for heading in ("Ongoing monitoring", "Outcomes analysis", "9. Post-market monitoring"):
        assert heading in index


def test_the_sbom_is_valid_cyclonedx_1_6(world: tuple[Registry, MemoryReportStore]) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    registry, reports = world
    raw = _members(_build(registry, reports))["sbom.cdx.json"]
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(raw.decode()) is None
    bom = json.loads(raw)
    model = [c for c in bom["components"] if c["type"] == "machine-learning-model"]
    assert model[0]["hashes"][0]["content"] == registry.get_version("churn", 1).sha256
    assert any(c["name"] == "pydantic" for c in bom["components"])


def test_what_is_not_held_is_said(registry: Registry) -> None:
    spec = model_spec(description="", use_case="")
    drift_service(registry, spec, register_body(), T0)
    members = _members(_build(registry, MemoryReportStore()))
    index = members["index.html"].decode()
    assert "the business rationale: the model&#x27;s description is empty" in index
    assert "no drift or performance report" in index


def _rezip(data: bytes, name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, content if info.filename == name else src.read(info.filename))
    return out.getvalue()


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A signed pack and its public key (PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from steward.adapters.keyfile import Ed25519KeyFile

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    path = tmp_path_factory.mktemp("evidence-key") / "ed25519.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    registry = plain_registry()
    service = drift_service(registry, model_spec(), register_body(), T0)
    reports = service.reports
    assert isinstance(reports, MemoryReportStore)
    data = _build(registry, reports, signer=Ed25519KeyFile(path))
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data, public


def test_a_signed_manifest_verifies_with_the_public_key_alone(signed: tuple[bytes, bytes]) -> None:
    data, public = signed
    verdict = verify(data, public)
    assert verdict.ok and verdict.signature_checked, verdict.problem
    unchecked = verify(data)
    assert unchecked.ok and unchecked.signed and not unchecked.signature_checked
    assert unchecked.notes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert verify(data, other).problem == "the manifest was signed with another key"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_a_changed_byte_in_any_member_fails_verification(
    signed: tuple[bytes, bytes], data: st.DataObject
) -> None:
    pack, public = signed
    members = _members(pack)
    name = data.draw(st.sampled_from(sorted(members)))
    content = members[name]
    offset = data.draw(st.integers(0, len(content) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = bytearray(content)
    changed[offset] ^= flip
    verdict = verify(_rezip(pack, name, bytes(changed)), public)
    assert not verdict.ok
    if name not in (MANIFEST, SIGNATURE):
        assert verdict.problem and name in verdict.problem


def test_the_audit_chain_and_its_head_are_checked(
    world: tuple[Registry, MemoryReportStore],
) -> None:
    registry, reports = world
    data = _build(registry, reports)
    members = _members(data)
    lines = members["audit/events.jsonl"].splitlines()
    # drop the last event and fix its listed hash: the chain holds, the head does not
    cut = b"\n".join(lines[:-1]) + b"\n"
    manifest = json.loads(members[MANIFEST])
    import hashlib

    for entry in manifest["files"]:
        if entry["path"] == "audit/events.jsonl":
            entry["sha256"], entry["bytes"] = hashlib.sha256(cut).hexdigest(), len(cut)
    forged = _rezip(
        _rezip(data, "audit/events.jsonl", cut), MANIFEST, json.dumps(manifest).encode()
    )
    assert verify(forged).problem == (
        "the manifest's audit chain head is not the audit slice's last event"
    )


def test_an_instant_in_the_future_or_before_the_model_is_refused(
    world: tuple[Registry, MemoryReportStore],
) -> None:
    registry, reports = world
    builder = EvidenceBuilder(registry, reports, clock=lambda: NOW)
    with pytest.raises(BadRequest):
        builder.build("churn", NOW + timedelta(seconds=1))
    with pytest.raises(BadRequest):
        builder.build("churn", datetime(2020, 1, 1, tzinfo=UTC))


VERIFY_PROBE = """
from steward.cli.main import main
code = main(["evidence", "verify", sys.argv[2]])
assert not any(m.startswith(("steward.domain", "steward.registry")) for m in sys.modules)
sys.exit(code)
"""


def test_verify_runs_where_only_the_cli_is_installed(
    world: tuple[Registry, MemoryReportStore], tmp_path: Path
) -> None:
    import subprocess
    import sys

    from tests.unit.test_packaging import BLOCKED, BLOCKED_TOO, BLOCKER, ROOT

    registry, reports = world
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    good.write_bytes(_build(registry, reports))
    members = _members(good.read_bytes())
    bad.write_bytes(_rezip(good.read_bytes(), "model.json", members["model.json"] + b" "))
    for path, code in ((good, 0), (bad, 1)):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                BLOCKER + VERIFY_PROBE,
                ",".join(BLOCKED + BLOCKED_TOO),
                str(path),
            ],
            env={"PYTHONPATH": str(ROOT / "layers" / "steward"), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == code, result.stderr[-2000:]
    assert "model.json: sha256 differs from the manifest" in result.stdout


def test_a_kms_signed_manifest_verifies_with_the_public_key_alone(
    world: tuple[Registry, MemoryReportStore],
) -> None:
    """KmsSigner through a real boto3 client (its requests validated against the KMS model);
    KMS itself answers from a local Ed25519 key, as moto has no Ed25519 keys."""
    import base64
    from types import SimpleNamespace

    import boto3
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from steward.adapters.aws.kms import KmsSigner

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    public = key.public_key()
    arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    calls: list[tuple[str, dict[str, Any]]] = []

    def kms_answers(params: dict[str, Any], model: Any, **_: Any) -> Any:
        body = json.loads(params["body"])
        calls.append((model.name, body))
        ok = SimpleNamespace(status_code=200, headers={}, raw=None)
        if model.name == "GetPublicKey":
            der = public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return ok, {"KeyId": arn, "PublicKey": der, "KeySpec": "ECC_NIST_EDWARDS25519"}
        signature = key.sign(base64.b64decode(body["Message"]))
        return ok, {"KeyId": arn, "Signature": signature, "SigningAlgorithm": "ED25519_SHA_512"}

    kms = boto3.client(
        "kms", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    kms.meta.events.register("before-call.kms.*", kms_answers)
    registry, reports = world
    data = _build(registry, reports, signer=KmsSigner(kms, arn))
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verdict = verify(data, pem)
    assert verdict.ok and verdict.signature_checked, verdict.problem
    sign = [body for name, body in calls if name == "Sign"]
    assert sign == [
        {
            "KeyId": arn,
            "Message": sign[0]["Message"],
            "MessageType": "RAW",
            "SigningAlgorithm": "ED25519_SHA_512",
        }
    ]
    assert len(base64.b64decode(sign[0]["Message"])) <= 4096
    assert _build(registry, reports, signer=KmsSigner(kms, arn)) == data  # deterministic


def test_every_byte_of_the_signature_record_counts(signed: tuple[bytes, bytes]) -> None:
    """Found by the property above: a byte of a field the verifier did not read, or of the
    JSON's whitespace, changed nothing; the record must now be exactly as written."""
    pack, public = signed
    raw = _members(pack)[SIGNATURE]
    for offset in range(len(raw)):
        for flip in (1, 0x29):  # a neighbouring character; a space made a tab
            changed = bytearray(raw)
            changed[offset] ^= flip
            assert not verify(_rezip(pack, SIGNATURE, bytes(changed)), public).ok, offset


def test_the_index_escapes_what_people_typed(registry: Registry) -> None:
    spec = model_spec(description="<script>alert(1)</script> & <img src=x onerror=y>")
    drift_service(registry, spec, register_body(), T0)
    index = _members(_build(registry, MemoryReportStore()))["index.html"].decode()
    assert "<script" not in index and "<img" not in index
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=y&gt;" in index


def test_a_pack_cut_at_an_events_own_instant_verifies(
    world: tuple[Registry, MemoryReportStore],
) -> None:
    """'As of this approval': the event at exactly ``at`` is in the pack, and the verifier
    compares instants, not strings (events say ``...Z``, the manifest ``...+00:00``, and
    ``Z`` sorts after ``+``: the pack failed its own verification)."""
    registry, reports = world
    approved = next(e for e in registry.audit_log.all_events("churn") if "approved" in e.action)
    builder = EvidenceBuilder(registry, reports, clock=lambda: NOW)
    data = builder.build("churn", approved.at).file.read()
    members = _members(data)
    last = json.loads(members["audit/events.jsonl"].splitlines()[-1])
    assert last["seq"] == approved.seq
    verdict = verify(data)
    assert verdict.ok, verdict.problem
    # a manifest whose `at` is a second before its last event still fails
    manifest = json.loads(members[MANIFEST])
    manifest["at"] = (approved.at - timedelta(seconds=1)).isoformat()
    forged = _rezip(data, MANIFEST, json.dumps(manifest).encode())
    assert verify(forged).problem == (
        f"audit event {approved.seq} is later than the pack's time {manifest['at']}"
    )


def _trainer_zip(text: str) -> str:
    import base64

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("train.py", text)
    return base64.b64encode(out.getvalue()).decode()


def test_the_trainer_is_as_it_was_at_the_instant(
    world: tuple[Registry, MemoryReportStore],
) -> None:
    """model.json's trainer is replayed from ``trainer.set`` (its after had no key named
    ``trainer``: every pack said null), and a later trainer does not leak back."""
    from steward.registry.trainers import SetTrainer

    registry, reports = world
    alice = USERS.identify("alice")
    clock = registry.clock
    before = clock.now  # type: ignore[attr-defined]
    assert (
        json.loads(_members(_build_at(registry, reports, before))["model.json"])["trainer"] is None
    )
    clock.now = before + timedelta(minutes=5)  # type: ignore[attr-defined]
    first = registry.set_trainer(
        "churn", SetTrainer(source_b64=_trainer_zip("print(1)"), timeout_s=600), alice
    )
    cut = clock.now  # type: ignore[attr-defined]
    clock.now = cut + timedelta(minutes=5)  # type: ignore[attr-defined]
    second = registry.set_trainer("churn", SetTrainer(source_b64=_trainer_zip("print(2)")), alice)
    assert second.sha256 != first.sha256
    data = _build_at(registry, reports, cut)
    trainer = json.loads(_members(data)["model.json"])["trainer"]
    assert trainer["sha256"] == first.sha256 and trainer["timeout_s"] == 600
    assert trainer["uri"] == first.uri and trainer["size"] == first.size
    assert trainer["updated_by"] == "alice" and trainer["entry_point"] == ["python", "train.py"]
    assert verify(data).ok
    now = json.loads(_members(_build_at(registry, reports, clock.now))["model.json"])  # type: ignore[attr-defined]
    assert now["trainer"]["sha256"] == second.sha256


def _build_at(registry: Registry, reports: MemoryReportStore, at: datetime) -> bytes:
    return EvidenceBuilder(registry, reports, clock=lambda: NOW).build("churn", at).file.read()


def test_gates_concluded_after_the_instant_are_absent(
    world: tuple[Registry, MemoryReportStore],
) -> None:
    """A version validated and held for its gates keeps its validation's time when the
    gates conclude on the same record: a pack cut in between showed the later gates."""
    registry, reports = world
    alice = USERS.identify("alice")
    registry.register_version("churn", RegisterVersion.model_validate(register_body()), alice)
    registry.validate("churn", 2, hold=True)
    held = registry.clock.now  # type: ignore[attr-defined]
    evidence = {"verdict": "reject", "metrics": {"roc_auc": {"candidate": 0.5}}}
    registry.conclude_validation("churn", 2, "reject", "roc_auc below the champion", evidence)
    then = json.loads(_members(_build_at(registry, reports, held))["versions/2/validation.json"])
    assert then["gates"] is None and then["ok"] is True and "gates" not in then["checks"]
    later = _members(_build_at(registry, reports, registry.clock.now))  # type: ignore[attr-defined]
    now = json.loads(later["versions/2/validation.json"])
    assert now["gates"] == evidence and now["ok"] is False and "gates" in now["checks"]
    assert json.loads(later["versions/2/version.json"])["status"] == "REJECTED"
