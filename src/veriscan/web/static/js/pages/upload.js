// Upload by drag and drop (or the file picker), then both answers, live: every file is
// stored once and scanned for malware, and each picture, video or recording is checked for
// authenticity too. Several files at once go to the batch endpoint, followed in one list.

import { api, upload as send } from "../api.js";
import { watch } from "../live.js";
import { bothAnswers, scanStoredMedia } from "./file.js";
import { alertBox, field, h, fmtSize, link } from "../ui.js";

const BATCH_DONE = new Set(["completed", "failed", "COMPLETED", "FAILED"]);

// A batch's files, one row each with both answers: the malware batch (every file) and
// the media batch (the pictures, videos and recordings among them), read from
// GET /api/batches/{id} whenever one of their scans sends a live event (progress is shown
// as it comes), and every few seconds as a fallback.
function followFiles(files, media) {
  const rows = new Map();  // scanId -> the cell that shows it
  const cells = new Map();  // fileId -> {malware, media}
  const summary = h("p", { class: "muted batch-summary", "aria-live": "polite" });
  const list = h("ul", { class: "batch-items" });
  const mediaItems = new Map((media ? media.items : []).filter((i) => i.fileId).map((i) => [i.fileId, i]));
  for (const item of files.items) {
    const malwareCell = h("span", { class: "stage", "data-kind": "malware" });
    const mediaCell = h("span", { class: "stage", "data-kind": "media" });
    const row = h("li", { "data-index": item.index }, h("strong", {}, item.fileName), " ");
    if (item.status === "rejected") {
      row.append(h("span", { class: "stage" }, `Rejected: ${item.error.message} (${item.error.code})`));
    } else {
      malwareCell.textContent = item.scanId ? "malicious? waiting for a worker…" : "malicious? not scanned (no engine)";
      const m = mediaItems.get(item.fileId);
      mediaCell.textContent = !m ? "authentic? not started"
        : m.scanId ? "authentic? waiting for a worker…"
          : m.error.code === "UNSUPPORTED_MEDIA" ? "authentic? not a picture, video or recording" : `authentic? ${m.error.message}`;
      if (item.scanId) rows.set(item.scanId, { cell: malwareCell, kind: "malware", label: "malicious?" });
      if (m && m.scanId) rows.set(m.scanId, { cell: mediaCell, kind: "media", label: "authentic?" });
      cells.set(item.fileId, { malwareCell, mediaCell });
      row.append(malwareCell, " · ", mediaCell, " · ", link(`/files/${item.fileId}`, "Both answers"));
    }
    list.append(row);
  }
  const el = h("section", { class: "card live batch", "data-batch": files.batchId },
    h("h2", {}, `Batch of ${files.total} files: ${files.accepted} accepted, ${files.rejected} rejected`),
    summary, list);
  let timer = null;
  let soon = null;
  let stopped = false;
  let finished = false;
  const unwatch = [...rows.entries()].map(([scanId, entry]) => watch(scanId, (event, data) => {
    if (finished) return;
    if (event === "scan:progress") {
      entry.cell.textContent = `${entry.label} ${data.stage} · ${data.progress}%…`;
      return;
    }
    // A scan finished or failed: read the batches again (once for a burst of events).
    if (!soon && !stopped) soon = setTimeout(() => { soon = null; poll(); }, 100);
  }));
  const batches = [["malware", files.batchId], ...(media && media.accepted ? [["media", media.batchId]] : [])];
  async function poll() {
    try {
      let running = 0;
      const counts = [];
      for (const [kind, batchId] of batches) {
        const { data } = await api(`/api/batches/${batchId}`);
        const s = data.summary;
        running += s.pending + s.running;
        counts.push(`${kind}: ${s.completed} completed · ${s.failed} failed · ${s.running} running · ${s.pending} pending`);
        for (const scan of data.scans) {
          const entry = rows.get(scan.scanId);
          if (!entry) continue;
          const verdict = kind === "malware" ? `detection ratio ${scan.detectionRatio ?? "n/a"}`
            : `${scan.result ?? "no verdict"} · risk ${scan.riskScore ?? "n/a"}`;
          const done = BATCH_DONE.has(scan.status);
          entry.cell.replaceChildren(`${entry.label} `, done && String(scan.status).toLowerCase() === "completed"
            ? link(`/scans/${kind}/${scan.scanId}`, verdict) : `${scan.status.toLowerCase()}${done ? "" : "…"}`);
        }
      }
      summary.textContent = counts.join("; ");
      if (running === 0) {
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

// Media scans of stored files; on failure (the network, the rate limit) each file says why.
async function mediaScansOf(fileIds, tags) {
  try {
    return await scanStoredMedia(fileIds, tags);
  } catch (err) {
    return { accepted: 0, items: fileIds.map((fileId) => ({ fileId, error: { code: err.code, message: err.message } })) };
  }
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
  const tagsField = field("Tags (comma-separated, given to the authenticity scans)", tags);
  const submit = h("button", { type: "submit", class: "primary", disabled: true }, "Upload and scan");
  const live = h("div", { class: "live-list" });

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

  // Every file is stored once and scanned for malware; each picture, video or recording
  // among them is analysed for authenticity too, from the same stored content.
  const form = h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    if (!files.length) return;
    const file = files.length === 1 ? files[0] : null;
    errors.replaceChildren();
    submit.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    try {
      const { body } = await send(file ? "/api/files/upload" : "/api/files/batch", file || files, {},
        (ratio) => {
          progress.value = Math.round(ratio * 100);
          progressText.textContent = ratio < 1 ? `Uploading ${progress.value}%` : "Uploaded; storing and hashing…";
        });
      progress.value = 100;
      progressText.textContent = "Uploaded.";
      if (file) {
        const media = await mediaScansOf([body.id], tags.value);
        const answers = bothAnswers(body, body.scan ? body.scan.scan_id : null, media.items[0]);
        followers.push(answers);
        live.prepend(h("section", { class: "card live", "data-file": body.id },
          h("h2", {}, body.filename), answers.el,
          h("p", {}, link(`/files/${body.id}`, "Open the file's page (both answers)"))));
      } else {
        const stored = body.data.items.filter((i) => i.fileId).map((i) => i.fileId);
        const media = stored.length ? await mediaScansOf(stored, tags.value) : null;
        const follower = followFiles(body.data, media);
        followers.push(follower);
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
  } }, h("h1", {}, "Upload"),
  h("p", { class: "muted" }, "Every file is scanned for malware; pictures, videos and recordings are also checked for authenticity."),
  errors, input, drop, chosen, tagsField,
  h("div", { class: "progress-row" }, progress, progressText), submit);
  view.replaceChildren(form, live);
  return () => followers.forEach((f) => f.stop());
}
