// Cases: the list (filters in the address, a form to open one) and a case's page (status,
// priority, owner, members, scans, notes and timeline).

import { api, session } from "../api.js";
import { alertBox, badge, dl, empty, field, fmtDate, h, link, na, pager, personName, select } from "../ui.js";

const STATUSES = [["open", "Open"], ["in_progress", "In progress"], ["closed", "Closed"]];
const PRIORITIES = [["low", "Low"], ["medium", "Medium"], ["high", "High"], ["critical", "Critical"]];
const label = (pairs, value) => (pairs.find(([v]) => v === value) || [value, value])[1];
const statusBadge = (value) => badge(label(STATUSES, value), `case-status ${value}`);
const priorityBadge = (value) => badge(label(PRIORITIES, value), `priority ${value}`);

export async function casesPage(view, _params, app) {
  const params = new URLSearchParams(location.search);
  const filters = h("form", { class: "card filters-form", role: "search", "aria-label": "Filter cases" },
    field("Status", select("status", [["", "Any"], ...STATUSES])),
    field("Priority", select("priority", [["", "Any"], ...PRIORITIES])),
    field("Search", h("input", { name: "search", type: "search", placeholder: "Title or description" })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Apply"),
      h("button", { type: "button", onclick: () => app.go("/cases") }, "Reset")));
  for (const el of filters.elements) if (el.name && params.has(el.name)) el.value = params.get(el.name);
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(filters)) if (v) next.set(k, v);
    app.go(next.size ? `/cases?${next}` : "/cases");
  });

  const errors = h("div");
  const title = h("input", { name: "title", type: "text", maxlength: 200, required: true });
  const description = h("textarea", { name: "description", rows: 3, maxlength: 10000 });
  const priority = select("priority", PRIORITIES, "medium");
  const create = h("form", { class: "card new-case", "aria-labelledby": "new-case-title", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const created = await api("/api/cases", { method: "POST",
        body: { title: title.value, description: description.value, priority: priority.value } });
      app.go(`/cases/${created.data.id}`);
    } catch (err) { errors.replaceChildren(alertBox(err)); }
  } }, h("h2", { id: "new-case-title" }, "New case"), errors,
  h("div", { class: "form-grid" }, field("Title", title), field("Priority", priority)),
  field("Description", description),
  h("button", { type: "submit", class: "primary" }, "Create case"));

  const results = h("section", { class: "card", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  view.replaceChildren(h("h1", {}, "Cases"), filters, results, create);

  const page = Math.max(1, Number(params.get("page")) || 1);
  try {
    const listed = await api("/api/cases", { query: {
      status: params.get("status"), priority: params.get("priority"), search: params.get("search"), page, limit: 20,
    } });
    if (!listed.data.length) {
      results.replaceChildren(empty(params.size ? "No cases match these filters." : "No cases yet."));
      return;
    }
    const head = ["Title", "Status", "Priority", "Owner", "Scans", "Members", "Updated"];
    results.replaceChildren(
      h("p", { class: "muted" }, `${listed.pagination.total} case${listed.pagination.total === 1 ? "" : "s"}`),
      h("div", { class: "scroll" }, h("table", { class: "table cases" },
        h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, listed.data.map((c) => h("tr", {},
          h("td", { "data-label": "Title" }, link(`/cases/${c.id}`, c.title)),
          h("td", { "data-label": "Status" }, statusBadge(c.status)),
          h("td", { "data-label": "Priority" }, priorityBadge(c.priority)),
          h("td", { "data-label": "Owner" }, personName(c.owner)),
          h("td", { "data-label": "Scans" }, String(c.scanCount)),
          h("td", { "data-label": "Members" }, String(c.memberCount)),
          h("td", { "data-label": "Updated" }, fmtDate(c.updatedAt))))))),
      listed.pagination.pages > 1 ? pager(listed.pagination, (to) => {
        params.set("page", to);
        app.go(`/cases?${params}`);
      }) : "");
  } catch (err) {
    results.replaceChildren(alertBox(err));
  }
}

// One timeline line in words; the actor and time are shown beside it.
function describe(entry) {
  const d = entry.details || {};
  const name = (ref) => (ref && ref.username) || "someone";
  switch (entry.action) {
    case "case.created": return "Case created";
    case "case.updated": return `Details changed: ${Object.keys(d.changes || {}).join(", ")}`;
    case "case.status_changed":
      return `Status changed from ${label(STATUSES, d.from)} to ${label(STATUSES, d.to)}`;
    case "case.owner_changed": return `Owner changed from ${name(d.from)} to ${name(d.to)}`;
    case "case.scan_added":
      return d.hidden ? `A ${d.scanKind} scan you do not read was added` : `Scan added: ${na(d.fileName)}`;
    case "case.scan_removed":
      return d.hidden ? `A ${d.scanKind} scan you do not read was removed` : `Scan removed: ${na(d.fileName || d.scanId)}`;
    case "case.member_added": return `Member added: ${name(d.user)}`;
    case "case.member_removed": return `Member removed: ${name(d.user)}`;
    case "case.note_added": return "Note added";
    case "scan.uploaded": return `Scan uploaded: ${na(d.fileName)}`;
    case "scan.completed":
      return `Scan completed: ${na(d.fileName)} (${d.verdict || d.detectionRatio || "no verdict"})`;
    case "scan.failed": return `Scan failed: ${na(d.fileName)}`;
    default: return entry.action;
  }
}

// A list the API pages (oldest first): the first `pages` pages are shown, and a button
// shows the next. Reloading after a change keeps as many pages as were shown.
function pagedList(path, limit) {
  let pages = 1;
  return {
    async fetch() {
      const all = await Promise.all(Array.from({ length: pages },
        (_, i) => api(path, { query: { page: i + 1, limit } })));
      const { total } = all[all.length - 1].pagination;
      const data = all.flatMap((x) => x.data);
      return { data, total, left: Math.max(0, total - data.length) };
    },
    more() { pages += 1; },
  };
}

function moreButton(listed, what, onMore) {
  if (!listed.left) return null;
  return h("button", { type: "button", class: "more", onclick: async (e) => {
    e.target.disabled = true;
    try { await onMore(); } catch (err) { e.target.replaceWith(alertBox(err)); }
  } }, `Show more ${what} (${listed.left} more)`);
}

export async function casePage(view, { id }, app) {
  const base = `/api/cases/${id}`;
  const me = session.user || {};
  // Each section shows its own errors, next to what failed.
  const box = () => h("div", { class: "panel-errors" });
  const errors = { header: box(), members: box(), scans: box(), notes: box() };
  const heading = h("h1", {});
  const header = h("div", {});
  const members = h("div", {});
  const scans = h("div", {});
  const notes = h("div", {});
  const timeline = h("div", {});

  async function attempt(where, fn) {
    try {
      await fn();
      errors[where].replaceChildren();
      await load();
      return true;
    } catch (err) {
      errors[where].replaceChildren(alertBox(err));
      return false;
    }
  }
  const patch = (body) => attempt("header", () => api(base, { method: "PATCH", body }));

  function showHeader(c) {
    heading.replaceChildren(c.title, " ", statusBadge(c.status), " ", priorityBadge(c.priority));
    const status = h("select", { name: "status", "aria-label": "Status",
      onchange: () => patch({ status: status.value }) },
    STATUSES.map(([v, text]) => h("option", { value: v, selected: v === c.status }, text)));
    const priority = h("select", { name: "priority", "aria-label": "Priority",
      onchange: () => patch({ priority: priority.value }) },
    PRIORITIES.map(([v, text]) => h("option", { value: v, selected: v === c.priority }, text)));
    const owns = c.owner.id === me.id || me.role === "admin";
    // Title and description: edited in place, only what changed is sent.
    const title = h("input", { name: "title", value: c.title, maxlength: 200, required: true });
    const description = h("textarea", { name: "description", rows: 4, maxlength: 10000 }, c.description);
    const editor = h("form", { class: "card-edit", hidden: true, onsubmit: async (e) => {
      e.preventDefault();
      const body = {};
      if (title.value.trim() !== c.title) body.title = title.value;
      if (description.value !== c.description) body.description = description.value;
      if (!Object.keys(body).length) { editor.hidden = true; return; }
      await patch(body);
    } }, field("Title", title), field("Description", description),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "button", onclick: () => { editor.hidden = true; } }, "Cancel")));
    header.replaceChildren(
      h("div", { class: "filters" }, h("label", {}, "Status ", status), h("label", {}, "Priority ", priority),
        h("button", { type: "button", onclick: () => { editor.hidden = false; title.focus(); } }, "Edit title and description")),
      editor,
      dl([
        ["Owner", personName(c.owner)],
        ["Created", `${fmtDate(c.createdAt)}${c.createdBy ? ` by ${c.createdBy.username}` : ""}`],
        ["Updated", fmtDate(c.updatedAt)],
        ...(c.closedAt ? [["Closed", fmtDate(c.closedAt)]] : []),
      ]),
      c.description ? h("p", { class: "explanation" }, c.description) : h("p", { class: "muted" }, "No description."),
      owns ? h("div", { class: "actions" }, h("button", { type: "button", class: "danger", onclick: async () => {
        if (!confirm(`Delete the case "${c.title}"? Its scans are kept.`)) return;
        try {
          await api(base, { method: "DELETE" });
          app.go("/cases");
        } catch (err) { errors.header.replaceChildren(alertBox(err)); }
      } }, "Delete case")) : null);
  }

  function showMembers(c) {
    const owns = c.owner.id === me.id || me.role === "admin";
    const rows = c.members.map((m) => h("li", {},
      h("span", { class: "who" }, personName(m)), " ", badge(m.role, "tag"),
      owns && m.role !== "operative" ? h("button", { type: "button", "aria-label": `Make ${m.username} the owner`,
        onclick: () => attempt("members", () => api(base, { method: "PATCH", body: { ownerId: m.id } })) }, "Make owner") : null,
      owns || m.id === me.id ? h("button", { type: "button", class: "danger", "aria-label": `Remove ${m.username}`,
        onclick: () => attempt("members", () => api(`${base}/members/${m.id}`, { method: "DELETE" })) }, "Remove") : null));
    const input = h("input", { type: "text", name: "member", maxlength: 50, required: true, autocomplete: "off",
      "aria-label": "Add member (username)", placeholder: "username" });
    members.replaceChildren(
      rows.length ? h("ul", { class: "people" }, rows) : h("p", { class: "muted" }, "No members besides the owner."),
      owns ? h("form", { class: "inline", onsubmit: async (e) => {
        e.preventDefault();
        if (await attempt("members", () => api(`${base}/members`, { method: "POST", body: { username: input.value.trim() } }))) {
          input.value = "";
        }
      } }, input, h("button", { type: "submit" }, "Add member")) : null);
  }

  function showScans(c) {
    // An admin taking no part in the case does not read other users' malware scans in it.
    const hidden = c.hiddenScans ? h("p", { class: "muted hidden-scans" },
      `${c.hiddenScans} more ${c.hiddenScans === 1 ? "scan is" : "scans are"} in this case that you do not read.`) : null;
    if (!c.scans.length) {
      scans.replaceChildren(empty("No scans in this case yet. Add one from its result page."), hidden || "");
      return;
    }
    const head = ["File", "Kind", "Result", "Added", ""];
    scans.replaceChildren(h("div", { class: "scroll" }, h("table", { class: "table case-scans" },
      h("thead", {}, h("tr", {}, head.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, c.scans.map((s) => h("tr", {},
        h("td", { "data-label": "File" }, link(`/scans/${s.scanKind}/${s.scanId}`, s.fileName)),
        h("td", { "data-label": "Kind" }, s.scanKind),
        h("td", { "data-label": "Result" }, s.verdict ? badge(s.verdict) : s.detectionRatio || badge(s.status)),
        h("td", { "data-label": "Added" }, fmtDate(s.addedAt), s.addedBy ? ` by ${s.addedBy.username}` : ""),
        h("td", {}, h("button", { type: "button", class: "danger", "aria-label": `Remove ${s.fileName} from the case`,
          onclick: () => attempt("scans", () => api(`${base}/scans/${s.scanKind}/${s.scanId}`, { method: "DELETE" })) },
        "Remove"))))))), hidden || "");
  }

  const noteList = pagedList(`${base}/notes`, 100);
  const eventList = pagedList(`${base}/timeline`, 200);

  function showNotes(listed) {
    notes.replaceChildren(listed.data.length
      ? h("div", { class: "comments" }, listed.data.map((n) => h("article", { class: "comment note" },
        h("p", { class: "muted" }, h("strong", {}, n.authorUsername), " · ", fmtDate(n.createdAt)),
        h("p", { class: "comment-body" }, n.body))))
      : empty("No notes yet."),
    moreButton(listed, "notes", async () => { noteList.more(); showNotes(await noteList.fetch()); }) || "");
  }

  function showTimeline(listed) {
    timeline.replaceChildren(listed.data.length
      ? h("ol", { class: "timeline" }, listed.data.map((entry) => h("li", { "data-action": entry.action },
        h("time", { datetime: entry.at }, fmtDate(entry.at)),
        h("span", { class: "what" }, describe(entry)),
        entry.actor ? h("span", { class: "muted" }, ` by ${entry.actor.username}`) : null)))
      : empty("Nothing has happened yet."),
    moreButton(listed, "events", async () => { eventList.more(); showTimeline(await eventList.fetch()); }) || "");
  }

  async function load() {
    // The case first: a case that is gone (or not readable) ends the page with its 404.
    const { data: c } = await api(base);
    const [notesShown, events] = await Promise.all([noteList.fetch(), eventList.fetch()]);
    document.title = `${c.title} · Cases · Veriscan`;
    showHeader(c);
    showMembers(c);
    showScans(c);
    showNotes(notesShown);
    showTimeline(events);
  }

  await load();
  const text = h("textarea", { name: "note", rows: 3, maxlength: 5000, required: true, "aria-label": "New note" });
  const noteForm = h("form", { class: "comment-form", onsubmit: async (e) => {
    e.preventDefault();
    if (await attempt("notes", () => api(`${base}/notes`, { method: "POST", body: { body: text.value } }))) {
      text.value = "";
    }
  } }, text, h("div", { class: "actions" }, h("button", { type: "submit" }, "Add note")));

  view.replaceChildren(
    h("p", {}, link("/cases", "← All cases")),
    heading,
    h("section", { class: "card case-header", "aria-label": "Case" }, errors.header, header),
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "members-title" },
        h("h2", { id: "members-title" }, "Members"), errors.members, members),
      h("section", { class: "card", "aria-labelledby": "notes-title" },
        h("h2", { id: "notes-title" }, "Notes"), errors.notes, notes, noteForm)),
    h("section", { class: "card", "aria-labelledby": "scans-title" },
      h("h2", { id: "scans-title" }, "Scans"), errors.scans, scans),
    h("section", { class: "card", "aria-labelledby": "timeline-title" },
      h("h2", { id: "timeline-title" }, "Timeline"), timeline));
}
