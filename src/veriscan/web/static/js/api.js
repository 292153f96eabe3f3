// The public API, with the session's tokens: refresh once on 401, else back to sign-in.

const ACCESS = "veriscan.access";
const REFRESH = "veriscan.refresh";
const USER = "veriscan.user";

function store() {
  return localStorage.getItem(ACCESS) ? localStorage : sessionStorage;
}

export const session = {
  get token() { return store().getItem(ACCESS); },
  get user() {
    const raw = store().getItem(USER);
    return raw ? JSON.parse(raw) : null;
  },
  save(body, remember) {
    this.clear();
    const target = remember ? localStorage : sessionStorage;
    target.setItem(ACCESS, body.access_token);
    target.setItem(REFRESH, body.refresh_token);
    target.setItem(USER, JSON.stringify(body.user));
  },
  setUser(user) { store().setItem(USER, JSON.stringify(user)); },
  setAccess(token) { store().setItem(ACCESS, token); },
  get refreshToken() { return store().getItem(REFRESH); },
  clear() {
    for (const s of [localStorage, sessionStorage]) {
      s.removeItem(ACCESS); s.removeItem(REFRESH); s.removeItem(USER);
    }
  },
};

export class ApiError extends Error {
  constructor(status, message, code, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// Listeners told when the session is over (the app goes back to sign-in).
const expiredListeners = [];
export function onExpired(fn) { expiredListeners.push(fn); }

async function errorFrom(response) {
  let message = `${response.status} ${response.statusText}`;
  let code = "HTTP_" + response.status;
  try {
    const body = await response.json();
    if (body && body.error) {
      message = body.error.message || message;
      code = body.error.code || code;
    } else if (body && body.detail) {
      message = typeof body.detail === "string" ? body.detail : message;
    }
  } catch { /* not JSON */ }
  const retry = response.headers.get("Retry-After");
  if (response.status === 429) {
    message = `Too many requests: try again in ${retry || "a few"} seconds.`;
  }
  return new ApiError(response.status, message, code, retry ? Number(retry) : null);
}

let refreshing = null;

async function refreshAccess() {
  const token = session.refreshToken;
  if (!token) return false;
  refreshing ??= fetch("/api/auth/refresh", {
    method: "POST", headers: { Authorization: `Bearer ${token}` },
  }).then(async (r) => {
    if (!r.ok) return false;
    session.setAccess((await r.json()).access_token);
    return true;
  }).catch(() => false).finally(() => { refreshing = null; });
  return refreshing;
}

function expire() {
  session.clear();
  for (const fn of expiredListeners) fn();
}

// fetch with the access token; on 401 refresh once and retry, else end the session.
export async function raw(path, options = {}, retried = false) {
  const headers = new Headers(options.headers || {});
  if (session.token) headers.set("Authorization", `Bearer ${session.token}`);
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch {
    throw new ApiError(0, "The server cannot be reached. Check your connection.", "NETWORK");
  }
  if (response.status === 401 && session.token) {
    if (!retried && await refreshAccess()) return raw(path, options, true);
    expire();
    throw new ApiError(401, "Your session has expired. Please sign in again.", "UNAUTHORIZED");
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

export async function api(path, { method = "GET", body, query } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") params.set(k, v);
    }
    const qs = params.toString();
    if (qs) url += "?" + qs;
  }
  const options = { method };
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers = { "Content-Type": "application/json" };
  }
  const response = await raw(url, options);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// Sign-in and registration carry no token and must not trigger a refresh.
export async function anonymous(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "The server cannot be reached. Check your connection.", "NETWORK");
  }
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

// Upload with progress (fetch cannot report upload progress; XMLHttpRequest can).
// `file` is one File, or an array of them for the batch endpoints.
export function upload(path, file, fields, onProgress, retried = false) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields || {})) if (v) form.append(k, v);
    // Several files (a batch upload) go as repeated "files" parts.
    if (Array.isArray(file)) for (const f of file) form.append("files", f, f.name);
    else form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    if (session.token) xhr.setRequestHeader("Authorization", `Bearer ${session.token}`);
    // The analysis is followed live (socket.io) from the start: the server need not wait.
    xhr.setRequestHeader("Prefer", "respond-async");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "The upload failed: network error.", "NETWORK")));
    xhr.addEventListener("load", async () => {
      const response = new Response(xhr.responseText, {
        status: xhr.status,
        headers: { "Retry-After": xhr.getResponseHeader("Retry-After") || "" },
      });
      if (xhr.status === 401 && !retried && await refreshAccess()) {
        upload(path, file, fields, onProgress, true).then(resolve, reject);
        return;
      }
      if (xhr.status === 401) {
        expire();
        reject(new ApiError(401, "Your session has expired. Please sign in again.", "UNAUTHORIZED"));
        return;
      }
      if (xhr.status >= 400) { reject(await errorFrom(response)); return; }
      resolve({ status: xhr.status, body: JSON.parse(xhr.responseText) });
    });
    xhr.send(form);
  });
}

// Fetch with the token, then hand the blob to the browser as a download.
export async function download(path, fallbackName) {
  const response = await raw(path);
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : fallbackName;
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export async function blobUrl(path) {
  const response = await raw(path);
  return URL.createObjectURL(await response.blob());
}
