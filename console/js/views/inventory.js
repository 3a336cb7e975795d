// The inventory: every model with its health at a glance.

import { badge, fmtTime, h, table } from "../dom.js";

export function driftBadge(latest) {
  if (!latest) return badge("no report", "none");
  return latest.drift_detected ? badge("drift", "bad") : badge("stable", "good");
}

export async function inventoryView(api) {
  const [models, pending] = await Promise.all([api.all("/models"), api.all("/approvals?status=pending")]);
  const waiting = new Map();
  for (const version of pending) waiting.set(version.name, (waiting.get(version.name) || 0) + 1);
  const rows = models.map((m) => [
    h("a", { href: `#/models/${m.name}` }, m.name),
    m.task,
    m.risk_tier,
    m.aliases?.production ? `v${m.aliases.production}` : "none",
    driftBadge(m.latest_drift),
    m.latest_drift ? fmtTime(m.latest_drift.created_at) : "—",
    waiting.get(m.name) ? badge(String(waiting.get(m.name)), "warn") : "0",
    m.owner || "—",
  ]);
  return h(
    "section",
    { "aria-labelledby": "inventory-title" },
    h("h1", { id: "inventory-title" }, "Models"),
    models.length
      ? table(
          `${models.length} model${models.length === 1 ? "" : "s"}`,
          ["Model", "Task", "Risk tier", "Production", "Drift", "Last evaluated", "Pending approvals", "Owner"],
          rows,
          { id: "inventory" },
        )
      : h("p", {}, "No models yet: register one with the CLI (steward models create)."),
  );
}
