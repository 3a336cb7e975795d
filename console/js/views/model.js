// One model: versions, aliases and traffic, the version's attribution profile, drift over
// time, the latest report (with attribution drift, performance and fairness when present),
// the model card and the audit trail.

import { ApiError } from "../api.js";
import { attributionChart, driftChart, profileFeatures } from "../chart.js";
import { badge, fmtNumber, fmtTime, h, jsonView, table } from "../dom.js";
import { markdown } from "../markdown.js";
import { performanceView } from "./performance.js";
import { driftBadge } from "./inventory.js";

function section(id, title, ...content) {
  return h("section", { "aria-labelledby": id, class: "panel" }, h("h2", { id }, title), ...content);
}

function statusBadge(status) {
  const kind = { APPROVED: "good", REJECTED: "bad", PENDING_APPROVAL: "warn", ARCHIVED: "none" }[status] || "info";
  return badge(status, kind);
}

function overview(model) {
  const t = model.traffic || {};
  const aliases = Object.entries(model.aliases || {});
  return section(
    "overview-title",
    "Overview",
    h("dl", { class: "kv" },
      h("dt", {}, "Task"), h("dd", {}, model.task),
      h("dt", {}, "Risk tier"), h("dd", {}, model.risk_tier),
      h("dt", {}, "Owner"), h("dd", {}, model.owner || "—"),
      h("dt", {}, "Use case"), h("dd", {}, model.use_case || "—"),
      h("dt", {}, "Aliases"), h("dd", { id: "aliases" }, aliases.length ? aliases.map(([a, v]) => `${a} → v${v}`).join(", ") : "none"),
      h("dt", {}, "Traffic"),
      h("dd", { id: "traffic" }, t.champion
        ? `champion v${t.champion}` + (t.challenger ? `, challenger v${t.challenger} (${t.mode}, ${t.challenger_percent}%)` : "")
        : "no traffic policy"),
      h("dt", {}, "Drift"), h("dd", {}, driftBadge(model.latest_drift)),
    ),
    model.description ? h("p", {}, model.description) : null,
  );
}

function versionsSection(versions) {
  return section(
    "versions-title",
    "Versions",
    table(
      null,
      ["Version", "Status", "Flavor", "Registered by", "Registered", "Metrics", "Decisions"],
      versions.map((v) => [
        `v${v.version}`,
        statusBadge(v.status),
        v.flavor,
        v.created_by,
        fmtTime(v.created_at),
        Object.entries(v.metrics || {}).map(([k, m]) => `${k} ${fmtNumber(m)}`).join(", ") || "—",
        (v.approvals || []).map((a) => `${a.decision} by ${a.actor}: ${a.comment}`).join("; ") || "—",
      ]),
      { id: "versions" },
    ),
  );
}

/** The attribution profile of the version in production (else the newest that has one). */
function profileSection(model, versions) {
  const production = model.aliases?.production;
  const shown = versions.find((v) => v.version === production && v.attribution_profile)
    || [...versions].sort((a, b) => b.version - a.version).find((v) => v.attribution_profile);
  if (!shown) {
    return section("profile-title", "Attribution profile", h("p", { id: "attribution-profile" }, "No version has an attribution profile (rule sets, and models no method explains, have none)."));
  }
  const p = shown.attribution_profile;
  return section(
    "profile-title",
    `Attribution profile (v${shown.version})`,
    h("p", {}, `What drives the model: mean absolute attribution per feature on ${fmtNumber(p.rows)} reference rows (${p.method}, ${p.output_space}).`),
    attributionChart(profileFeatures(p), { id: "attribution-profile", title: `Attribution profile of v${shown.version}`, unit: p.output_space }),
  );
}

/** The latest report's attribution drift: NDCG against the threshold, and the two profiles. */
export function attributionDriftView(report) {
  const found = report.attribution_drift;
  if (!found) {
    return h("p", { id: "attribution-drift" }, `Not computed: ${report.attribution_drift_reason || "no attributions in this report"}.`);
  }
  const verdict = found.drift
    ? badge("attribution drift", "bad")
    : found.verdict === "insufficient_data" ? badge("insufficient data", "warn") : badge("no attribution drift", "good");
  return h("div", { id: "attribution-drift" },
    h("p", {}, verdict,
      ` NDCG ${fmtNumber(found.ndcg, 3)} (threshold ${fmtNumber(found.threshold, 2)}: below is drift, as SageMaker Clarify defines it), ${fmtNumber(found.rows)} sampled rows, ${found.method}, ${found.output_space}.`),
    attributionChart(found.features, { id: "attribution-drift-chart", title: "Mean |attribution| per feature: reference against the window", windowed: true }),
    found.classes
      ? table("NDCG per explained class", ["Class", "NDCG", "Rows", "Verdict"],
          Object.entries(found.classes).map(([c, v]) => [c, fmtNumber(v.ndcg, 3), fmtNumber(v.rows), v.drift ? badge("drift", "bad") : v.verdict.replace("_", " ")]))
      : null,
  );
}

/** p-values span many magnitudes: fixed decimals would show most of them as 0. */
function fmtP(p) {
  if (p === undefined || p === null) return "—";
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

function featureVerdict(d) {
  if (d.drift) return badge("drift", "bad");
  return d.verdict === "insufficient_data" ? badge("insufficient data", "warn") : "no";
}

function reportSection(api, name, report) {
  if (!report) return section("report-title", "Latest drift report", h("p", {}, "No drift evaluation yet."));
  const path = `/models/${name}/drift/${report.report_id}`;
  const href = api.href(path);
  const link = href
    ? h("a", { href, id: "report-link", target: "_blank", rel: "noopener" }, "Open the full HTML report")
    : h("button", { type: "button", id: "report-link", onclick: async (e) => {
        const html = await api.get(path, "text/html");
        e.target.replaceWith(h("iframe", { sandbox: "", srcdoc: html, title: "Drift report", class: "report-frame" }));
      } }, "Show the full HTML report");
  const features = Object.entries(report.features || {}).sort((a, b) => b[1].statistic / b[1].threshold - a[1].statistic / a[1].threshold);
  const extra = [];
  for (const key of ["performance", "fairness"]) {
    const value = report[key];
    if (value && typeof value === "object" && Object.keys(value).length) {
      const body = key === "performance" ? performanceView(value) : jsonView(value);
      extra.push(h("section", { "aria-labelledby": `${key}-title`, id: key }, h("h3", { id: `${key}-title` }, key === "performance" ? "Performance" : "Fairness"), body));
    }
  }
  return section(
    "report-title",
    "Latest drift report",
    h("p", {},
      report.drift_detected
        ? badge("drift detected", "bad")
        : report.verdict === "insufficient_data" ? badge("insufficient data", "warn") : badge("no drift", "good"),
      ` ${fmtNumber(report.rows)} rows, window ${fmtTime(report.window?.start)} – ${fmtTime(report.window?.end)}, version v${report.version}. `,
      link),
    table(
      "Per-feature tests, most drifted first: a feature drifts when its statistic reaches the threshold and its corrected p-value is under alpha",
      ["Feature", "Test", "Statistic", "Threshold", "p-value", "Corrected p", "Smallest detectable", "Verdict"],
      features.map(([f, d]) => [
        f, d.test, fmtNumber(d.statistic), fmtNumber(d.threshold), fmtP(d.p_value), fmtP(d.corrected_p_value),
        fmtNumber(d.minimum_detectable_effect), featureVerdict(d),
      ]),
      { id: "report-features" },
    ),
    h("section", { "aria-labelledby": "attributions-title", id: "attributions" },
      h("h3", { id: "attributions-title" }, "Attribution drift"),
      attributionDriftView(report)),
    extra,
  );
}

/** Save a Blob as a file: a temporary object URL on a download link, clicked. */
export function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Download the model's evidence pack (at an instant, or now) and say what was saved. */
export async function exportEvidence(api, name, at, status) {
  const query = at ? `?at=${encodeURIComponent(at)}` : "";
  status.textContent = "Building the evidence pack…";
  try {
    const { blob, filename } = await api.download(`/models/${name}/evidence${query}`);
    save(blob, filename);
    status.textContent = `Saved ${filename} (${fmtNumber(blob.size)} bytes). Check it offline: steward evidence verify ${filename}`;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    status.textContent = `Refused: ${error.message}`;
  }
}

function evidenceSection(api, name) {
  const at = h("input", { type: "datetime-local", id: "evidence-at", name: "at", step: 1, "aria-describedby": "evidence-hint" });
  const status = h("p", { role: "status", id: "evidence-status" });
  const submit = async (event) => {
    event.preventDefault();
    // datetime-local is the browser's local time: send it as UTC
    const instant = at.value ? new Date(at.value).toISOString().replace(/\.\d{3}Z$/, "Z") : "";
    await exportEvidence(api, name, instant, status);
  };
  return section(
    "evidence-title",
    "Evidence",
    h("form", { class: "evidence", "aria-label": "Export evidence", onsubmit: submit },
      h("label", { for: "evidence-at" }, "As of (empty: now)"),
      at,
      h("p", { class: "hint", id: "evidence-hint" },
        "A zip of the card, versions, validation, gates, approvals, the audit slice and the monitoring reports up to that instant, with a manifest of hashes and an index mapped to SR 11-7 and the EU AI Act's Annex IV."),
      h("button", { type: "submit", id: "export-evidence" }, "Export evidence")),
    status,
  );
}

function auditSection(events) {
  return section(
    "audit-title",
    "Audit trail",
    table(
      null,
      ["When", "Actor", "Action", "Target", "Reason"],
      events.map((e) => [fmtTime(e.at), e.actor, e.action, e.target, e.reason || "—"]),
      { id: "audit" },
    ),
  );
}

async function cardSection(api, name, versions) {
  const shown = versions.find((v) => v.status === "APPROVED") || versions[0];
  if (!shown) return section("card-title", "Model card", h("p", {}, "No version yet."));
  let card;
  try {
    const text = await api.get(`/models/${name}/versions/${shown.version}/card`, "text/markdown");
    card = markdown(text, { id: "model-card" });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    card = h("p", { id: "model-card" }, `The card could not be read (${error.status}).`);
  }
  return section("card-title", `Model card (v${shown.version})`, card);
}

export async function modelView(api, _ui, name) {
  const [model, versions, reports, audit] = await Promise.all([
    api.get(`/models/${name}`),
    api.all(`/models/${name}/versions`),
    api.all(`/models/${name}/drift`),
    api.all(`/models/${name}/audit`),
  ]);
  const latestId = model.latest_drift?.report_id || reports[0]?.report_id;
  const [report, card] = await Promise.all([
    latestId ? api.get(`/models/${name}/drift/${latestId}`) : null,
    cardSection(api, name, versions),
  ]);
  const threshold = model.monitoring?.drift_share ?? 0.3;
  return h(
    "article",
    { "aria-labelledby": "model-title" },
    h("p", {}, h("a", { href: "#/" }, "← All models")),
    h("h1", { id: "model-title" }, name),
    overview(model),
    versionsSection(versions),
    profileSection(model, versions),
    section("drift-title", "Drift over time", reports.length ? driftChart(reports, threshold) : h("p", {}, "No drift evaluation yet.")),
    reportSection(api, name, report),
    card,
    evidenceSection(api, name),
    auditSection(audit),
  );
}
