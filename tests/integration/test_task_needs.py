"""What steward.dispatch declares, checked by running it on moto, each time in a process
where the libraries a function's bundle lacks cannot be imported:

- the approval workflow of an ONNX model, whose steps the table sends to the tasks function
  (onnxruntime, no pyarrow) and to the models function (validation and gates), validates,
  judges its gates and promotes without pyarrow; the canary analysis, which the table sends
  to the lifecycle function, cannot;
- a scheduled drift evaluation (the drift function), the retrain its DriftDetected starts and
  the canary analysis of the retrained version (the lifecycle function), whose bundles have
  pyarrow and no onnxruntime, run without onnxruntime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import importlib.abc, json, sys, time

def block(library, why):
    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == library:
                raise ImportError(f"{name} is not in {why}")
            return None
    sys.meta_path.insert(0, Blocker())
"""

TASKS_FUNCTION = """
from tests.factories import model_spec, onnx_logistic, reference_rows, register_body

artifact = onnx_logistic()  # built with the onnx package before the block
block("pyarrow", "the tasks function's bundle")

from steward.dispatch import dispatch
from tests import moto_stack
from tests.integration.support import api, execution_end

for stack in moto_stack.stack(moto_stack.template()):
    deployment = {"auto_approve_low_risk": True, "canary_percent": 0, "auto_deploy": True,
                  "gates": {"min_auc": 0.0}}
    spec = model_spec("needs", risk_tier="low", deployment=deployment)
    assert api(stack, "POST", "/models", spec, user="admin")[0] == 201
    rows = [{"tenure": r["tenure"], "charges": r["charges"]} for r in reference_rows(300)]
    signature = {"inputs": [{"name": "tenure"}, {"name": "charges"}],
                 "outputs": [{"name": "probability", "type": "double"}]}
    body = register_body(artifact, flavor="onnx", signature=signature,
                         reference_data={"instances": rows[:200]},
                         holdout_data={"instances": rows[200:],
                                       "labels": [i % 2 for i in range(100)]})
    code, version = api(stack, "POST", "/models/needs/versions", body)
    assert code == 201, version
    ended = execution_end(version["execution_arn"], 60)
    model = api(stack, "GET", "/models/needs")[1]
    checked = api(stack, "GET", "/models/needs/versions/1")[1]
    try:
        dispatch({"task": "analyze_canary", "input": {"name": "needs", "version": 1,
                  "deploy": {"champion": 1, "since": "2026-01-01T00:00:00+00:00"}}},
                 serves=["lifecycle"])
        canary = "ran"
    except ImportError as exc:
        canary = str(exc)
    print(json.dumps({
        "status": ended["status"],
        "production": model["aliases"].get("production"),
        "approved_by": [a["actor"] for a in checked["approvals"]],
        "gates": sorted(checked["validation"]["gates"]["metrics"]),
        "canary": canary,
    }))
    break
"""

LOG_FUNCTIONS = """
block("onnxruntime", "the drift and lifecycle functions' bundles")

import boto3
from steward.config import settings
from tests import moto_stack
from tests.factories import model_spec, reference_rows, register_body
from tests.integration.support import api, execution_end, scoring, wait_status

name = "needs-logs"
for stack in moto_stack.stack(moto_stack.template()):
    spec = model_spec(
        name,
        deployment={"canary_percent": 20, "bake_seconds": 0, "auto_deploy": True},
        retrain={"on_drift": True, "cooldown_hours": 0, "min_labels": 200},
        monitoring={"schedule": "rate(1 hour)", "window_hours": 1},
    )
    assert api(stack, "POST", "/models", spec)[0] == 201
    code, first = api(stack, "POST", f"/models/{name}/versions", register_body())
    assert code == 201, first
    wait_status(stack, name, 1, "PENDING_APPROVAL")
    decision = {"decision": "approve", "comment": "reviewed"}
    api(stack, "POST", f"/models/{name}/versions/1/decision", decision, user="bob")
    execution_end(first["execution_arn"], 30)

    rows = [{**r, "tenure": r["tenure"] + 40} for r in reference_rows(800, seed=9)]
    code, scored = scoring(stack, f"/models/{name}/predict", {"instances": rows})
    assert code == 200, scored
    labels = [i % 2 for i in range(len(rows))]
    records = [{"request_id": r, "label": y} for r, y in zip(scored["request_ids"], labels)]
    assert scoring(stack, f"/models/{name}/feedback", {"records": records})[0] in (200, 202)
    stack.flush()
    report = stack.invoke("drift", {"model": name})  # the model's schedule firing
    assert report["mode"] == "inline" and report["drift_detected"], report

    sfn = boto3.client("stepfunctions")
    retrains = settings().need("retrain_state_machine_arn")
    deadline = time.monotonic() + 20
    while not (runs := sfn.list_executions(stateMachineArn=retrains)["executions"]):
        assert time.monotonic() < deadline, "DriftDetected started no retrain"
        time.sleep(0.1)
    retrained = execution_end(runs[0]["executionArn"], 30)
    second = wait_status(stack, name, 2, "PENDING_APPROVAL")
    api(stack, "POST", f"/models/{name}/versions/2/decision", decision, user="bob")
    ended = execution_end(second["execution_arn"], 30)
    states = [e["stateEnteredEventDetails"]["name"]
              for e in sfn.get_execution_history(executionArn=second["execution_arn"])["events"]
              if "stateEnteredEventDetails" in e]
    print(json.dumps({
        "retrain": retrained["status"],
        "approval": ended["status"],
        "states": states,
        "production": api(stack, "GET", f"/models/{name}")[1]["aliases"].get("production"),
        "onnxruntime": "onnxruntime" in sys.modules,
    }))
    break
"""


def _probe(script: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "steward"), str(ROOT)]),
    }
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PRELUDE) + textwrap.dedent(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_the_tasks_functions_steps_run_without_pyarrow() -> None:
    found = _probe(TASKS_FUNCTION)
    assert found["status"] == "SUCCEEDED" and found["production"] == 1, found
    assert found["approved_by"] == ["steward-policy"]  # its gates passed, judged on the holdout
    assert "roc_auc" in found["gates"], found
    assert found["canary"].startswith("pyarrow"), found  # the table sends it elsewhere


def test_the_drift_and_lifecycle_functions_steps_run_without_onnxruntime() -> None:
    found = _probe(LOG_FUNCTIONS)
    assert found["retrain"] == "SUCCEEDED" and found["approval"] == "SUCCEEDED", found
    assert {"Bake", "AnalyzeCanary", "Promote"} <= set(found["states"]), found
    assert found["production"] == 2 and not found["onnxruntime"], found
