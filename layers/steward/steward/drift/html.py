"""The human drift report: one section per feature with reference vs current histograms
(inline SVG, no scripts, no external assets)."""

from __future__ import annotations

import html

from steward.drift.evaluate import DriftReport, FeatureDrift

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


def render(report: DriftReport) -> str:
    esc = html.escape
    verdict = "Drift detected" if report.drift_detected else "No drift"
    rows = []
    sections = []
    items = list(report.features.items())
    if report.prediction is not None:
        items.append(("prediction", report.prediction))
    for name, f in items:
        status = "drift" if f.drift else "ok"
        rows.append(
            f"<tr><th scope='row'>{esc(name)}</th><td>{esc(f.test)}</td>"
            f"<td>{f.statistic:.4f}</td><td>{f.threshold:.4f}</td><td>{status}</td></tr>"
        )
        sections.append(f"<section><h3>{esc(name)} — {status}</h3>{_bars(f)}</section>")
    quality = report.data_quality
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
        "<table><thead><tr><th>feature</th><th>test</th><th>statistic</th><th>threshold</th>"
        f"<th>verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"{''.join(sections)}"
        f"<h2>Data quality</h2><pre>{esc(str(quality))}</pre></body></html>"
    )
