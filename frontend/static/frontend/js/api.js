// Talking to /api/: session cookie + CSRF header, one error shape, pagination, small DOM helpers.

export class ApiError extends Error {
  constructor(status, body) {
    const err = body && body.error ? body.error : null;
    super(err ? err.message : `request failed (HTTP ${status})`);
    this.status = status;
    this.code = err ? err.code : null;
    this.details = err ? err.details : null;
  }
}

export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

// fetch a JSON API path; body may be a plain object (sent as JSON) or FormData (multipart).
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: "same-origin", signal });
  if (res.status === 204) return null;
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const err = new ApiError(res.status, typeof data === "object" ? data : null);
    if (err.code === "not_authenticated" && !location.pathname.startsWith("/login/")) {
      // the sign-in expired (or ended in another tab): sign in again, then come back here
      location.assign(`/login/?next=${encodeURIComponent(location.pathname)}`);
    }
    throw err;
  }
  return data;
}

// Every item of a paginated DRF list (follows `next`), or a plain list as is.
export async function apiAll(path, { limit = 20 } = {}) {
  let data = await api(path);
  if (Array.isArray(data)) return data;
  const items = [...data.results];
  let pages = 1;
  while (data.next && pages < limit) {
    const next = new URL(data.next, location.origin);
    data = await api(next.pathname + next.search);
    items.push(...data.results);
    pages += 1;
  }
  return items;
}

// Build DOM without innerHTML (all text is untrusted).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function toast(message) {
  const t = document.getElementById("toast");
  if (!t) return;
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toast._timer);
  toast._timer = setTimeout(() => { t.hidden = true; }, 4000);
}

export function fmtDate(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function fmtNum(x, digits = 2) {
  return x === null || x === undefined ? "—" : Number(x).toFixed(digits);
}

export function fmtDuration(startIso, endIso) {
  if (!startIso || !endIso) return "—";
  const s = Math.round((new Date(endIso) - new Date(startIso)) / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

// A describable mood quadrant for a valence/arousal pair (for text next to charts).
export function moodWords(v, a) {
  if (v === null || v === undefined) return "no reading yet";
  const pleasant = v >= 0.1 ? "pleasant" : v <= -0.1 ? "unpleasant" : "neutral";
  const energy = a >= 0.1 ? "energetic" : a <= -0.1 ? "calm" : "steady";
  return `${pleasant}, ${energy}`;
}

export function showError(node, err) {
  node.textContent = err instanceof Error ? err.message : String(err);
  node.hidden = false;
}

// Milliseconds as m:ss (listening time, track positions).
export function fmtClock(ms) {
  const s = Math.max(0, Math.round((ms || 0) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// A signed number with two decimals: +0.12, -0.05.
export function fmtSigned(x, digits = 2) {
  if (x === null || x === undefined) return "—";
  return `${x >= 0 ? "+" : "-"}${Math.abs(Number(x)).toFixed(digits)}`;
}
