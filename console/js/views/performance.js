// A drift report's performance section: the metrics as a table (metric, registered, current,
// change, breach) under a line with the verdict and the labelled rows; anything else the
// section carries (per-class figures, estimates, value) below as key-value details.

import { badge, fmtNumber, h, jsonView, table } from "../dom.js";

const SHOWN = new Set([
  "metrics", "registered", "checks", "verdict", "degraded", "rows_labelled", "rows_scored",
  "label_lag_hours", "baseline", "positive_class", "average", "value", "confusion",
]);

// The model's value matrix applied to the window's confusion counts (realized value).
function valueView(value) {
  const counts = value.counts || {};
  const money = (x) => (typeof x === "number" ? `${fmtNumber(x)} ${value.unit || ""}`.trim() : "—");
  return [
    h("p", { id: "performance-value" },
      `Realized value: ${money(value.realized)} (${money(value.per_row)} per labelled row); `,
      `estimated before labels: ${money(value.estimated)}.`),
    table(
      "Outcomes behind the value",
      ["Outcome", "Rows"],
      [["true positive", "tp"], ["false positive", "fp"], ["true negative", "tn"], ["false negative", "fn"]]
        .map(([label, key]) => [label, fmtNumber(counts[key] ?? 0)]),
      { id: "performance-value-counts" },
    ),
  ];
}

const pct = (x) => `${(x * 100).toFixed(1)} %`;

function change(current, registered) {
  if (typeof registered !== "number") return "—";
  const delta = current - registered;
  const sign = delta > 0 ? "+" : delta < 0 ? "−" : "±";
  const relative = registered === 0 ? "" : ` (${sign}${pct(Math.abs(delta / registered))})`;
  return `${sign}${fmtNumber(Math.abs(delta))}${relative}`;
}

function why(check) {
  if (check.kind === "drop") return `dropped ${pct(check.value)}, more than ${pct(check.threshold)}`;
  return `${check.kind === "min" ? "below" : "above"} ${fmtNumber(check.threshold)}`;
}

function breach(checks) {
  if (!checks.length) return "—";
  const broken = checks.filter((c) => c.breach);
  if (!broken.length) return badge("ok", "good");
  return [badge("breach", "bad"), ` ${broken.map(why).join("; ")}`];
}

export function performanceView(perf) {
  const checks = perf.checks || [];
  const registered = perf.registered || {};
  const metrics = Object.entries(perf.metrics || {})
    .filter(([, value]) => typeof value === "number")
    .sort(([a], [b]) => a.localeCompare(b));
  const verdictKind = { ok: "good", degraded: "bad" }[perf.verdict] || "info";
  const rest = Object.entries(perf).filter(([key]) => !SHOWN.has(key));
  return [
    h("p", {},
      perf.verdict ? badge(String(perf.verdict).replaceAll("_", " "), verdictKind) : null,
      ` ${fmtNumber(perf.rows_labelled ?? 0)} labelled rows of ${fmtNumber(perf.rows_scored ?? 0)} scored; `,
      `baseline: the version's ${perf.baseline || "registered"} metrics.`),
    metrics.length
      ? table(
        "Metrics against the version's baseline",
        ["Metric", "Registered", "Current", "Change", "Breach"],
        metrics.map(([metric, current]) => [
          metric,
          fmtNumber(registered[metric]),
          fmtNumber(current),
          change(current, registered[metric]),
          breach(checks.filter((c) => c.metric === metric)),
        ]),
        { id: "performance-metrics" },
      )
      : h("p", {}, "No metric yet: no labelled rows in the window."),
    perf.value ? valueView(perf.value) : null,
    rest.length
      ? h("details", {}, h("summary", {}, `More: ${rest.map(([key]) => key).join(", ")}`), jsonView(Object.fromEntries(rest)))
      : null,
  ];
}
