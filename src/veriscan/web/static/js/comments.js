// A scan's comments (both kinds) and a media scan's tag editor, for the result pages.

import { api, session } from "./api.js";
import { alertBox, badge, empty, fmtDate, h, notify, pager } from "./ui.js";

const PAGE_SIZE = 20;

// The comments of the scan whose comments live at `base` (`/api/scans/{id}/comments` or
// `/api/scan/{id}/comments`): oldest first, pages, a form to add one; the author edits
// and deletes their own, an admin deletes any.
export function commentsSection(base) {
  const me = session.user || {};
  const list = h("div", { class: "comments" });
  const text = h("textarea", { name: "comment", rows: 3, maxlength: 5000, required: true, "aria-label": "New comment" });
  let page = 1;

  function item(comment) {
    const body = h("p", { class: "comment-body" }, comment.body);
    const actions = h("div", { class: "actions" });
    if (comment.authorId === me.id) {
      actions.append(h("button", { type: "button", onclick: () => {
        const editor = h("textarea", { name: "edit-comment", rows: 3, maxlength: 5000, "aria-label": "Edit comment" });
        editor.value = comment.body;
        const save = h("button", { type: "button", onclick: async () => {
          try {
            await api(`/api/comments/${comment.id}`, { method: "PATCH", body: { body: editor.value } });
            await load();
          } catch (err) { notify(err.message, "error"); }
        } }, "Save");
        body.replaceWith(h("div", {}, editor, h("div", { class: "actions" }, save,
          h("button", { type: "button", onclick: () => load() }, "Cancel"))));
        actions.replaceChildren();
      } }, "Edit"));
    }
    if (comment.authorId === me.id || me.role === "admin") {
      actions.append(h("button", { type: "button", onclick: async () => {
        if (!confirm("Delete this comment?")) return;
        try {
          await api(`/api/comments/${comment.id}`, { method: "DELETE" });
          await load();
        } catch (err) { notify(err.message, "error"); }
      } }, "Delete"));
    }
    return h("article", { class: "comment" },
      h("p", { class: "muted" }, h("strong", {}, comment.authorUsername), " · ", fmtDate(comment.createdAt),
        comment.editedAt ? ` (edited ${fmtDate(comment.editedAt)})` : ""),
      body, actions);
  }

  async function load(to = page) {
    try {
      const listed = await api(base, { query: { page: to, limit: PAGE_SIZE } });
      page = to;
      list.replaceChildren(
        ...(listed.data.length ? listed.data.map(item) : [empty("No comments yet.")]),
        listed.pagination.pages > 1 ? pager(listed.pagination, load) : "");
    } catch (err) { list.replaceChildren(alertBox(err)); }
  }

  const form = h("form", { class: "comment-form", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const created = await api(base, { method: "POST", body: { body: text.value } });
      text.value = "";
      const total = (await api(base, { query: { page: 1, limit: PAGE_SIZE } })).pagination.total;
      await load(Math.max(1, Math.ceil(total / PAGE_SIZE)));
      notify(`Comment added by ${created.data.authorUsername}.`);
    } catch (err) { notify(err.message, "error"); }
  } }, text, h("div", { class: "actions" }, h("button", { type: "submit" }, "Add comment")));

  load();
  return h("section", { class: "card" }, h("h2", {}, "Comments"), list, form);
}

// A media scan's tags with a field to replace them (comma-separated).
export function tagEditor(scan) {
  const shown = h("span", {});
  const input = h("input", { type: "text", name: "tags", "aria-label": "Tags (comma-separated)" });
  function show(tags) {
    shown.replaceChildren(...(tags.length ? tags.map((t) => badge(t, "tag")) : ["none"]));
    input.value = tags.join(", ");
  }
  show(scan.tags);
  const form = h("form", { class: "tag-form", onsubmit: async (e) => {
    e.preventDefault();
    const tags = input.value.split(",").map((t) => t.trim()).filter(Boolean);
    try {
      const updated = await api(`/api/scans/${scan.id}/tags`, { method: "PATCH", body: { tags } });
      show(updated.data.tags);
      notify("Tags saved.");
    } catch (err) { notify(err.message, "error"); }
  } }, input, h("button", { type: "submit" }, "Save tags"));
  return h("span", {}, shown, form);
}
