// User management for admins: search and filter, change roles, (de)activate, create.
// The filters live in the address (?search=...&role=...&active=...&page=), like History.
// The API keeps the rules (e.g. the last active admin stays): errors show its own message.

import { api } from "../api.js";
import { alertBox, badge, empty, field, fmtDate, h, notify, pager, select } from "../ui.js";

const ROLES = [["operative", "Operative"], ["analyst", "Analyst"], ["admin", "Admin"]];
const FILTERS = ["search", "role", "active", "page"];

export async function usersPage(view, _params, app) {
  const params = new URLSearchParams(location.search);
  const query = Object.fromEntries(FILTERS.filter((k) => params.get(k)).map((k) => [k, params.get(k)]));
  // The first answer decides the page: a refusal (not an admin) goes to the router's alert.
  let body = await api("/api/admin/users", { query });

  const filters = h("form", { class: "card filters-form", role: "search", "aria-label": "Filter users" },
    field("Search", h("input", { name: "search", type: "search", maxlength: 100, placeholder: "Username, email or name" })),
    field("Role", select("role", [["", "Any"], ...ROLES])),
    field("Status", select("active", [["", "Any"], ["true", "Active"], ["false", "Inactive"]])),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Apply"),
      h("button", { type: "button", onclick: () => app.go("/admin/users") }, "Reset")));
  for (const el of filters.elements) if (el.name && params.has(el.name)) el.value = params.get(el.name);
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(filters)) if (v) next.set(k, v);
    app.go(`/admin/users${next.size ? "?" + next : ""}`);
  });

  const problem = h("div", { "aria-live": "assertive" });
  const results = h("div", { "aria-live": "polite" });

  async function change(user, changes, what) {
    problem.replaceChildren();
    try {
      const { data } = await api(`/api/admin/users/${user.id}`, { method: "PATCH", body: changes });
      notify(`${data.username}: ${what}.`);
      return data;
    } catch (err) {
      problem.replaceChildren(alertBox(err));
      return null;
    }
  }

  function row(user) {
    const role = select("role", ROLES, user.role);
    role.setAttribute("aria-label", `Role for ${user.username}`);
    role.addEventListener("change", async () => {
      const updated = await change(user, { role: role.value }, `role is now ${role.value}`);
      if (updated) swap(tr, updated, "role");
      else role.value = user.role;
    });
    const toggle = h("button", {
      type: "button", class: user.is_active ? "danger" : null, "data-control": "active",
      "aria-label": `${user.is_active ? "Deactivate" : "Activate"} ${user.username}`,
      onclick: async () => {
        if (user.is_active && !confirm(`Deactivate ${user.username}? Their sessions end at once.`)) return;
        const updated = await change(user, { is_active: !user.is_active },
          user.is_active ? "deactivated" : "activated");
        if (updated) swap(tr, updated, "active");
      },
    }, user.is_active ? "Deactivate" : "Activate");
    role.dataset.control = "role";
    const tr = h("tr", { "data-user": user.id },
      h("td", { "data-label": "Username" }, user.username),
      h("td", { "data-label": "Name" }, user.name || h("span", { class: "muted" }, "n/a")),
      h("td", { "data-label": "Email" }, user.email),
      h("td", { "data-label": "Role" }, role),
      h("td", { "data-label": "Status" }, badge(user.is_active ? "active" : "inactive")),
      h("td", { "data-label": "Created" }, fmtDate(user.created_at)),
      h("td", { "data-label": "Actions", class: "actions" }, toggle));
    return tr;
  }

  // Redraw one row in place and keep the keyboard where it was.
  function swap(tr, user, control) {
    const next = row(user);
    tr.replaceWith(next);
    next.querySelector(`[data-control="${control}"]`).focus();
  }

  function draw() {
    const p = body.pagination;
    if (!body.data.length) {
      results.replaceChildren(empty(Object.keys(query).length ? "No users match these filters." : "No users yet."));
      return;
    }
    results.replaceChildren(
      h("p", { class: "muted" }, `${p.total} user${p.total === 1 ? "" : "s"}`),
      h("div", { class: "scroll" }, h("table", { class: "table users" },
        h("caption", { class: "visually-hidden" }, "Users"),
        h("thead", {}, h("tr", {}, ["Username", "Name", "Email", "Role", "Status", "Created", "Actions"]
          .map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, body.data.map(row)))),
      pager(p, (page) => {
        params.set("page", page);
        app.go(`/admin/users?${params}`);
      }));
  }

  async function reload() {
    try {
      body = await api("/api/admin/users", { query });
      draw();
    } catch (err) { problem.replaceChildren(alertBox(err)); }
  }

  const createErrors = h("div");
  const username = h("input", { name: "username", required: true, minlength: 3, maxlength: 50, pattern: "[A-Za-z0-9_.\\-]+", autocomplete: "off" });
  const create = h("form", { class: "card create-user", onsubmit: async (e) => {
    e.preventDefault();
    createErrors.replaceChildren();
    const values = Object.fromEntries(new FormData(create));
    if (!values.name) delete values.name;
    try {
      const { data } = await api("/api/admin/users", { method: "POST", body: values });
      notify(`User ${data.username} created.`);
      create.reset();
      username.focus();
      await reload();
    } catch (err) { createErrors.replaceChildren(alertBox(err)); }
  } }, h("h2", {}, "Create a user"), createErrors,
  h("div", { class: "form-grid" },
    field("Username", username, "3 to 50 letters, digits, dots, dashes or underscores."),
    field("Email", h("input", { name: "email", type: "email", required: true, maxlength: 254, autocomplete: "off" })),
    field("Name (optional)", h("input", { name: "name", maxlength: 100, autocomplete: "off" })),
    field("Password", h("input", { name: "password", type: "password", required: true, minlength: 8, maxlength: 128, autocomplete: "new-password" }), "At least 8 characters."),
    field("New user's role", select("role", ROLES, "operative"))),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create user")));

  view.replaceChildren(h("h1", {}, "Users"), filters,
    h("section", { class: "card", "aria-label": "User list" }, problem, results), create);
  draw();
}
