// A media scan's result: verdict, scores, explanation, evidence, metadata, GPS, tags.

import { api, blobUrl, download } from "../api.js";
import { commentsSection, tagEditor } from "../comments.js";
import { followScan } from "../progress.js";
import { addToCase, sharingPanel } from "../sharing.js";
import { alertBox, badge, barChart, dl, fmtDate, fmtSize, h, link, na, notify } from "../ui.js";

const SUBSCORES = [
  ["videoScore", "Video"], ["audioScore", "Audio"],
  ["ganFingerprint", "GAN fingerprint"], ["temporalConsistency", "Temporal consistency"],
];
// What each number means, and which way is bad.
const HINTS = {
  riskScore: "0 = no sign of manipulation, 100 = certainly manipulated",
  confidence: "how sure the verdict is, 0 to 100",
  videoScore: "risk from the video's frames and faces; higher is worse",
  audioScore: "risk from the soundtrack or recording; higher is worse",
  ganFingerprint: "how much the picture's spectrum looks generated; higher is worse",
  temporalConsistency: "how steady the frames are over time; higher is more natural",
};
const TRUST = {
  trusted: "intact, signed by a signer this server trusts",
  untrusted: "intact, but the signer is not in this server's trust list",
  valid: "intact (no trust list configured)",
  invalid: "the manifest fails validation: the file was changed after signing, or the signature is bad",
};

// C2PA's failure codes in words (the code itself stays beside them).
const FAILURES = {
  "signingCredential.untrusted": "the signing certificate is not in the trust list",
  "signingCredential.expired": "the signing certificate had expired",
  "signingCredential.revoked": "the signing certificate was revoked",
  "claimSignature.mismatch": "the claim's signature does not match",
  "assertion.dataHash.mismatch": "the file's bytes changed after it was signed",
  "assertion.bmffHash.mismatch": "the file's bytes changed after it was signed",
  "assertion.hashedURI.mismatch": "an assertion changed after it was signed",
  "assertion.missing": "an assertion the claim lists is missing",
  "manifest.inaccessible": "the manifest could not be read",
};

function riskTone(value) {
  return value >= 70 ? "bad" : value >= 40 ? "warn" : "good";
}

// A score with its meaning beside it.
function scoreRow(key, label, value) {
  return [label, h("span", {}, h("strong", {}, String(value)), " ", h("span", { class: "muted hint" }, HINTS[key]))];
}

// The explanation as a short list: one line per finding.
function explanationList(text) {
  const lines = String(text || "").split(/(?<=[.;!?])\s+(?=[A-Z0-9])/).map((l) => l.trim()).filter(Boolean);
  if (!lines.length) return h("p", { class: "muted" }, "No explanation.");
  return h("ul", { class: "explanation" }, lines.map((l) => h("li", {}, l)));
}

// Content Credentials (C2PA) in words, from the provenance analyzer's metadata.
function credentialsPanel(metadata) {
  const c2pa = metadata.c2pa;
  const rows = [];
  if (!c2pa || !c2pa.state || c2pa.state === "none") {
    rows.push(["Content Credentials", "none in this file"]);
  } else {
    rows.push(["Trust", h("span", {}, badge(c2pa.state, c2pa.state === "invalid" ? "failed" : c2pa.state === "trusted" ? "valid" : "neutral"), " ", TRUST[c2pa.state] || "")]);
    if (c2pa.signer) rows.push(["Signer", c2pa.signer]);
    if (c2pa.issuer) rows.push(["Issuer", c2pa.issuer]);
    if (c2pa.claimGenerator) rows.push(["Claim generator", c2pa.claimGenerator]);
    if (c2pa.actions && c2pa.actions.length) {
      rows.push(["Actions", c2pa.actions.map((a) => a.replace(/^c2pa\./, "")).join(", ")]);
    }
    if (c2pa.ingredients && c2pa.ingredients.length) {
      rows.push(["Ingredients", h("ul", {}, c2pa.ingredients.map((i) => h("li", {}, `${i.title} (${i.relationship})`)))]);
    }
    if (c2pa.failures && c2pa.failures.length) {
      rows.push(["Validation failures", h("ul", {}, c2pa.failures.map((f) =>
        h("li", {}, FAILURES[f] ? `${FAILURES[f]} ` : "", h("code", {}, f))))]);
    }
    if (c2pa.error) rows.push(["Could not be read", c2pa.error]);
  }
  rows.push(["AI declared", metadata.aiDeclared ? "yes" : "no"]);
  if (metadata.generator) rows.push(["Generator", metadata.generator]);
  if (metadata.digitalSourceTypes && metadata.digitalSourceTypes.length) {
    rows.push(["Digital source", metadata.digitalSourceTypes.map((t) => t.split("/").pop()).join(", ")]);
  }
  return h("section", { class: "card", "aria-label": "Content Credentials" }, h("h2", {}, "Content Credentials"), dl(rows));
}

// GPS as coordinates, with a link to the place on OpenStreetMap (no map is loaded here).
function place(gps) {
  if (!gps) return null;
  const lat = gps.latitude.toFixed(5), lon = gps.longitude.toFixed(5);
  return h("span", {}, `${lat}, ${lon} `, h("a", {
    href: `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`,
    target: "_blank", rel: "noopener noreferrer",
  }, "Show on OpenStreetMap"));
}

const SHOWN_ELSEWHERE = new Set(["c2pa", "aiDeclared", "generator", "digitalSourceTypes", "gpsCoordinates", "camera"]);

// Camera, lens, capture time and software, as the picture's EXIF says.
function cameraRows(camera) {
  if (!camera) return [];
  const rows = [];
  const body = [camera.make, camera.model].filter(Boolean).join(" ");
  if (body) rows.push(["Camera", body]);
  if (camera.lens) rows.push(["Lens", camera.lens]);
  if (camera.captured) rows.push(["Captured", `${camera.captured} (the camera's clock)`]);
  if (camera.software) rows.push(["Software", camera.software]);
  return rows;
}

function clock(seconds) {
  const m = Math.floor(seconds / 60);
  return `${m}:${(seconds - 60 * m).toFixed(1).padStart(4, "0")}`;
}

// The file itself, fetched with the token: a picture; a video player with the sampled
// frames marked on a strip below it (press one to go there); a recording with its
// spectrogram under the player.
function theFile(scan, id, urls) {
  const tag = { IMAGE: "img", VIDEO: "video", AUDIO: "audio" }[scan.mediaType] || "img";
  const player = h(tag, tag === "img" ? { alt: scan.fileName, class: "original" }
    : { controls: true, preload: "metadata", class: "original" });
  const section = h("section", { class: "card", "aria-label": "The file" }, h("h2", {}, "The file"), player);
  blobUrl(`/api/scans/${id}/file`).then((url) => { urls.push(url); player.src = url; })
    .catch((err) => player.replaceWith(alertBox(err)));
  if (tag === "video" && scan.frames && scan.frames.length) {
    const last = Math.max(...scan.frames.map((f) => f.time), 0.001);
    const strip = h("div", { class: "frame-strip", role: "group", "aria-label": "Sampled frames" });
    const list = h("ol", { class: "frames" });
    for (const frame of scan.frames) {
      const words = `${clock(frame.time)}: risk ${frame.score ?? "n/a"}${frame.faces ? `, ${frame.faces} face${frame.faces === 1 ? "" : "s"}` : ""}`;
      const seek = () => { player.currentTime = frame.time; player.focus(); };
      const tone = frame.score === null ? "neutral" : riskTone(frame.score);
      const mark = h("button", { type: "button", class: `mark ${tone}`, title: words, "aria-label": `Go to the frame at ${words}`, onclick: seek });
      mark.style.left = `calc(${(100 * frame.time / last).toFixed(2)}% - 0.3rem)`;  // CSSOM: allowed by the CSP
      strip.append(mark);
      list.append(h("li", {}, h("button", { type: "button", class: "link", onclick: seek }, words)));
    }
    section.append(h("p", { class: "muted" }, `The ${scan.frames.length} frames the analysis sampled (coloured by their risk):`),
      strip, list);
  }
  const spectrogram = (scan.evidence || []).find((e) => e.name === "spectrogram");
  if (tag === "audio" && spectrogram) {
    const img = h("img", { alt: spectrogram.caption, class: "spectrogram" });
    blobUrl(spectrogram.url).then((url) => { urls.push(url); img.src = url; }).catch(() => img.remove());
    section.append(h("figure", {}, img, h("figcaption", {}, spectrogram.caption)));
  }
  return section;
}

export async function mediaResult(view, { id }, app) {
  const { data: scan } = await api(`/api/scans/${id}`);
  if (scan.status === "PENDING" || scan.status === "PROCESSING") {
    const follower = followScan("media", id, () => setTimeout(() => app.go(`/scans/media/${id}`, { replace: true }), 300));
    view.replaceChildren(h("h1", {}, scan.fileName), follower.el);
    return () => follower.stop();
  }
  const urls = [];
  const original = theFile(scan, id, urls);
  // The same content among the caller's stored files: its page has both answers.
  const both = h("p", {});
  api("/api/files/", { query: { hash: scan.hash.replace(/^sha256:/, "") } }).then((found) => {
    if (found.length) both.replaceChildren(link(`/files/${found[0].id}`, "Both answers for this file (malware and authenticity)"));
  }).catch(() => {});
  const evidence = h("div", { class: "evidence" });
  if (!scan.evidence.length) evidence.append(h("p", { class: "muted" }, "No evidence pictures for this scan."));
  for (const item of scan.evidence) {
    const img = h("img", { alt: item.caption || item.name });
    const full = h("a", { class: "full-size", target: "_blank", rel: "noopener" }, img);
    evidence.append(h("figure", {}, full, h("figcaption", {}, item.caption || item.name, " · ",
      h("span", { class: "muted" }, "open full size"))));
    blobUrl(item.url).then((url) => { urls.push(url); img.src = url; full.href = url; })
      .catch((err) => img.replaceWith(alertBox(err)));
  }
  const exportButtons = h("div", { class: "actions" }, ["json", "csv", "pdf"].map((format) =>
    h("button", { type: "button", onclick: async (e) => {
      e.target.disabled = true;
      try { await download(`/api/scans/${id}/export?format=${format}`, `media-scan-${id}.${format}`); }
      catch (err) { notify(err.message, "error"); }
      finally { e.target.disabled = false; }
    } }, `Export ${format.toUpperCase()}`)));
  const metadata = Object.entries(scan.metadata || {})
    .filter(([k, v]) => !SHOWN_ELSEWHERE.has(k) && v !== null && v !== "");
  const gps = scan.gpsCoordinates;
  // Scores that apply to this medium only (no "n/a" rows for a still picture's video score).
  const subscores = SUBSCORES.filter(([k]) => scan[k] !== null && scan[k] !== undefined);
  view.replaceChildren(
    h("h1", {}, scan.fileName, " ", scan.result ? badge(scan.result) : badge(scan.status)),
    scan.error ? alertBox(`Analysis failed: ${scan.error}`) : "",
    h("div", { class: "grid" },
      h("section", { class: "card" },
        h("p", { class: "big" }, scan.result || "No verdict"),
        dl([
          scan.riskScore !== null ? scoreRow("riskScore", "Risk score", scan.riskScore) : ["Risk score", na(null)],
          scan.confidence !== null ? scoreRow("confidence", "Confidence", scan.confidence) : ["Confidence", na(null)],
          ...subscores.map(([k, label]) => scoreRow(k, label, scan[k])),
        ]),
        exportButtons),
      barChart("Scores (0-100)", [["Risk", scan.riskScore ?? 0], ["Confidence", scan.confidence ?? 0],
        ...subscores.map(([k, label]) => [label, scan[k]])],
      { tones: { Risk: riskTone(scan.riskScore ?? 0) } })),
    original,
    h("section", { class: "card" }, h("h2", {}, "Explanation"), explanationList(scan.explanation)),
    h("section", { class: "card" }, h("h2", {}, "Evidence"), evidence),
    h("div", { class: "grid" },
      h("section", { class: "card" }, h("h2", {}, "File"), dl([
        ["Type", scan.mediaType], ["Size", fmtSize(scan.fileSize)], ["Hash", h("code", {}, scan.hash)],
        ["Uploaded", fmtDate(scan.timestamp)], ["Operative", scan.operative],
        ["Tags", tagEditor(scan)],
        ...cameraRows((scan.metadata || {}).camera),
        ...(gps ? [["GPS", place(gps)]] : []),
      ]), both),
      credentialsPanel(scan.metadata || {}),
      h("section", { class: "card" }, h("h2", {}, "Metadata"),
        metadata.length ? dl(metadata.map(([k, v]) => [k, v !== null && typeof v === "object" ? JSON.stringify(v) : na(v)]))
          : h("p", { class: "muted" }, "No metadata."))),
    h("div", { class: "grid" }, sharingPanel(`/api/scans/${id}`), addToCase("media", id)),
    commentsSection(`/api/scans/${id}/comments`));
  return () => urls.forEach((u) => URL.revokeObjectURL(u));
}
