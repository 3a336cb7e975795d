"""One contract per port, run against the in-memory fake and the DynamoDB/S3 adapters."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steward.adapters.aws.audit_trail import DynamoAuditLog
from steward.adapters.aws.dynamodb import DynamoModelStore
from steward.adapters.aws.s3 import S3ArtifactStore, S3AuditCopy
from steward.adapters.memory import (
    MemoryArtifactStore,
    MemoryAuditCopy,
    MemoryAuditLog,
    MemoryModelStore,
)
from steward.domain.audit import next_event
from steward.domain.errors import AlreadyExists, BadRequest, Conflict, NotFound
from steward.domain.inventory import ModelFilter
from steward.domain.models import (
    Artifact,
    Flavor,
    Model,
    ModelVersion,
    RiskTier,
    Signature,
    Status,
    Task,
)
from steward.ports import ArtifactStore, AuditLog, ModelStore
from steward.ports.audit import AuditCopy, copy_key
from tests.integration.conftest import Stack

NOW = datetime(2026, 11, 1, tzinfo=UTC)
_counter = iter(range(10**6))


def _name() -> str:
    return f"contract-{next(_counter)}"


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest, stack: Stack) -> ModelStore:
    if request.param == "memory":
        return MemoryModelStore()
    return DynamoModelStore(boto3.client("dynamodb"), os.environ["STEWARD_REGISTRY_TABLE"])


@pytest.fixture(params=["memory", "dynamodb"])
def audit(request: pytest.FixtureRequest, stack: Stack) -> AuditLog:
    if request.param == "memory":
        return MemoryAuditLog()
    return DynamoAuditLog(boto3.client("dynamodb"), os.environ["STEWARD_AUDIT_TABLE"])


@pytest.fixture(params=["memory", "s3"])
def audit_copy(request: pytest.FixtureRequest, stack: Stack) -> AuditCopy:
    if request.param == "memory":
        return MemoryAuditCopy()
    return S3AuditCopy(boto3.client("s3"), os.environ["STEWARD_AUDIT_COPY_BUCKET"])


@pytest.fixture(params=["memory", "s3"])
def artifacts(request: pytest.FixtureRequest, stack: Stack) -> ArtifactStore:
    if request.param == "memory":
        return MemoryArtifactStore()
    return S3ArtifactStore(boto3.client("s3"), os.environ["STEWARD_ARTIFACTS_BUCKET"])


def _model(name: str) -> Model:
    return Model(
        name=name, task=Task.CLASSIFICATION, created_by="alice", created_at=NOW, updated_at=NOW
    )


def _version(name: str, number: int, status: Status = Status.REGISTERED, **kw: Any) -> ModelVersion:
    return ModelVersion(
        name=name,
        version=number,
        status=status,
        flavor=Flavor.LOGISTIC,
        task=Task.CLASSIFICATION,
        sha256="a" * 64,
        artifact=Artifact(uri=f"s3://b/models/{name}/{number}/model.json", sha256="a" * 64, size=1),
        signature=Signature.model_validate({"inputs": [{"name": "x"}]}),
        created_by="alice",
        created_at=NOW,
        updated_at=NOW,
        **kw,
    )


def test_models_create_read_conflict(store: ModelStore) -> None:
    name = _name()
    store.create_model(_model(name))
    assert store.get_model(name).name == name
    with pytest.raises(AlreadyExists):
        store.create_model(_model(name))
    with pytest.raises(NotFound):
        store.get_model(_name())


def test_model_saves_are_compare_and_set(store: ModelStore) -> None:
    name = _name()
    store.create_model(_model(name))
    model = store.get_model(name)
    saved = store.save_model(model.model_copy(update={"aliases": {"staging": 1}}), model.rev)
    assert saved.rev == model.rev + 1 and store.get_model(name).aliases == {"staging": 1}
    with pytest.raises(Conflict):
        store.save_model(model, model.rev)


def test_versions_are_gapless_and_unique(store: ModelStore) -> None:
    name = _name()
    store.create_model(_model(name))
    store.add_version(_version(name, 1))
    with pytest.raises(Conflict):
        store.add_version(_version(name, 1))
    with pytest.raises(Conflict):
        store.add_version(_version(name, 3))
    store.add_version(_version(name, 2))
    assert store.get_model(name).latest_version == 2
    page = store.list_versions(name, 1, None)
    assert [v.version for v in page.items] == [2] and page.next_token
    rest = store.list_versions(name, 5, page.next_token)
    assert [v.version for v in rest.items] == [1] and rest.next_token is None


def test_status_saves_are_compare_and_set(store: ModelStore) -> None:
    name = _name()
    store.create_model(_model(name))
    store.add_version(_version(name, 1))
    pending = _version(name, 1, Status.PENDING_APPROVAL)
    store.save_version(pending, Status.REGISTERED)
    with pytest.raises(Conflict):
        store.save_version(_version(name, 1, Status.REJECTED), Status.REGISTERED)
    listed = store.versions_by_status(Status.PENDING_APPROVAL, 100, None).items
    assert any(v.name == name for v in listed)


def test_task_tokens_are_taken_once(store: ModelStore) -> None:
    name = _name()
    store.put_task_token(name, 1, "tok")
    assert store.take_task_token(name, 1) == "tok"
    assert store.take_task_token(name, 1) is None


def test_audit_is_append_only_and_ordered(audit: AuditLog) -> None:
    stream = _name()
    first = next_event(None, stream=stream, actor="a", action="x", target=stream, at=NOW)
    audit.put(first)
    with pytest.raises(Conflict):
        audit.put(first.model_copy(update={"actor": "mallory"}).sealed())
    for i in range(3):
        audit.append(stream=stream, actor="a", action=f"y{i}", target=stream, clock=lambda: NOW)
    events = list(audit.all_events(stream))
    assert [e.seq for e in events] == [1, 2, 3, 4] and audit.head(stream) == events[-1]
    assert events[0].actor == "a" and stream in audit.streams()
    assert audit.recent(500, None).items


def test_artifacts_pin_versions(artifacts: ArtifactStore) -> None:
    uri, v1 = artifacts.put("models/x/1/model.json", b"one")
    _, v2 = artifacts.put("models/x/1/model.json", b"two")
    assert artifacts.get(uri, v1) == b"one" and artifacts.get(uri, v2) == b"two"
    with pytest.raises(NotFound):
        artifacts.get(uri.replace("model.json", "absent.json"))


def test_recent_audit_pages_newest_first_across_streams(audit: AuditLog) -> None:
    """From the time index: later than any other test's events, so these are the newest."""
    streams = [_name(), _name()]
    base = datetime(2099, 1, 1, tzinfo=UTC)
    for i in range(5):
        audit.append(
            stream=streams[i % 2],
            actor="a",
            action=f"z{i}",
            target="t",
            clock=lambda i=i: base.replace(minute=i),  # type: ignore[misc]
        )
    seen, token = [], None
    for _ in range(3):
        page = audit.recent(2, token)
        seen += [e.action for e in page.items]
        token = page.next_token
    assert seen[:5] == ["z4", "z3", "z2", "z1", "z0"]


def test_every_stream_at_once_equals_each_stream_read_alone(audit: AuditLog) -> None:
    streams = [_name(), _name(), _name()]
    for i in range(7):
        audit.append(
            stream=streams[i % 3], actor="a", action=f"a{i}", target="t", clock=lambda: NOW
        )
    together = audit.by_stream()
    for stream in streams:
        assert together[stream] == list(audit.all_events(stream))
    assert set(together) == set(audit.streams())


def test_the_audit_copy_is_written_once_per_event(audit_copy: AuditCopy) -> None:
    stream = _name()
    first = next_event(None, stream=stream, actor="a", action="x", target=stream, at=NOW)
    second = next_event(first, stream=stream, actor="a", action="y", target=stream, at=NOW)
    assert audit_copy.archive(first) and audit_copy.archive(second)
    assert not audit_copy.archive(first)  # delivered again: already copied
    assert audit_copy.digests(stream) == {1: {first.content_hash()}, 2: {second.content_hash()}}
    forged = first.model_copy(update={"actor": "mallory"}).sealed()
    assert audit_copy.archive(forged)  # a second event under seq 1 is kept beside the first
    assert audit_copy.digests(stream)[1] == {first.content_hash(), forged.content_hash()}
    assert stream in audit_copy.streams()


def test_s3_copies_cannot_be_deleted_or_hidden(stack: Stack) -> None:
    bucket = os.environ["STEWARD_AUDIT_COPY_BUCKET"]
    s3 = boto3.client("s3")
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    copy = S3AuditCopy(s3, bucket)
    stream = _name()
    event = next_event(None, stream=stream, actor="a", action="x", target=stream, at=NOW)
    copy.archive(event)
    key = copy_key(event)
    (version,) = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    with pytest.raises(ClientError):  # compliance mode: no one deletes a locked version
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
    s3.delete_object(Bucket=bucket, Key=key)  # a delete marker (the bucket policy denies it)
    assert copy.digests(stream) == {1: {event.content_hash()}}


# inventory: filters served by the index entries, name-ordered paging


def _listing(store: ModelStore, where: ModelFilter, limit: int = 2) -> list[str]:
    names: list[str] = []
    token: str | None = None
    while True:
        page = store.list_models(limit, token, where)
        assert len(page.items) <= limit
        names += [m.name for m in page.items]
        if page.next_token is None:
            return names
        token = page.next_token


def _inventory(store: ModelStore, run: str) -> dict[str, Model]:
    """Five models that differ in every filtered field, all tagged ``run``."""
    specs: dict[str, dict[str, Any]] = {
        "a": {"owner": "ann", "risk_tier": RiskTier.HIGH, "tags": {"team": "risk"}},
        "b": {"owner": "ann", "task": Task.REGRESSION, "description": "Churn of Retail clients"},
        "c": {"owner": "bo", "aliases": {"production": 1}, "tags": {"team": "ops", "pii": "yes"}},
        "d": {"owner": "bo", "latest_drift": {"drift_detected": True}, "risk_tier": RiskTier.LOW},
        "e": {"owner": "cy", "latest_drift": {"drift_detected": False}, "task": Task.DECISION},
    }
    out = {}
    for key, fields in specs.items():
        model = _model(f"inv-{run}-{key}").model_copy(
            update={**fields, "tags": {"run": run, **fields.get("tags", {})}}
        )
        store.create_model(model)
        out[key] = model
    return out


FILTERS: list[tuple[dict[str, Any], str]] = [
    ({}, "abcde"),
    ({"owner": "ann"}, "ab"),
    ({"risk_tier": "high"}, "a"),
    ({"risk_tier": "medium"}, "bce"),
    ({"task": "regression"}, "b"),
    ({"status": "APPROVED"}, "c"),
    ({"status": "none"}, "abde"),
    ({"drift": "detected"}, "d"),
    ({"drift": "clear"}, "e"),
    ({"drift": "none"}, "abc"),
    ({"tag": ("team:ops",)}, "c"),
    ({"tag": ("team:ops", "pii:yes")}, "c"),
    ({"tag": ("team:ops", "pii:no")}, ""),
    ({"q": "retail CHURN"}, "b"),
    ({"q": "nowhere"}, ""),
    ({"owner": "bo", "drift": "none"}, "c"),
    ({"owner": "ann", "q": "churn"}, "b"),
]


@pytest.mark.parametrize(("fields", "expected"), FILTERS)
def test_every_filter_lists_exactly_its_models(
    store: ModelStore, fields: dict[str, Any], expected: str
) -> None:
    run = uuid.uuid4().hex[:8]
    _inventory(store, run)
    tags = ("run:" + run, *fields.get("tag", ()))
    where = ModelFilter.model_validate({**fields, "tag": tags})
    assert _listing(store, where) == [f"inv-{run}-{k}" for k in expected]


def test_index_entries_follow_every_model_change(store: ModelStore) -> None:
    run = uuid.uuid4().hex[:8]
    _inventory(store, run)
    name = f"inv-{run}-a"
    model = store.get_model(name)
    store.save_model(
        model.model_copy(
            update={
                "owner": "dee",
                "risk_tier": RiskTier.LOW,
                "tags": {"run": run, "team": "ops"},
                "aliases": {"production": 2},
                "latest_drift": {"drift_detected": True},
                "description": "Quasar pricing",
            }
        ),
        model.rev,
    )

    def names(**fields: Any) -> list[str]:
        tags = ("run:" + run, *fields.pop("tag", ()))
        return _listing(store, ModelFilter.model_validate({**fields, "tag": tags}))

    assert name not in names(owner="ann") and name in names(owner="dee")
    assert name not in names(risk_tier="high") and name in names(risk_tier="low")
    assert name not in names(tag=("team:risk",)) and name in names(tag=("team:ops",))
    assert name in names(status="APPROVED") and name in names(drift="detected")
    assert name not in names(status="none") and name not in names(drift="none")
    assert names(q="quasar") == [name] and names(q="quasar", owner="dee") == [name]
    assert names(q="quasar", owner="ann") == [] and names(q="churn", owner="dee") == []
    quiet = store.get_model(name)  # the text alone changes: the entries' copies follow
    store.save_model(quiet.model_copy(update={"description": "Nebula"}), quiet.rev)
    assert names(q="nebula", owner="dee") == [name] and names(q="quasar", owner="dee") == []


def test_a_token_only_resumes_its_own_listing(store: ModelStore) -> None:
    run = uuid.uuid4().hex[:8]
    _inventory(store, run)
    where = ModelFilter(tag=("run:" + run,))
    page = store.list_models(1, None, where)
    assert page.next_token
    with pytest.raises(BadRequest):
        store.list_models(1, page.next_token, ModelFilter(tag=("run:" + run,), owner="ann"))
    with pytest.raises(BadRequest):
        store.list_models(1, "not-a-token", where)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    owners=st.lists(st.sampled_from(["ann", "bo"]), min_size=0, max_size=9),
    interleaved=st.lists(st.sampled_from(["ann", "bo"]), min_size=0, max_size=6),
    limit=st.integers(min_value=1, max_value=4),
)
def test_pages_union_is_the_filtered_set_under_concurrent_creates(
    store: ModelStore, owners: list[str], interleaved: list[str], limit: int
) -> None:
    """Every model that matched for the whole listing appears once; models created between
    page reads appear at most once; nothing appears twice or outside the filter."""
    run = uuid.uuid4().hex[:8]
    for i, owner in enumerate(owners):
        store.create_model(
            _model(f"p{run}-{i:02d}").model_copy(update={"owner": owner, "tags": {"run": run}})
        )
    where = ModelFilter(owner="ann", tag=("run:" + run,))
    before = {f"p{run}-{i:02d}" for i, o in enumerate(owners) if o == "ann"}
    pending = list(enumerate(interleaved))
    seen: list[str] = []
    token: str | None = None
    while True:
        page = store.list_models(limit, token, where)
        seen += [m.name for m in page.items]
        if pending:  # a create between two page reads, its name anywhere in the order
            i, owner = pending.pop(0)
            name = f"p{run}-{(i * 7) % 12:02d}x{i}"
            store.create_model(
                _model(name).model_copy(update={"owner": owner, "tags": {"run": run}})
            )
        if page.next_token is None:
            break
        token = page.next_token
    created = {f"p{run}-{(i * 7) % 12:02d}x{i}" for i, o in enumerate(interleaved) if o == "ann"}
    assert len(seen) == len(set(seen))
    assert before <= set(seen) <= before | created
    assert seen == sorted(seen)
