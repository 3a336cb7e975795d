"""The pure parts of the peers benchmark harness (`bench/peers.py`); no peer is run here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from bench import drift, peers


def _run(cpu: float, compute: float, flagged: list[str], rows: int = 1000) -> dict[str, Any]:
    return {
        "version": "1.0",
        "pandas": "2.3.3",
        "rows": rows,
        "cpu_seconds": cpu,
        "wall_seconds": cpu * 1.5,
        "compute_cpu_seconds": compute,
        "import_cpu_seconds": 2.0,
        "peak_rss_mb": 100.0 * cpu,
        "phases": {
            "read_reference": {"cpu_seconds": cpu - compute - 0.5, "wall_seconds": 0.0},
            "read_current": {"cpu_seconds": 0.5, "wall_seconds": 0.0},
            "compute": {"cpu_seconds": compute, "wall_seconds": 0.0},
        },
        "flagged": flagged,
        "methods": ["js"],
    }


def test_summary_takes_medians_and_compares_per_core_rates() -> None:
    runs = [_run(4.0, 3.0, []), _run(2.0, 1.0, []), _run(3.0, 2.0, [])]
    drifted = {"flagged": ["c0", "n00", "n01", "n02"]}
    summary = peers.summarize_peer(runs, drifted, steward_rate=10_000.0, rows=1000)
    assert summary["cpu_seconds"] == 3.0
    assert summary["rows_per_s"] == 333
    assert summary["speedup"] == 30.0  # 10,000 rows/s against 1000 rows in 3 s
    assert summary["speedup_compute"] == 20.0
    assert summary["speedup_current_only"] == 25.0  # read_current 0.5 s + compute 2 s
    assert summary["peak_rss_mb"] == 400.0  # the worst run, not the median
    assert summary["verdicts_ok"] is True


def test_summary_reports_false_positives_and_failures() -> None:
    runs = [_run(2.0, 1.0, ["n05"]), _run(2.0, 1.0, [])]
    summary = peers.summarize_peer(runs, {"flagged": ["c0", "n00"]}, 1000.0, 1000)
    assert summary["undrifted_flagged"] == ["n05"]  # flagged in any timed run
    assert summary["verdicts_ok"] is False
    assert summary["drifted_missed"] == ["n01", "n02"]
    assert summary["false_positives"] == ["n05"]
    failed = peers.summarize_peer([{"error": "MemoryError"}], {}, 1000.0, 1000)
    assert failed == {"error": "MemoryError"}
    with pytest.raises(AssertionError):
        peers.summarize_peer([_run(2.0, 1.0, [], rows=999)], {}, 1000.0, 1000)


def test_peers_get_the_profiled_reference_rows_and_every_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peers, "REFERENCE_ROWS", 500)
    path = peers.reference_parquet(tmp_path)
    assert pq.read_table(path).equals(drift._table(500, 1, drift.T0 - drift.HOUR))
    path.write_bytes(b"kept")  # written once, then reused
    assert peers.reference_parquet(tmp_path).read_bytes() == b"kept"
    (tmp_path / "w").mkdir()
    for name in ("part-2.parquet", "part-1.parquet", "notes.txt"):
        (tmp_path / "w" / name).touch()
    job = peers.spec("nannyml", path, tmp_path / "w")
    assert job["current"] == [str(tmp_path / "w" / f"part-{i}.parquet") for i in (1, 2)]
    assert sorted(job["numeric"] + job["categorical"]) == sorted(drift.COLUMNS)
