// One file, both answers: is it malicious (its malware scan) and, for a picture, a video
// or a recording, is it authentic (its media scan), side by side, each live while it runs
// and linking to its scan's full page.

import { api } from "../api.js";
import { followScan } from "../progress.js";
import { alertBox, badge, dl, fmtDate, fmtSize, h, link, na, notify, verdictBadge } from "../ui.js";

const RUNNING = new Set(["pending", "scanning", "PENDING", "PROCESSING"]);
const NOT_MEDIA = "Not a picture, video or recording: there is no authenticity to check.";

// "2 of 3 engines flagged it as malicious".
function ratioWords(ratio) {
  const [hits, total] = String(ratio || "0/0").split("/").map(Number);
  return `${hits} of ${total} engine${total === 1 ? "" : "s"} flagged it as malicious`;
}

function riskTone(value) {
  return value >= 70 ? "bad" : value >= 40 ? "warn" : "good";
}

// A half of the page: a card whose body is replaced as its scan moves on.
function half(title, label) {
  const body = h("div", { class: "answer-body" }, h("p", { class: "muted" }, "Loading…"));
  const el = h("section", { class: "card answer", "aria-label": label }, h("h2", {}, title), body);
  let follower = null;
  return {
    el,
    show(...children) {
      if (follower) { follower.stop(); follower = null; }
      body.replaceChildren(...children);
    },
    follow(kind, scanId, then) {
      if (follower) follower.stop();
      follower = followScan(kind, scanId, () => then());
      body.replaceChildren(follower.el);
    },
    stop() { if (follower) follower.stop(); },
  };
}

async function showMalware(part, scanId) {
  const scan = await api(`/api/scan/${scanId}/results`);
  if (RUNNING.has(scan.status)) {
    part.follow("malware", scanId, () => showMalware(part, scanId).catch((err) => part.show(alertBox(err))));
    return;
  }
  const open = link(`/scans/malware/${scanId}`, "Open the malware result", { class: "button" });
  if (scan.status === "failed") {
    part.show(alertBox(`The scan failed: ${scan.error || "unknown error"}`), open);
    return;
  }
  part.show(
    h("p", { class: "big" }, verdictBadge(scan.verdict)),
    dl([["Detection ratio", h("span", {}, h("strong", {}, na(scan.detection_ratio)), " ",
      h("span", { class: "muted" }, ratioWords(scan.detection_ratio)))],
    ["Engines", (scan.engines || []).map((e) => `${e.name}: ${e.state.replace("_", " ")}`).join(" · ") || "none"],
    ["Scanned", fmtDate(scan.scan_date)]]),
    open);
}

async function showMedia(part, scanId) {
  const { data: scan } = await api(`/api/scans/${scanId}`);
  if (RUNNING.has(scan.status)) {
    part.follow("media", scanId, () => showMedia(part, scanId).catch((err) => part.show(alertBox(err))));
    return;
  }
  const open = link(`/scans/media/${scanId}`, "Open the media result", { class: "button" });
  if (scan.status === "FAILED") {
    part.show(alertBox(`The analysis failed: ${scan.error || "unknown error"}`), open);
    return;
  }
  part.show(
    h("p", { class: "big" }, badge(scan.result || "No verdict")),
    dl([["Risk", h("span", { class: `risk ${riskTone(scan.riskScore ?? 0)}` }, `${na(scan.riskScore)} of 100`)],
      ["Confidence", `${na(scan.confidence)} of 100 that the verdict is right`],
      ["Media", scan.mediaType], ["Analysed", fmtDate(scan.timestamp)]]),
    open);
}

// Starts the media scan of a stored file; resolves to {scanId} or {error}.
export async function scanStoredMedia(fileIds, tags) {
  const { data } = await api("/api/files/media-scans", { method: "POST", body: { fileIds, tags: tags || null } });
  return data;
}

function mediaOutcome(part, fileId, item) {
  if (item.scanId) return showMedia(part, item.scanId);
  if (item.error && item.error.code === "UNSUPPORTED_MEDIA") return part.show(h("p", { class: "muted" }, NOT_MEDIA));
  return part.show(alertBox(item.error ? item.error.message : "The analysis could not start."));
}

// The two answers for a file: malwareScanId may be null (not scanned); media is the
// media-scans item ({scanId} or {error}), or null to look the file's media scan up.
export function bothAnswers(file, malwareScanId, media) {
  const malware = half("Is it malicious?", "Malware verdict");
  const authentic = half("Is it authentic?", "Authenticity verdict");
  const fail = (part) => (err) => part.show(alertBox(err));
  if (malwareScanId) showMalware(malware, malwareScanId).catch(fail(malware));
  else {
    malware.show(h("p", { class: "muted" }, "Not scanned yet."),
      h("button", { type: "button", onclick: async () => {
        try {
          const started = await api(`/api/scan/file/${file.id}`, { method: "POST", body: {} });
          await showMalware(malware, started.scan_id);
        } catch (err) { notify(err.message, "error"); }
      } }, "Scan it"));
  }
  if (media) mediaOutcome(authentic, file.id, media);
  else {
    api("/api/scans/history", { query: { search: file.hash_sha256, scope: "own", limit: 1 } })
      .then(({ data }) => {
        if (data.length) return showMedia(authentic, data[0].id);
        if (!/^(image|video|audio)\//.test(file.mime_type)) return authentic.show(h("p", { class: "muted" }, NOT_MEDIA));
        return authentic.show(h("p", { class: "muted" }, "Not analysed yet."),
          h("button", { type: "button", onclick: async () => {
            try {
              const batch = await scanStoredMedia([file.id]);
              await mediaOutcome(authentic, file.id, batch.items[0]);
            } catch (err) { notify(err.message, "error"); }
          } }, "Check its authenticity"));
      }).catch(fail(authentic));
  }
  const el = h("div", { class: "grid answers" }, malware.el, authentic.el);
  return { el, stop: () => { malware.stop(); authentic.stop(); } };
}

export async function filePage(view, { id }) {
  const file = await api(`/api/files/${id}`);
  const scans = await api(`/api/scan/file/${id}`);
  const latest = scans.slice().sort((a, b) => String(b.scan_date).localeCompare(String(a.scan_date)))[0];
  const answers = bothAnswers(file, latest ? latest.scan_id : null, null);
  view.replaceChildren(
    h("h1", {}, file.filename),
    answers.el,
    h("section", { class: "card" }, h("h2", {}, "File"), dl([
      ["Size", fmtSize(file.file_size)], ["Type", file.mime_type],
      ["MD5", h("code", {}, file.hash_md5)], ["SHA-1", h("code", {}, file.hash_sha1)],
      ["SHA-256", h("code", {}, file.hash_sha256)], ["Uploaded", fmtDate(file.upload_date)],
      ["Malware scans", scans.length ? String(scans.length) : "none"],
    ])));
  return answers.stop;
}
