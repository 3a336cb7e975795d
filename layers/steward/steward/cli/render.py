"""How the CLI prints answers: a table by default, JSON with ``--json``."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

Column = tuple[str, Callable[[dict[str, Any]], Any]]
MAX_CELL = 60


def as_json(payload: Any) -> str:
    return json.dumps(payload, indent=2, sort_keys=True, default=str)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    header = [name for name, _ in columns]
    body = [[_cell(get(row)) for _, get in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    if not body:
        lines.append("(none)")
    return "\n".join(line.rstrip() for line in lines)


def record(payload: dict[str, Any], keys: Sequence[str] | None = None) -> str:
    """One object as ``key  value`` lines (nested values as compact JSON)."""
    chosen = [k for k in (keys or sorted(payload)) if k in payload]
    width = max((len(k) for k in chosen), default=0)
    return "\n".join(f"{k.ljust(width)}  {_cell(payload[k])}" for k in chosen)


def key(name: str) -> Column:
    return (name, lambda row: row.get(name))


def production(row: dict[str, Any]) -> Any:
    return (row.get("aliases") or {}).get("production")


def drift_verdict(row: dict[str, Any]) -> str:
    latest = row.get("latest_drift")
    if not latest:
        return "no report"
    return "DRIFT" if latest.get("drift_detected") else "stable"


MODEL_COLUMNS: list[Column] = [
    key("name"),
    key("task"),
    key("risk_tier"),
    ("production", production),
    ("drift", drift_verdict),
    key("latest_version"),
    key("owner"),
]
VERSION_COLUMNS: list[Column] = [
    key("name"),
    key("version"),
    key("status"),
    key("flavor"),
    key("created_by"),
    key("created_at"),
    key("metrics"),
]
AUDIT_COLUMNS: list[Column] = [
    key("at"),
    key("actor"),
    key("action"),
    key("target"),
    key("reason"),
]
REPORT_COLUMNS: list[Column] = [
    key("report_id"),
    key("created_at"),
    key("rows"),
    key("drift_detected"),
    key("drift_share"),
    key("drifted_features"),
]
EXECUTION_COLUMNS: list[Column] = [
    key("kind"),
    key("name"),
    key("status"),
    key("started"),
    key("stopped"),
    key("cause"),
]
FEATURE_COLUMNS: list[Column] = [
    key("feature"),
    key("test"),
    key("statistic"),
    key("threshold"),
    key("drift"),
]


def drift_report(report: dict[str, Any]) -> str:
    head = record(
        report,
        ["report_id", "model", "version", "window", "rows", "drift_detected", "drift_share"],
    )
    features = [{"feature": k, **v} for k, v in (report.get("features") or {}).items()]
    sections = [head, "", table(features, FEATURE_COLUMNS)]
    for name in ("performance", "fairness"):
        if report.get(name):
            sections += ["", f"{name}:", record(report[name])]
    return "\n".join(sections)


def predictions(answer: dict[str, Any]) -> str:
    """One row per record; when a canary split the records, the version that answered each."""
    split = answer.get("versions")
    rows = [
        {"request_id": rid, **(p if isinstance(p, dict) else {"prediction": p})}
        for rid, p in zip(
            answer.get("request_ids", []), answer.get("predictions", []), strict=False
        )
    ]
    if split:
        for row, number in zip(rows, split, strict=False):
            row["version"] = number
    columns = [key("request_id")] + [key(k) for k in (rows[0] if rows else {}) if k != "request_id"]
    if split:
        numbers = ", ".join(f"v{n}" for n in sorted(set(split)))
        title = f"{answer.get('model')} {numbers} (split by the canary)"
    else:
        title = f"{answer.get('model')} v{answer.get('version')}"
    return title + "\n" + table(rows, columns)
