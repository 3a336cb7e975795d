// The console shell: who is calling, the hash router, and errors shown to people.

import { Api } from "./api.js";
import { clear, h } from "./dom.js";
import { approvalsView } from "./views/approvals.js";
import { inventoryView } from "./views/inventory.js";
import { modelView } from "./views/model.js";
import { practiceView } from "./views/practice.js";

const main = document.getElementById("main");
const status = document.getElementById("status");

export function showError(error) {
  const prefix = error.status ? `${error.status} ${error.code || ""}: ` : "";
  status.textContent = `${prefix}${error.message}`;
  status.hidden = false;
}

function clearError() {
  status.hidden = true;
  status.textContent = "";
}

function identityForm(api, onChange) {
  const form = document.getElementById("identity");
  clear(form);
  if (api.local) {
    const select = h(
      "select",
      { id: "user-picker", name: "user" },
      api.users.map((u) => h("option", { value: u.name, selected: u.name === api.user }, `${u.name} (${u.roles.join(", ") || "no role"})`)),
    );
    select.addEventListener("change", () => {
      api.user = select.value;
      onChange();
    });
    form.append(h("label", { for: "user-picker" }, "Acting as"), select);
    return;
  }
  const creds = api.credentials();
  if (creds) {
    form.append(
      h("span", {}, `Signed in as ${api.user || creds.accessKeyId}${api.me ? ` (${api.me.roles.join(", ") || "no role"})` : ""}`),
      h("button", { type: "button", onclick: () => { api.setCredentials(null); onChange(); } }, "Sign out"),
    );
    return;
  }
  const field = (id, label, type = "text") => [h("label", { for: id }, label), h("input", { id, name: id, type, required: true, autocomplete: "off" })];
  form.append(
    h("details", {}, h("summary", {}, "Sign in with AWS credentials"),
      h("p", { class: "hint" }, "Temporary credentials (aws configure export-credentials); kept in this tab only."),
      field("access-key", "Access key id"),
      field("secret-key", "Secret access key", "password"),
      field("session-token", "Session token", "password"),
      h("button", { type: "submit" }, "Sign in")),
  );
  form.onsubmit = (event) => {
    event.preventDefault();
    const value = (id) => form.querySelector(`#${id}`).value.trim();
    api.setCredentials({ accessKeyId: value("access-key"), secretAccessKey: value("secret-key"), sessionToken: value("session-token") });
    onChange();
  };
}

async function refreshPendingCount(api) {
  const target = document.getElementById("pending-count");
  try {
    const items = await api.all("/approvals?status=pending");
    target.textContent = items.length ? `(${items.length})` : "";
  } catch {
    target.textContent = "";
  }
}

function route() {
  const hash = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  const model = hash.match(/^\/models\/([a-z][a-z0-9-]{2,62})$/);
  if (model) return { view: modelView, args: [model[1]] };
  if (hash === "/approvals") return { view: approvalsView, args: [] };
  if (hash === "/practice") return { view: practiceView, args: [] };
  return { view: inventoryView, args: [] };
}

let rendering = 0;

async function render(api) {
  const ticket = ++rendering; // a later render (another user, another page) wins
  clearError();
  const { view, args } = route();
  main.setAttribute("aria-busy", "true");
  let content;
  try {
    content = await view(api, { showError, refresh: () => render(api) }, ...args);
  } catch (error) {
    if (ticket !== rendering) return;
    content = h("p", {}, "This page could not be loaded.");
    showError(error);
  }
  if (ticket !== rendering) return;
  clear(main).append(content);
  main.dataset.renderedAs = api.user;
  main.removeAttribute("aria-busy");
  refreshPendingCount(api);
}

async function start() {
  const api = await Api.load();
  const rerender = async () => {
    try {
      await api.whoami();
    } catch (error) {
      showError(error);
    }
    identityForm(api, rerender);
    render(api);
  };
  window.addEventListener("hashchange", () => {
    render(api).then(() => main.focus());
  });
  rerender();
}

start();
