// System statistics for admins, with SVG charts.

import { api } from "../api.js";
import { alertBox, badge, barChart, dl, field, h, select, trendChart } from "../ui.js";

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
    ])),
    analyticsSection(), healthSection());
}

const PERIODS = [["day", "Per day"], ["week", "Per week"], ["month", "Per month"]];
const TONES = { ok: "valid", degraded: "suspicious", down: "failed", disabled: "" };

// Scans over time (GET /api/admin/analytics), for the period chosen.
function analyticsSection() {
  const body = h("div", { "aria-live": "polite" });
  const period = select("period", PERIODS, "day");
  async function load() {
    try {
      const { data } = await api("/api/admin/analytics", { query: { period: period.value } });
      const labels = data.series.map((b) => (data.period === "month" ? b.start.slice(0, 7) : b.start.slice(5)));
      const values = (pick) => data.series.map(pick);
      body.replaceChildren(
        h("p", { class: "muted" }, `From ${data.from} to ${data.to} (UTC${data.period === "week" ? ", weeks start on Monday" : ""}).`),
        trendChart(`Scans per ${data.period}`, labels, [
          { name: "malware scans", values: values((b) => b.malware.total) },
          { name: "media scans", values: values((b) => b.media.total), tone: "alt" },
        ]),
        trendChart(`Verdicts per ${data.period}`, labels, [
          { name: "DEEPFAKE", values: values((b) => b.media.DEEPFAKE), tone: "bad" },
          { name: "SUSPICIOUS", values: values((b) => b.media.SUSPICIOUS), tone: "warn" },
          { name: "AUTHENTIC", values: values((b) => b.media.AUTHENTIC), tone: "good" },
          { name: "malware detected", values: values((b) => b.malware.detected), tone: "alt" },
        ], { kind: "lines" }),
        topUsers(data.topUsers));
    } catch (error) {
      body.replaceChildren(alertBox(error));
    }
  }
  period.addEventListener("change", load);
  load();
  return h("section", { class: "card analytics" }, h("h2", {}, "Analytics"), field("Period", period), body);
}

function topUsers(users) {
  if (!users.length) return h("p", { class: "muted" }, "No scans in this range.");
  return h("table", { class: "table" },
    h("caption", {}, "Most active users"),
    h("thead", {}, h("tr", {}, ["#", "User", "Scans"].map((label) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, users.map((user, i) => h("tr", {},
      h("td", { "data-label": "#" }, String(i + 1)),
      h("td", { "data-label": "User" }, user.username),
      h("td", { "data-label": "Scans" }, String(user.scans))))));
}

// What each part of the server says (GET /api/health: public, and 503 when down).
function healthSection() {
  const body = h("div", { "aria-live": "polite" }, h("p", { class: "muted" }, "Asking the server..."));
  fetch("/api/health", { headers: { Accept: "application/json" } })
    .then((response) => response.json())
    .then((report) => {
      const { engines, ...rest } = report.checks;
      const rows = [["Database", rest.database], ["Queue", rest.queue], ["YARA-X", engines.yara],
        ["ClamAV", engines.clamav], ["VirusTotal", engines.virustotal], ["socket.io", rest.socketio]];
      body.replaceChildren(
        h("p", {}, "Server: ", badge(report.status, TONES[report.status]), ` version ${report.version}`),
        h("div", { class: "scroll" }, h("table", { class: "table health" },
          h("thead", {}, h("tr", {}, ["Check", "Status", "Latency", "Detail"].map((label) => h("th", { scope: "col" }, label)))),
          h("tbody", {}, rows.map(([name, check]) => h("tr", {},
            h("td", { "data-label": "Check" }, name),
            h("td", { "data-label": "Status" }, badge(check.status, TONES[check.status])),
            h("td", { "data-label": "Latency" }, `${check.latencyMs} ms`),
            h("td", { "data-label": "Detail" }, check.detail)))))));
    })
    .catch(() => body.replaceChildren(alertBox("The health check did not answer.")));
  return h("section", { class: "card" }, h("h2", {}, "Health"), body);
}
