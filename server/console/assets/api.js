// The console's one way to the server: same-origin fetch with the session cookie, the CSRF token on
// every write, and problem+json turned into an Error that carries the server's explanation.

let csrfToken = null;
let csrfHeader = "X-CSRF-Token";
const unauthorizedListeners = [];

export class Problem extends Error {
  constructor(status, body) {
    const detail = (body && (body.detail || body.title)) || `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.body = body || {};
  }

  // The detail plus the fields the server named ("price.amount_minor: ...").
  explain() {
    const fields = (this.body.errors || []).map((e) => `${e.loc.filter((p) => p !== "body").join(".")}: ${e.msg}`);
    return fields.length ? `${this.message} (${fields.join("; ")})` : this.message;
  }
}

export function useSession(session) {
  csrfToken = session ? session.csrf_token : null;
  if (session && session.csrf_header) csrfHeader = session.csrf_header;
}

export function onUnauthorized(listener) {
  unauthorizedListeners.push(listener);
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers[csrfHeader] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new Problem(0, { detail: "the server could not be reached" });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const problem = new Problem(response.status, data);
    if (response.status === 401 && !path.startsWith("/console/session")) {
      for (const listener of unauthorizedListeners) listener(problem);
    }
    throw problem;
  }
  return data;
}
