// VirusTotal keys: add (optionally validating first), rename, (de)activate, delete.
// Values are write-only: the API never returns them and this page never shows them.

import { api } from "../api.js";
import { alertBox, badge, empty, field, fmtDate, h, notify } from "../ui.js";

export async function keysPage(view, _params, app) {
  const { api_keys: keys } = await api("/api/keys/");
  const errors = h("div");
  const name = h("input", { name: "name", required: true, maxlength: 100, placeholder: "Team key" });
  const value = h("input", { name: "key_value", type: "password", required: true, autocomplete: "off", spellcheck: "false" });
  const check = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api("/api/keys/", { method: "POST", body: { name: name.value, key_value: value.value } });
      notify("Key added.");
      app.go("/keys", { replace: true });
    } catch (err) { errors.replaceChildren(alertBox(err)); }
  } }, h("h2", {}, "Add a key"), errors,
  field("Name", name), field("VirusTotal API key", value, "Stored encrypted; it is never shown again."),
  h("div", { class: "actions" },
    h("button", { type: "submit", class: "primary" }, "Add key"),
    h("button", { type: "button", onclick: async () => {
      if (!value.value) { check.replaceChildren(alertBox("Enter a key to validate.", "info")); return; }
      try {
        const r = await api("/api/keys/validate", { method: "POST", body: { key_value: value.value } });
        check.replaceChildren(alertBox(r.message, r.valid ? "ok" : "error"));
      } catch (err) { check.replaceChildren(alertBox(err)); }
    } }, "Validate")), check);

  const act = (fn) => async () => {
    try { await fn(); app.go("/keys", { replace: true }); } catch (err) { notify(err.message, "error"); }
  };
  const list = keys.length ? h("div", { class: "scroll" }, h("table", { class: "table keys" },
    h("thead", {}, h("tr", {}, ["Name", "Status", "Active", "Last checked", "Added", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, keys.map((k) => {
      const rename = h("input", { value: k.name, "aria-label": `New name for ${k.name}`, maxlength: 100 });
      return h("tr", { "data-key": k.id },
        h("td", { "data-label": "Name" }, k.name),
        h("td", { "data-label": "Status" }, badge(k.status)),
        h("td", { "data-label": "Active" }, k.is_active ? "yes" : "no"),
        h("td", { "data-label": "Last checked" }, fmtDate(k.last_validated_at)),
        h("td", { "data-label": "Added" }, fmtDate(k.created_at)),
        h("td", { "data-label": "Actions", class: "actions" },
          h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); act(() => api(`/api/keys/${k.id}`, { method: "PUT", body: { name: rename.value } }))(); } },
            rename, h("button", { type: "submit" }, "Rename")),
          h("button", { type: "button", onclick: act(() => api(`/api/keys/${k.id}`, { method: "PUT", body: { is_active: !k.is_active } })) },
            k.is_active ? "Deactivate" : "Activate"),
          h("button", { type: "button", class: "danger", onclick: () => {
            if (confirm(`Delete the key "${k.name}"?`)) act(() => api(`/api/keys/${k.id}`, { method: "DELETE" }))();
          } }, "Delete")));
    })))) : empty("No VirusTotal keys yet. Scans still run with the local engines; add a key to ask VirusTotal too.");
  view.replaceChildren(h("h1", {}, "VirusTotal keys"), h("section", { class: "card" }, list), form);
}
