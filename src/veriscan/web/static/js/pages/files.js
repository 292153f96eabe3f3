// The caller's files, a page at a time (GET /api/files/ with page and per_page; the total
// in X-Total-Count), each linking to its page with both answers.

import { raw } from "../api.js";
import { alertBox, empty, field, fmtDate, fmtSize, h, link, pager } from "../ui.js";

const PER_PAGE = 20;

export async function filesPage(view) {
  const params = new URLSearchParams(location.search);
  let page = Math.max(1, Number(params.get("page")) || 1);
  const search = h("input", { name: "search", type: "search", placeholder: "File name", value: params.get("search") || "" });
  const hash = h("input", { name: "hash", type: "search", placeholder: "MD5, SHA-1 or SHA-256", spellcheck: "false",
    pattern: "[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}", value: params.get("hash") || "" });
  const list = h("div", { "aria-live": "polite" });

  async function load() {
    const query = new URLSearchParams({ page, per_page: PER_PAGE });
    if (search.value.trim()) query.set("search", search.value.trim());
    if (hash.value.trim()) query.set("hash", hash.value.trim());
    history.replaceState(null, "", `/files?${query}`);
    try {
      const response = await raw(`/api/files/?${query}`);
      const total = Number(response.headers.get("X-Total-Count") || 0);
      const files = await response.json();
      if (!files.length && page === 1) {
        list.replaceChildren(empty("No files yet.", link("/upload", "Upload one")));
        return;
      }
      list.replaceChildren(
        h("p", { class: "muted" }, `${total} file${total === 1 ? "" : "s"}`),
        h("div", { class: "scroll" }, h("table", { class: "table files" },
          h("thead", {}, h("tr", {}, ["File", "Type", "Size", "Uploaded"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, files.map((f) => h("tr", { "data-file": f.id },
            h("td", { "data-label": "File" }, link(`/files/${f.id}`, f.filename)),
            h("td", { "data-label": "Type" }, f.mime_type),
            h("td", { "data-label": "Size" }, fmtSize(f.file_size)),
            h("td", { "data-label": "Uploaded" }, fmtDate(f.upload_date))))))),
        pager({ page, pages: Math.ceil(total / PER_PAGE) }, (n) => { page = n; load(); }));
    } catch (err) {
      list.replaceChildren(alertBox(err));
    }
  }

  const form = h("form", { class: "filters card", onsubmit: (e) => { e.preventDefault(); page = 1; load(); } },
    field("Search", search), field("Hash", hash), h("button", { type: "submit" }, "Search"));
  view.replaceChildren(h("h1", {}, "Files"), form, list);
  await load();
}
