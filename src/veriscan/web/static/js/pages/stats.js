// System statistics for admins, with SVG charts.

import { api } from "../api.js";
import { barChart, dl, h } from "../ui.js";

function duration(seconds) {
  const d = Math.floor(seconds / 86400), hr = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
  return d ? `${d} d ${hr} h` : hr ? `${hr} h ${m} min` : `${m} min`;
}

export async function statsPage(view) {
  const { data } = await api("/api/admin/stats");
  const tile = (label, value) => h("div", { class: "tile" }, h("span", { class: "big" }, String(value)), h("span", { class: "muted" }, label));
  const malware = data.malwareScans || { total: 0, byStatus: {}, newLast24h: 0 };
  view.replaceChildren(
    h("h1", {}, "Statistics"),
    h("div", { class: "tiles" },
      tile("users", data.users.total), tile("active users", data.users.active),
      tile("media scans", data.scans.total), tile("malware scans", malware.total),
      tile("new media scans, 24 h", data.scans.newLast24h), tile("new malware scans, 24 h", malware.newLast24h)),
    h("div", { class: "grid" },
      barChart("Media verdicts", Object.entries(data.scans.byVerdict), { tones: { DEEPFAKE: "bad", SUSPICIOUS: "warn", AUTHENTIC: "good" } }),
      barChart("Media types", Object.entries(data.scans.byMediaType)),
      barChart("Media scan status", [["COMPLETED", data.scans.completed], ["PENDING", data.scans.pending], ["PROCESSING", data.scans.processing], ["FAILED", data.scans.failed]], { tones: { FAILED: "bad" } }),
      barChart("Malware scan status", Object.entries(malware.byStatus).length ? Object.entries(malware.byStatus) : [["none", 0]], { tones: { failed: "bad" } }),
      barChart("Users by role", Object.entries(data.users.byRole))),
    h("section", { class: "card" }, h("h2", {}, "System"), dl([
      ["Health", data.system.health], ["Uptime", duration(data.system.uptime)],
      ["Inactive users", data.users.inactive], ["New users, 24 h", data.users.newLast24h],
    ])));
}
