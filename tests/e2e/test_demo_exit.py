"""`steward demo --exit`: the demo story runs on a fresh local platform, narrates each step,
and exits 0 with a summary (what `make demo` runs, minus serving the console forever)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.support import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_demo_exit_narrates_and_summarizes(tmp_path: Path) -> None:
    port = free_port()
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "steward.cli.main",
            "demo",
            "--exit",
            "--port",
            str(port),
            "--data-dir",
            str(ROOT / ".cache" / "local-e2e"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=420,  # a loaded 2-core machine: platform start and the whole story
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    elapsed = time.perf_counter() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    steps = [line for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(steps) >= 5, result.stdout
    assert "Summary:" in result.stdout
    assert "churn:" in result.stdout and "audit chains verified: True" in result.stdout
    assert "churn's evidence pack:" in result.stdout and "verified offline" in result.stdout
    # The narrative alone on the terminal: logs, handlers' JSON lines, warnings in the file.
    log = ROOT / ".cache" / "local-e2e" / "logs" / "platform.log"
    assert result.stdout.splitlines()[0] == f"Logs: {log}"
    assert "Connection pool is full" not in output and "Traceback" not in output
    assert not [line for line in output.splitlines() if line.lstrip().startswith("{")], output
    assert result.stderr == ""
    assert log.stat().st_size > 0
    print(f"steward demo --exit took {elapsed:.1f} s")
    with socket.socket() as probe:  # the platform is gone
        assert probe.connect_ex(("127.0.0.1", port)) != 0
