"""One period of drift schedules at portfolio scale on moto, with the CDK stack (issue 20):
52 models' schedules fire, every firing reaches the drift state machine through the start
queue and the starter (none lost, none started twice), each run ends as its model deserves
(evaluated, skipped: no logs or nothing in production, failed: a version without its
reference profile), and ``GET /drift/runs`` reports exactly that to a viewer."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from steward import wiring
from steward.local.periods import Period, fire_period
from steward.local.scheduler import Scheduler
from tests.factories import model_spec, parquet_log, reference_rows, register_body
from tests.integration.conftest import Stack
from tests.integration.support import api, wait_status

# 52 models' runs on one shared, loaded machine: minutes, not seconds (its fixture's time
# counts against its first test).
pytestmark = pytest.mark.timeout(1800)

EVALUATED = [f"fan-{i:03d}" for i in range(40)]
NO_LOGS = [f"fan-quiet-{i}" for i in range(5)]
IDLE = [f"fan-idle-{i}" for i in range(6)]  # nothing in production
BROKEN = ["fan-broken"]  # its production version lost its reference profile: the run fails
MODELS = EVALUATED + NO_LOGS + IDLE + BROKEN


def _log(bucket: str, name: str, body: bytes, at: datetime) -> None:
    key = f"predictions/model={name}/date={at:%Y-%m-%d}/hour={at:%H}/part-0.parquet"
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)


@pytest.fixture(scope="module")
def period(stack: Stack) -> Iterator[Period]:
    """The 52 models (through the API, so each gets its schedule as users' do); one
    registered and approved through the workflow, its approved version copied to the
    others in production; then one period of their schedules."""
    for name in MODELS:
        spec = model_spec(name, retrain={"on_drift": False})
        assert api(stack, "POST", "/models", spec)[0] == 201
    first = EVALUATED[0]
    body = register_body(reference_data={"instances": reference_rows(500, seed=1)})
    assert api(stack, "POST", f"/models/{first}/versions", body)[0] == 201
    wait_status(stack, first, 1, "PENDING_APPROVAL")
    decision = {"decision": "approve", "comment": "ok"}
    assert (
        api(stack, "POST", f"/models/{first}/versions/1/decision", decision, user="bob")[0] == 200
    )
    store = wiring.registry().store
    approved = store.get_version(first, 1)
    for name in [*EVALUATED, *NO_LOGS, *BROKEN]:
        if name != first:
            profile = None if name in BROKEN else approved.profile
            store.add_version(approved.model_copy(update={"name": name, "profile": profile}))
        model = store.get_model(name)
        store.save_model(model.model_copy(update={"aliases": {"production": 1}}), model.rev)
    bucket = stack.deployment.outputs["LogsBucket"]
    logged = datetime.now(UTC) - timedelta(hours=2)  # inside every firing's 24 h window
    for i, name in enumerate(EVALUATED + BROKEN):
        _log(bucket, name, parquet_log(reference_rows(150, seed=i), logged), logged)
    scheduler = Scheduler(stack.runtime)  # not started: fired by hand, one period
    yield fire_period(scheduler, stack.pollers, models=MODELS, timeout_s=1200)


def test_every_firing_starts_one_run_through_the_queue(stack: Stack, period: Period) -> None:
    assert period.fired == len(MODELS) == 52
    assert period.delivered == 52  # every firing went through the start queue
    assert period.started == 52  # one execution per firing, none twice
    assert {name.rsplit("-s", 1)[0] for name in period.executions} == set(MODELS)
    sqs = boto3.client("sqs")
    for arn in (os.environ["STEWARD_DRIFT_START_QUEUE_ARN"],):
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0"
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
        dlq = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
        dlq_url = sqs.get_queue_url(QueueName=dlq.rsplit(":", 1)[-1])["QueueUrl"]
        left = sqs.get_queue_attributes(
            QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"  # nothing dead-lettered


def test_each_run_ends_as_its_model_deserves(stack: Stack, period: Period) -> None:
    by_model = {name.rsplit("-s", 1)[0]: status for name, status in period.executions.items()}
    assert period.failed == 1 and by_model[BROKEN[0]] == "FAILED"
    assert all(by_model[m] == "SUCCEEDED" for m in EVALUATED + NO_LOGS + IDLE)
    sfn = boto3.client("stepfunctions")
    machine = os.environ["STEWARD_DRIFT_STATE_MACHINE_ARN"]
    executions = machine.replace(":stateMachine:", ":execution:")
    outputs = {}
    for name in period.executions:
        model = name.rsplit("-s", 1)[0]
        if model in BROKEN:
            continue
        described = sfn.describe_execution(executionArn=f"{executions}:{name}")
        outputs[model] = json.loads(described["output"])
    for model in EVALUATED:
        assert outputs[model]["report"]["rows"] == 150, model
    # far from Step Functions' 25,000-event history limit (docs/scale.md)
    name = next(n for n in period.executions if n.startswith(f"{EVALUATED[0]}-s"))
    history = sfn.get_execution_history(executionArn=f"{executions}:{name}", maxResults=1000)
    assert len(history["events"]) < 100
    for model in NO_LOGS:
        assert outputs[model]["plan"]["skipped"] == "no_logs"
    for model in IDLE:
        assert outputs[model]["plan"]["skipped"] == "not_in_production"
    _code, model = api(stack, "GET", f"/models/{EVALUATED[3]}")
    assert model["latest_drift"]["rows"] == 150


def test_the_portfolio_view_reports_each_models_run_to_a_viewer(
    stack: Stack, period: Period
) -> None:
    found: dict[str, dict[str, object]] = {}
    token = None
    while True:
        query = "?limit=1000" + (f"&next_token={token}" if token else "")
        code, page = api(stack, "GET", f"/drift/runs{query}", user="viewer")
        assert code == 200, page
        found |= {i["model"]: i for i in page["items"] if i["model"] in MODELS}
        token = page.get("next_token")
        if not token:
            break
    assert set(found) == set(MODELS)
    outcomes = {m: (i["outcome"], i["reason"]) for m, i in found.items()}
    assert all(outcomes[m] == ("evaluated", None) for m in EVALUATED), outcomes
    assert all(found[m]["report_id"] for m in EVALUATED)
    assert all(outcomes[m] == ("skipped", "no_logs") for m in NO_LOGS)
    assert all(outcomes[m] == ("skipped", "not_in_production") for m in IDLE)
    outcome, reason = outcomes[BROKEN[0]]
    assert outcome == "failed" and reason  # the state machine's name of the error
    assert str(found[BROKEN[0]]["execution"]).startswith(f"{BROKEN[0]}-s")
    assert api(stack, "GET", "/drift/runs?since=yesterday", user="viewer")[0] == 422
