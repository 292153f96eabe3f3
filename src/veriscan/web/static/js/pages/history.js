// History of both kinds of scan, with every filter, search, sort and page of the API.
// The filters live in the address (?kind=media&verdict=...), so a view can be shared.

import { api, download } from "../api.js";
import { on, watch } from "../live.js";
import { alertBox, badge, empty, field, fmtDate, h, link, na, notify, pager, select, verdictBadge } from "../ui.js";

const FINAL = new Set(["completed", "failed", "COMPLETED", "FAILED"]);

// A status cell that live events can change: [cell, {id, cell}] when the scan is unfinished.
function statusCell(label, status, id, content) {
  const cell = h("td", { "data-label": label }, content);
  return [cell, FINAL.has(status) ? null : { id, cell }];
}

// Whose scans the list shows (the API's ?scope=); changing it reloads the list.
const SCOPES = [["all", "All"], ["own", "Mine"], ["shared", "Shared with me"], ["assigned", "Assigned to me"]];
const scopeField = () => field("Show", select("scope", SCOPES, "all"));

// One page size for both kinds (the APIs' defaults differ: 10 and 20), the last one chosen
// remembered in this browser.
const PER_PAGE = [["20", "20"], ["10", "10"], ["50", "50"], ["100", "100"]];
const PER_PAGE_KEY = "veriscan.perPage";
function perPage() {
  const kept = localStorage.getItem(PER_PAGE_KEY);
  return PER_PAGE.some(([v]) => v === kept) ? kept : "20";
}

const KINDS = {
  malware: {
    title: "Malware scans",
    exportPath: "/api/scan/export",
    paging: ["page", "per_page"],
    fields: () => [
      scopeField(),
      field("Search", h("input", { name: "search", type: "search", placeholder: "File name" })),
      field("Hash", h("input", { name: "hash", type: "search", placeholder: "MD5, SHA-1 or SHA-256",
        pattern: "[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}", spellcheck: "false" })),
      field("Status", select("status", [["", "Any"], ["pending", "pending"], ["scanning", "scanning"], ["completed", "completed"], ["failed", "failed"]])),
      field("Detections from", h("input", { name: "detection_min", type: "number", min: 0 })),
      field("Detections to", h("input", { name: "detection_max", type: "number", min: 0 })),
      field("From date", h("input", { name: "date_from", type: "date" })),
      field("To date", h("input", { name: "date_to", type: "date" })),
      field("Sort by", select("sort_by", [["scan_date", "Date"], ["detection_ratio", "Detections"]])),
      field("Order", select("sort_order", [["desc", "Descending"], ["asc", "Ascending"]])),
      field("Per page", select("per_page", PER_PAGE)),
    ],
    async load(query) {
      const body = await api("/api/scan/results", { query });
      const p = body.pagination;
      const live = [];
      const rows = body.scans.map((s) => {
        const [status, unfinished] = statusCell("Status", s.status, s.id, badge(s.status));
        if (unfinished) live.push(unfinished);
        return h("tr", { "data-scan": s.id },
          h("td", { "data-label": "File" }, link(`/scans/malware/${s.id}`, s.filename)),
          h("td", { "data-label": "Verdict" }, verdictBadge(s.verdict)),
          status,
          h("td", { "data-label": "Detections" }, na(s.detection_ratio)),
          h("td", { "data-label": "Date" }, fmtDate(s.scan_date)));
      });
      return {
        rows, live,
        head: ["File", "Verdict", "Status", "Detections", "Date"],
        pagination: { page: p.page, pages: p.total_pages, total: p.total_items },
      };
    },
  },
  media: {
    title: "Media scans",
    exportPath: "/api/scans/export",
    paging: ["page", "limit"],
    fields: () => [
      scopeField(),
      field("Search", h("input", { name: "search", type: "search", placeholder: "File, tag, explanation, operative" })),
      field("Verdict", select("verdict", [["", "Any"], ["DEEPFAKE", "Deepfake"], ["SUSPICIOUS", "Suspicious"], ["AUTHENTIC", "Authentic"]])),
      field("Media type", select("mediaType", [["", "Any"], ["IMAGE", "Image"], ["VIDEO", "Video"], ["AUDIO", "Audio"]])),
      field("Status", select("status", [["", "Any"], ["PENDING", "Pending"], ["PROCESSING", "Processing"], ["COMPLETED", "Completed"], ["FAILED", "Failed"]])),
      field("From date", h("input", { name: "startDate", type: "date" })),
      field("To date", h("input", { name: "endDate", type: "date" })),
      field("Sort by", select("sortBy", [["date", "Date"], ["riskScore", "Risk score"], ["confidence", "Confidence"], ["fileName", "File name"]])),
      field("Order", select("sortOrder", [["desc", "Descending"], ["asc", "Ascending"]])),
      field("Per page", select("limit", PER_PAGE)),
    ],
    async load(query) {
      const body = await api("/api/scans/history", { query });
      const p = body.pagination;
      const live = [];
      const rows = body.data.map((s) => {
        const [verdict, unfinished] = statusCell("Verdict", s.status, s.id,
          s.result ? badge(s.result) : badge(s.status));
        if (unfinished) live.push(unfinished);
        return h("tr", { "data-scan": s.id },
          h("td", { "data-label": "File" }, link(`/scans/media/${s.id}`, s.fileName)),
          h("td", { "data-label": "Type" }, s.type),
          verdict,
          h("td", { "data-label": "Risk" }, na(s.score)),
          h("td", { "data-label": "Operative" }, s.operative),
          h("td", { "data-label": "Date" }, fmtDate(s.timestamp)));
      });
      return {
        rows, live,
        head: ["File", "Type", "Verdict", "Risk", "Operative", "Date"],
        pagination: { page: p.page, pages: p.pages, total: p.total },
      };
    },
  },
};

export async function historyPage(view, _params, app) {
  const params = new URLSearchParams(location.search);
  const kindName = params.get("kind") === "media" ? "media" : "malware";
  const kind = KINDS[kindName];
  const form = h("form", { class: "card filters-form", role: "search", "aria-label": "Filter scans" },
    kind.fields(),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Apply"),
      h("button", { type: "button", onclick: () => app.go(`/history?kind=${kindName}`) }, "Reset")));
  for (const el of form.elements) if (el.name && params.has(el.name)) el.value = params.get(el.name);
  form.elements.scope.addEventListener("change", () => form.requestSubmit());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem(PER_PAGE_KEY, form.elements[kind.paging[1]].value);
    const next = new URLSearchParams({ kind: kindName });
    for (const [k, v] of new FormData(form)) if (v && !(k === "scope" && v === "all")) next.set(k, v);
    app.go(`/history?${next}`);
  });
  const tabs = h("nav", { class: "tabs", "aria-label": "Kind of scan" },
    Object.entries(KINDS).map(([name, k]) => link(`/history?kind=${name}`, k.title,
      name === kindName ? { "aria-current": "page" } : {})));
  const results = h("section", { class: "card", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  view.replaceChildren(h("h1", {}, "History"), tabs, form, results);

  const query = Object.fromEntries([...params].filter(([k]) => k !== "kind"));
  const sizeName = kind.paging[1];
  if (!query[sizeName]) query[sizeName] = perPage();
  form.elements[sizeName].value = query[sizeName];
  // Every page of the current filters, streamed by the server.
  const downloads = h("div", { class: "actions" }, ["csv", "json"].map((format) =>
    h("button", { type: "button", onclick: async (e) => {
      const filters = new URLSearchParams(Object.entries(query).filter(([k]) => !kind.paging.includes(k)));
      filters.set("format", format);
      e.target.disabled = true;
      try { await download(`${kind.exportPath}?${filters}`, `${kindName}-scans.${format}`); }
      catch (err) { notify(err.message, "error"); }
      finally { e.target.disabled = false; }
    } }, `Download all (${format.toUpperCase()})`)));
  // Unfinished scans on the page follow their live events: progress changes their status
  // cell; an outcome reads the page again (once for a burst), without leaving it.
  let unwatch = [];
  let unfinished = 0;
  let soon = null;
  let stopped = false;
  let shown = 0;  // the latest read of the page: an older one that answers late is dropped
  const reloadedFor = new Set();  // a replayed outcome must not reload the page forever
  const stopWatching = () => { for (const stop of unwatch) stop(); unwatch = []; };
  const reloadSoon = () => { if (!soon && !stopped) soon = setTimeout(() => { soon = null; show(); }, 200); };
  function follow(live) {
    stopWatching();
    unfinished = live.length;
    unwatch = live.map(({ id, cell }) => watch(id, (event, data) => {
      if (event === "scan:progress") {
        cell.replaceChildren(badge(kindName === "malware" ? "scanning" : "PROCESSING"),
          ` ${data.progress ?? 0}%`);
        return;
      }
      if (reloadedFor.has(id)) return;
      reloadedFor.add(id);
      reloadSoon();
    }));
  }
  // An outcome sent while the socket was (re)connecting is lost: read the page again.
  const stopListening = on("connect", () => { if (unfinished) reloadSoon(); });

  async function show() {
    const mine = ++shown;
    try {
      const { rows, head, pagination, live } = await kind.load(query);
      if (stopped || mine !== shown) return;
      follow(live);
      if (!rows.length) {
        results.replaceChildren(empty(params.size > 1 ? "No scans match these filters." : "No scans yet.",
          link("/upload", "Upload a file", { class: "button" })));
        return;
      }
      results.replaceChildren(
        h("p", { class: "muted" }, `${pagination.total} scan${pagination.total === 1 ? "" : "s"}`),
        downloads,
        h("div", { class: "scroll" }, h("table", { class: "table" },
          h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows))),
        pager(pagination, (page) => {
          params.set("page", page);
          app.go(`/history?${params}`);
        }));
    } catch (err) {
      if (!stopped && mine === shown) results.replaceChildren(alertBox(err));
    }
  }
  await show();
  return () => {
    stopped = true;
    clearTimeout(soon);
    stopWatching();
    stopListening();
  };
}
