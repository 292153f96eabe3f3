// Small DOM helpers, formatters and SVG charts (no framework, no inline styles).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

// A bell drawn inline (an emoji shows as a box where no emoji font is installed).
export function bellIcon() {
  const svg = s("svg", { viewBox: "0 0 24 24", width: "18", height: "18", class: "icon", "aria-hidden": "true", focusable: "false" });
  svg.append(
    s("path", { d: "M12 3a6 6 0 0 0-6 6v3.6L4.3 15.4A1 1 0 0 0 5.2 17h13.6a1 1 0 0 0 .9-1.6L18 12.6V9a6 6 0 0 0-6-6Z", fill: "none", stroke: "currentColor", "stroke-width": "2", "stroke-linejoin": "round" }),
    s("path", { d: "M9.5 19.5a2.5 2.5 0 0 0 5 0", fill: "none", stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round" }));
  return svg;
}

export function link(href, text, attrs = {}) {
  return h("a", { href, "data-link": true, ...attrs }, text);
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input,
    hint ? h("small", { class: "muted" }, hint) : null);
}

export function select(name, options, value) {
  return h("select", { name },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

export function alertBox(error, kind = "error") {
  const text = typeof error === "string" ? error : error.message;
  return h("div", { class: `alert ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

export function notify(text, kind = "ok") {
  const box = document.getElementById("notice");
  box.replaceChildren(h("div", { class: `alert ${kind}` }, text));
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => box.replaceChildren(), 5000);
}

export function empty(text, action) {
  return h("div", { class: "empty" }, h("p", {}, text), action || null);
}

export function fmtDate(value) {
  if (!value) return "n/a";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
}

export function fmtSize(bytes) {
  if (bytes === null || bytes === undefined) return "n/a";
  const units = ["B", "KB", "MB", "GB"];
  let n = bytes, i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function na(value) {
  return value === null || value === undefined || value === "" ? "n/a" : String(value);
}

// A user as "Name (username)", or just the username when the name is the same.
export function personName(user) {
  return user.name && user.name !== user.username ? `${user.name} (${user.username})` : user.username;
}

export function dl(pairs) {
  return h("dl", { class: "facts" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function badge(text, tone) {
  return h("span", { class: `badge ${tone || String(text).toLowerCase()}` }, text);
}

// A malware verdict in words (the API's `verdict`), coloured by what it means: a green
// "clean" only when VirusTotal's engines answered; local rules alone are neutral.
const VERDICT_TONES = {
  malicious: "malicious", suspicious: "suspicious", failed: "failed", pending: "pending",
  "no engine detected it": "clean", "no local rule matched": "local",
};
export function verdictBadge(verdict) {
  return badge(verdict || "no verdict", VERDICT_TONES[verdict] || "neutral");
}

// A horizontal bar chart: [[label, value], ...]. Colours come from CSS classes.
export function barChart(title, rows, { tones = {} } = {}) {
  const max = Math.max(1, ...rows.map(([, v]) => v));
  const rowH = 26, labelW = 130, width = 420, barW = width - labelW - 50;
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${rows.length * rowH + 4}`, role: "img", class: "chart",
    "aria-label": `${title}: ` + rows.map(([l, v]) => `${l} ${v}`).join(", "),
  });
  svg.append(s("title", {}, title));
  rows.forEach(([label, value], i) => {
    const y = i * rowH + 2;
    svg.append(s("text", { x: labelW - 8, y: y + 16, "text-anchor": "end", class: "chart-label" }, label));
    svg.append(s("rect", { x: labelW, y: y + 3, width: barW, height: 18, rx: 3, class: "chart-track" }));
    const w = value ? Math.max(2, (value / max) * barW) : 0;
    svg.append(s("rect", { x: labelW, y: y + 3, width: w, height: 18, rx: 3,
      class: `chart-bar ${tones[label] || ""}` }));
    svg.append(s("text", { x: labelW + w + 6, y: y + 16, class: "chart-value" }, String(value)));
  });
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title), svg);
}

// A sortable table: columns [{key, label, render?}], rows of objects.
export function sortableTable(columns, rows, { caption, initial } = {}) {
  let sortKey = initial || columns[0].key;
  let direction = 1;
  const tbody = h("tbody");
  const heads = columns.map((col) => {
    const button = h("button", { type: "button", class: "sort", onclick: () => {
      direction = sortKey === col.key ? -direction : 1;
      sortKey = col.key;
      draw();
    } }, col.label);
    return h("th", { scope: "col", "data-key": col.key }, button);
  });
  function draw() {
    const sorted = [...rows].sort((a, b) => {
      const x = a[sortKey] ?? "", y = b[sortKey] ?? "";
      return (typeof x === "number" && typeof y === "number" ? x - y
        : String(x).localeCompare(String(y), undefined, { numeric: true })) * direction;
    });
    heads.forEach((th) => {
      th.setAttribute("aria-sort", th.dataset.key === sortKey
        ? (direction > 0 ? "ascending" : "descending") : "none");
    });
    tbody.replaceChildren(...sorted.map((row) => h("tr", {},
      columns.map((col) => h("td", { "data-label": col.label },
        col.render ? col.render(row) : na(row[col.key]))))));
    if (!sorted.length) {
      tbody.append(h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "Nothing matches.")));
    }
  }
  const table = h("table", { class: "table" },
    caption ? h("caption", {}, caption) : null, h("thead", {}, h("tr", {}, heads)), tbody);
  table.update = (newRows) => { rows = newRows; draw(); };
  draw();
  return table;
}

export function pager(pagination, onPage) {
  const { page, pages } = pagination;
  return h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", disabled: page <= 1, onclick: () => onPage(page - 1) }, "Previous"),
    h("span", {}, `Page ${page} of ${Math.max(1, pages)}`),
    h("button", { type: "button", disabled: page >= pages, onclick: () => onPage(page + 1) }, "Next"));
}

// A chart over time: per label, one column of the series stacked ("columns"), or one line
// per series ("lines"). series: [{name, values, tone}], values aligned with labels.
export function trendChart(title, labels, series, { kind = "columns" } = {}) {
  const width = 960, height = 240, left = 36, right = 8, top = 10, bottom = 30;
  const plotW = width - left - right, plotH = height - top - bottom;
  const peaks = labels.map((_, i) => kind === "columns"
    ? series.reduce((sum, x) => sum + x.values[i], 0)
    : Math.max(0, ...series.map((x) => x.values[i])));
  const max = Math.max(1, ...peaks);
  const slot = plotW / Math.max(1, labels.length);
  const y = (v) => top + plotH - (v / max) * plotH;
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart trend",
    "aria-label": `${title}: ` + labels.map((l, i) =>
      `${l} ` + series.map((x) => `${x.name} ${x.values[i]}`).join(" ")).join(", "),
  });
  svg.append(s("title", {}, title));
  for (const v of [0, max]) {
    svg.append(s("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), class: "chart-axis" }));
    svg.append(s("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "chart-value" }, String(v)));
  }
  const every = Math.ceil(labels.length / 8);
  labels.forEach((label, i) => {
    if (i % every === 0) {
      svg.append(s("text", { x: left + i * slot + slot / 2, y: height - 10, "text-anchor": "middle", class: "chart-label" }, label));
    }
  });
  if (kind === "columns") {
    labels.forEach((label, i) => {
      let base = 0;
      for (const x of series) {
        const v = x.values[i];
        if (!v) continue;
        const bar = s("rect", { x: left + i * slot + slot * 0.15, y: y(base + v), width: slot * 0.7,
          height: y(base) - y(base + v), class: `chart-bar ${x.tone || ""}` });
        bar.append(s("title", {}, `${label}: ${x.name} ${v}`));
        svg.append(bar);
        base += v;
      }
    });
  } else {
    for (const x of series) {
      const points = x.values.map((v, i) => `${left + i * slot + slot / 2},${y(v)}`);
      svg.append(s("polyline", { points: points.join(" "), class: `trend-line ${x.tone || ""}` }));
      x.values.forEach((v, i) => {
        const dot = s("circle", { cx: left + i * slot + slot / 2, cy: y(v), r: 2.5, class: `trend-dot ${x.tone || ""}` });
        dot.append(s("title", {}, `${labels[i]}: ${x.name} ${v}`));
        svg.append(dot);
      });
    }
  }
  const legend = h("ul", { class: "legend" },
    series.map((x) => h("li", {}, h("span", { class: `swatch ${x.tone || ""}` }), x.name)));
  return h("figure", { class: "trend-box" }, h("figcaption", {}, title), svg, legend);
}
