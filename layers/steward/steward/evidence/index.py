"""``index.html``: the pack's map to the frameworks a validator works through, SR 11-7 and
the EU AI Act's Annex IV, each section linking the members that answer it and saying what
Steward does not hold. One self-contained page: inline CSS, no script, no remote resource;
every string escaped."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from steward.evidence.pack import Contents

NOT_A_DOCUMENT = "Steward holds records, not this document: it must come from the provider."


@dataclass(frozen=True)
class Section:
    heading: str
    asks: str
    prefixes: tuple[str, ...]  # members whose path starts with one of these answer it
    gap: str = ""  # what Steward does not hold for this section ("" if it holds it all)


SR_11_7 = (
    Section(
        "Model development, implementation and use: conceptual soundness",
        "Design, theory and logic; data and its relevance; testing before use.",
        ("card/", "model.json", "versions/"),
        "The design rationale, the theory and the assumptions in prose.",
    ),
    Section(
        "Implementation",
        "The model as implemented: artifact, signature, runtime and its dependencies.",
        ("versions/", "sbom.cdx.json"),
    ),
    Section(
        "Ongoing monitoring",
        "Whether the model performs as intended as conditions change: drift and performance.",
        ("monitoring/history.json", "monitoring/latest.html", "monitoring/reports/"),
    ),
    Section(
        "Outcomes analysis",
        "Model outputs against actual outcomes: performance on labels, gates, fairness.",
        ("monitoring/reports/", "monitoring/fairness.json", "versions/"),
        "Back-testing beyond the labelled feedback Steward received.",
    ),
    Section(
        "Governance, policies and controls; validation",
        "Who decided what and when: approvals with comments, the audit trail and its chain.",
        ("versions/", "audit/", "manifest.json"),
        "The institution's model risk policy and the independence of its validators.",
    ),
)

ANNEX_IV = (
    Section(
        "1. General description of the AI system",
        "Intended purpose, provider, versions, how it interacts with other software.",
        ("model.json", "card/", "sbom.cdx.json"),
    ),
    Section(
        "2. Elements of the system and its development process",
        "Methods, design choices, data requirements, validation and testing with metrics.",
        ("versions/", "card/"),
        "Design specifications, data sheets and the data governance of training data.",
    ),
    Section(
        "3. Monitoring, functioning and control",
        "Capabilities and limits of performance, input specifications, human oversight.",
        ("versions/", "monitoring/", "card/"),
        "The human-oversight measures as designed, and foreseeable unintended outcomes.",
    ),
    Section(
        "4. Appropriateness of the performance metrics",
        "Why these metrics: the metrics, gates and thresholds in force.",
        ("model.json", "versions/", "monitoring/history.json"),
        "The argument for the metrics' appropriateness, in prose.",
    ),
    Section(
        "5. Risk management system (Article 9)",
        "Risks identified and the measures taken.",
        ("model.json", "audit/", "monitoring/"),
        "The risk management system itself: Steward records the risk tier and its controls.",
    ),
    Section(
        "6. Changes through the lifecycle",
        "Every relevant change: versions, lineage, approvals, aliases, policies.",
        ("audit/", "versions/"),
    ),
    Section(
        "7. Harmonised standards applied",
        "The standards (or other specifications) applied.",
        (),
        NOT_A_DOCUMENT,
    ),
    Section(
        "8. EU declaration of conformity",
        "A copy of the declaration (Article 47).",
        (),
        NOT_A_DOCUMENT,
    ),
    Section(
        "9. Post-market monitoring (Article 72)",
        "How performance is evaluated in use: the monitoring policy and its reports.",
        ("model.json", "monitoring/"),
        "The post-market monitoring plan as a document.",
    ),
)

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.45;color:#1b1b1b}h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px "
    "solid #ccc}h3{font-size:1.05rem;margin-bottom:.2rem}ul{margin-top:.2rem}.gap{color:#8a3b00}"
    "code{background:#f3f3f3;padding:0 .2rem}table{border-collapse:collapse}"
    "th,td{text-align:left;padding:.15rem .8rem .15rem 0;vertical-align:top}"
)


def _links(section: Section, paths: list[str], cap: int = 12) -> list[str]:
    chosen = [p for p in paths if any(p.startswith(x) for x in section.prefixes)]
    items = [f"<li><a href='{html.escape(p)}'>{html.escape(p)}</a></li>" for p in chosen[:cap]]
    if len(chosen) > cap:
        items.append(f"<li>and {len(chosen) - cap} more under the same folders</li>")
    return items


def _section(section: Section, paths: list[str]) -> str:
    esc = html.escape
    parts = [f"<h3>{esc(section.heading)}</h3><p>{esc(section.asks)}</p>"]
    links = _links(section, paths)
    parts.append("<ul>" + "".join(links) + "</ul>" if links else "<p>No member answers this.</p>")
    if section.gap:
        parts.append(f"<p class='gap'>Not held by Steward: {esc(section.gap)}</p>")
    return "".join(parts)


def render(contents: Contents, paths: list[str]) -> bytes:
    """The page for a pack whose members are ``paths`` (links go to those only)."""
    esc = html.escape
    model = contents.model
    name = str(model.get("name", ""))
    rows = [
        ("Model", name),
        ("At", contents.at),
        ("Description", str(model.get("description") or "(empty)")),
        ("Owner", str(model.get("owner") or "(empty)")),
        ("Risk tier", str(model.get("risk_tier", ""))),
        ("Versions registered by then", str(len(contents.versions))),
        ("Production version then", str((model.get("aliases") or {}).get("production", "none"))),
        ("Monitoring reports", str(contents.reports)),
    ]
    table = "".join(f"<tr><th scope='row'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    gaps = "".join(f"<li>{esc(g)}</li>" for g in contents.not_held())
    body = [
        f"<h1>Evidence pack: {esc(name)} at {esc(contents.at)}</h1>",
        f"<table>{table}</table>",
        "<p>Every member's sha256 is in <a href='manifest.json'>manifest.json</a>, with the "
        "audit chain's head at this time; <code>steward evidence verify</code> checks them "
        "offline.</p>",
        "<h2>SR 11-7 (Supervisory Guidance on Model Risk Management)</h2>",
        *(_section(s, paths) for s in SR_11_7),
        "<h2>EU AI Act, Annex IV (technical documentation)</h2>",
        *(_section(s, paths) for s in ANNEX_IV),
        f"<h2>What Steward does not hold</h2><ul class='gap'>{gaps}</ul>",
    ]
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Evidence: {esc(name)} at {esc(contents.at)}</title>"
        f"<style>{STYLE}</style></head><body>" + "".join(body) + "</body></html>\n"
    )
    return page.encode()
