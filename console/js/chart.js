// Drift over time as an inline SVG: one point per report (share of drifted features),
// the policy's drift_share as a dashed threshold line, drifted reports in red.

import { fmtNumber, fmtTime, h, s, table } from "./dom.js";

const W = 640;
const H = 220;
const PAD = { left: 48, right: 16, top: 16, bottom: 36 };

export function driftChart(reports, threshold) {
  const points = [...reports].sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i) => PAD.left + (points.length === 1 ? plotW / 2 : (i * plotW) / (points.length - 1));
  const y = (share) => PAD.top + plotH * (1 - Math.min(Math.max(share, 0), 1));
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const svg = s(
    "svg",
    {
      id: "drift-chart",
      viewBox: `0 0 ${W} ${H}`,
      role: "img",
      "aria-labelledby": "drift-chart-title drift-chart-desc",
      class: "chart",
    },
    s("title", { id: "drift-chart-title" }, "Drift over time"),
    s("desc", { id: "drift-chart-desc" }, `Share of drifted features in ${points.length} report(s); threshold ${fmtNumber(threshold, 2)}.`),
    ticks.map((t) => [
      s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(t), y2: y(t), class: "grid" }),
      s("text", { x: PAD.left - 6, y: y(t) + 4, "text-anchor": "end", class: "axis" }, `${Math.round(t * 100)}%`),
    ]),
    s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(threshold), y2: y(threshold), class: "threshold" }),
    s("text", { x: PAD.left + 4, y: y(threshold) - 4, class: "axis" }, `threshold ${Math.round(threshold * 100)}%`),
    points.length > 1
      ? s("polyline", { points: points.map((p, i) => `${x(i)},${y(p.drift_share)}`).join(" "), class: "trend" })
      : null,
    points.map((p, i) =>
      s(
        "circle",
        { cx: x(i), cy: y(p.drift_share), r: 5, class: p.drift_detected ? "point drifted" : "point", dataset: { reportId: p.report_id } },
        s("title", {}, `${fmtTime(p.created_at)}: ${Math.round(p.drift_share * 100)}% of features drifted`),
      ),
    ),
    points.length
      ? [
          s("text", { x: PAD.left, y: H - 10, class: "axis" }, fmtTime(points[0].created_at)),
          s("text", { x: W - PAD.right, y: H - 10, "text-anchor": "end", class: "axis" }, fmtTime(points.at(-1).created_at)),
        ]
      : null,
  );
  const data = h(
    "details",
    {},
    h("summary", {}, "Chart data"),
    table(
      "Drift reports",
      ["Evaluated", "Rows", "Drifted share", "Verdict", "Drifted features"],
      points.map((p) => [fmtTime(p.created_at), fmtNumber(p.rows), fmtNumber(p.drift_share, 2), p.drift_detected ? "drift" : "stable", (p.drifted_features || []).join(", ") || "—"]),
    ),
  );
  return h("figure", { class: "chart-figure" }, svg, h("figcaption", {}, "Share of drifted features per evaluation"), data);
}

// The lead time's steps as horizontal bars (median seconds per step), data as a table too.
export function stepsChart(steps) {
  const rowH = 28;
  const height = PAD.top + PAD.bottom + rowH * steps.length;
  const left = 140;
  const widest = Math.max(1, ...steps.map((step) => step.p50 || 0));
  const barW = (v) => ((W - left - PAD.right - 80) * (v || 0)) / widest;
  const svg = s(
    "svg",
    { id: "steps-chart", viewBox: `0 0 ${W} ${height}`, role: "img", "aria-labelledby": "steps-chart-title", class: "chart" },
    s("title", { id: "steps-chart-title" }, "Median time per step of the lead time"),
    steps.map((step, i) => {
      const y = PAD.top + i * rowH;
      return [
        s("text", { x: left - 8, y: y + 17, "text-anchor": "end", class: "axis" }, step.step.replaceAll("_", " ")),
        s("rect", { x: left, y: y + 4, width: barW(step.p50), height: rowH - 10, class: "bar", dataset: { step: step.step } }),
        s("text", { x: left + barW(step.p50) + 6, y: y + 17, class: "axis" }, step.n ? duration(step.p50) : "no data"),
      ];
    }),
  );
  return h("figure", { class: "chart-figure" }, svg, h("figcaption", {}, "Lead time by step (median)"));
}

export function duration(seconds) {
  if (typeof seconds !== "number") return "—";
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60]]) {
    if (seconds >= size) return `${(seconds / size).toFixed(1)} ${unit}`;
  }
  return `${seconds.toFixed(1)} s`;
}

// Mean |attribution| per feature as horizontal bars, largest first: a version's profile
// (one series), or the version's profile against a drift window's (two series, the
// reference grey over the window blue). The numbers are in the table below the chart too.
export function attributionChart(features, { id, title, windowed = false, unit = "" }) {
  const names = Object.keys(features).sort((a, b) => (features[b].reference ?? 0) - (features[a].reference ?? 0));
  const rowH = windowed ? 34 : 24;
  const left = 150;
  const height = PAD.top + 12 + rowH * names.length;
  const values = names.flatMap((n) => [features[n].reference ?? 0, windowed ? features[n].current ?? 0 : 0]);
  const widest = Math.max(1e-12, ...values);
  const barW = (v) => ((W - left - PAD.right - 70) * (v || 0)) / widest;
  const series = windowed ? [["reference", "bar reference"], ["current", "bar"]] : [["reference", "bar"]];
  const barH = windowed ? (rowH - 8) / 2 : rowH - 8;
  const svg = s(
    "svg",
    { id, viewBox: `0 0 ${W} ${height}`, role: "img", "aria-labelledby": `${id}-title`, class: "chart" },
    s("title", { id: `${id}-title` }, title),
    names.map((name, i) => {
      const y = PAD.top + i * rowH;
      return [
        s("text", { x: left - 8, y: y + rowH / 2 + 2, "text-anchor": "end", class: "axis" }, name.length > 22 ? `${name.slice(0, 21)}…` : name),
        series.map(([key, cls], j) => {
          const value = features[name][key];
          const top = y + 2 + j * barH;
          return [
            s("rect", { x: left, y: top, width: barW(value), height: barH - 1, class: cls, dataset: { feature: name, series: key } },
              s("title", {}, `${name} (${key === "current" ? "window" : "reference"}): ${fmtNumber(value, 4)}`)),
            s("text", { x: left + barW(value) + 4, y: top + barH - 3, class: "axis" }, fmtNumber(value, 3)),
          ];
        }),
      ];
    }),
  );
  const headers = windowed ? ["Feature", "Reference", "Window", "Shift", "Rank (reference → window)"] : ["Feature", `Mean |attribution|${unit ? ` (${unit})` : ""}`];
  const rows = names.map((n) => {
    const f = features[n];
    return windowed
      ? [n, fmtNumber(f.reference, 4), fmtNumber(f.current, 4), fmtNumber(f.shift, 4), `${f.reference_rank ?? "—"} → ${f.current_rank ?? "—"}`]
      : [n, fmtNumber(f.reference, 4)];
  });
  const data = h("details", {}, h("summary", {}, "Chart data"), table(title, headers, rows, { id: `${id}-data` }));
  const caption = windowed ? "Grey: the version's reference profile; blue: the window's sample" : `Mean absolute attribution per feature${unit ? `, in ${unit}` : ""}`;
  return h("figure", { class: "chart-figure" }, svg, h("figcaption", {}, caption), data);
}

/** A version's attribution_profile as chart input: {feature: {reference: mean |phi|}}. */
export function profileFeatures(profile) {
  return Object.fromEntries(Object.entries(profile?.features || {}).map(([f, v]) => [f, { reference: v }]));
}

// One KPI per 7-day period (GET /kpis `trend`, oldest first) as small bars around a zero
// line (value can be negative), periods without data marked "no data"; the same figures as a
// table beside the chart (`${id}-data`, one row per period).
export function trendChart(periods, { id, title, key, format = (v) => fmtNumber(v), header }) {
  const w = 360;
  const height = 160;
  const plotW = w - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const values = periods.map((p) => (typeof p[key] === "number" ? p[key] : null));
  const top = Math.max(0, ...values.filter((v) => v !== null));
  const bottom = Math.min(0, ...values.filter((v) => v !== null));
  const span = top - bottom || 1;
  const y = (v) => PAD.top + (plotH * (top - v)) / span;
  const slot = plotW / Math.max(1, periods.length);
  const day = (t) => String(t).slice(0, 10);
  const svg = s(
    "svg",
    { id, viewBox: `0 0 ${w} ${height}`, role: "img", "aria-labelledby": `${id}-title`, class: "chart chart-small" },
    s("title", { id: `${id}-title` }, title),
    s("line", { x1: PAD.left, x2: w - PAD.right, y1: y(0), y2: y(0), class: "grid" }),
    s("text", { x: PAD.left - 6, y: y(top) + 4, "text-anchor": "end", class: "axis" }, format(top)),
    bottom < 0 ? s("text", { x: PAD.left - 6, y: y(bottom) + 4, "text-anchor": "end", class: "axis" }, format(bottom)) : null,
    periods.map((p, i) => {
      const v = values[i];
      const x = PAD.left + i * slot + slot * 0.15;
      if (v === null) return s("text", { x: x, y: y(0) - 4, class: "axis" }, "·");
      return s(
        "rect",
        { x, y: Math.min(y(v), y(0)), width: slot * 0.7, height: Math.max(1, Math.abs(y(v) - y(0))), class: "bar", dataset: { periodEnd: p.end } },
        s("title", {}, `${day(p.start)} – ${day(p.end)}: ${format(v)}`),
      );
    }),
    periods.length
      ? [
          s("text", { x: PAD.left, y: height - 10, class: "axis" }, day(periods[0].start)),
          s("text", { x: w - PAD.right, y: height - 10, "text-anchor": "end", class: "axis" }, day(periods.at(-1).end)),
        ]
      : null,
  );
  const data = table(title, ["Period ending", header], periods.map((p, i) => [day(p.end), values[i] === null ? "no data" : format(values[i])]), { id: `${id}-data` });
  return h("div", { class: "chart-pair" }, h("figure", { class: "chart-figure" }, svg, h("figcaption", {}, title)), data);
}
