"""The CLI without a server: every command's help, the request each one sends, tables by
default and JSON with --json, progress only on a terminal, profiles."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from steward.cli.main import build_parser, main
from steward.cli.progress import Spinner, bar
from steward.client import ApiError, Client, Reply, RunFailed
from steward.domain.kpis import kpis
from steward.profiles import client_for, load_profiles, select

MODEL = {
    "name": "churn",
    "task": "classification",
    "risk_tier": "medium",
    "owner": "alice",
    "aliases": {"production": 2},
    "traffic": {"champion": 2},
    "latest_version": 3,
    "latest_drift": {"report_id": "r1", "drift_detected": True},
}
VERSION = {
    "name": "churn",
    "version": 3,
    "status": "PENDING_APPROVAL",
    "flavor": "logistic",
    "created_by": "alice",
    "created_at": "2026-11-27T06:00:00Z",
    "metrics": {"auc": 0.9},
}
REPORT = {
    "report_id": "r1",
    "model": "churn",
    "version": 2,
    "window": {"start": "a", "end": "b"},
    "rows": 1000,
    "drift_detected": True,
    "drift_share": 0.5,
    "created_at": "2026-11-27T06:00:00Z",
    "drifted_features": ["tenure"],
    "features": {
        "tenure": {"test": "wasserstein", "statistic": 0.4, "threshold": 0.1, "drift": True}
    },
    "performance": {"auc": 0.7},
}
EXECUTION = {
    "kind": "approval",
    "name": "churn-v3",
    "status": "RUNNING",
    "started": "2026-11-27T06:00:00+00:00",
    "stopped": None,
}
PREDICTED = {
    "model": "churn",
    "version": 2,
    "request_ids": ["q1", "q2"],
    "predictions": [{"label": 1, "probability": 0.8}, {"label": 0, "probability": 0.1}],
}


BY_SUFFIX: dict[str, Any] = {
    "/predict": PREDICTED,
    "/feedback": {"accepted": 1},
    "/executions": {"items": [EXECUTION]},
    "/retrain": {"run": "churn-manual-20261127T0700", "execution": "arn:x"},
    "/me": {"user": "bob", "roles": ["approver"], "source": "local"},
    "/logs/dead-letters": {"remaining": 3},
    "/kpis": kpis({}, until=datetime(2026, 12, 1, tzinfo=UTC)).model_dump(mode="json"),
    "/review": {"action": "model.reviewed", "actor": "bob", "at": "2026-12-01T00:00:00Z"},
    "/drift/runs": {
        "since": "2026-12-01T00:00:00+00:00",
        "until": "2026-12-02T00:00:00+00:00",
        "counts": {"evaluated": 1, "skipped": 1, "failed": 0, "missed": 0},
        "items": [
            {"model": "churn", "outcome": "evaluated", "report_id": "r1", "at": "t"},
            {"model": "idle", "outcome": "skipped", "reason": "not_in_production", "at": "t"},
        ],
        "next_token": "idle",
    },
}


class FakeApi:
    """Stands in for the HTTP transport: records each request, answers by route."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any, str | None]] = []
        self.scripted: list[Reply | ApiError] = []  # answered first, in order

    def answer(self, method: str, path: str) -> Any:
        route = path.split("?")[0]
        if route == "/models" and method == "GET":
            return {"items": [MODEL], "next_token": None}
        if route == "/approvals" or (route.endswith("/versions") and method == "GET"):
            return {"items": [VERSION], "next_token": None}
        for suffix, payload in BY_SUFFIX.items():
            if route.endswith(suffix):
                return payload
        if "/drift/runs/" in route:
            return {"status": "RUNNING", "execution": "arn:e"}
        if "/drift" in route and method == "GET" and route.endswith("/drift"):
            return {"items": [REPORT], "next_token": None}
        if "/drift" in route:
            return REPORT
        if route.startswith("/audit/verify"):
            return {"ok": True, "streams": [{"stream": "churn", "events": 7, "ok": True}]}
        if route.endswith("/audit") or route == "/audit":
            return {
                "items": [
                    {
                        "at": "t",
                        "actor": "bob",
                        "action": "version.approved",
                        "target": "churn/3",
                        "reason": "ok",
                    }
                ]
            }
        if "/versions" in route:
            return VERSION
        if route == "/health":
            return {"status": "ok", "version": "0.1.0"}
        return MODEL

    def __call__(
        self,
        client: Client,
        method: str,
        path: str,
        body: Any = None,
        accept: str = "application/json",
    ) -> Reply:
        self.calls.append((method, path, body, client.user))
        if self.scripted:
            answer = self.scripted.pop(0)
            if isinstance(answer, ApiError):
                raise answer
            return answer
        if accept == "text/html":
            return Reply(200, "<html>report</html>")
        return Reply(200, self.answer(method, path))


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr(Client, "exchange", lambda self, *a, **k: fake(self, *a, **k))
    monkeypatch.setenv("STEWARD_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("STEWARD_PROFILE", raising=False)
    monkeypatch.delenv("STEWARD_URL", raising=False)
    return fake


def _subcommands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.append((*prefix, name))
                found += _subcommands(child, (*prefix, name))
    return found


COMMANDS = _subcommands(build_parser())


def test_the_brief_s_commands_all_exist() -> None:
    expected = {
        ("local", "up"),
        ("demo",),
        ("models", "create"),
        ("models", "list"),
        ("models", "show"),
        ("register",),
        ("approve",),
        ("reject",),
        ("deploy",),
        ("traffic",),
        ("rollback",),
        ("predict",),
        ("feedback",),
        ("drift", "run"),
        ("drift", "list"),
        ("drift", "show"),
        ("audit",),
        ("archive",),
        ("me",),
    }
    assert expected <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: steward " + " ".join(command))
    description = out.split("\n\n")[1].strip()
    assert description and not description.startswith(("positional", "options")), out


CASES: list[tuple[list[str], str, str, Any, str]] = [
    (["models", "list"], "GET", "/models", None, "PRODUCTION"),
    (
        [
            "models",
            "list",
            "--owner",
            "ann",
            "--drift",
            "detected",
            "-q",
            "churn",
            "--tag",
            "team:crm",
            "--tag",
            "pii:yes",
            "--limit",
            "1000",
        ],
        "GET",
        "/models?owner=ann&drift=detected&q=churn&tag=team%3Acrm&tag=pii%3Ayes&limit=1000",
        None,
        "PRODUCTION",
    ),
    (["models", "show", "churn"], "GET", "/models/churn", None, "risk_tier"),
    (
        ["models", "create", "--name", "churn", "--task", "classification"],
        "POST",
        "/models",
        {"name": "churn", "task": "classification"},
        "task",
    ),
    (["versions", "churn"], "GET", "/models/churn/versions", None, "STATUS"),
    (["versions", "churn", "3"], "GET", "/models/churn/versions/3", None, "PENDING_APPROVAL"),
    (
        ["approve", "churn", "3", "-m", "fine"],
        "POST",
        "/models/churn/versions/3/decision",
        {"decision": "approve", "comment": "fine"},
        "status",
    ),
    (
        ["reject", "churn", "3", "-m", "no"],
        "POST",
        "/models/churn/versions/3/decision",
        {"decision": "reject", "comment": "no"},
        "status",
    ),
    (["approvals"], "GET", "/approvals?status=pending", None, "CREATED_BY"),
    (
        ["deploy", "churn", "3", "--alias", "staging"],
        "PUT",
        "/models/churn/aliases/staging",
        {"version": 3},
        "aliases",
    ),
    (
        ["traffic", "churn", "--champion", "2", "--challenger", "3", "--percent", "20"],
        "PUT",
        "/models/churn/traffic",
        {"champion": 2, "challenger": 3, "challenger_percent": 20, "mode": "canary"},
        "traffic",
    ),
    (
        ["rollback", "churn", "--reason", "bad"],
        "POST",
        "/models/churn/rollback",
        {"reason": "bad"},
        "aliases",
    ),
    (["retrain", "churn"], "POST", "/models/churn/retrain", {}, "churn-manual"),
    (["executions", "churn"], "GET", "/models/churn/executions", None, "RUNNING"),
    (
        ["predict", "churn", "--instances", '[{"tenure": 3}]', "--version", "2"],
        "POST",
        "/models/churn/predict?version=2",
        {"instances": [{"tenure": 3}]},
        "PROBABILITY",
    ),
    (
        ["feedback", "churn", "--request-id", "q1", "--label", "1"],
        "POST",
        "/models/churn/feedback",
        {"records": [{"request_id": "q1", "label": 1}]},
        "accepted",
    ),
    (
        ["drift", "run", "churn", "--start", "2026-11-27T00:00:00Z"],
        "POST",
        "/models/churn/drift/evaluate",
        {"start": "2026-11-27T00:00:00Z"},
        "tenure   wasserstein",
    ),
    (
        ["drift", "list", "churn", "--limit", "5"],
        "GET",
        "/models/churn/drift?limit=5",
        None,
        "DRIFT_SHARE",
    ),
    (["drift", "show", "churn", "r1"], "GET", "/models/churn/drift/r1", None, "performance:"),
    (["audit", "list", "churn"], "GET", "/models/churn/audit", None, "version.approved"),
    (["audit"], "GET", "/audit", None, "ACTOR"),
    (["audit", "verify", "churn"], "GET", "/audit/verify?model=churn", None, "verified"),
    (["health"], "GET", "/health", None, "status"),
    (
        ["archive", "churn", "2", "-m", "superseded"],
        "POST",
        "/models/churn/versions/2/archive",
        {"comment": "superseded"},
        "status",
    ),
    (["me"], "GET", "/me", None, "roles"),
    (["logs", "dead-letters"], "GET", "/logs/dead-letters", None, "remaining"),
    (["kpis"], "GET", "/kpis", None, "step: approval_wait"),
    (
        ["drift", "portfolio", "--since", "2026-12-01T00:00:00Z", "--limit", "2"],
        "GET",
        "/drift/runs?since=2026-12-01T00%3A00%3A00Z&limit=2",
        None,
        "1 evaluated, 1 skipped, 0 failed, 0 missed",
    ),
    (
        ["kpis", "churn", "--since", "2026-11-01T00:00:00Z"],
        "GET",
        "/models/churn/kpis?since=2026-11-01T00%3A00%3A00Z",
        None,
        "change_failure_rate",
    ),
    (
        ["review", "churn", "-m", "reviewed"],
        "POST",
        "/models/churn/review",
        {"comment": "reviewed"},
        "model.reviewed",
    ),
]


@pytest.mark.parametrize(
    ("argv", "method", "path", "body", "shown"), CASES, ids=[" ".join(c[0][:2]) for c in CASES]
)
def test_command_sends_its_request_and_prints_a_table_or_json(
    api: FakeApi,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    method: str,
    path: str,
    body: Any,
    shown: str,
) -> None:
    assert main(["--user", "bob", *argv]) == 0
    sent = api.calls[-1]
    assert sent[:3] == (method, path, body) and sent[3] == "bob"
    text = capsys.readouterr().out
    assert shown in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert main([*argv, "--json"]) == 0  # --json after the command works too
    assert isinstance(json.loads(capsys.readouterr().out), dict)


def test_register_uploads_and_waits_for_validation(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    artifact = tmp_path / "model.json"
    artifact.write_text('{"intercept": 0, "coefficients": {"x": 1}}')
    reference = tmp_path / "ref.csv"
    reference.write_text("x\n1.5\n2.5\n")
    code = main(
        [
            "--json",
            "register",
            "churn",
            "--flavor",
            "logistic",
            "--artifact",
            str(artifact),
            "--reference",
            str(reference),
            "--metric",
            "auc=0.9",
            "--wait",
        ]
    )
    assert code == 0
    (method, path, body, _), waited = api.calls[0], api.calls[1]
    assert (method, path) == ("POST", "/models/churn/versions")
    assert body["reference_data"] == {"instances": [{"x": 1.5}, {"x": 2.5}]}
    assert body["metrics"] == {"auc": 0.9} and len(body["sha256"]) == 64
    assert waited[:2] == ("GET", "/models/churn/versions/3")
    assert json.loads(capsys.readouterr().out)["status"] == "PENDING_APPROVAL"


def test_register_wait_exits_1_when_validation_does_not_settle_in_time(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    artifact = tmp_path / "model.json"
    artifact.write_text('{"intercept": 0, "coefficients": {"x": 1}}')
    validating = Reply(200, {**VERSION, "status": "VALIDATING"})
    api.scripted = [validating, validating]  # the POST's answer, then the one GET
    argv = ["register", "churn", "--flavor", "logistic", "--artifact", str(artifact)]
    assert main([*argv, "--wait", "--timeout", "0"]) == 1
    assert [c[0] for c in api.calls] == ["POST", "GET"]
    assert "waited 0 s for the validation of /models/churn/versions/3" in capsys.readouterr().err


def test_api_errors_exit_1_with_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(self: Client, *args: Any, **kwargs: Any) -> Any:
        raise ApiError(403, "forbidden", "the registrant cannot approve their own version")

    monkeypatch.setattr(Client, "request", refuse)
    assert main(["approve", "churn", "1", "-m", "mine"]) == 1
    assert "403 forbidden: the registrant" in capsys.readouterr().err


def test_drift_show_writes_the_html_report(api: FakeApi, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    assert main(["--json", "drift", "show", "churn", "r1", "--html", str(target)]) == 0
    assert target.read_text() == "<html>report</html>"


RUN_STARTED = {
    "report_id": "r1",
    "model": "churn",
    "window": {"start": "2026-11-27T00:00:00+00:00", "end": "2026-11-27T05:00:00+00:00"},
    "status": "running",
    "batches": 3,
    "execution": "arn:aws:states:us-east-1:1:execution:Steward-drift-run:churn-r1",
    "started_at": "2026-11-27T05:59:00+00:00",
}


def test_drift_run_polls_a_distributed_run_until_its_report(
    api: FakeApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("steward.polling.time.sleep", lambda _s: None)
    api.scripted = [
        Reply(202, RUN_STARTED, {"location": "/models/churn/drift/r1"}),
        ApiError(404, "not_found", "no drift report r1 for churn"),  # not kept yet
        Reply(200, {"status": "RUNNING", "execution": "arn:e"}),
        Reply(200, {**REPORT, "created_at": "2026-11-27T05:00:00Z"}),  # the window's last run
    ]
    assert main(["drift", "run", "churn", "--start", "2026-11-27T00:00:00Z"]) == 0
    report, run = ("GET", "/models/churn/drift/r1"), ("GET", "/models/churn/drift/runs/r1")
    assert [c[:2] for c in api.calls] == [
        ("POST", "/models/churn/drift/evaluate"),
        *[report, run] * 2,  # not kept yet; the window's last run's: the run still runs
        report,
    ]
    assert "tenure   wasserstein" in capsys.readouterr().out  # REPORT, created at 06:00


def test_drift_run_gives_up_after_its_timeout(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.scripted = [Reply(202, RUN_STARTED, {"Location": "/models/churn/drift/r1"})]
    api.scripted += [ApiError(404, "not_found", "no drift report r1 for churn")]
    assert main(["drift", "run", "churn", "--timeout", "0"]) == 1
    err = capsys.readouterr().err
    assert "waited 0 s for the drift run of churn (3 batches) to report" in err
    assert "it goes on: GET /models/churn/drift/r1 later" in err


def test_drift_run_stops_at_once_when_its_run_failed(
    api: FakeApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No waiting for the timeout: the run's status says it ended with no report."""
    monkeypatch.setattr("steward.polling.time.sleep", lambda _s: None)
    links = {"report": "/models/churn/drift/r1", "run": "/models/churn/drift/runs/r1"}
    status = {
        "report_id": "r1",
        "model": "churn",
        "started_at": "2026-11-27T05:59:00+00:00",
        "stopped_at": "2026-11-27T06:01:00+00:00",
        "execution": RUN_STARTED["execution"],
    }
    not_yet = ApiError(404, "not_found", "no drift report r1 for churn")
    api.scripted = [
        Reply(202, {**RUN_STARTED, "links": links}, {"Location": links["report"]}),
        not_yet,
        Reply(200, {**status, "status": "RUNNING", "stopped_at": None}),
        not_yet,
        Reply(
            200,
            {**status, "status": "FAILED", "error": "DriftRunFailed", "cause": "a step failed"},
        ),
    ]
    assert main(["drift", "run", "churn", "--timeout", "900"]) == 1
    assert [c[:2] for c in api.calls] == [
        ("POST", "/models/churn/drift/evaluate"),
        *[("GET", links["report"]), ("GET", links["run"])] * 2,
    ]
    err = capsys.readouterr().err
    assert "drift run of churn ended FAILED: DriftRunFailed (a step failed)" in err
    assert "execution:Steward-drift-run:churn-r1" in err


@pytest.mark.parametrize("ended", ["TIMED_OUT", "ABORTED"])
def test_client_raises_run_failed_for_a_run_stopped_without_a_report(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch, ended: str
) -> None:
    monkeypatch.setattr("steward.polling.time.sleep", lambda _s: None)
    state = {"status": ended, "execution": "arn:e", "error": None}
    api.scripted = [
        Reply(202, RUN_STARTED, {}),  # no links (an older server): the client knows the paths
        ApiError(404, "not_found", "no report"),
        Reply(200, state),
    ]
    with pytest.raises(RunFailed, match=f"ended {ended}, with no report") as failed:
        Client().evaluate_drift("churn", timeout_s=900)
    assert failed.value.status == state
    assert api.calls[-1][:2] == ("GET", "/models/churn/drift/runs/r1")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal() -> None:
    piped = io.StringIO()
    with Spinner("uploading", stream=piped, interval_s=0.01):
        pass
    assert piped.getvalue() == ""
    tty = Terminal()
    with Spinner("uploading", stream=tty, interval_s=0.005) as spinner:
        import time

        time.sleep(0.05)
        spinner.update("validating")
        time.sleep(0.03)
    shown = tty.getvalue()
    assert "uploading" in shown and "validating" in shown and shown.endswith("\n")
    assert "done validating" in shown
    assert bar(3, 8, width=8) == "[###-----] 3/8"


def test_profiles_from_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[profiles.dev]\nurl = "http://127.0.0.1:9999"\nuser = "bob"\n\n'
        '[profiles.prod]\nstack = "Steward"\nregion = "eu-west-1"\n'
    )
    profiles = load_profiles(config)
    assert set(profiles) == {"local", "dev", "prod"}
    assert profiles["local"].url == "http://127.0.0.1:8080" and not profiles["local"].deployed
    assert profiles["prod"].deployed
    monkeypatch.setenv("STEWARD_PROFILE", "dev")
    dev = client_for(select(path=config))
    assert (dev.url, dev.user, dev.signer) == ("http://127.0.0.1:9999", "bob", None)
    overridden = client_for(select("dev", path=config), url="http://x", user="carol")
    assert (overridden.url, overridden.user) == ("http://x", "carol")
    with pytest.raises(SystemExit, match="no profile 'nope'"):
        select("nope", path=config)


def test_profiles_command_lists_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.prod]\nstack = "Steward"\nregion = "eu-west-1"\n')
    monkeypatch.setenv("STEWARD_CONFIG", str(config))
    assert main(["profiles"]) == 0
    text = capsys.readouterr().out
    assert "prod" in text and "Steward" in text and "local" in text


def test_a_split_answer_shows_the_version_of_each_record() -> None:
    from steward.cli.render import predictions

    split = {**PREDICTED, "version": 1, "versions": [1, 2]}
    out = predictions(split).splitlines()
    assert out[0] == "churn v1, v2 (split by the canary)"
    assert out[1].split()[-1] == "VERSION" and out[2].split()[-1] == "1"
    assert out[3].split()[-1] == "2"
    assert predictions(PREDICTED).splitlines()[0] == "churn v2"


def test_logs_redrive_calls_until_the_dead_letters_are_gone(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.scripted = [
        Reply(200, {"moved": 1000, "remaining": 500}),
        Reply(200, {"moved": 500, "remaining": 0}),
    ]
    assert main(["--json", "logs", "redrive"]) == 0
    assert [c[:2] for c in api.calls] == [("POST", "/logs/redrive?limit=1000")] * 2
    assert json.loads(capsys.readouterr().out) == {"moved": 1500, "remaining": 0}


def test_admin_backfill_inventory_pages_until_done(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.scripted = [
        Reply(200, {"examined": 200, "repaired": 3, "entries": 17, "next_token": "t1"}),
        Reply(200, {"examined": 41, "repaired": 0, "entries": 0, "next_token": None}),
    ]
    assert main(["--json", "admin", "backfill-inventory", "--limit", "200"]) == 0
    assert [c[:2] for c in api.calls] == [
        ("POST", "/admin/inventory/backfill?limit=200"),
        ("POST", "/admin/inventory/backfill?limit=200&next_token=t1"),
    ]
    totals = json.loads(capsys.readouterr().out)
    assert totals == {"calls": 2, "examined": 241, "repaired": 3, "entries": 17}


def test_admin_refresh_schedules_pages_until_done(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.scripted = [
        Reply(200, {"examined": 2, "refreshed": 2, "next_token": "t1"}),
        Reply(200, {"examined": 1, "refreshed": 1, "next_token": None}),
    ]
    assert main(["--json", "admin", "refresh-schedules", "--limit", "2"]) == 0
    assert [c[:2] for c in api.calls] == [
        ("POST", "/admin/schedules/refresh?limit=2"),
        ("POST", "/admin/schedules/refresh?limit=2&next_token=t1"),
    ]
    assert json.loads(capsys.readouterr().out) == {"calls": 2, "examined": 3, "refreshed": 3}


def test_trainer_set_zips_the_folder_and_sends_its_settings(api: FakeApi, tmp_path: Path) -> None:
    import base64
    import zipfile

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text("print('hi')\n")
    args = ["--json", "trainer", "set", "churn", str(tmp_path / "code"), "--hp", "depth=3"]
    args += ["--hp", "loss=log_loss", "--requirement", "scikit-learn", "--timeout", "60"]
    assert main(args) == 0
    method, path, body, _ = api.calls[0]
    assert (method, path) == ("PUT", "/models/churn/trainer")
    names = zipfile.ZipFile(io.BytesIO(base64.b64decode(body["source_b64"]))).namelist()
    assert names == ["train.py"] and body["entry_point"] == ["python", "train.py"]
    assert body["hyperparameters"] == {"depth": 3, "loss": "log_loss"}
    assert body["requirements"] == ["scikit-learn"] and body["timeout_s"] == 60
    assert main(["--json", "trainer", "show", "churn"]) == 0
    assert api.calls[1][:2] == ("GET", "/models/churn/trainer")
