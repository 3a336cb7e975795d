"""Model cards, generated from the registry's own records (never typed by hand)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from steward.domain.models import Model, ModelVersion


@dataclass(frozen=True)
class Card:
    markdown: str
    html: str


def _sections(model: Model, version: ModelVersion) -> list[tuple[str, list[tuple[str, str]]]]:
    lineage = version.lineage
    data = lineage.training_data
    validation = version.validation
    return [
        (
            "Model",
            [
                ("Name", model.name),
                ("Description", model.description or "-"),
                ("Owner", model.owner or "-"),
                ("Use case", model.use_case or "-"),
                ("Task", model.task.value),
                ("Risk tier", model.risk_tier.value),
                ("Production version", str(model.aliases.get("production", "-"))),
            ],
        ),
        (
            f"Version {version.version}",
            [
                ("Status", version.status.value),
                ("Flavor", version.flavor.value),
                ("Registered by", version.created_by),
                ("Registered at", version.created_at.isoformat()),
                (
                    "Artifact",
                    f"{version.artifact.uri} (S3 version {version.artifact.s3_version_id})",
                ),
                ("sha256", version.sha256),
            ],
        ),
        (
            "Inputs",
            [
                (
                    f.name,
                    f.type
                    + (f", categories {', '.join(f.categories)}" if f.categories else "")
                    + (f", min {f.min}" if f.min is not None else "")
                    + (f", max {f.max}" if f.max is not None else ""),
                )
                for f in version.signature.inputs
            ],
        ),
        ("Metrics", [(k, f"{v:.4g}") for k, v in sorted(version.metrics.items())] or [("-", "-")]),
        (
            "Lineage",
            [
                ("Parent version", str(lineage.parent_version or "-")),
                ("Code", lineage.code_ref or "-"),
                ("Trainer run", lineage.trainer_run or "-"),
                ("Trigger", lineage.trigger),
                ("Training data", data.uri if data and data.uri else "-"),
                ("Training data sha256", data.sha256 if data and data.sha256 else "-"),
                ("Training rows", str(data.rows) if data and data.rows is not None else "-"),
            ],
        ),
        (
            "Validation",
            [("Passed", str(validation.ok)), *sorted(validation.checks.items())]
            if validation
            else [("Passed", "not yet validated")],
        ),
        ("Attributions", _attributions(version)),
        (
            "Approvals",
            [
                (f"{a.decision} by {a.actor}", f"{a.at.isoformat()}: {a.comment}")
                for a in version.approvals
            ]
            or [("-", "no decision yet")],
        ),
    ]


def _attributions(version: ModelVersion) -> list[tuple[str, str]]:
    """The reference attribution profile, largest mean |attribution| first."""
    profile = version.attribution_profile
    if not profile:
        return [("-", "no attribution profile")]
    features = sorted(profile["features"].items(), key=lambda item: -item[1])
    header = (
        "Method",
        f"{profile['method']}, mean |attribution| in {profile['output_space']} "
        f"over {profile['rows']} reference rows",
    )
    return [header, *((name, f"{value:.4g}") for name, value in features)]


def model_card(model: Model, version: ModelVersion) -> Card:
    sections = _sections(model, version)
    md = [f"# Model card: {model.name} v{version.version}", ""]
    for title, rows in sections:
        md += [f"## {title}", "", "| | |", "|---|---|"]
        md += [f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows]
        md.append("")
    esc = html.escape
    body = [f"<h1>Model card: {esc(model.name)} v{version.version}</h1>"]
    for title, rows in sections:
        body.append(f"<h2>{esc(title)}</h2><table>")
        body += [f"<tr><th scope='row'>{esc(k)}</th><td>{esc(str(v))}</td></tr>" for k, v in rows]
        body.append("</table>")
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(model.name)} v{version.version}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto}"
        "th{text-align:left;padding-right:1rem;vertical-align:top}td{word-break:break-all}"
        "</style></head><body>" + "".join(body) + "</body></html>"
    )
    return Card(markdown="\n".join(md), html=page)


def card_json(model: Model, version: ModelVersion) -> dict[str, Any]:
    """The card's sections as data: what the Markdown and HTML cards show."""
    return {
        "title": f"Model card: {model.name} v{version.version}",
        "model": model.name,
        "version": version.version,
        "sections": [
            {"title": title, "rows": [{"field": k, "value": str(v)} for k, v in rows]}
            for title, rows in _sections(model, version)
        ],
    }
