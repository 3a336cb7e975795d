"""The demo `make demo` loads: real models through the real API and workflow.

Long: one script told in order (churn's drift, retrain and value, the dataset models,
cell-risk's own trainer, the practice KPIs), each step a few API calls and the lines it
prints; its models' data and training are in :mod:`.demo_models`. The value and KPI steps
are the next to move out if it grows."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from steward.client import Client
from steward.local.terminal import say
from steward.packs import verify
from steward.polling import until

DEMO_WAIT_S = 60.0  # for the platform to act on its own (workflows, schedules)
CHURN = {
    "name": "churn",
    "description": "Monthly churn risk for subscription customers",
    "owner": "alice",
    "use_case": "retention",
    "task": "classification",
    "risk_tier": "medium",
    "tags": {"team": "crm"},
    "monitoring": {"schedule": "rate(1 hour)", "window_hours": 24, "thresholds": {"psi": 0.2}},
    # A demo bakes canaries for seconds; in production, longer than the log writer's window.
    "deployment": {
        "canary_percent": 20,
        "bake_seconds": 4,
        "gates": {"auc": 0.05},
        "max_prediction_shift": 0.9,
    },
    "retrain": {"on_drift": True, "cooldown_hours": 24, "min_labels": 500},
    # What a decision is worth: an offer that keeps a churner keeps a month's margin (+120),
    # an offer to a customer who would have stayed is wasted (-15); no offer changes nothing.
    "value": {"matrix": {"tp": 120, "fp": -15, "tn": 0, "fn": 0}, "unit": "USD"},
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
    def reached() -> dict[str, Any] | None:
        version: dict[str, Any] = client.get(path)
        return version if version["status"] == status else None

    return until(reached, timeout_s, what=f"{path} to be {status}")


CELL_RISK = {
    "name": "cell-risk",
    "description": "Malignancy risk from four cell measurements (gradient boosting, ONNX)",
    "owner": "alice",
    "use_case": "triage",
    "task": "classification",
    "risk_tier": "medium",
    "deployment": {
        "canary_percent": 20,
        "bake_seconds": 4,
        "gates": {"min_auc": 0.9},
        "max_prediction_shift": 0.9,
    },
    # The team's own trainer (examples/trainers/gbm), on drift, from 100 labelled rows.
    "retrain": {"trainer": "custom", "on_drift": True, "cooldown_hours": 24, "min_labels": 100},
}
GBM_TRAINER = Path(__file__).resolve().parents[4] / "examples" / "trainers" / "gbm"
TRAINER_WAIT_S = 300.0  # the trainer's environment is built on the first run (no download)
CELL_SCREEN = {
    "name": "cell-screen",
    "description": "Screening scorecard: points per measurement band, review below 600",
    "owner": "alice",
    "use_case": "triage",
    "task": "decision",
    "risk_tier": "high",
    "deployment": {"gates": {"min_accuracy": 0.85}},
}


def _dataset_models(alice: Client, bob: Client) -> bool:
    """An ML model and a scorecard trained on scikit-learn's breast-cancer data; whether
    cell-risk v1 was put in production here."""
    try:
        from steward.local.demo_models import onnx_classifier, scorecard
    except ImportError:
        say("  (scikit-learn or skl2onnx missing: the dataset models are skipped)")
        return False
    created = False
    existing = {m["name"] for m in alice.get("/models")["items"]}
    for spec, flavor, build in (
        (CELL_RISK, "onnx", onnx_classifier),
        (CELL_SCREEN, "scorecard", scorecard),
    ):
        name = str(spec["name"])
        if name in existing:
            continue
        model = build()
        alice.post("/models", spec)
        version = alice.post(
            f"/models/{name}/versions",
            {
                "flavor": flavor,
                "artifact_b64": base64.b64encode(model.artifact).decode(),
                "signature": model.signature,
                "metrics": model.metrics,
                "training_data": {
                    "uri": "sklearn:load_breast_cancer",
                    "rows": len(model.reference),
                },
                "reference_data": {"instances": model.reference},
                "holdout_data": {"instances": model.holdout, "labels": model.labels},
                "code_ref": "steward.local.demo_models",
            },
        )
        path = f"/models/{name}/versions/{version['version']}"
        pending = _await(alice, path, "PENDING_APPROVAL")
        gates = (pending.get("validation") or {}).get("gates") or {}
        bob.post(f"{path}/decision", {"decision": "approve", "comment": "holdout gates reviewed"})
        until(partial(_in_production, alice, name, 1), DEMO_WAIT_S, what=f"{name} v1 in production")
        found = ", ".join(f"{k} {v:.3f}" for k, v in sorted(gates.get("metrics", {}).items()))
        say(
            f"  {name} v1 ({flavor}, trained on scikit-learn's breast-cancer data): {found}; "
            f"bob approved, in production"
        )
        created = created or name == CELL_RISK["name"]
    return created


def _in_production(client: Client, name: str, version: int) -> bool:
    return bool(client.get(f"/models/{name}")["aliases"].get("production") == version)


def _outcomes(rows: list[dict[str, Any]], seed: int, now: bool = True) -> list[int]:
    """Who churned: last year as the first model learned it, or now (``now``), a relation
    that model no longer matches."""
    rng = np.random.default_rng(seed)
    a, b, c = (-0.4, -0.02, 0.012) if now else (-1.2, -0.035, 0.012)
    z = np.array([a + b * r["tenure"] + c * r["monthly_charges"] for r in rows])
    churned: list[int] = (rng.random(len(rows)) < 1 / (1 + np.exp(-z))).astype(int).tolist()
    return churned


def _detect_and_retrain(
    client: Client, alice: Client, bob: Client, shifted: list[dict[str, Any]]
) -> None:
    """The schedule detects the drift; the platform retrains, bob approves, the canary
    bakes on live traffic, and the new version is promoted (or rolled back)."""
    schedule = next(
        s["name"] for s in client.get("/_local/info")["schedules"] if s["name"].endswith("/churn")
    )
    before = (alice.get("/models/churn").get("latest_drift") or {}).get("report_id")
    client.post(f"/_local/schedules/{schedule}/fire", {})
    report = until(
        lambda: (
            (latest := alice.get("/models/churn").get("latest_drift"))
            and latest["report_id"] != before
            and latest
        ),
        DEMO_WAIT_S,
        what="the scheduled drift report",
    )
    if not report["drift_detected"]:  # say what was read, so a miss can be understood
        full = alice.get(f"/models/churn/drift/{report['report_id']}")
        say(f"  the scheduled run read {full['rows']} rows in {full['window']}: {full['verdict']}")
    say(
        f"  the churn schedule fired: drift detected: {report['drift_detected']} "
        f"({', '.join(report.get('drifted_features') or [])}); report: "
        f"{client.url}/models/churn/drift/{report['report_id']}"
    )
    retrain = until(
        lambda: next(
            (
                e
                for e in alice.get("/models/churn/executions")["items"]
                if e["kind"] == "retrain" and e["status"] != "RUNNING"
            ),
            None,
        ),
        DEMO_WAIT_S,
        what="the retrain workflow",
    )
    retrained = _retrained(alice, "churn", retrain)
    if retrained is None:
        return
    number, version = retrained
    lineage = version["lineage"]
    say(
        f"  DriftDetected -> retrain {retrain['name']}: registered churn v{number} "
        f"(parent v{lineage['parent_version']}, {lineage['training_data']['rows']} labelled rows) "
        f"as steward-retrain"
    )
    _gates(version, number)
    _approve(alice, bob, "churn", number, "retrained on new labels")
    say(f"  bob approved v{number}; canary: 20 % of traffic, baking for 4 s")
    status, outcome, production = _canary(client, alice, "churn", number, shifted[:600], "")
    say(f"  canary analysis done ({status}): {outcome}; production is v{production}")


def _retrained(
    alice: Client, name: str, retrain: dict[str, Any]
) -> tuple[int, dict[str, Any]] | None:
    """The version ``retrain`` registered, once it awaits approval; None (said) when the
    workflow did not register one."""
    number = alice.get(f"/models/{name}")["latest_version"]
    if retrain["status"] != "SUCCEEDED" or number < 2:
        say(f"  DriftDetected started retrain {retrain['name']}: {retrain['status']}")
        return None
    return number, _await(alice, f"/models/{name}/versions/{number}", "PENDING_APPROVAL")


def _gates(version: dict[str, Any], number: int) -> None:
    gates = (version.get("validation") or {}).get("gates") or {}
    say(
        f"  gates: {gates.get('reason')}; holdout AUC v{number} "
        f"{gates.get('metrics', {}).get('roc_auc', float('nan')):.3f} vs champion "
        f"{(gates.get('champion_metrics') or {}).get('roc_auc', float('nan')):.3f}"
    )


def _approve(alice: Client, bob: Client, name: str, number: int, comment: str) -> None:
    """bob approves ``number``; the canary starts it as the challenger."""
    path = f"/models/{name}/versions/{number}/decision"
    bob.post(path, {"decision": "approve", "comment": comment})
    until(
        lambda: alice.get(f"/models/{name}")["traffic"].get("challenger") == number,
        DEMO_WAIT_S,
        what=f"{name} v{number} as the challenger",
    )


def _canary(
    client: Client,
    alice: Client,
    name: str,
    number: int,
    traffic: list[dict[str, Any]],
    key_prefix: str,
) -> tuple[str, str, int]:
    """Live ``traffic`` during the bake (100 rows a request, keyed), then the canary
    analysis: its status, the outcome and the production version after it."""
    for begin in range(0, len(traffic), 100):
        batch = traffic[begin : begin + 100]
        keys = [f"{key_prefix}{begin + i}" for i in range(len(batch))]
        alice.post(f"/models/{name}/predict", {"instances": batch, "keys": keys})
    client.post("/_local/flush", {})
    done = until(
        partial(_finished, alice, name, lambda e: e["name"].endswith(f"-v{number}")),
        DEMO_WAIT_S,
        what=f"{name}'s canary analysis",
    )
    production = alice.get(f"/models/{name}")["aliases"]["production"]
    return done["status"], "promoted" if production == number else "rolled back", production


def _finished(alice: Client, name: str, match: Any) -> dict[str, Any] | None:
    """The first of ``name``'s executions ``match`` accepts that is no longer running."""
    return next(
        (
            e
            for e in alice.get(f"/models/{name}/executions")["items"]
            if match(e) and e["status"] != "RUNNING"
        ),
        None,
    )


def _custom_retrain(client: Client, alice: Client, bob: Client) -> None:
    """cell-risk drifts (a new scanner reads every measurement 1.6x higher); the team's own
    trainer (examples/trainers/gbm: scikit-learn -> skl2onnx, the ``local`` backend: a
    subprocess in a cached virtual environment, no Docker) retrains it on the window's
    labelled rows; the gates compare it with the champion, bob approves, the canary
    promotes it. The new version's lineage names the trainer, the data and the report."""
    from steward.local.demo_models import labelled_rows

    name = str(CELL_RISK["name"])
    if not (GBM_TRAINER / "train.py").is_file():
        say(f"  ({GBM_TRAINER} not found: cell-risk's own retrain is skipped)")
        return
    requirements = (GBM_TRAINER / "requirements.txt").read_text().split()
    trainer = alice.set_trainer(
        name, str(GBM_TRAINER), requirements=requirements, backend="local", timeout_s=600
    )
    say(
        f"  cell-risk's own trainer set: examples/trainers/gbm (scikit-learn -> skl2onnx), "
        f"sha256 {trainer['sha256'][:12]}, backend local"
    )
    rows, labels = labelled_rows()
    scanner = [{k: v * 1.6 for k, v in r.items()} for r in rows]
    start = datetime.now(UTC) - timedelta(minutes=1)
    ids = alice.predict(name, scanner)["request_ids"]
    records = [{"request_id": i, "label": y} for i, y in zip(ids, labels, strict=True)]
    alice.post(f"/models/{name}/feedback", {"records": records})
    client.post("/_local/flush", {})
    end = datetime.now(UTC) + timedelta(minutes=1)
    report = alice.evaluate_drift(name, {"start": start.isoformat(), "end": end.isoformat()})
    say(
        f"  a new scanner reads every measurement 1.6x higher: {len(rows)} cells scored and "
        f"labelled; drift detected: {report['drift_detected']} "
        f"({', '.join(report.get('drifted_features') or [])})"
    )
    retrain = until(
        partial(_finished, alice, name, lambda e: e["kind"] == "retrain"),
        TRAINER_WAIT_S,
        what="cell-risk's retrain",
    )
    retrained = _retrained(alice, name, retrain)
    if retrained is None:
        return
    number, version = retrained
    lineage = version["lineage"]
    events = alice.get(f"/models/{name}/audit?limit=200")["items"]
    trained: dict[str, Any] = next(
        (e["after"] for e in events if e["action"] == "retrain.trained"), {}
    )
    window = lineage["data_window"]
    say(
        f"  DriftDetected -> cell-risk's own trainer ran ({trained.get('backend')} backend, "
        f"{float(trained.get('seconds') or 0):.1f} s): registered cell-risk v{number} "
        f"({version['flavor']}) as {version['created_by']}"
    )
    say(
        f"  lineage: trainer sha256 {lineage['trainer_sha256'][:12]}, data window "
        f"{window['start'][:16]} .. {window['end'][:16]} UTC, "
        f"{lineage['training_data']['rows']} labelled rows "
        f"(sha256 {lineage['training_data']['sha256'][:12]}), trigger {lineage['trigger']}"
    )
    _gates(version, number)
    _approve(alice, bob, name, number, "retrained by our trainer")
    status, outcome, production = _canary(client, alice, name, number, scanner[:400], "scan-")
    say(
        f"  bob approved v{number}; canary 20 % for 4 s, analysis {status}: "
        f"{outcome}; production is v{production}"
    )


def _value(report: dict[str, Any]) -> dict[str, Any]:
    return ((report.get("performance") or {}).get("value")) or {}


def _verdict(report: dict[str, Any]) -> str:
    """The report's performance verdict and the metrics that breached their checks (a
    degraded report on the serving version counts as a change failure in the KPIs)."""
    performance = report.get("performance") or {}
    breached = sorted({c["metric"] for c in performance.get("checks") or [] if c.get("breach")})
    found = str(performance.get("verdict") or "n/a")
    return f"{found} ({', '.join(breached)})" if breached else found


def _usd(amount: float | None) -> str:
    return "n/a" if amount is None else f"{amount:+.2f}"


def _value_story(client: Client, alice: Client, before: dict[str, Any]) -> None:
    """Churn's business value per decision (the model's value matrix), as CBPE estimates it
    from the scores alone and as the labels realize it: v1 on next month's customers (the
    scheduled report ``before``), then the production version on fresh customers of that
    month, scored and labelled after the retrain."""
    start = datetime.now(UTC) - timedelta(seconds=5)
    month = [
        {**r, "tenure": r["tenure"] + 36, "monthly_charges": r["monthly_charges"] * 1.6}
        for r in _rows(1000, seed=7)
    ]
    ids: list[str] = []
    for begin in range(0, len(month), 100):
        scored = alice.post("/models/churn/predict", {"instances": month[begin : begin + 100]})
        ids += scored["request_ids"]
    labels = _outcomes(month, seed=8)
    records = [{"request_id": i, "label": y} for i, y in zip(ids, labels, strict=True)]
    alice.post("/models/churn/feedback", {"records": records})
    client.post("/_local/flush", {})
    end = datetime.now(UTC) + timedelta(seconds=5)
    after = alice.evaluate_drift("churn", {"start": start.isoformat(), "end": end.isoformat()})
    old, new = _value(before), _value(after)
    unit = new.get("unit") or old.get("unit") or "USD"
    say(
        f"  churn's value per decision ({unit}; +120 a churner kept, -15 an offer wasted): "
        f"v{before['version']} on next month's customers: "
        f"{_usd(old.get('estimated_per_row'))} estimated by CBPE before labels, "
        f"{_usd(old.get('per_row'))} realized; performance {_verdict(before)}"
    )
    say(
        f"  after the retrain, v{after['version']} on {len(month)} new customers: "
        f"{_usd(new.get('estimated_per_row'))} estimated before labels, "
        f"{_usd(new.get('per_row'))} realized ({_usd(new.get('realized'))} {unit} in all); "
        f"performance {_verdict(after)}"
    )


def _percentile(figure: dict[str, Any]) -> str:
    return "n/a" if figure.get("p50") is None else f"{figure['p50']:.1f} s"


def _kpis(client: Client, alice: Client) -> None:
    """The practice KPIs (``GET /kpis``, ``GET /models/churn/kpis``) after the lifecycle."""
    for path, label in (("/models/churn/kpis", "churn"), ("/kpis", "portfolio")):
        kpis = alice.get(path)
        value = kpis.get("value") or {}
        failure = kpis.get("change_failure_rate")
        say(
            f"  KPIs ({label}, GET {path}): lead time p50 {_percentile(kpis['lead_time_s'])}, "
            f"drift -> redeployed p50 {_percentile(kpis['drift_to_redeploy_s'])}, "
            f"{kpis['deployments']} deployments, {kpis['rollbacks']} rollbacks, change failure "
            f"rate {'n/a' if failure is None else f'{failure:.0%}'}, value realized "
            f"{_usd(value.get('realized'))} / estimated {_usd(value.get('estimated'))} "
            f"{'/'.join(value.get('units') or []) or ''}".rstrip()
        )
    say(f"  the Practice page: {client.url}/#/practice")


def load_demo(client: Client) -> None:
    alice, bob = client.as_user("alice"), client.as_user("bob")
    started = time.perf_counter()
    if not any(m["name"] == "churn" for m in alice.get("/models")["items"]):
        alice.post("/models", CHURN)
        alice.post("/models", CREDIT)
    logistic = {"intercept": -1.2, "coefficients": {"tenure": -0.035, "monthly_charges": 0.012}}
    holdout = _rows(500, seed=5)
    v1 = alice.post(
        "/models/churn/versions",
        {
            "flavor": "logistic",
            "artifact_b64": _b64(logistic),
            "signature": SIGNATURE,
            "metrics": {"auc": 0.81, "log_loss": 0.47},
            "training_data": {"uri": "s3://demo/churn/2026-10.parquet", "rows": 120000},
            "reference_data": {"instances": _rows(2000, seed=1)},
            "holdout_data": {"instances": holdout, "labels": _outcomes(holdout, seed=5, now=False)},
            "code_ref": "git:demo",
        },
    )
    path = f"/models/churn/versions/{v1['version']}"
    say(f"  registered churn v{v1['version']} (logistic) as alice; validating...")
    _await(alice, path, "PENDING_APPROVAL")
    bob.post(f"{path}/decision", {"decision": "approve", "comment": "AUC and profile reviewed"})
    until(
        partial(_in_production, alice, "churn", v1["version"]),
        DEMO_WAIT_S,
        what="the approval workflow",
    )
    elapsed = time.perf_counter() - started
    say(
        f"  bob approved it; the approval workflow promoted churn v{v1['version']} "
        f"to production ({elapsed:.1f} s)"
    )

    traffic = _rows(1000, seed=3)
    for start in range(0, len(traffic), 100):
        alice.post("/models/churn/predict", {"instances": traffic[start : start + 100]})
    flushed = client.post("/_local/flush", {})
    say(f"  scored 1000 records; {flushed['delivered']} log messages written as Parquet")
    calm = alice.evaluate_drift("churn")
    say(
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
    request_ids: list[str] = []
    for start in range(0, len(shifted), 100):
        scored = alice.post("/models/churn/predict", {"instances": shifted[start : start + 100]})
        request_ids += scored["request_ids"]
    labels = _outcomes(shifted, seed=6)
    alice.post(
        "/models/churn/feedback",
        {
            "records": [
                {"request_id": r, "label": y} for r, y in zip(request_ids, labels, strict=True)
            ]
        },
    )
    client.post("/_local/flush", {})
    say(f"  injected drift: 1000 records of next month's customers, and {len(labels)} labels")
    _detect_and_retrain(client, alice, bob, shifted)
    scheduled = (alice.get("/models/churn").get("latest_drift") or {}).get("report_id")
    if scheduled:
        _value_story(client, alice, alice.get(f"/models/churn/drift/{scheduled}"))
    if _dataset_models(alice, bob):
        _custom_retrain(client, alice, bob)

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
    say(f"  credit-limit v{v['version']} (rules, high risk) waits in bob's approval inbox")
    _kpis(client, alice)
    verified = alice.get("/audit/verify")
    say(f"  audit chains verified: {verified['ok']}")
    pack = client.as_user("bob").evidence("churn")
    checked = verify(pack)
    outcome = "verified offline" if checked.ok else f"DOES NOT VERIFY: {checked.problem}"
    say(
        f"  churn's evidence pack: {len(pack):,} bytes, {checked.files} files, an audit "
        f"chain of {checked.events} events, {outcome}"
    )
    say("  try: steward evidence export churn -o churn.zip && steward evidence verify churn.zip")
    say(f"  try: curl -H 'X-Steward-User: bob' {client.url}/approvals?status=pending")
