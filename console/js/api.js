// The REST API as the console calls it: the same routes as the CLI and applications.
//
// config.json says how to authenticate:
//   {"auth": "local", "api": "", "users": [{"name": "bob", "roles": ["approver"]}]}
//     the local platform: the caller is named by X-Steward-User (trusted only there);
//   {"auth": "iam", "api": "/api", "apiHost": "...execute-api...", "stage": "v1", "region": "..."}
//     AWS: every request is SigV4-signed with the user's own temporary AWS credentials.

import { sign } from "./sigv4.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

/** The ApiError of a failed answer: its JSON error, else the status line only (never the
 * raw body). */
function failure(status, text) {
  let error = { error: "error", message: `HTTP ${status}` };
  try {
    error = JSON.parse(text);
  } catch {
    // not JSON
  }
  return new ApiError(status, error.error, error.message);
}

const CREDENTIALS_KEY = "steward.credentials";
const USER_KEY = "steward.user";

export class Api {
  constructor(config) {
    this.config = config;
    this.me = null; // GET /me's answer for the signed-in credentials (AWS)
  }

  static async load() {
    let config = { auth: "local", api: "", users: [] };
    try {
      const response = await fetch("/console/config.json", { headers: { Accept: "application/json" } });
      if (response.ok) config = { ...config, ...(await response.json()) };
    } catch {
      // no config: the local defaults
    }
    return new Api(config);
  }

  get local() {
    return this.config.auth === "local";
  }

  get users() {
    return this.config.users || [];
  }

  /** The caller's name as the API sees it (local: the picked user; AWS: GET /me's user,
   * from the deployment's role mapping, never a name typed here). */
  get user() {
    if (this.local) {
      const saved = localStorage.getItem(USER_KEY);
      const names = this.users.map((u) => u.name);
      return saved && names.includes(saved) ? saved : names[0] || "";
    }
    return this.me?.user || "";
  }

  /** In AWS, ask the API who the signed-in credentials are (once per sign-in). */
  async whoami() {
    if (this.local || !this.credentials()) return;
    if (!this.me) this.me = await this.get("/me");
  }

  set user(name) {
    localStorage.setItem(USER_KEY, name);
  }

  rolesOf(name) {
    return this.users.find((u) => u.name === name)?.roles || [];
  }

  credentials() {
    const raw = sessionStorage.getItem(CREDENTIALS_KEY);
    return raw ? JSON.parse(raw) : null;
  }

  /** Temporary AWS credentials, kept for this tab only (sessionStorage). */
  setCredentials(credentials) {
    this.me = null;
    if (credentials) sessionStorage.setItem(CREDENTIALS_KEY, JSON.stringify(credentials));
    else sessionStorage.removeItem(CREDENTIALS_KEY);
  }

  async headers(method, path, body) {
    if (this.local) return this.user ? { "X-Steward-User": this.user } : {};
    const credentials = this.credentials();
    if (!credentials) throw new ApiError(401, "signed_out", "Sign in with your AWS credentials first.");
    const [route, search = ""] = path.split("?");
    return sign({
      method,
      host: this.config.apiHost,
      path: `/${this.config.stage}${route}`,
      search,
      body: body || "",
      region: this.config.region,
      credentials,
    });
  }

  async request(method, path, payload, accept = "application/json") {
    const body = payload === undefined ? undefined : JSON.stringify(payload);
    const headers = { Accept: accept, ...(await this.headers(method, path, body)) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.config.api + path, { method, headers, body });
    const text = await response.text();
    if (!response.ok) throw failure(response.status, text);
    if (accept !== "application/json") return text;
    return text ? JSON.parse(text) : null;
  }

  /** A binary answer (an evidence pack) and the file name its Content-Disposition gives.
   * A large pack answers 303 to a presigned URL, which the browser follows. */
  async download(path, accept = "application/zip") {
    const headers = { Accept: accept, ...(await this.headers("GET", path)) };
    const response = await fetch(this.config.api + path, { headers });
    if (!response.ok) throw failure(response.status, await response.text());
    const disposition = response.headers.get("Content-Disposition") || "";
    const named = /filename="([^"]+)"/.exec(disposition);
    return { blob: await response.blob(), filename: named ? named[1] : "evidence.zip" };
  }

  get(path, accept) {
    return this.request("GET", path, undefined, accept);
  }

  post(path, payload) {
    return this.request("POST", path, payload);
  }

  /** Every item of a paginated list endpoint (bounded, for the console's small pages). */
  async all(path, maxPages = 10) {
    const items = [];
    let token = null;
    for (let page = 0; page < maxPages; page += 1) {
      const sep = path.includes("?") ? "&" : "?";
      const answer = await this.get(token ? `${path}${sep}next_token=${encodeURIComponent(token)}` : path);
      items.push(...answer.items);
      token = answer.next_token;
      if (!token) break;
    }
    return items;
  }

  /** Where a browser can open a report directly (local only; signed requests can't navigate). */
  href(path) {
    return this.local ? this.config.api + path : null;
  }
}
