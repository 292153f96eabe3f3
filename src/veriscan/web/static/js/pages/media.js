// A media scan's result: verdict, scores, explanation, evidence, metadata, GPS, tags.

import { api, blobUrl, download } from "../api.js";
import { commentsSection, tagEditor } from "../comments.js";
import { followScan } from "../progress.js";
import { addToCase, sharingPanel } from "../sharing.js";
import { alertBox, badge, barChart, dl, fmtDate, fmtSize, h, na, notify } from "../ui.js";

const SUBSCORES = [
  ["videoScore", "Video"], ["audioScore", "Audio"],
  ["ganFingerprint", "GAN fingerprint"], ["temporalConsistency", "Temporal consistency"],
];

export async function mediaResult(view, { id }, app) {
  const { data: scan } = await api(`/api/scans/${id}`);
  if (scan.status === "PENDING" || scan.status === "PROCESSING") {
    const follower = followScan("media", id, () => setTimeout(() => app.go(`/scans/media/${id}`, { replace: true }), 300));
    view.replaceChildren(h("h1", {}, scan.fileName), follower.el);
    return () => follower.stop();
  }
  const urls = [];
  const evidence = h("div", { class: "evidence" });
  if (!scan.evidence.length) evidence.append(h("p", { class: "muted" }, "No evidence pictures for this scan."));
  for (const item of scan.evidence) {
    const img = h("img", { alt: item.caption || item.name });
    evidence.append(h("figure", {}, img, h("figcaption", {}, item.caption || item.name)));
    blobUrl(item.url).then((url) => { urls.push(url); img.src = url; })
      .catch((err) => img.replaceWith(alertBox(err)));
  }
  const exportButtons = h("div", { class: "actions" }, ["json", "csv", "pdf"].map((format) =>
    h("button", { type: "button", onclick: async (e) => {
      e.target.disabled = true;
      try { await download(`/api/scans/${id}/export?format=${format}`, `media-scan-${id}.${format}`); }
      catch (err) { notify(err.message, "error"); }
      finally { e.target.disabled = false; }
    } }, `Export ${format.toUpperCase()}`)));
  const metadata = Object.entries(scan.metadata || {});
  const gps = scan.gpsCoordinates;
  view.replaceChildren(
    h("h1", {}, scan.fileName, " ", scan.result ? badge(scan.result) : badge(scan.status)),
    scan.error ? alertBox(`Analysis failed: ${scan.error}`) : "",
    h("div", { class: "grid" },
      h("section", { class: "card" },
        h("p", { class: "big" }, scan.result || "No verdict"),
        dl([
          ["Risk score", na(scan.riskScore)], ["Confidence", na(scan.confidence)],
          ...SUBSCORES.map(([k, label]) => [label, na(scan[k])]),
        ]),
        exportButtons),
      barChart("Scores (0-100)", [["Risk", scan.riskScore ?? 0], ["Confidence", scan.confidence ?? 0],
        ...SUBSCORES.filter(([k]) => scan[k] !== null).map(([k, label]) => [label, scan[k]])],
      { tones: { Risk: "bad" } })),
    h("section", { class: "card" }, h("h2", {}, "Explanation"), h("p", { class: "explanation" }, scan.explanation || "n/a")),
    h("section", { class: "card" }, h("h2", {}, "Evidence"), evidence),
    h("div", { class: "grid" },
      h("section", { class: "card" }, h("h2", {}, "File"), dl([
        ["Type", scan.mediaType], ["Size", fmtSize(scan.fileSize)], ["Hash", h("code", {}, scan.hash)],
        ["Uploaded", fmtDate(scan.timestamp)], ["Operative", scan.operative],
        ["Tags", tagEditor(scan)],
        ["GPS", gps ? `${gps.latitude.toFixed(5)}, ${gps.longitude.toFixed(5)}` : "n/a"],
      ])),
      h("section", { class: "card" }, h("h2", {}, "Metadata"),
        metadata.length ? dl(metadata.map(([k, v]) => [k, v !== null && typeof v === "object" ? JSON.stringify(v) : na(v)]))
          : h("p", { class: "muted" }, "No metadata."))),
    h("div", { class: "grid" }, sharingPanel(`/api/scans/${id}`), addToCase("media", id)),
    commentsSection(`/api/scans/${id}/comments`));
  return () => urls.forEach((u) => URL.revokeObjectURL(u));
}
