// The audit log for admins: who did what, when and from where. Read-only, like the API.
// The filters live in the address (?actor=...&action=...&page=), like Users and History;
// "Export CSV" downloads every entry that matches them (not just this page).

import { api, download } from "../api.js";
import { alertBox, empty, field, fmtDate, h, link, pager, select } from "../ui.js";

const FILTERS = ["actor", "action", "target_type", "target_id", "ip", "date_from", "date_to", "page"];
const ACTIONS = [
  ["", "Any"],
  ["auth.", "Sign-in and accounts (auth.*)"],
  ["auth.login", "auth.login"],
  ["auth.login_failed", "auth.login_failed"],
  ["file.", "Files (file.*)"],
  ["scan.", "Malware scans (scan.*)"],
  ["media.", "Media scans (media.*)"],
  ["scan.share", "Sharing: scan.share"],
  ["scan.unshare", "Sharing: scan.unshare"],
  ["scan.assign", "Assignment: scan.assign"],
  ["scan.unassign", "Assignment: scan.unassign"],
  ["case.", "Cases (case.*)"],
  ["comment.", "Comments (comment.*)"],
  ["batch.", "Batch uploads (batch.*)"],
  ["key.", "API keys (key.*)"],
  ["user.", "User management (user.*)"],
  ["audit.", "Audit exports (audit.*)"],
];
const TARGETS = [["", "Any"], ["user", "User"], ["file", "File"], ["scan", "Malware scan"],
  ["malware_scan", "Malware scan (sharing)"],
  ["media_scan", "Media scan"], ["case", "Case"], ["comment", "Comment"], ["batch", "Batch"],
  ["api_key", "API key"], ["audit", "Audit log"]];

// Where a target can be looked at in the dashboard; others are shown as their id.
const TARGET_PAGES = {
  scan: (id) => `/scans/malware/${id}`,
  malware_scan: (id) => `/scans/malware/${id}`,
  media_scan: (id) => `/scans/media/${id}`,
  case: (id) => `/cases/${id}`,
  user: (id) => `/admin/audit?actor=${encodeURIComponent(id)}`,
};

function target(entry) {
  if (!entry.target_type) return h("span", { class: "muted" }, "n/a");
  const page = TARGET_PAGES[entry.target_type];
  const id = entry.target_id || "";
  return h("span", { class: "target" }, `${entry.target_type} `,
    page && id ? link(page(id), id, { class: "id" }) : h("span", { class: "id" }, id));
}

function describe(details) {
  const pairs = Object.entries(details || {});
  if (!pairs.length) return h("span", { class: "muted" }, "n/a");
  return pairs.map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join("; ");
}

export async function auditPage(view, _params, app) {
  const params = new URLSearchParams(location.search);
  const query = Object.fromEntries(FILTERS.filter((k) => params.get(k)).map((k) => [k, params.get(k)]));
  // The first answer decides the page: a refusal (not an admin) goes to the router's alert.
  const body = await api("/api/admin/audit", { query: { per_page: 50, ...query } });

  const filters = h("form", { class: "card filters-form", role: "search", "aria-label": "Filter the audit log" },
    field("Actor", h("input", { name: "actor", type: "search", maxlength: 100, placeholder: "Username or user id" })),
    field("Action", select("action", ACTIONS)),
    field("Target type", select("target_type", TARGETS)),
    field("Target id", h("input", { name: "target_id", maxlength: 64 })),
    field("IP address", h("input", { name: "ip", maxlength: 45 })),
    field("From date", h("input", { name: "date_from", type: "date" })),
    field("To date", h("input", { name: "date_to", type: "date" })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Apply"),
      h("button", { type: "button", onclick: () => app.go("/admin/audit") }, "Reset")));
  for (const el of filters.elements) {
    if (!el.name || !params.has(el.name)) continue;
    // An action typed into the address may not be in the list: keep it selectable.
    if (el.tagName === "SELECT" && ![...el.options].some((o) => o.value === params.get(el.name))) {
      el.append(h("option", { value: params.get(el.name) }, params.get(el.name)));
    }
    el.value = params.get(el.name);
  }
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(filters)) if (v) next.set(k, v);
    app.go(`/admin/audit${next.size ? "?" + next : ""}`);
  });

  const problem = h("div", { "aria-live": "assertive" });
  const exportButton = h("button", { type: "button", onclick: async () => {
    problem.replaceChildren();
    const wanted = new URLSearchParams({ format: "csv" });
    for (const [k, v] of Object.entries(query)) if (k !== "page") wanted.set(k, v);
    exportButton.disabled = true;
    try { await download(`/api/admin/audit/export?${wanted}`, "veriscan-audit.csv"); }
    catch (err) { problem.replaceChildren(alertBox(err)); }
    finally { exportButton.disabled = false; }
  } }, "Export CSV");

  const p = body.pagination;
  const results = body.data.length ? [
    h("p", { class: "muted" }, `${p.total} entr${p.total === 1 ? "y" : "ies"}, newest first`),
    h("div", { class: "scroll" }, h("table", { class: "table audit" },
      h("caption", { class: "visually-hidden" }, "Audit log"),
      h("thead", {}, h("tr", {}, ["When", "Who", "Action", "Target", "From", "Details"]
        .map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, body.data.map((e) => h("tr", { "data-entry": e.id },
        h("td", { "data-label": "When" }, fmtDate(e.created_at)),
        h("td", { "data-label": "Who" }, e.actor_username || h("span", { class: "muted" }, "unknown")),
        h("td", { "data-label": "Action" }, h("code", {}, e.action)),
        h("td", { "data-label": "Target" }, target(e)),
        h("td", { "data-label": "From", title: e.user_agent }, e.ip_address || h("span", { class: "muted" }, "n/a")),
        h("td", { "data-label": "Details" }, describe(e.details))))))),
    pager(p, (page) => {
      params.set("page", page);
      app.go(`/admin/audit?${params}`);
    }),
  ] : [empty(Object.keys(query).length ? "No entries match these filters." : "Nothing recorded yet.")];

  view.replaceChildren(h("h1", {}, "Audit log"), filters,
    h("section", { class: "card", "aria-label": "Audit entries" },
      h("div", { class: "actions" }, exportButton), problem, ...results));
}
