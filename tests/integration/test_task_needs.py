"""What steward.dispatch declares, checked by running it: the approval workflow of an ONNX
model, every step of which the table sends to the tasks function (onnxruntime, no
pyarrow), validates, judges its gates and promotes in a process where pyarrow cannot be
imported; the canary analysis, which the table sends to the lifecycle function, cannot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent(
    """
    import importlib.abc, json, sys
    from tests.factories import model_spec, onnx_logistic, reference_rows, register_body

    artifact = onnx_logistic()  # built with the onnx package before the block

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "pyarrow":
                raise ImportError(f"{name} is not in the tasks function's bundle")
            return None

    sys.meta_path.insert(0, Blocker())

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
)


def test_the_tasks_functions_steps_run_without_pyarrow() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "steward"), str(ROOT)]),
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["status"] == "SUCCEEDED" and found["production"] == 1, found
    assert found["approved_by"] == ["steward-policy"]  # its gates passed, judged on the holdout
    assert "roc_auc" in found["gates"], found
    assert found["canary"].startswith("pyarrow"), found  # the table sends it elsewhere
