// The inventory: models with their health, filtered and paged by the API (GET /models
// filters; next_token pages), sorted within the page shown.

import { badge, clear, fmtTime, h, table } from "../dom.js";

const PAGE = 100;
const COLUMNS = ["Model", "Task", "Risk tier", "Production", "Drift", "Last evaluated", "Pending approvals", "Owner"];
const SORT_KEYS = [
  (m) => m.name,
  (m) => m.task,
  (m) => ["low", "medium", "high"].indexOf(m.risk_tier),
  (m) => m.aliases?.production || 0,
  (m) => (m.latest_drift ? (m.latest_drift.drift_detected ? 2 : 1) : 0),
  (m) => m.latest_drift?.created_at || "",
  () => 0,
  (m) => m.owner || "",
];
const FILTERS = [
  ["q", "Search", "text", "words in name or description"],
  ["owner", "Owner", "text", ""],
  ["risk_tier", "Risk tier", ["", "low", "medium", "high"]],
  ["task", "Task", ["", "classification", "regression", "decision"]],
  ["status", "Production", ["", "APPROVED", "none"]],
  ["drift", "Drift", ["", "detected", "clear", "none"]],
  ["tag", "Tag", "text", "key:value, comma separated"],
];

export function driftBadge(latest) {
  if (!latest) return badge("no report", "none");
  return latest.drift_detected ? badge("drift", "bad") : badge("stable", "good");
}

/** The query string of a filter form's values (tags: one `tag=` per key:value). */
export function filterQuery(values) {
  const params = new URLSearchParams({ limit: String(PAGE) });
  for (const [key, value] of Object.entries(values)) {
    if (!value) continue;
    if (key === "tag") {
      for (const tag of value.split(",").map((t) => t.trim()).filter(Boolean)) params.append("tag", tag);
    } else params.set(key, value.trim());
  }
  return params.toString();
}

function field([key, label, kind, placeholder]) {
  const id = `filter-${key}`;
  const control = Array.isArray(kind)
    ? h("select", { id, name: key }, kind.map((v) => h("option", { value: v }, v || "any")))
    : h("input", { id, name: key, type: "search", placeholder, autocomplete: "off" });
  return h("label", { for: id, class: "filter" }, label, " ", control);
}

export async function inventoryView(api) {
  const pending = await api.all("/approvals?status=pending");
  const waiting = new Map();
  for (const version of pending) waiting.set(version.name, (waiting.get(version.name) || 0) + 1);

  const state = { query: filterQuery({}), tokens: [null], index: 0, sort: 0, desc: false, items: [], next: null };
  const status = h("p", { id: "inventory-status", role: "status" });
  const holder = h("div", { id: "inventory-holder" });
  const prev = h("button", { type: "button", id: "inventory-prev" }, "Previous page");
  const next = h("button", { type: "button", id: "inventory-next" }, "Next page");
  const form = h(
    "form",
    { id: "inventory-filters", role: "search", "aria-label": "Filter models" },
    FILTERS.map(field),
    h("button", { type: "submit" }, "Filter"),
  );

  function render() {
    const key = SORT_KEYS[state.sort];
    const items = [...state.items].sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      return (x < y ? -1 : x > y ? 1 : 0) * (state.desc ? -1 : 1);
    });
    const rows = items.map((m) => [
      h("a", { href: `#/models/${m.name}` }, m.name),
      m.task,
      m.risk_tier,
      m.aliases?.production ? `v${m.aliases.production}` : "none",
      driftBadge(m.latest_drift),
      m.latest_drift ? fmtTime(m.latest_drift.created_at) : "—",
      waiting.get(m.name) ? badge(String(waiting.get(m.name)), "warn") : "0",
      m.owner || "—",
    ]);
    const shown = table(`page ${state.index + 1}: ${items.length} model${items.length === 1 ? "" : "s"}`, COLUMNS, rows, {
      id: "inventory",
    });
    shown.querySelectorAll("th").forEach((th, i) => {
      const arrow = i === state.sort ? (state.desc ? " ▼" : " ▲") : "";
      const button = h("button", { type: "button", class: "sort", "data-column": String(i) }, COLUMNS[i] + arrow);
      th.setAttribute("aria-sort", i === state.sort ? (state.desc ? "descending" : "ascending") : "none");
      th.replaceChildren(button);
      button.addEventListener("click", () => {
        state.desc = state.sort === i ? !state.desc : false;
        state.sort = i;
        render();
      });
    });
    clear(holder).append(
      items.length || state.next ? shown : h("p", {}, state.index || state.query !== filterQuery({}) ? "No model matches on this page." : "No models yet: register one with the CLI (steward models create)."),
    );
    prev.disabled = state.index === 0;
    next.disabled = !state.next;
  }

  async function load() {
    status.textContent = "Loading…";
    const token = state.tokens[state.index];
    const answer = await api.get(`/models?${state.query}${token ? `&next_token=${encodeURIComponent(token)}` : ""}`);
    state.items = answer.items;
    state.next = answer.next_token || null;
    state.tokens[state.index + 1] = state.next;
    status.textContent = state.next ? "More models follow: next page." : "";
    render();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.query = filterQuery(Object.fromEntries(new FormData(form)));
    state.tokens = [null];
    state.index = 0;
    load().catch((error) => (status.textContent = error.message));
  });
  prev.addEventListener("click", () => {
    state.index = Math.max(0, state.index - 1);
    load().catch((error) => (status.textContent = error.message));
  });
  next.addEventListener("click", () => {
    state.index += 1;
    load().catch((error) => (status.textContent = error.message));
  });
  await load();
  return h(
    "section",
    { "aria-labelledby": "inventory-title" },
    h("h1", { id: "inventory-title" }, "Models"),
    form,
    status,
    holder,
    h("nav", { "aria-label": "Pages", class: "pager" }, prev, " ", next),
  );
}
