// A scan's sharing and assignment panel, and its "Add to case" control, for both result
// pages. `base` is the scan's API path: `/api/scans/{id}` (media) or `/api/scan/{id}` (malware).

import { api } from "./api.js";
import { alertBox, badge, h, link, personName as who } from "./ui.js";

// Suggestions for a username field: active users whose name starts with what is typed.
let lists = 0;
function suggest(input) {
  const list = h("datalist", { id: `people-${++lists}` });
  input.setAttribute("list", list.id);
  let asked = "";
  input.addEventListener("input", async () => {
    const start = input.value.trim();
    if (start.length < 2 || start === asked) return;
    asked = start;
    try {
      const { data } = await api("/api/users/lookup", { query: { q: start } });
      if (asked !== start) return;  // an older answer
      list.replaceChildren(...data.map((p) => h("option", { value: p.username }, `${p.name} (${p.role})`)));
    } catch { /* no suggestions: the exact username still works */ }
  });
  return list;
}

// A small form: one username field and a submit button; `action(username)` does the work.
function usernameForm(label, buttonText, action) {
  const input = h("input", { type: "text", name: "username", maxlength: 50, required: true,
    autocomplete: "off", "aria-label": label, placeholder: "username" });
  const people = suggest(input);
  return h("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    if (await action(input.value.trim())) input.value = "";
  } }, input, people, h("button", { type: "submit" }, buttonText));
}

// Who the scan is assigned to and who it is shared with, with forms to change both. The
// server decides who may change what; its refusals show in the panel.
export function sharingPanel(base) {
  const errors = h("div", { class: "panel-errors" });
  const assignee = h("div", { class: "assignee" });
  const shares = h("div", { class: "shares" });

  // Run a change, show its error in the panel or reload the panel; true when it worked.
  async function change(fn) {
    try {
      await fn();
      errors.replaceChildren();
      await load();
      return true;
    } catch (err) {
      errors.replaceChildren(alertBox(err));
      return false;
    }
  }

  function showAssignee(assignment) {
    assignee.replaceChildren(assignment
      ? h("p", { class: "person" }, h("span", { class: "who" }, who(assignment.assignee)), " ",
        badge(assignment.assignee.role, "tag"),
        h("button", { type: "button", class: "danger", onclick: () =>
          change(() => api(`${base}/assignment`, { method: "DELETE" })) }, "Remove assignee"))
      : h("p", { class: "muted" }, "Not assigned."));
  }

  function showShares(rows) {
    shares.replaceChildren(rows.length
      ? h("ul", { class: "people" }, rows.map((row) => h("li", {},
        h("span", { class: "who" }, who(row.user)), " ", badge(row.user.role, "tag"),
        h("button", { type: "button", class: "danger", "aria-label": `Stop sharing with ${row.user.username}`,
          onclick: () => change(() => api(`${base}/shares/${row.user.id}`, { method: "DELETE" })) }, "Remove"))))
      : h("p", { class: "muted" }, "Not shared with anyone."));
  }

  async function load() {
    const [assignment, listed] = await Promise.all([
      api(`${base}/assignment`), api(`${base}/shares`),
    ]);
    showAssignee(assignment.data);
    showShares(listed.data);
  }

  load().catch((err) => errors.replaceChildren(alertBox(err)));
  return h("section", { class: "card sharing", "aria-labelledby": "sharing-title" },
    h("h2", { id: "sharing-title" }, "Sharing"), errors,
    h("h3", {}, "Assigned to"), assignee,
    usernameForm("Assign to (username)", "Assign", (username) =>
      change(() => api(`${base}/assignment`, { method: "PUT", body: { username } }))),
    h("h3", {}, "Shared with"), shares,
    usernameForm("Share with (username)", "Share", (username) =>
      change(() => api(`${base}/shares`, { method: "POST", body: { username } }))));
}

// A select of the caller's open cases and a button to put this scan in the chosen one.
export function addToCase(scanKind, scanId) {
  const errors = h("div", { class: "panel-errors" });
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));

  async function load() {
    const listed = await api("/api/cases", { query: { status: "open", limit: 100 } });
    if (!listed.data.length) {
      body.replaceChildren(h("p", { class: "muted" }, "You have no open cases. "), link("/cases", "Open a case"));
      return;
    }
    const choice = h("select", { name: "case", "aria-label": "Case" },
      listed.data.map((c) => h("option", { value: c.id }, c.title)));
    body.replaceChildren(h("form", { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      const chosen = listed.data.find((c) => c.id === choice.value);
      try {
        await api(`/api/cases/${choice.value}/scans`, { method: "POST", body: { scanKind, scanId } });
        errors.replaceChildren(h("div", { class: "alert ok", role: "status" }, "Added to ",
          link(`/cases/${chosen.id}`, chosen.title), "."));
      } catch (err) { errors.replaceChildren(alertBox(err)); }
    } }, choice, h("button", { type: "submit" }, "Add to case")));
  }

  load().catch((err) => body.replaceChildren(alertBox(err)));
  return h("section", { class: "card add-to-case", "aria-labelledby": "add-to-case-title" },
    h("h2", { id: "add-to-case-title" }, "Cases"), errors, body);
}
