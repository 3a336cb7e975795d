"""Scoring on in-memory fakes: routing, validation, flags, shadow, canary, the log records."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.adapters.memory import MemoryLogSink
from steward.domain.errors import Conflict, PayloadTooLarge, ValidationFailed
from steward.domain.identity import UserDirectory
from steward.domain.models import ModelSpec, TrafficPolicy
from steward.registry.requests import Decision, RegisterVersion
from steward.registry.service import Registry
from steward.scoring.inputs import MAX_ROWS, PredictRequest
from steward.scoring.routing import Variant, bucket, route
from steward.scoring.service import Scorer
from steward.scoring.writer import group_messages, to_parquet, write_batch
from tests.factories import b64, model_spec, reference_rows, register_body

USERS = UserDirectory()


@given(st.text(min_size=1, max_size=40))
def test_bucket_is_stable_and_in_range(key: str) -> None:
    assert 0 <= bucket(key) < 10_000 and bucket(key) == bucket(key)


def test_canary_share_and_stickiness() -> None:
    policy = TrafficPolicy(champion=1, challenger=2, challenger_percent=20)
    keys = [f"customer-{i}" for i in range(5000)]
    challengers = sum(route(policy, k).variant is Variant.CHALLENGER for k in keys)
    assert 0.17 <= challengers / 5000 <= 0.23
    assert all(route(policy, k) == route(policy, k) for k in keys[:500])
    shadow = route(TrafficPolicy(champion=1, challenger=2, mode="shadow"), "x")
    assert shadow.version == 1 and shadow.shadow_version == 2
    assert route(TrafficPolicy(champion=3), "x").version == 3


def _served(registry: Registry, *coefficients: float) -> list[int]:
    registry.create_model(ModelSpec.model_validate(model_spec()), USERS.identify("alice"))
    numbers = []
    for c in coefficients:
        art = json.dumps({"intercept": -1.0, "coefficients": {"tenure": c, "charges": 0.02}})
        request = RegisterVersion.model_validate(register_body(artifact=art.encode()))
        number = registry.register_version("churn", request, USERS.identify("alice")).version
        registry.validate("churn", number)
        registry.decide(
            "churn", number, Decision(decision="approve", comment="ok"), USERS.identify("bob")
        )
        numbers.append(number)
    registry.set_alias("churn", "production", numbers[0], USERS.identify("alice"))
    return numbers


@pytest.fixture
def scorer(registry: Registry) -> Scorer:
    return Scorer(registry.store, registry.artifacts, MemoryLogSink())


def _sink(scorer: Scorer) -> MemoryLogSink:
    assert isinstance(scorer.sink, MemoryLogSink)
    return scorer.sink


def test_predictions_match_the_formula_and_are_logged(registry: Registry, scorer: Scorer) -> None:
    _served(registry, -0.04)
    rows = reference_rows(50)
    response = scorer.predict("churn", PredictRequest(instances=rows))
    z = np.array([-1 - 0.04 * r["tenure"] + 0.02 * r["charges"] for r in rows])
    probabilities = [p["probability"] for p in response.predictions]
    assert np.allclose(probabilities, 1 / (1 + np.exp(-z)), atol=1e-12)
    assert response.version == 1 and len(set(response.request_ids)) == 50
    logged = _sink(scorer).records()
    assert [r["request_id"] for r in logged] == response.request_ids
    assert logged[0]["features"] == rows[0] and logged[0]["variant"] == "champion"


def test_validation_errors_and_quality_flags(registry: Registry, scorer: Scorer) -> None:
    _served(registry, -0.04)
    with pytest.raises(ValidationFailed, match="charges"):
        scorer.predict("churn", PredictRequest(instances=[{"tenure": 1.0, "plan": "pro"}]))
    with pytest.raises(ValidationFailed, match="tenure must be a number"):
        scorer.predict(
            "churn", PredictRequest(instances=[{"tenure": "x", "charges": 1.0, "plan": "pro"}])
        )
    with pytest.raises(ValidationFailed, match="no records"):
        scorer.predict("churn", PredictRequest(instances=[]))
    with pytest.raises(PayloadTooLarge):
        scorer.predict("churn", PredictRequest(instances=[{"tenure": 1.0}] * (MAX_ROWS + 1)))
    odd = {"tenure": -5.0, "charges": None, "plan": "gold"}
    assert (
        scorer.predict("churn", PredictRequest(instances=[odd, reference_rows(1)[0]])).flagged == 1
    )
    flags = _sink(scorer).records()[-2]["flags"]
    assert sorted(flags) == ["charges:null", "plan:unseen_category", "tenure:out_of_range"]


def test_dataframe_split_equals_instances(registry: Registry, scorer: Scorer) -> None:
    _served(registry, -0.04)
    rows = reference_rows(5)
    split = {
        "columns": ["plan", "charges", "tenure"],
        "data": [[r["plan"], r["charges"], r["tenure"]] for r in rows],
    }
    a = scorer.predict("churn", PredictRequest(instances=rows)).predictions
    b = scorer.predict(
        "churn", PredictRequest.model_validate({"dataframe_split": split})
    ).predictions
    assert a == b


def test_pinned_canary_and_shadow(registry: Registry, scorer: Scorer) -> None:
    first, second = _served(registry, -0.04, -0.5)
    rows = reference_rows(400)
    pinned = scorer.predict("churn", PredictRequest(instances=rows[:3]), version=second)
    assert pinned.version == second
    registry.set_traffic(
        "churn",
        TrafficPolicy(champion=first, challenger=second, challenger_percent=50),
        USERS.identify("alice"),
    )
    scorer._models.clear()
    keys = [f"k{i}" for i in range(400)]
    canary = scorer.predict("churn", PredictRequest(instances=rows, keys=keys))
    assert canary.versions is not None and set(canary.versions) == {first, second}
    again = scorer.predict("churn", PredictRequest(instances=rows, keys=keys))
    assert again.versions == canary.versions  # sticky by key
    registry.set_traffic(
        "churn",
        TrafficPolicy(champion=first, challenger=second, mode="shadow"),
        USERS.identify("alice"),
    )
    scorer._models.clear()
    before = len(_sink(scorer).records())
    shadowed = scorer.predict("churn", PredictRequest(instances=rows[:10]))
    assert shadowed.versions is None and shadowed.version == first
    logged = _sink(scorer).records()[before:]
    assert sorted({(r["version"], r["variant"]) for r in logged}) == [
        (first, "champion"),
        (second, "shadow"),
    ]
    assert len(logged) == 20


def _logged_answers(scorer: Scorer, since: int) -> dict[str, tuple[int, str]]:
    """request id -> (version, variant) of the answering rows logged since ``since``."""
    logged = _sink(scorer).records()[since:]
    return {
        r["request_id"]: (r["version"], r["variant"]) for r in logged if r["variant"] != "shadow"
    }


@pytest.mark.parametrize("percent", [100, 50])
def test_the_response_names_the_version_that_answered_and_the_log_agrees(
    registry: Registry, scorer: Scorer, percent: int
) -> None:
    first, second = _served(registry, -0.04, -0.5)
    registry.set_traffic(
        "churn",
        TrafficPolicy(champion=first, challenger=second, challenger_percent=percent),
        USERS.identify("alice"),
    )
    rows = reference_rows(200)
    before = len(_sink(scorer).records())
    response = scorer.predict("churn", PredictRequest(instances=rows))
    logged = _logged_answers(scorer, before)
    per_record = response.versions or [response.version] * len(rows)
    assert [logged[rid] for rid in response.request_ids] == [
        (v, "challenger" if v == second else "champion") for v in per_record
    ]
    if percent == 100:
        assert response.version == second and response.versions is None
    else:
        assert response.versions is not None and set(response.versions) == {first, second}
        assert response.version == first  # the champion when the answer is split


def test_no_production_version_is_409(registry: Registry, scorer: Scorer) -> None:
    registry.create_model(ModelSpec.model_validate(model_spec("empty")), USERS.identify("alice"))
    with pytest.raises(Conflict, match="no production"):
        scorer.predict("empty", PredictRequest(instances=[{"tenure": 1.0}]))


def test_writer_groups_by_hour_and_reports_failures() -> None:
    def message(mid: str, hour: str, n: int) -> tuple[str, str]:
        batch = {
            "kind": "predictions",
            "model": "churn",
            "ts": f"2026-11-27T{hour}:00:00+00:00",
            "rows": n,
            "columns": {
                "request_id": [f"{mid}-{i}" for i in range(n)],
                "version": [1] * n,
                "variant": ["champion"] * n,
                "features": {"tenure": [float(i) for i in range(n)], "model": ["x"] * n},
                "prediction": [1] * n,
                "score": [0.7] * n,
                "latency_ms": [0.01] * n,
                "flags": [[]] * n,
            },
        }
        return mid, json.dumps(batch)

    messages = [message("a", "10", 3), message("b", "11", 2), ("c", "not json")]
    groups, poison = group_messages(messages)
    assert poison == ["c"] and {g.hour.hour for g in groups} == {10, 11}
    import io

    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(to_parquet(groups[0])))
    assert table.num_rows == 3 and "feature_model" in table.column_names  # reserved name kept apart
    written: dict[str, bytes] = {}

    def put(key: str, data: bytes) -> None:
        if "hour=11" in key:
            raise OSError("S3 is down")
        written[key] = data

    assert write_batch(messages, put) == ["b", "c"]
    assert list(written) == [groups[0].key]
    assert groups[0].key.startswith("predictions/model=churn/date=2026-11-27/hour=10/")


def test_large_batches_split_under_the_message_limit_in_utf8_bytes() -> None:
    from steward.adapters.aws.sqs import MAX_BYTES, SqsLogSink

    n = 5000
    batch = {
        "ts": "2026-11-27T10:00:00+00:00",
        "rows": n,
        "columns": {
            "request_id": [f"{i:040d}" for i in range(n)],
            "version": [1] * n,
            "variant": ["champion"] * n,
            # three bytes per character in UTF-8: a character count would undercount
            "features": {"x": [0.5] * n, "city": ["東京都千代田区"] * n},
            "prediction": [1] * n,
            "score": [0.5] * n,
            "probabilities": [{"0": 0.2, "1": 0.3, "2": 0.5}] * n,
            "latency_ms": [0.1] * n,
            "flags": [[]] * n,
        },
    }
    bodies = SqsLogSink._bodies("predictions", "m", batch)
    assert len(bodies) > 1
    assert all(size == len(body.encode()) <= MAX_BYTES for body, size in bodies)
    parts = [json.loads(b) for b, _ in bodies]
    assert sum(p["rows"] for p in parts) == n
    assert all(len(p["columns"]["probabilities"]) == p["rows"] for p in parts)


@given(st.lists(st.integers(1, 256 * 1024), max_size=60))
def test_sqs_batches_keep_order_and_stay_under_both_limits(sizes: list[int]) -> None:
    from steward.adapters.aws.sqs import MAX_BYTES, MAX_ENTRIES, packed

    batches = list(packed(sizes))
    assert [i for b in batches for i in b] == list(range(len(sizes)))
    for batch in batches:
        assert 1 <= len(batch) <= MAX_ENTRIES
        assert sum(sizes[i] for i in batch) <= MAX_BYTES or len(batch) == 1


def test_message_size_counts_utf8_and_attributes() -> None:
    from steward.adapters.aws.sqs import message_size

    assert message_size("é") == 2
    attributes = {"kind": {"DataType": "String", "StringValue": "prédictions"}}
    assert message_size("ab", attributes) == 2 + len("kind") + len("String") + 12


def test_decision_models_explain_their_outcome(registry: Registry, scorer: Scorer) -> None:
    registry.create_model(
        ModelSpec.model_validate(model_spec("rules", task="decision")), USERS.identify("alice")
    )
    rules = {
        "rules": [
            {
                "id": "long",
                "when": [{"feature": "tenure", "op": ">=", "value": 24}],
                "outcome": "keep",
            }
        ],
        "default": "call",
    }
    request = RegisterVersion.model_validate(
        register_body(flavor="rules", artifact_b64=b64(json.dumps(rules).encode()))
    )
    number = registry.register_version("rules", request, USERS.identify("alice")).version
    registry.validate("rules", number)
    registry.decide(
        "rules", number, Decision(decision="approve", comment="ok"), USERS.identify("bob")
    )
    registry.set_alias("rules", "production", number, USERS.identify("alice"))
    out = scorer.predict(
        "rules", PredictRequest(instances=[{"tenure": 30.0, "charges": 1.0, "plan": "pro"}])
    )
    assert out.predictions == [{"outcome": "keep", "explanation": {"rule": "long"}}]


def test_tracing_records_load_predict_and_handoff_subsegments(
    registry: Registry, scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import contextmanager
    from types import SimpleNamespace
    from typing import Any

    from steward.scoring import tracing

    assert tracing.tracer() is None  # off in tests: the X-Ray SDK is never imported
    segments: list[tuple[str, dict[str, Any]]] = []

    @contextmanager
    def in_subsegment(name: str) -> Any:
        annotations: dict[str, Any] = {}
        yield SimpleNamespace(put_annotation=annotations.__setitem__)
        segments.append((name, annotations))

    fake = SimpleNamespace(provider=SimpleNamespace(in_subsegment=in_subsegment))
    monkeypatch.setattr(tracing, "tracer", lambda: fake)
    _served(registry, -0.04)
    scorer.predict("churn", PredictRequest(instances=reference_rows(3)))
    scorer.predict("churn", PredictRequest(instances=reference_rows(2)))
    assert [name for name, _ in segments] == [
        "load_model",
        "predict",
        "log_handoff",
        "predict",
        "log_handoff",
    ]
    assert segments[1][1] == {"model": "churn", "version": 1, "rows": 3}


_json_values = st.one_of(st.none(), st.floats(allow_nan=False), st.integers(), st.text(max_size=5))


@given(
    st.dictionaries(
        st.sampled_from(["instances", "keys", "dataframe_split", "extra"]),
        st.one_of(
            st.lists(st.dictionaries(st.text(max_size=4), _json_values, max_size=3), max_size=4),
            st.lists(_json_values, max_size=3),
            _json_values,
        ),
        max_size=3,
    )
)
def test_the_fast_parse_accepts_and_refuses_exactly_what_validation_does(body: dict) -> None:  # type: ignore[type-arg]
    from pydantic import ValidationError

    from steward.scoring.inputs import parse_request

    raw = json.dumps(body)
    try:
        expected = PredictRequest.model_validate_json(raw).model_dump()
    except ValidationError:
        expected = None
    try:
        got = parse_request(raw).model_dump()
    except ValidationFailed:
        got = None
    assert got == expected
