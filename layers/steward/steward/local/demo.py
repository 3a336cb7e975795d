"""The demo `make demo` loads: real models through the real API and workflow."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from steward.client import Client

CHURN = {
    "name": "churn",
    "description": "Monthly churn risk for subscription customers",
    "owner": "alice",
    "use_case": "retention",
    "task": "classification",
    "risk_tier": "medium",
    "tags": {"team": "crm"},
    "monitoring": {"schedule": "rate(1 hour)", "window_hours": 24, "thresholds": {"psi": 0.2}},
    "deployment": {"canary_percent": 10, "bake_seconds": 600},
    "retrain": {"on_drift": True, "cooldown_hours": 24, "min_labels": 1000},
}
SIGNATURE = {
    "inputs": [
        {"name": "tenure", "type": "double", "min": 0, "max": 120},
        {"name": "monthly_charges", "type": "double", "min": 0},
        {"name": "plan", "type": "string", "categories": ["basic", "pro", "enterprise"]},
    ],
    "outputs": [{"name": "probability", "type": "double"}],
}
CREDIT = {
    "name": "credit-limit",
    "description": "Credit limit decision rules",
    "owner": "alice",
    "use_case": "underwriting",
    "task": "decision",
    "risk_tier": "high",
}


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    plans = rng.choice(["basic", "pro", "enterprise"], size=n, p=[0.6, 0.3, 0.1])
    return [
        {
            "tenure": float(rng.integers(0, 72)),
            "monthly_charges": float(np.round(rng.gamma(4, 18), 2)),
            "plan": str(plan),
        }
        for plan in plans
    ]


def _b64(payload: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


def _await(client: Client, path: str, status: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        version: dict[str, Any] = client.get(path)
        if version["status"] == status or time.monotonic() > deadline:
            return version
        time.sleep(0.2)


def load_demo(client: Client) -> None:
    alice, bob = client.as_user("alice"), client.as_user("bob")
    started = time.perf_counter()
    if not any(m["name"] == "churn" for m in alice.get("/models")["items"]):
        alice.post("/models", CHURN)
        alice.post("/models", CREDIT)
    logistic = {"intercept": -1.2, "coefficients": {"tenure": -0.035, "monthly_charges": 0.012}}
    v1 = alice.post(
        "/models/churn/versions",
        {
            "flavor": "logistic",
            "artifact_b64": _b64(logistic),
            "signature": SIGNATURE,
            "metrics": {"auc": 0.81, "log_loss": 0.47},
            "training_data": {"uri": "s3://demo/churn/2026-10.parquet", "rows": 120000},
            "reference_data": {"instances": _rows(2000, seed=1)},
            "code_ref": "git:demo",
        },
    )
    path = f"/models/churn/versions/{v1['version']}"
    print(f"  registered churn v{v1['version']} (logistic) as alice; validating...")
    _await(alice, path, "PENDING_APPROVAL")
    bob.post(f"{path}/decision", {"decision": "approve", "comment": "AUC and profile reviewed"})
    alice.put("/models/churn/aliases/production", {"version": v1["version"]})
    elapsed = time.perf_counter() - started
    print(f"  bob approved it; churn v{v1['version']} serves production ({elapsed:.1f} s)")

    traffic = _rows(1000, seed=3)
    for start in range(0, len(traffic), 100):
        alice.post("/models/churn/predict", {"instances": traffic[start : start + 100]})
    flushed = client.post("/_local/flush", {})
    print(f"  scored 1000 records; {flushed['delivered']} log messages written as Parquet")
    calm = alice.post("/models/churn/drift/evaluate", {})
    print(
        f"  drift evaluation over the last day: {calm['rows']} rows, "
        f"drift detected: {calm['drift_detected']}"
    )

    # Next month's customers: longer tenure, pricier plans, a plan the model never saw.
    shifted = [
        {
            **r,
            "tenure": r["tenure"] + 36,
            "monthly_charges": r["monthly_charges"] * 1.6,
            "plan": "premium" if i % 3 == 0 else r["plan"],
        }
        for i, r in enumerate(_rows(1000, seed=4))
    ]
    since = time.time()
    for start in range(0, len(shifted), 100):
        alice.post("/models/churn/predict", {"instances": shifted[start : start + 100]})
    client.post("/_local/flush", {})
    window = {
        "start": datetime.fromtimestamp(since - 1, UTC).isoformat(),
        "end": datetime.now(UTC).isoformat(),
    }
    drifted = alice.post("/models/churn/drift/evaluate", window)
    print(
        f"  injected drift, evaluated again: drift detected: {drifted['drift_detected']} "
        f"({', '.join(drifted['drifted_features'])}); report: "
        f"{client.url}/models/churn/drift/{drifted['report_id']}"
    )

    rules = {
        "rules": [
            {
                "id": "new-customer",
                "when": [{"feature": "tenure", "op": "<", "value": 6}],
                "outcome": "low",
            },
            {
                "id": "premium",
                "when": [{"feature": "plan", "op": "==", "value": "enterprise"}],
                "outcome": "high",
            },
        ],
        "default": "standard",
    }
    v = alice.post(
        "/models/credit-limit/versions",
        {
            "flavor": "rules",
            "artifact_b64": _b64(rules),
            "signature": SIGNATURE,
            "reference_data": {"instances": _rows(500, seed=2)},
        },
    )
    _await(alice, f"/models/credit-limit/versions/{v['version']}", "PENDING_APPROVAL")
    print(f"  credit-limit v{v['version']} (rules, high risk) waits in bob's approval inbox")
    verified = alice.get("/audit/verify")
    print(f"  audit chains verified: {verified['ok']}")
    print(f"  try: curl -H 'X-Steward-User: bob' {client.url}/approvals?status=pending")
