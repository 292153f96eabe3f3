// Notifications: the user's own, newest first; mark read, mark all, delete; preferences.

import { api } from "../api.js";
import { notificationHref, setUnread } from "../bell.js";
import { on } from "../live.js";
import { alertBox, badge, empty, field, fmtDate, h, link, notify, pager, select } from "../ui.js";

export async function notificationsPage(view, _params, app) {
  const query = new URLSearchParams(location.search);
  const page = Math.max(1, Number(query.get("page")) || 1);
  const unreadOnly = query.get("unread") === "true";
  const [listing, prefs] = await Promise.all([
    api("/api/notifications", { query: { page, per_page: 20, unread: unreadOnly ? "true" : undefined } }),
    api("/api/notifications/preferences"),
  ]);
  setUnread(listing.unread);
  const go = (p, only = unreadOnly) =>
    app.go(`/notifications?${new URLSearchParams({ page: p, ...(only ? { unread: "true" } : {}) })}`, { replace: true });
  const act = (fn) => async () => {
    try { await fn(); go(page); } catch (err) { notify(err.message, "error"); }
  };

  const items = listing.data.map((n) => h("li", { class: `notification ${n.read ? "read" : "unread"} ${n.severity}`, "data-id": n.id },
    h("div", { class: "head" },
      badge(n.severity, n.severity === "critical" ? "malicious" : "pending"),
      notificationHref(n) ? link(notificationHref(n), n.title) : h("strong", {}, n.title),
      h("span", { class: "muted" }, fmtDate(n.createdAt))),
    h("p", {}, n.message),
    h("div", { class: "actions" },
      n.read ? null : h("button", { type: "button", onclick: act(() => api(`/api/notifications/${n.id}/read`, { method: "POST" })) }, "Mark read"),
      h("button", { type: "button", class: "danger", onclick: act(() => api(`/api/notifications/${n.id}`, { method: "DELETE" })) }, "Delete"))));

  const only = h("input", { type: "checkbox", checked: unreadOnly, onchange: () => go(1, only.checked) });
  const list = h("section", { class: "card" },
    h("div", { class: "actions" },
      h("label", { class: "check" }, only, "Unread only"),
      h("button", { type: "button", disabled: listing.unread === 0,
        onclick: act(() => api("/api/notifications/read-all", { method: "POST" })) }, "Mark all read")),
    items.length ? h("ul", { class: "notifications" }, items) : empty("No notifications."),
    listing.pagination.pages > 1 ? pager(listing.pagination, go) : null);

  const errors = h("div");
  const inApp = h("input", { type: "checkbox", name: "inApp", checked: prefs.data.inApp });
  const email = select("email", [["never", "Never"], ["critical", "Critical only (malware, deepfakes)"], ["all", "Every finished scan"]], prefs.data.email);
  const form = h("form", { class: "card narrow", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api("/api/notifications/preferences", { method: "PUT", body: { inApp: inApp.checked, email: email.value } });
      notify("Preferences saved.");
    } catch (err) { errors.replaceChildren(alertBox(err)); }
  } }, h("h2", {}, "Preferences"), errors,
  h("label", { class: "check" }, inApp, "Show notifications here"),
  field("E-mail me", email, "Sent only when the server has an SMTP relay configured."),
  h("button", { type: "submit", class: "primary" }, "Save preferences"));

  view.replaceChildren(h("h1", {}, "Notifications"), list, form);
  // A new notification while the page is open: show it (the bell updates by itself).
  return on("notification:new", () => go(page));
}
