// The approvals inbox: the evidence for each pending version, and the decision.

import { ApiError } from "../api.js";
import { attributionChart, profileFeatures } from "../chart.js";
import { badge, fmtNumber, fmtTime, h, table } from "../dom.js";
import { exportEvidence } from "./model.js";

/** The candidate's evidence pack as it stands now (a draft: the decision is not in it yet). */
function packDraft(api, version) {
  const id = `${version.name}-${version.version}`;
  // aria-live, not role=status: the decision form's result is the card's one status
  const status = h("p", { "aria-live": "polite", id: `pack-status-${id}` });
  return h("p", {},
    h("button", { type: "button", class: "link", id: `pack-${id}`, onclick: () => exportEvidence(api, version.name, "", status) },
      `Evidence pack draft (v${version.version} as of now)`),
    status);
}

function validationEvidence(version) {
  const v = version.validation;
  if (!v) return h("p", {}, "No validation result recorded.");
  return [
    h("p", {}, v.ok ? badge("validation passed", "good") : badge("validation failed", "bad"), v.at ? ` ${fmtTime(v.at)}` : ""),
    table("Validation checks", ["Check", "Result"], Object.entries(v.checks || {}).map(([k, r]) => [k, r])),
  ];
}

function metricsEvidence(version, champion) {
  const names = [...new Set([...Object.keys(version.metrics || {}), ...Object.keys(champion?.metrics || {})])].sort();
  if (!names.length) return h("p", {}, "No metrics were registered.");
  const heading = champion ? `Champion v${champion.version}` : "Champion";
  return table(
    champion ? "Metrics against the production champion" : "Metrics (no production champion yet)",
    ["Metric", `Candidate v${version.version}`, heading, "Change"],
    names.map((n) => {
      const mine = version.metrics?.[n];
      const theirs = champion?.metrics?.[n];
      const delta = typeof mine === "number" && typeof theirs === "number" ? mine - theirs : null;
      return [n, fmtNumber(mine), fmtNumber(theirs), delta === null ? "—" : `${delta >= 0 ? "+" : ""}${delta.toFixed(3)}`];
    }),
  );
}

function profileEvidence(profile) {
  const features = Object.entries(profile?.features || {});
  if (!features.length) return h("p", {}, "No reference profile.");
  return table(
    `Reference profile: ${fmtNumber(profile.rows)} rows`,
    ["Feature", "Kind", "Missing", "Summary"],
    features.map(([name, f]) => {
      const n = (f.count || 0) + (f.missing || 0);
      const missing = n ? `${((100 * (f.missing || 0)) / n).toFixed(1)}%` : "—";
      if (f.kind === "numeric") {
        const mean = f.count ? f.total / f.count : null;
        return [name, "numeric", missing, `min ${fmtNumber(f.min)}, mean ${fmtNumber(mean)}, max ${fmtNumber(f.max)}`];
      }
      const top = Object.entries(f.counts || {}).sort((a, b) => b[1] - a[1]).slice(0, 5);
      return [name, "categorical", missing, top.map(([c, k]) => `${c} ${f.count ? Math.round((100 * k) / f.count) : 0}%`).join(", ")];
    }),
  );
}

/** What drives the candidate: its attribution profile, computed by validation. */
function attributionEvidence(version) {
  const p = version.attribution_profile;
  const id = `${version.name}-${version.version}`;
  if (!p?.features) return h("p", { id: `attributions-${id}` }, "No attribution profile (rule sets, models no method explains, or no reference sample).");
  return [
    h("p", {}, `Mean absolute attribution per feature on ${fmtNumber(p.rows)} reference rows (${p.method}, ${p.output_space}).`),
    attributionChart(profileFeatures(p), { id: `attributions-${id}`, title: `Attribution profile of ${version.name} v${version.version}`, unit: p.output_space }),
  ];
}

function decisionForm(api, ui, version) {
  const id = `${version.name}-${version.version}`;
  if (version.created_by === api.user) {
    return h("p", { class: "note", id: `own-${id}` }, `You registered this version: another approver must decide.`);
  }
  const comment = h("textarea", { id: `comment-${id}`, name: "comment", required: true, rows: 3, "aria-describedby": `hint-${id}` });
  const result = h("p", { role: "status", id: `result-${id}` });
  const decide = (decision) => async (event) => {
    event.preventDefault();
    const form = event.target.closest("form");
    if (!comment.value.trim()) {
      comment.setCustomValidity("A comment is required.");
      form.reportValidity();
      return;
    }
    comment.setCustomValidity("");
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    try {
      const after = await api.post(`/models/${version.name}/versions/${version.version}/decision`, { decision, comment: comment.value.trim() });
      result.textContent = `v${after.version} is now ${after.status}.`;
      setTimeout(() => ui.refresh(), 600);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      ui.showError(error);
      result.textContent = `Refused: ${error.message}`;
      for (const button of form.querySelectorAll("button")) button.disabled = false;
    }
  };
  comment.addEventListener("input", () => comment.setCustomValidity(""));
  return h(
    "form",
    { class: "decision", "aria-label": `Decision on ${version.name} v${version.version}` },
    h("label", { for: `comment-${id}` }, "Comment (required)"),
    comment,
    h("p", { class: "hint", id: `hint-${id}` }, "Your name, decision and comment go into the audit trail."),
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: "approve", onclick: decide("approve") }, "Approve"),
      h("button", { type: "submit", class: "reject", onclick: decide("reject") }, "Reject")),
    result,
  );
}

async function evidence(api, version) {
  const model = await api.get(`/models/${version.name}`);
  const champion = model.aliases?.production;
  const [championVersion, profile] = await Promise.all([
    champion && champion !== version.version ? api.get(`/models/${version.name}/versions/${champion}`) : null,
    api.get(`/models/${version.name}/versions/${version.version}/profile`),
  ]);
  return { model, championVersion, profile };
}

export async function approvalsView(api, ui) {
  const pending = await api.all("/approvals?status=pending");
  const cards = await Promise.all(
    pending.map(async (version) => {
      const { model, championVersion, profile } = await evidence(api, version);
      const id = `${version.name}-${version.version}`;
      return h(
        "article",
        { class: "panel approval", id: `approval-${id}`, "aria-labelledby": `title-${id}` },
        h("h2", { id: `title-${id}` }, h("a", { href: `#/models/${version.name}` }, version.name), ` v${version.version}`),
        h("p", {}, `${version.flavor} · ${model.task} · risk ${model.risk_tier} · registered by ${version.created_by} on ${fmtTime(version.created_at)}`),
        version.description ? h("p", {}, version.description) : null,
        h("h3", {}, "Validation"),
        validationEvidence(version),
        h("h3", {}, "Metrics"),
        metricsEvidence(version, championVersion),
        h("h3", {}, "Training data"),
        h("p", {}, version.lineage?.training_data?.uri
          ? `${version.lineage.training_data.uri} (${fmtNumber(version.lineage.training_data.rows)} rows)`
          : "No training data reference."),
        profileEvidence(profile),
        h("h3", {}, "Attribution profile"),
        attributionEvidence(version),
        packDraft(api, version),
        decisionForm(api, ui, version),
      );
    }),
  );
  return h(
    "section",
    { "aria-labelledby": "approvals-title" },
    h("h1", { id: "approvals-title" }, "Approvals"),
    h("p", {}, `Acting as ${api.user || "nobody"}.`),
    cards.length ? cards : h("p", { id: "inbox-empty" }, "Nothing waits for a decision."),
  );
}
