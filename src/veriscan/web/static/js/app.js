// The dashboard's router and frame: pages render into <main>, links navigate in place.

import { onExpired, session } from "./api.js";
import { connect, disconnect } from "./live.js";
import { alertBox, h, link, notify } from "./ui.js";
import { profile, register, signin } from "./pages/auth.js";
import { historyPage } from "./pages/history.js";
import { keysPage } from "./pages/keys.js";
import { malwareResult } from "./pages/malware.js";
import { mediaResult } from "./pages/media.js";
import { filePage } from "./pages/file.js";
import { filesPage } from "./pages/files.js";
import { notificationsPage } from "./pages/notifications.js";
import { bellLink } from "./bell.js";
import { statsPage } from "./pages/stats.js";
import { uploadPage } from "./pages/upload.js";
import { usersPage } from "./pages/users.js";
import { auditPage } from "./pages/audit.js";
import { casePage, casesPage } from "./pages/cases.js";

const ROUTES = [
  [/^\/signin$/, signin, { public: true, title: "Sign in" }],
  [/^\/register$/, register, { public: true, title: "Register" }],
  [/^\/(upload)?$/, uploadPage, { title: "Upload" }],
  [/^\/history$/, historyPage, { title: "History" }],
  [/^\/cases$/, casesPage, { title: "Cases" }],
  [/^\/cases\/(?<id>[0-9a-f-]{36})$/, casePage, { title: "Case" }],
  [/^\/keys$/, keysPage, { title: "Keys" }],
  [/^\/notifications$/, notificationsPage, { title: "Notifications" }],
  [/^\/profile$/, profile, { title: "Profile" }],
  [/^\/admin\/stats$/, statsPage, { title: "Statistics", admin: true }],
  [/^\/admin\/users$/, usersPage, { title: "Users", admin: true }],
  [/^\/admin\/audit$/, auditPage, { title: "Audit log", admin: true }],
  [/^\/scans\/malware\/(?<id>[0-9a-f-]{36})$/, malwareResult, { title: "Malware result" }],
  [/^\/scans\/media\/(?<id>[0-9a-f-]{36})$/, mediaResult, { title: "Media result" }],
  [/^\/files$/, filesPage, { title: "Files" }],
  [/^\/files\/(?<id>[0-9a-f-]{36})$/, filePage, { title: "File" }],
];

const view = document.getElementById("view");
let cleanup = null;

const app = {
  afterSignIn: null,
  go(url, { replace = false } = {}) {
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    render();
  },
  signedIn() {
    connect();
    this.renderNav();
  },
  async signOut() {
    // Forget the tokens first, so nothing (not even leaving the page) can reuse them.
    const token = session.token;
    session.clear();
    try {
      await fetch("/api/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${token}` } });
    } catch { /* the server forgets the session when it expires anyway */ }
    disconnect();
    this.renderNav();
    notify("Signed out.");
    this.go("/signin");
  },
  renderNav() {
    const nav = document.getElementById("nav");
    const user = session.user;
    const here = location.pathname;
    const item = (href, text) => link(href, text, here === href ? { "aria-current": "page" } : {});
    nav.replaceChildren(...(user ? [
      item("/upload", "Upload"), item("/files", "Files"), item("/history", "History"), item("/cases", "Cases"), item("/keys", "Keys"),
      user.role === "admin" ? item("/admin/stats", "Statistics") : null,
      user.role === "admin" ? item("/admin/users", "Users") : null,
      user.role === "admin" ? item("/admin/audit", "Audit log") : null,
      bellLink(here),
      item("/profile", user.name || user.username),
      h("button", { type: "button", class: "link", onclick: () => this.signOut() }, "Sign out"),
    ] : [item("/signin", "Sign in"), item("/register", "Register")]).filter(Boolean));
  },
};

async function render() {
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  const path = location.pathname;
  const match = ROUTES.find(([re]) => re.test(path));
  app.renderNav();
  if (!match) {
    view.replaceChildren(h("h1", {}, "Not found"), h("p", {}, "There is no such page. "), link("/upload", "Go to upload"));
    return;
  }
  const [re, page, meta] = match;
  if (!meta.public && !session.token) {
    app.afterSignIn = path + location.search;
    history.replaceState(null, "", "/signin");
    return render();
  }
  if (meta.public && session.token) {
    history.replaceState(null, "", "/upload");
    return render();
  }
  document.title = `${meta.title} · Veriscan`;
  view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  view.focus({ preventScroll: true });
  const token = (render.token = (render.token || 0) + 1);
  try {
    const result = await page(view, re.exec(path).groups || {}, app);
    if (typeof result === "function") {
      if (token === render.token) cleanup = result; else result();
    }
  } catch (err) {
    if (token !== render.token) return;
    if (err.status === 401) return;  // onExpired already took us to sign-in
    view.replaceChildren(h("h1", {}, meta.title), alertBox(err));
  }
}

onExpired(() => {
  disconnect();
  app.afterSignIn = location.pathname + location.search;
  notify("Your session has expired. Please sign in again.", "error");
  history.replaceState(null, "", "/signin");
  render();
});

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-link]");
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  app.go(a.getAttribute("href"));
});
window.addEventListener("popstate", render);

// The vendored socket.io script is deferred; module scripts run after it.
if (session.token) connect();
render();
