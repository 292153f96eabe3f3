// Upload by drag and drop (or the file picker), then the scan's live progress. Several
// files at once go to the batch endpoint of the chosen kind, followed in one list.

import { api, upload as send } from "../api.js";
import { watch } from "../live.js";
import { followScan } from "../progress.js";
import { alertBox, field, h, fmtSize, link } from "../ui.js";

const BATCH_DONE = new Set(["completed", "failed", "COMPLETED", "FAILED"]);

// A batch's files: rejected ones with their error, accepted ones with their scan's
// status, read from GET /api/batches/{id} whenever one of its scans sends a live event
// (progress is shown as it comes), and every few seconds as a fallback.
function followBatch(kind, upload) {
  const rows = new Map();
  const summary = h("p", { class: "muted batch-summary", "aria-live": "polite" });
  const list = h("ul", { class: "batch-items" });
  for (const item of upload.items) {
    const status = h("span", { class: "stage" }, item.status === "rejected"
      ? `Rejected: ${item.error.message} (${item.error.code})` : "Waiting for a worker…");
    const row = h("li", { "data-index": item.index }, h("strong", {}, item.fileName), " ", status);
    if (item.scanId) rows.set(item.scanId, { row, status });
    list.append(row);
  }
  const el = h("section", { class: "card live batch", "data-batch": upload.batchId },
    h("h2", {}, `Batch of ${upload.total} files: ${upload.accepted} accepted, ${upload.rejected} rejected`),
    summary, list);
  let timer = null;
  let soon = null;
  let stopped = false;
  let finished = false;
  const unwatch = [...rows.entries()].map(([scanId, entry]) => watch(scanId, (event, data) => {
    if (finished) return;
    if (event === "scan:progress") {
      entry.status.replaceChildren(`${data.stage} · ${data.progress}%… `,
        link(`/scans/${kind}/${scanId}`, "Open the scan"));
      return;
    }
    // A scan finished or failed: read the batch again (once for a burst of events).
    if (!soon && !stopped) soon = setTimeout(() => { soon = null; poll(); }, 100);
  }));
  async function poll() {
    try {
      const { data } = await api(`/api/batches/${upload.batchId}`);
      const s = data.summary;
      summary.textContent = `${s.completed} completed · ${s.failed} failed · ${s.running} running · ${s.pending} pending`;
      for (const scan of data.scans) {
        const entry = rows.get(scan.scanId);
        if (!entry) continue;
        const verdict = kind === "malware" ? `detection ratio ${scan.detectionRatio ?? "n/a"}`
          : `verdict ${scan.result ?? "n/a"} · risk ${scan.riskScore ?? "n/a"}`;
        const done = BATCH_DONE.has(scan.status);
        entry.status.replaceChildren(done ? `${scan.status.toLowerCase()}: ${verdict} ` : `${scan.status.toLowerCase()}… `,
          link(`/scans/${kind}/${scan.scanId}`, "Open the scan"));
      }
      if (s.pending + s.running === 0) {
        finished = true;
        return;
      }
    } catch (err) {
      summary.replaceChildren(alertBox(err));
    }
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(poll, 5000);
  }
  poll();
  return { el, stop: () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(soon);
    for (const stop of unwatch) stop();
  } };
}

export function uploadPage(view) {
  let files = [];
  const followers = [];
  const errors = h("div");
  const progress = h("progress", { max: 100, value: 0, "aria-label": "Upload progress", hidden: true });
  const progressText = h("span", { class: "muted" });
  const chosen = h("p", { class: "chosen muted" }, "No file chosen.");
  const input = h("input", { type: "file", id: "file-input", name: "file", class: "visually-hidden", multiple: true,
    onchange: () => choose([...input.files]) });
  const tags = h("input", { name: "tags", placeholder: "case-001, investigation" });
  const tagsField = field("Tags (comma-separated, media only)", tags);
  const mode = h("fieldset", { class: "switch" }, h("legend", {}, "Scan type"),
    h("label", {}, h("input", { type: "radio", name: "kind", value: "malware", checked: true, onchange: sync }), " Malware file scan"),
    h("label", {}, h("input", { type: "radio", name: "kind", value: "media", onchange: sync }), " Media authenticity scan"));
  const submit = h("button", { type: "submit", class: "primary", disabled: true }, "Upload and scan");
  const live = h("div", { class: "live-list" });

  function kind() { return mode.querySelector("input:checked").value; }
  function sync() { tagsField.hidden = kind() !== "media"; }
  function choose(list) {
    files = list || [];
    chosen.textContent = files.length === 1 ? `${files[0].name} (${fmtSize(files[0].size)})`
      : files.length ? `${files.length} files (${fmtSize(files.reduce((n, f) => n + f.size, 0))})`
        : "No file chosen.";
    submit.disabled = !files.length;
  }

  const drop = h("label", { class: "drop", for: "file-input" },
    h("strong", {}, "Drop files here"), h("span", {}, "or press to choose them (one or several)"));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) choose([...e.dataTransfer.files]);
  });

  const form = h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    if (!files.length) return;
    const file = files.length === 1 ? files[0] : null;
    errors.replaceChildren();
    submit.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    const k = kind();
    try {
      const path = file ? (k === "malware" ? "/api/files/upload" : "/api/scans/upload")
        : (k === "malware" ? "/api/files/batch" : "/api/scans/batch");
      const { body } = await send(path, file || files, k === "media" ? { tags: tags.value } : {},
        (ratio) => {
          progress.value = Math.round(ratio * 100);
          progressText.textContent = ratio < 1 ? `Uploading ${progress.value}%` : "Uploaded; storing and hashing…";
        });
      progress.value = 100;
      progressText.textContent = "Uploaded.";
      const scanId = !file ? null : k === "malware" ? body.scan && body.scan.scan_id : body.data.id;
      if (!file) {
        const follower = followBatch(k, body.data);
        followers.push(follower);
        live.prepend(follower.el);
      } else if (!scanId) {
        live.prepend(alertBox(body.scan ? body.scan.message : "The file was stored but not scanned.", "info"));
      } else {
        const follower = followScan(k, scanId);
        followers.push(follower);
        follower.el.prepend(h("p", { class: "muted" }, file.name));
        live.prepend(follower.el);
      }
      choose(null);
      input.value = "";
    } catch (err) {
      errors.replaceChildren(alertBox(err));
      progressText.textContent = "";
      progress.hidden = true;
    } finally {
      submit.disabled = !files.length;
    }
  } }, h("h1", {}, "Upload"), errors, mode, input, drop, chosen, tagsField,
  h("div", { class: "progress-row" }, progress, progressText), submit);
  sync();
  view.replaceChildren(form, live);
  return () => followers.forEach((f) => f.stop());
}
