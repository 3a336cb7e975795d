"""`steward local up` / `steward demo`: the narrative alone on the terminal; library logs
(urllib3's "connection pool is full"), the handlers' JSON lines, warnings and stray prints in
the log file under the data directory, whose path is said once."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
from aws_lambda_powertools import Logger

from steward.local.terminal import Terminal, say


def test_the_terminal_gets_the_narrative_and_the_log_file_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Terminal(tmp_path / ".steward") as terminal:
        say("  registered churn v1 (logistic) as alice; validating...")
        logging.getLogger("urllib3.connectionpool").warning(
            "Connection pool is full, discarding connection: 127.0.0.1. Connection pool size: 10"
        )
        # a handler's JSON line (a service of its own: loggers made earlier keep their stream)
        Logger(service="steward-terminal-test").info("request handled")
        warnings.warn("a library's deprecation", DeprecationWarning, stacklevel=1)
        print("a library's stray print")
        say("  scored 1000 records")
    captured = capsys.readouterr()
    log = terminal.path.read_text()
    assert captured.out.splitlines() == [
        f"Logs: {tmp_path / '.steward' / 'logs' / 'platform.log'}",
        "  registered churn v1 (logistic) as alice; validating...",
        "  scored 1000 records",
    ]
    assert captured.err == ""
    assert "Connection pool is full" in log and '"request handled"' in log
    assert "a library's deprecation" in log and "a library's stray print" in log


def test_outside_the_platform_say_prints_and_logging_is_restored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    handlers = list(logging.getLogger().handlers)
    with Terminal(tmp_path):
        pass
    assert logging.getLogger().handlers == handlers
    say("plain")
    assert capsys.readouterr().out.endswith("plain\n")
