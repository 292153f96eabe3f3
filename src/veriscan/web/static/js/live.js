// socket.io: one connection per signed-in tab; events kept per scan so that a page that
// starts listening late still sees what already happened.

import { session } from "./api.js";

let socket = null;
const last = new Map();       // scanId -> {event, data}
const watchers = new Map();   // scanId -> Set(fn)
const listeners = new Map();  // event not about one scan (notification:new) -> Set(fn)

function deliver(event, data) {
  if (!data || !data.scanId) return;
  last.set(data.scanId, { event, data });
  for (const fn of watchers.get(data.scanId) || []) fn(event, data);
}

export function connect() {
  if (socket || !session.token || !window.io) return;
  socket = window.io({ auth: (cb) => cb({ token: session.token }) });
  for (const event of ["scan:progress", "scan:complete", "scan:error"]) {
    socket.on(event, (data) => deliver(event, data));
  }
  socket.on("notification:new", (data) => {
    for (const fn of listeners.get("notification:new") || []) fn(data);
  });
  // Events sent while the tab was not connected are lost: pages that show scans listen
  // here to read them again after each (re)connection.
  socket.on("connect", () => {
    for (const fn of listeners.get("connect") || []) fn();
  });
  // A refused connection usually means an expired access token: the auth callback
  // reads the current one on every attempt.
  socket.on("connect_error", () => setTimeout(() => socket && socket.connect(), 2000));
}

export function disconnect() {
  if (socket) socket.disconnect();
  socket = null;
  last.clear();
}

export function watch(scanId, fn) {
  connect();
  if (!watchers.has(scanId)) watchers.set(scanId, new Set());
  watchers.get(scanId).add(fn);
  const seen = last.get(scanId);
  if (seen) fn(seen.event, seen.data);
  return () => watchers.get(scanId)?.delete(fn);
}

// Events about the user rather than one scan, and "connect"; returns the function that
// stops listening.
export function on(event, fn) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(fn);
  return () => listeners.get(event)?.delete(fn);
}
