// Upload by drag and drop (or the file picker), then the scan's live progress.

import { upload as send } from "../api.js";
import { followScan } from "../progress.js";
import { alertBox, field, h, fmtSize } from "../ui.js";

export function uploadPage(view) {
  let file = null;
  const followers = [];
  const errors = h("div");
  const progress = h("progress", { max: 100, value: 0, "aria-label": "Upload progress", hidden: true });
  const progressText = h("span", { class: "muted" });
  const chosen = h("p", { class: "chosen muted" }, "No file chosen.");
  const input = h("input", { type: "file", id: "file-input", name: "file", class: "visually-hidden",
    onchange: () => choose(input.files[0]) });
  const tags = h("input", { name: "tags", placeholder: "case-001, investigation" });
  const tagsField = field("Tags (comma-separated, media only)", tags);
  const mode = h("fieldset", { class: "switch" }, h("legend", {}, "Scan type"),
    h("label", {}, h("input", { type: "radio", name: "kind", value: "malware", checked: true, onchange: sync }), " Malware file scan"),
    h("label", {}, h("input", { type: "radio", name: "kind", value: "media", onchange: sync }), " Media authenticity scan"));
  const submit = h("button", { type: "submit", class: "primary", disabled: true }, "Upload and scan");
  const live = h("div", { class: "live-list" });

  function kind() { return mode.querySelector("input:checked").value; }
  function sync() { tagsField.hidden = kind() !== "media"; }
  function choose(f) {
    file = f || null;
    chosen.textContent = file ? `${file.name} (${fmtSize(file.size)})` : "No file chosen.";
    submit.disabled = !file;
  }

  const drop = h("label", { class: "drop", for: "file-input" },
    h("strong", {}, "Drop a file here"), h("span", {}, "or press to choose one"));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) choose(e.dataTransfer.files[0]);
  });

  const form = h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    if (!file) return;
    errors.replaceChildren();
    submit.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    const k = kind();
    try {
      const { body } = await send(k === "malware" ? "/api/files/upload" : "/api/scans/upload", file,
        k === "media" ? { tags: tags.value } : {},
        (ratio) => { progress.value = Math.round(ratio * 100); progressText.textContent = `Uploading ${progress.value}%`; });
      progress.value = 100;
      progressText.textContent = "Uploaded.";
      const scanId = k === "malware" ? body.scan && body.scan.scan_id : body.data.id;
      if (!scanId) {
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
      submit.disabled = !file;
    }
  } }, h("h1", {}, "Upload"), errors, mode, input, drop, chosen, tagsField,
  h("div", { class: "progress-row" }, progress, progressText), submit);
  sync();
  view.replaceChildren(form, live);
  return () => followers.forEach((f) => f.stop());
}
