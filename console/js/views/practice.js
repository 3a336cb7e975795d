// Is the practice working? The portfolio's KPIs from the audit trail (GET /kpis) as tables,
// the lead time's steps as a chart, the 7-day trend (lead time p50, value) as small charts
// with their data as tables, each model's figures (GET /models/{name}/kpis), and the last 24
// hours of drift runs (GET /drift/runs: evaluated, skipped, failed or missed).

import { duration, stepsChart, trendChart } from "../chart.js";
import { badge, fmtNumber, h, table } from "../dom.js";

const DURATIONS = [
  ["lead_time_s", "Lead time (registration to production)"],
  ["approval_wait_s", "Approval wait"],
  ["validation_s", "Validation"],
  ["drift_to_redeploy_s", "Drift to redeploy"],
];
const share = (x) => (typeof x === "number" ? `${(x * 100).toFixed(0)} %` : "—");

function figures(k) {
  return table(
    "Deployments, failures and coverage",
    ["Figure", "Value"],
    [
      ["Deployments", fmtNumber(k.deployments)],
      ["Rollbacks", fmtNumber(k.rollbacks)],
      ["Rollback rate", share(k.rollback_rate)],
      ["Change failure rate", share(k.change_failure_rate)],
      ["Models in production", fmtNumber(k.production_models)],
      ["Monitored (with a drift schedule)", share(k.monitored_share)],
      ["Fresh report (within 2 days)", share(k.fresh_report_share)],
      ["Labelled (latest report had labels)", share(k.labelled_share)],
      ["Reviews overdue", k.reviews_overdue ? badge(String(k.reviews_overdue), "bad") : "0"],
    ],
    { id: "practice-figures" },
  );
}

const OUTCOME_TONE = { evaluated: "good", skipped: "none", failed: "bad", missed: "warn" };

function driftRuns(runs) {
  if (!runs) return null;
  const c = runs.counts;
  return h("div", { id: "practice-drift-runs" },
    table(
      "Drift runs in the last 24 hours",
      ["Evaluated", "Skipped", "Failed", "Missed"],
      [[fmtNumber(c.evaluated), fmtNumber(c.skipped), fmtNumber(c.failed), fmtNumber(c.missed)]],
      { id: "practice-drift-counts" },
    ),
    table(
      runs.next_token ? "Not evaluated (first 1,000 models)" : "Not evaluated",
      ["Model", "Outcome", "Why", "When"],
      runs.items
        .filter((r) => r.outcome !== "evaluated")
        .map((r) => [
          h("a", { href: `#/models/${r.model}` }, r.model),
          badge(r.outcome, OUTCOME_TONE[r.outcome] || "none"),
          (r.reason || "").replaceAll("_", " "),
          r.at || "—",
        ]),
      { id: "practice-drift-others" },
    ),
  );
}

export async function practiceView(api) {
  const [portfolio, models, runs] = await Promise.all([
    api.get("/kpis"),
    api.all("/models"),
    api.get("/drift/runs?limit=1000").catch(() => null),
  ]);
  const perModel = await Promise.all(models.map((m) => api.get(`/models/${encodeURIComponent(m.name)}/kpis`)));
  return h("section", { id: "practice" },
    h("h2", {}, "Practice"),
    h("p", {}, "From the audit trail alone, up to now. Percentiles are nearest-rank over every model's samples."),
    table(
      "Cycle times",
      ["Measure", "Median", "90th percentile", "Samples"],
      DURATIONS.map(([key, label]) => [label, duration(portfolio[key].p50), duration(portfolio[key].p90), fmtNumber(portfolio[key].n)]),
      { id: "practice-durations" },
    ),
    stepsChart(portfolio.steps),
    table(
      "Lead time by step",
      ["Step", "Median", "90th percentile", "Samples"],
      portfolio.steps.map((st) => [st.step.replaceAll("_", " "), duration(st.p50), duration(st.p90), fmtNumber(st.n)]),
      { id: "practice-steps" },
    ),
    figures(portfolio),
    h("h3", {}, "Trend (7-day periods, oldest first)"),
    trendChart(portfolio.trend, { id: "trend-lead-time", title: "Lead time per period (median)", key: "lead_time_p50", format: duration, header: "Lead time (median)" }),
    trendChart(portfolio.trend, {
      id: "trend-value",
      title: `Value realized per period${(portfolio.value?.units || []).length === 1 ? ` (${portfolio.value.units[0]})` : ""}`,
      key: "value_realized",
      header: "Value realized",
    }),
    table(
      "Per model",
      ["Model", "Deployments", "Rollbacks", "Lead time (median)", "Fresh report", "Review overdue"],
      perModel.map((k) => [
        h("a", { href: `#/models/${k.model}` }, k.model),
        fmtNumber(k.deployments),
        fmtNumber(k.rollbacks),
        duration(k.lead_time_s.p50),
        k.production_models ? (k.fresh_report_share ? badge("fresh", "good") : badge("stale", "bad")) : "not in production",
        k.reviews_overdue ? badge("overdue", "bad") : "no",
      ]),
      { id: "practice-models" },
    ),
    driftRuns(runs),
  );
}
