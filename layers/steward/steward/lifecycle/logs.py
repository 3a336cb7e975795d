"""Reading the prediction and feedback logs of a window (small windows: canary, retrain)."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Any

from steward.ports.monitoring import LogFiles


def read_window(
    logs: LogFiles,
    kind: str,
    name: str,
    start: datetime,
    end: datetime,
    columns: list[str] | None = None,
) -> Any:
    """One Arrow table of the window's rows (only ``columns`` when given), or ``None``.

    Files that lack a column are read with what they have and unified with nulls.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    tables = []
    for key in logs.window_keys(kind, name, start, end):
        file = pq.ParquetFile(BytesIO(logs.read(key)))
        present = [c for c in columns if c in file.schema_arrow.names] if columns else None
        table = file.read(columns=present)
        ts = table.column("ts")
        keep = pc.and_(
            pc.greater_equal(ts, pa.scalar(start, ts.type)), pc.less(ts, pa.scalar(end, ts.type))
        )
        tables.append(table.filter(keep))
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")
