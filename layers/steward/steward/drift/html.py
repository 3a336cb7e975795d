"""The human drift report: one section per feature with reference vs current histograms and
the statistic over past reports, attribution drift (per-feature bars and NDCG), performance
and fairness tables (inline SVG, no scripts, no external assets)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from steward.drift.report import DriftReport, FeatureDrift

WIDTH, HEIGHT = 360, 120


def _bars(feature: FeatureDrift) -> str:
    n = max(len(feature.reference), 1)
    top = max([*feature.reference, *feature.current, 1e-9])
    slot = WIDTH / n
    parts = [
        f"<svg role='img' width='{WIDTH}' height='{HEIGHT + 16}' "
        f"aria-label='reference (grey) and current (blue) distribution'>"
    ]
    for i, (r, c) in enumerate(zip(feature.reference, feature.current, strict=False)):
        for j, (value, color) in enumerate(((r, "#9aa0a6"), (c, "#1a73e8"))):
            h = HEIGHT * value / top
            x = i * slot + j * slot / 2 + 1
            parts.append(
                f"<rect x='{x:.1f}' y='{HEIGHT - h:.1f}' width='{slot / 2 - 2:.1f}' "
                f"height='{h:.1f}' fill='{color}'/>"
            )
    if feature.labels:
        for i, label in enumerate(feature.labels[:n]):
            parts.append(
                f"<text x='{i * slot + 2:.1f}' y='{HEIGHT + 12}' font-size='10'>"
                f"{html.escape(label[:8])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _line(values: Sequence[float | None], threshold: float | None, label: str) -> str:
    """A statistic over reports, oldest to newest (the last point is this report), with the
    threshold dashed."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return ""
    top = max([v for _, v in points] + [threshold or 0.0, 1e-9]) * 1.1
    step = WIDTH / max(len(values) - 1, 1)
    height = HEIGHT / 2

    def y(v: float) -> float:
        return height - height * v / top

    path = " ".join(f"{i * step:.1f},{y(v):.1f}" for i, v in points)
    parts = [
        f"<svg role='img' width='{WIDTH}' height='{height + 4:.0f}' "
        f"aria-label='{html.escape(label)} over the last {len(values)} reports'>",
        f"<polyline points='{path}' fill='none' stroke='#1a73e8' stroke-width='2'/>",
    ]
    if threshold is not None:
        parts.append(
            f"<line x1='0' x2='{WIDTH}' y1='{y(threshold):.1f}' y2='{y(threshold):.1f}' "
            "stroke='#d93025' stroke-dasharray='4 3'/>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _series(history: Sequence[dict[str, Any]], pick: Any, current: float) -> list[float | None]:
    """One value per past report, oldest first (``history`` is newest first), then this
    report's."""
    out: list[float | None] = []
    for summary in reversed(history):
        try:
            value = pick(summary)
        except (KeyError, TypeError):
            value = None
        out.append(float(value) if isinstance(value, int | float) else None)
    out.append(current)
    return out


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4f}"
        return html.escape("-" if v is None else str(v))

    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _performance(report: DriftReport, history: Sequence[dict[str, Any]]) -> str:
    p = report.performance
    if not p:
        return ""
    intro = (
        f"<p>{p.get('rows_labelled', 0)} labelled rows of {p.get('rows_scored', 0)} scored "
        f"(labels read up to {p.get('label_lag_hours', 0)} h after the window); verdict: "
        f"<strong>{html.escape(str(p.get('verdict', '-')))}</strong>.</p>"
    )
    breaches = {c["metric"] for c in p.get("checks", []) if c["breach"]}
    rows = [
        (m, v, p.get("registered", {}).get(m), "breach" if m in breaches else "ok")
        for m, v in sorted(p.get("metrics", {}).items())
    ]
    charts = "".join(
        f"<section><h3>{html.escape(m)} over time</h3>"
        f"{_line(_series(history, lambda s, m=m: s['performance'][m], v), None, m)}</section>"
        for m, v in sorted(p.get("metrics", {}).items())
        if len(history)
    )
    baseline = f"baseline ({p.get('baseline', 'registered')})"
    table = _table(("metric", "value", baseline, "check"), rows) if rows else ""
    per_class = p.get("per_class") or {}
    if per_class.get("recall"):  # multiclass: which classes the model misses
        support = per_class.get("support", {})
        classes = [(c, r, support.get(c)) for c, r in per_class["recall"].items()]
        table += "<h3>Recall per class</h3>" + _table(("class", "recall", "rows"), classes)
    worth = p.get("value")
    if worth and worth.get("realized") is not None:
        unit = html.escape(str(worth.get("unit", "")))
        table += (
            f"<p>Realized value: <strong>{worth['realized']:,.2f} {unit}</strong> "
            f"({worth.get('per_row') or 0:,.4f} {unit} per labelled row), from the model's "
            "value matrix and the window's confusion counts.</p>"
        )
    table += _estimated(p.get("estimated") or {})
    table += _estimated_over_time(p, history)
    return f"<h2>Performance</h2>{intro}{table}{charts}"


def _estimated(estimated: dict[str, Any]) -> str:
    """CBPE's estimate with its 95 % band, beside the realized metric on the same labelled
    rows when the window had labels (``estimated.comparison``)."""
    names = [m for m in ("roc_auc", "accuracy", "f1") if estimated.get(m)]
    if not names:
        return ""
    compared = (estimated.get("comparison") or {}).get("metrics") or {}
    rows = [
        (
            m,
            estimated[m].get("value"),
            estimated[m].get("lower"),
            estimated[m].get("upper"),
            (compared.get(m) or {}).get("realized"),
            (compared.get(m) or {}).get("error"),
        )
        for m in names
    ]
    head = ("metric", "estimated", "lower (95 %)", "upper (95 %)", "realized", "error")
    return f"<h3>Estimated performance (CBPE, {estimated.get('rows', 0)} rows)</h3>" + _table(
        head, rows
    )


OVER_TIME = 12  # reports in the estimated-vs-realized table, this one included


def _estimated_over_time(performance: dict[str, Any], history: Sequence[dict[str, Any]]) -> str:
    """CBPE's ROC AUC estimate and the realized ROC AUC of the last reports (oldest first,
    this one last): how the estimate tracked the truth once labels arrived. Shown when
    a past report carries an estimate."""
    past = [s for s in reversed(history[: OVER_TIME - 1]) if (s.get("estimated") or {})]
    now = (performance.get("estimated") or {}).get("roc_auc") or {}
    if not past:
        return ""
    rows = []
    for s in past:
        estimate = s["estimated"].get("roc_auc")
        realized = (s.get("performance") or {}).get("roc_auc")
        rows.append((s.get("created_at"), estimate, realized, _difference(estimate, realized)))
    estimate, realized = now.get("value"), (performance.get("metrics") or {}).get("roc_auc")
    rows.append(("this report", estimate, realized, _difference(estimate, realized)))
    chart = _line(
        _series(history[: OVER_TIME - 1], lambda s: s["estimated"]["roc_auc"], estimate or 0.0),
        None,
        "estimated roc_auc",
    )
    head = ("report", "estimated roc_auc", "realized roc_auc", "estimated - realized")
    return "<h3>Estimated and realized ROC AUC over time</h3>" + _table(head, rows) + chart


def _difference(a: Any, b: Any) -> float | None:
    ok = isinstance(a, int | float) and isinstance(b, int | float)
    return float(a) - float(b) if ok else None


def _fairness(report: DriftReport) -> str:
    f = report.fairness
    if not f:
        return ""
    parts = [
        "<h2>Fairness</h2>",
        f"<p>Positive class {html.escape(str(f.get('positive_class')))}; flagged when the "
        f"disparate impact is under {f['thresholds']['disparate_impact']} or the TPR "
        f"difference over {f['thresholds']['tpr_difference']}.</p>",
    ]
    for attribute, found in f.get("attributes", {}).items():
        status = "flagged" if found["flagged"] else "ok"
        di, tpr = found.get("disparate_impact"), found.get("tpr_difference")
        parts.append(
            f"<h3>{html.escape(attribute)}: {status}</h3><p>disparate impact "
            f"{'-' if di is None else f'{di:.4f}'}, TPR difference "
            f"{'-' if tpr is None else f'{tpr:.4f}'}</p>"
        )
        rows = [
            (g, v["rows"], v["selection_rate"], v["tpr"], v["tpr_difference"])
            for g, v in found["groups"].items()
        ]
        parts.append(_table(("group", "rows", "selection rate", "TPR", "TPR gap to best"), rows))
    return "".join(parts)


def _pairs(features: dict[str, dict[str, Any]]) -> str:
    """Horizontal bars per feature, largest reference attribution first: reference (grey)
    over window (blue), on one scale."""
    names = sorted(features, key=lambda f: -features[f]["reference"])
    top = max(
        [1e-12]
        + [v for f in names for v in (features[f]["reference"], features[f]["current"] or 0)]
    )
    row, label = 26, 120
    width = WIDTH + label
    parts = [
        f"<svg role='img' width='{width}' height='{row * len(names) + 4}' "
        "aria-label='mean absolute attribution per feature: reference (grey), window (blue)'>"
    ]
    for i, name in enumerate(names):
        y = i * row
        parts.append(f"<text x='0' y='{y + 16}' font-size='11'>{html.escape(name[:18])}</text>")
        for j, (key, color) in enumerate((("reference", "#9aa0a6"), ("current", "#1a73e8"))):
            value = features[name][key] or 0.0
            parts.append(
                f"<rect x='{label}' y='{y + 2 + j * 11}' width='{WIDTH * value / top:.1f}' "
                f"height='10' fill='{color}'/>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _attributions(report: DriftReport) -> str:
    found = report.attribution_drift
    if found is None:
        reason = html.escape(report.attribution_drift_reason or "not computed")
        return f"<h2>Attribution drift</h2><p>Not computed: {reason}.</p>"
    score = found["ndcg"]
    status = STATUS[found["verdict"]]
    intro = (
        f"<p>NDCG {_number(score)} against the threshold {found['threshold']:.2f} (below is "
        f"drift, as SageMaker Clarify defines it): <strong>{status}</strong>. Mean |attribution| "
        f"({html.escape(str(found.get('output_space')))}, {html.escape(str(found.get('method')))})"
        f" of {found['rows']} sampled window rows against the version's profile on "
        f"{found.get('reference_rows')} reference rows. Grey: reference, blue: window.</p>"
    )
    features = found["features"]
    rows = [
        (f, v["reference"], v["current"], v["shift"], v["reference_rank"], v["current_rank"])
        for f, v in sorted(features.items(), key=lambda kv: kv[1]["reference_rank"])
    ]
    head = ("feature", "reference", "window", "shift", "reference rank", "window rank")
    classes = found.get("classes") or {}
    per_class = ""
    if classes:
        per_class = "<h3>Per explained class</h3>" + _table(
            ("class", "NDCG", "rows", "verdict"),
            [(c, v["ndcg"], v["rows"], STATUS[v["verdict"]]) for c, v in classes.items()],
        )
    return f"<h2>Attribution drift</h2>{intro}{_pairs(features)}{_table(head, rows)}{per_class}"


def _quality(quality: dict[str, Any]) -> str:
    rows = []
    for key, value in quality.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            value = {k: {a: round(b, 4) for a, b in v.items()} for k, v in value.items()}
        elif isinstance(value, dict):
            value = {k: round(v, 4) if isinstance(v, float) else v for k, v in value.items()}
        rows.append((key, "-" if value in ({}, []) else value))
    return "<h2>Data quality</h2>" + _table(("check", "found"), rows)


STATUS = {"drift": "drift", "no_drift": "ok", "insufficient_data": "insufficient data"}


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1e}" if value < 0.001 else f"{value:.3f}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _significance(report: DriftReport) -> str:
    s = report.significance
    if not s:
        return ""
    return (
        f"A feature drifts when its statistic reaches the threshold and its p-value, corrected "
        f"({s['correction'].capitalize()}) over the report's {s['tests']} tests, is under "
        f"{s['alpha']}; under {s['min_rows']} rows its verdict is insufficient data. Smallest "
        f"detectable: the effect this window detects with probability {s['power']}."
    )


def render(report: DriftReport, history: Sequence[dict[str, Any]] = ()) -> str:
    """``history``: the summaries of past reports, newest first (as listed)."""
    esc = html.escape
    verdict = "Drift detected" if report.drift_detected else "No drift"
    if report.verdict == "insufficient_data":
        verdict = "Insufficient data"
    rows = []
    sections = []
    items = list(report.features.items())
    if report.prediction is not None:
        items.append(("prediction", report.prediction))
    for name, f in items:
        status = STATUS[f.verdict]
        rows.append(
            f"<tr><th scope='row'>{esc(name)}</th><td>{esc(f.test)}</td>"
            f"<td>{f.statistic:.4f}</td><td>{f.threshold:.4f}</td><td>{_p(f.p_value)}</td>"
            f"<td>{_p(f.corrected_p_value)}</td><td>{_number(f.minimum_detectable_effect)}</td>"
            f"<td>{status}</td></tr>"
        )
        trend = _line(
            _series(history, lambda s, n=name: s["features"][n]["statistic"], f.statistic),
            f.threshold,
            f"{name} {f.test}",
        )
        sections.append(
            f"<section><h3>{esc(name)} — {status}</h3>{_bars(f)}"
            f"{f'<p>{esc(f.test)} over past reports</p>{trend}' if trend else ''}</section>"
        )
    share = _line(
        _series(history, lambda s: s["drift_share"], report.drift_share),
        None,
        "share of drifted features",
    )
    overall = f"<h2>Drifted share over past reports</h2>{share}" if share else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Drift report {esc(report.report_id)}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto}"
        "table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left}"
        "section{display:inline-block;margin:1rem 1rem 0 0}</style></head><body>"
        f"<h1>{esc(report.model)} v{report.version}: {verdict}</h1>"
        f"<p>Window {esc(report.window['start'])} to {esc(report.window['end'])}, "
        f"{report.rows} rows, {len(report.drifted_features)} of {len(report.features)} "
        f"features drifted. Grey: reference, blue: current.</p>"
        f"<p>{_significance(report)}</p>"
        "<table><thead><tr><th>feature</th><th>test</th><th>statistic</th><th>threshold</th>"
        "<th>p-value</th><th>corrected p</th><th>smallest detectable</th>"
        f"<th>verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"{overall}{''.join(sections)}{_attributions(report)}"
        f"{_performance(report, history)}{_fairness(report)}"
        f"{_quality(report.data_quality)}</body></html>"
    )
