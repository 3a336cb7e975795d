// AWS Signature Version 4 for execute-api requests, with the browser's WebCrypto.
// The console signs for the API Gateway host and stage path while sending the request to
// CloudFront's /api/* behaviour, which forwards the signed headers to that same origin.

const encoder = new TextEncoder();

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256Hex(data) {
  return hex(await crypto.subtle.digest("SHA-256", typeof data === "string" ? encoder.encode(data) : data));
}

async function hmac(key, data) {
  const raw = typeof key === "string" ? encoder.encode(key) : key;
  const cryptoKey = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(data));
}

// RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone).
function uriEncode(value) {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalQuery(search) {
  const pairs = [...new URLSearchParams(search)].map(([k, v]) => [uriEncode(k), uriEncode(v)]);
  pairs.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

function canonicalPath(path) {
  // API Gateway (not S3) double-encodes: each segment is encoded once more.
  return path.split("/").map((seg) => uriEncode(decodeURIComponent(seg)).replace(/%/g, "%25")).join("/");
}

/**
 * Sign a request. `path` is what API Gateway sees (stage included, e.g. /v1/models),
 * `search` the query string without "?", `body` a string ("" for none).
 * Returns the headers to send: x-amz-date, x-amz-security-token (when a session token
 * is present) and authorization.
 */
export async function sign({ method, host, path, search = "", body = "", region, credentials, service = "execute-api", now = new Date() }) {
  const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, "");
  const day = amzDate.slice(0, 8);
  const headers = { host, "x-amz-date": amzDate };
  if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonical = [
    method.toUpperCase(),
    canonicalPath(path),
    canonicalQuery(search),
    names.map((n) => `${n}:${String(headers[n]).trim()}\n`).join(""),
    names.join(";"),
    await sha256Hex(body),
  ].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256Hex(canonical)].join("\n");
  let key = await hmac(`AWS4${credentials.secretAccessKey}`, day);
  for (const part of [region, service, "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  const out = {
    "x-amz-date": amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
  };
  if (credentials.sessionToken) out["x-amz-security-token"] = credentials.sessionToken;
  return out;
}
