"""Test data: models, versions and artifacts of every flavor, built here, not downloaded."""

from __future__ import annotations

import base64
import io
import json
from datetime import datetime
from typing import Any

import numpy as np

TENURE_PLAN_SIGNATURE = {
    "inputs": [
        {"name": "tenure", "type": "double", "min": 0},
        {"name": "charges", "type": "double", "min": 0},
        {"name": "plan", "type": "string", "categories": ["basic", "pro"]},
    ],
    "outputs": [{"name": "probability", "type": "double"}],
}

# A scorecard over TENURE_PLAN_SIGNATURE's features: points per tenure bin (and for a
# missing tenure) and per plan, approved at 600 points.
TENURE_PLAN_SCORECARD: dict[str, Any] = {
    "base_points": 600,
    "features": {
        "tenure": {
            "bins": [{"max": 12, "points": -20}, {"min": 12, "points": 30}],
            "missing_points": -50,
        },
        "plan": {"categories": {"pro": 15, "basic": 0}, "default_points": -5},
    },
    "cutoff": 600,
    "outcomes": ["decline", "approve"],
}


def reference_rows(n: int = 200, seed: int = 7) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "tenure": float(rng.integers(0, 72)),
            "charges": float(np.round(rng.normal(70, 20), 2)),
            "plan": str(rng.choice(["basic", "pro"])),
        }
        for _ in range(n)
    ]


def parquet_log(rows: list[dict[str, Any]], at: datetime, version: int = 1) -> bytes:
    """A prediction log file as the writer lays it out: features, ``ts`` and ``version``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = (
        pa.Table.from_pylist(rows)
        .append_column("ts", pa.array([at] * len(rows), pa.timestamp("us", tz="UTC")))
        .append_column("version", pa.array([version] * len(rows), pa.int32()))
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def logistic_artifact() -> bytes:
    spec = {"intercept": -1.0, "coefficients": {"tenure": -0.04, "charges": 0.02}}
    return json.dumps(spec).encode()


def logistic_probability(rows: list[dict[str, Any]]) -> np.ndarray:
    """What :func:`logistic_artifact` answers for ``rows`` (the positive-class probability)."""
    z = np.array([-1 - 0.04 * r["tenure"] + 0.02 * r["charges"] for r in rows])
    probability: np.ndarray = 1 / (1 + np.exp(-z))
    return probability


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def model_spec(name: str = "churn", **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "description": "Monthly churn risk",
        "owner": "alice",
        "use_case": "retention",
        "task": "classification",
        "risk_tier": "medium",
        "tags": {"team": "crm"},
        "monitoring": {"schedule": "rate(1 hour)", "window_hours": 24, "thresholds": {"psi": 0.2}},
        # Tests of the registry deploy by hand; the workflow tests turn auto_deploy on.
        "deployment": {"canary_percent": 10, "bake_seconds": 600, "auto_deploy": False},
        "retrain": {"on_drift": True, "cooldown_hours": 24, "min_labels": 1000},
    }
    spec.update(overrides)
    return spec


def register_body(artifact: bytes | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "flavor": "logistic",
        "artifact_b64": b64(artifact if artifact is not None else logistic_artifact()),
        "signature": TENURE_PLAN_SIGNATURE,
        "metrics": {"auc": 0.81},
        "training_data": {"uri": "s3://data/churn.parquet", "rows": 120000},
        "reference_data": {"instances": reference_rows()},
        "code_ref": "git:abc123",
    }
    body.update(overrides)
    return body


def onnx_logistic(n_features: int = 2, stacked: bool = True) -> bytes:
    """A logistic-regression ONNX graph built by hand: one 2-D float input, probabilities out."""
    import onnx
    from onnx import TensorProto, helper

    weights = np.array([[-0.04], [0.02]][:n_features], dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["Z0"]),
            helper.make_node("Add", ["Z0", "B"], ["Z"]),
            helper.make_node("Sigmoid", ["Z"], ["P1"]),
            helper.make_node("Sub", ["One", "P1"], ["P0"]),
            helper.make_node("Concat", ["P0", "P1"], ["probabilities"], axis=1),
        ],
        "logreg",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        [
            helper.make_tensor("W", TensorProto.FLOAT, weights.shape, weights.flatten()),
            helper.make_tensor("B", TensorProto.FLOAT, [1], [-1.0]),
            helper.make_tensor("One", TensorProto.FLOAT, [1], [1.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _multi(query: str) -> dict[str, list[str]] | None:
    """A query string's values per key, repeated keys kept (as API Gateway sends them)."""
    out: dict[str, list[str]] = {}
    for pair in query.split("&") if query else ():
        key, _, value = pair.partition("=")
        out.setdefault(key, []).append(value)
    return out or None


def api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    user: str | None = None,
    headers: dict[str, str] | None = None,
    resource: str = "/{proxy+}",
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as the gateway (or the local platform) sends it."""
    route, _, query = path.partition("?")
    return {
        "resource": resource,
        "path": route,
        "httpMethod": method,
        "headers": {
            "Content-Type": "application/json",
            **({"X-Steward-User": user} if user else {}),
            **(headers or {}),
        },
        "multiValueHeaders": {},
        "queryStringParameters": dict(p.split("=", 1) for p in query.split("&")) if query else None,
        "multiValueQueryStringParameters": _multi(query),
        "pathParameters": {"proxy": route.lstrip("/")},
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "stage": "test",
            "requestId": "r",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body if isinstance(body, str) or body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def multiclass_data(dataset: str = "iris") -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """A scikit-learn bundled dataset (iris, wine, digits) as features ``f0..``, its integer
    classes, and the signature of those features."""
    from sklearn import datasets

    x, y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
    signature = {"inputs": [{"name": f"f{i}", "type": "double"} for i in range(x.shape[1])]}
    return x, y, signature


def multiclass_rows(x: np.ndarray) -> list[dict[str, Any]]:
    return [{f"f{i}": float(v) for i, v in enumerate(row)} for row in x]


def onnx_forest(
    x: np.ndarray, y: np.ndarray, *, zipmap: bool = True, trees: int = 30, seed: int = 0
) -> tuple[bytes, Any]:
    """A random forest exported by skl2onnx with a float32 input (the default export): its
    graph sums leaf values in float32, so probabilities can round a few ulps past 1."""
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=trees, random_state=seed).fit(x, y)
    options = {id(forest): {"zipmap": zipmap}}
    graph = to_onnx(forest, x[:1].astype(np.float32), options=options)
    return graph.SerializeToString(), forest


def gbm_in_production(
    alice: Any, name: str, retrain: dict[str, Any], flush: Any, poll: Any
) -> list[str]:
    """Over HTTP (``alice``: a Client): the breast-cancer GBM (ONNX) approved by bob and in
    production, its demo rows scored and labelled, the logs flushed; the request ids.
    ``poll(check)`` waits until ``check()`` holds."""
    from steward.local.demo_models import onnx_classifier

    alice.post("/models", model_spec(name, retrain=retrain))
    demo = onnx_classifier()
    alice.register(
        name,
        flavor="onnx",
        artifact=demo.artifact,
        signature=demo.signature,
        reference=demo.reference,
        holdout=demo.holdout,
        labels=demo.labels,
        metrics=demo.metrics,
    )
    path = f"/models/{name}/versions"
    poll(lambda: any(v["status"] == "PENDING_APPROVAL" for v in alice.get(path)["items"]))
    decision = {"decision": "approve", "comment": "ok"}
    alice.as_user("bob").post(f"{path}/1/decision", decision)
    poll(lambda: alice.get(f"{path}/1")["status"] == "APPROVED")
    alice.put(f"/models/{name}/aliases/production", {"version": 1})
    rows = demo.reference + demo.holdout
    ids: list[str] = alice.predict(name, rows)["request_ids"]
    labels = [int(r["concave_points"] > 0.1) for r in rows]
    records = [{"request_id": i, "label": y} for i, y in zip(ids, labels, strict=True)]
    alice.post(f"/models/{name}/feedback", {"records": records})
    flush()
    return ids
