"""`steward demo --exit`: the demo story runs on a fresh local platform, narrates each step,
and exits 0 with a summary (what `make demo` runs, minus serving the console forever)."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steward.client import zip_folder
from tests.e2e.support import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)  # above the demo's own 600 s
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
        timeout=600,  # a loaded 2-core machine, a cold CDK synth: start and the whole story
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
    _assert_value_story(result.stdout)
    _assert_custom_retrain(result.stdout)
    assert "KPIs (churn, GET /models/churn/kpis): lead time p50 " in result.stdout
    assert "KPIs (portfolio, GET /kpis): lead time p50 " in result.stdout
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


def _assert_value_story(stdout: str) -> None:
    """#18: churn's value per decision, CBPE's estimate beside the realized value, for v1 on
    the drifted month and for the retrained version after it."""
    number = r"([+-]\d+\.\d\d)"
    before = re.search(
        rf"v1 on next month's customers: {number} estimated by CBPE before labels, "
        rf"{number} realized",
        stdout,
    )
    after = re.search(
        rf"after the retrain, v2 on 1000 new customers: {number} estimated before labels, "
        rf"{number} realized",
        stdout,
    )
    assert before and after, stdout
    # the retrained model is worth more per decision than the drifted one it replaced
    assert float(after[2]) > float(before[2]), stdout


def _assert_custom_retrain(stdout: str) -> None:
    """#16: the GBM drifts, its team's own trainer (examples/trainers/gbm) retrains it on the
    local backend, the new version's lineage names that code and the data, bob approves and
    the canary promotes it."""
    sha = hashlib.sha256(zip_folder(str(ROOT / "examples" / "trainers" / "gbm"))).hexdigest()
    assert (
        "cell-risk's own trainer set: examples/trainers/gbm (scikit-learn -> skl2onnx), "
        f"sha256 {sha[:12]}, backend local" in stdout
    ), stdout
    assert "drift detected: True (area, concave_points, radius, texture)" in stdout, stdout
    assert re.search(
        r"DriftDetected -> cell-risk's own trainer ran \(local backend, [\d.]+ s\): "
        r"registered cell-risk v2 \(onnx\) as steward-retrain",
        stdout,
    ), stdout
    lineage = re.search(
        rf"lineage: trainer sha256 {sha[:12]}, data window \S+ \.\. \S+ UTC, "
        r"569 labelled rows \(sha256 [0-9a-f]{12}\), trigger drift:[0-9a-f]+",
        stdout,
    )
    assert lineage, stdout
    assert re.search(
        r"bob approved v2; canary 20 % for 4 s, analysis SUCCEEDED: promoted; "
        r"production is v2",
        stdout,
    ), stdout
