// api.js — the console's and portal's one way to call the gateway.
//
// Same-origin fetch(): the session cookie (HttpOnly, so no script here ever sees it) goes by itself;
// every state-changing request carries the session's CSRF token in X-IG-CSRF (docs/console-api.md).
// The token lives in this module's memory only: a reload gets it back from GET .../session.

let csrf = '';
export function setCsrf(token) {
  csrf = token || '';
}

// Called when a call made with the session is refused with 401: the session ended (timed out, the
// gateway restarted, the admin key was removed, the portal's API key was revoked).
let sessionLost = () => {};
export function setSessionLost(fn) {
  sessionLost = fn;
}

/** An answer the gateway refused: status, and the OpenAI error's message, code and param. */
export class ApiError extends Error {
  constructor(status, err, path) {
    super(err?.message || `HTTP ${status} from ${path}`);
    this.status = status;
    this.code = err?.code || null;
    this.param = err?.param || null;
    this.path = path;
  }
}

/**
 * fetch() with JSON in and out. body: an object (sent as JSON), a string (sent as is, with
 * opts.type), or FormData. Resolves to the parsed JSON (or the Response with opts.raw); rejects with
 * ApiError. opts.session: false for a call made with a key of its own (the playground), whose 401
 * says nothing of the session.
 */
export async function api(path, { method = 'GET', body, type, headers = {}, raw = false, signal, session = true } = {}) {
  const h = { ...headers };
  if (method !== 'GET' && method !== 'HEAD') h['X-IG-CSRF'] = csrf;
  let b = body;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof FormData)) {
    b = JSON.stringify(body);
    h['Content-Type'] = 'application/json';
  } else if (typeof body === 'string') {
    h['Content-Type'] = type || 'application/json';
  }
  let r;
  try {
    r = await fetch(path, { method, body: b, headers: h, credentials: 'same-origin', signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, { message: `the gateway did not answer (${e.message})` }, path);
  }
  if (raw && r.ok) return r;
  const text = await r.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (r.status === 401 && session && path !== 'api/session') sessionLost();
  if (!r.ok) throw new ApiError(r.status, json?.error, path);
  return json === undefined ? text : json;
}

/**
 * Like api(), for a plugin's route this gateway may not have (the plugin is not loaded): a 404
 * resolves to null, which the page shows as "not available" (naming the plugin).
 */
export async function optional(path, opts) {
  try {
    return await api(path, opts);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

/** A query string from an object, leaving out empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;
