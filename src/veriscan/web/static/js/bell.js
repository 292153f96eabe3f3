// The header's bell: the unread count, fetched once per signed-in user and then kept
// up to date by notification:new (which carries the new count) and by the pages' actions.

import { api, session } from "./api.js";
import { on } from "./live.js";
import { bellIcon, h } from "./ui.js";

const count = h("span", { class: "count", id: "bell-count" }, "0");
const label = h("span", { class: "visually-hidden" }, "Notifications, 0 unread");
const bell = h("a", { href: "/notifications", "data-link": true, id: "bell", class: "bell" },
  bellIcon(), count, label);
let loadedFor = null;

export function setUnread(unread) {
  if (typeof unread !== "number") return refreshUnread();
  count.textContent = String(unread);
  bell.classList.toggle("has-unread", unread > 0);
  label.textContent = `Notifications, ${unread} unread`;
}

export async function refreshUnread() {
  try {
    const { data } = await api("/api/notifications/unread-count");
    setUnread(data.unread);
  } catch { /* the count waits for the next event or page */ }
}

on("notification:new", (data) => setUnread(data.unread));

// Where a notification leads: its scan's result page, or for a case's ("case" kind) the case.
export function notificationHref(n) {
  if (!n.scanKind || !n.scanId) return null;
  return n.scanKind === "case" ? `/cases/${n.scanId}` : `/scans/${n.scanKind}/${n.scanId}`;
}

// The bell for the nav, current when the user changes (sign-in as someone else).
export function bellLink(here) {
  const user = session.user;
  if (user && loadedFor !== user.id) {
    loadedFor = user.id;
    setUnread(0);
    refreshUnread();
  }
  if (here === "/notifications") bell.setAttribute("aria-current", "page");
  else bell.removeAttribute("aria-current");
  return bell;
}
