"use strict";
// The leaderboard: every metric with its CI and tie mark, sortable by any column from mouse or keyboard.
const EFFICIENCY = [["params_total", "params", 0], ["params_trainable", "trainable", 0],
  ["image_tokens", "img tokens", 0], ["train_time_s", "train s", 1], ["reports_per_s", "reports/s", 1],
  ["peak_memory_mb", "peak MB", 0]];

function boardColumns() {
  const cols = [{key: "name", label: "system", text: r => r.name, sort: r => r.name},
    {key: "kind", label: "kind", text: r => r.kind, sort: r => r.kind},
    {key: "origin", label: "weights from", text: r => r.origin, sort: r => r.origin}];
  // the headline first, then the clinical (CheXpert) metrics, then the wording metrics
  const rank = m => (m === DATA.headline ? 0 : m.startsWith("chexpert") ? 1 : 2);
  for (const m of [...DATA.metrics].sort((a, b) => rank(a) - rank(b))) {
    const higher = DATA.rows.some(r => r.metrics[m] && r.metrics[m][4]);
    cols.push({key: m, label: `${m} ${higher ? "↑" : "↓"}`, metric: m, higher,
      sort: r => (r.metrics[m] ? r.metrics[m][0] : null),
      text: r => {
        const c = r.metrics[m];
        if (!c) return "–";
        const tie = DATA.best[m] !== r.name && c[3] !== null && c[3] >= 0.05 ? " ≈" : "";
        return withCi(c[0], c[1], c[2]) + tie;
      }});
  }
  const h = DATA.headline;
  cols.push({key: "p", label: `p vs best (${h})`, sort: r => (r.metrics[h] ? r.metrics[h][3] : null),
    text: r => (DATA.best[h] === r.name ? "best" : pText(r.metrics[h] && r.metrics[h][3]))});
  for (const [key, label, digits] of EFFICIENCY) {
    cols.push({key, label, sort: r => r.efficiency[key] ?? null, text: r => fmtCount(r.efficiency[key], digits)});
  }
  return cols;
}

function pText(p) {
  if (p === null || p === undefined) return "–";
  return p < 0.001 ? "< 0.001" : p.toFixed(3);  // the paired test's floor is 1/(resamples + 1)
}

function fmtCount(value, digits) {
  if (value === null || value === undefined) return "–";
  return value.toLocaleString("en", {minimumFractionDigits: digits, maximumFractionDigits: digits});
}

function renderBoard(order, sortKey, direction) {
  const table = document.getElementById("board");
  const cols = boardColumns();
  table.replaceChildren(el("caption", {className: "visually-hidden",
    text: "Leaderboard: one row per system; column headers sort the rows"}));
  const head = el("tr");
  for (const col of cols) {
    const sorted = col.key === sortKey ? (direction > 0 ? "ascending" : "descending") : null;
    const button = el("button", {type: "button", "data-sort": col.key, text: col.label});
    button.addEventListener("click", () => sortBoard(col, sortKey === col.key ? -direction : null));
    head.append(el("th", {scope: "col", className: col.key === "name" ? "name" : null, "aria-sort": sorted}, button));
  }
  table.append(el("thead", {}, head));
  const body = el("tbody");
  for (const row of order) {
    const tr = el("tr", {className: row.kind, "data-system": row.name});
    for (const col of cols) {
      const best = col.metric && DATA.best[col.metric] === row.name;
      const cls = [["name", "kind", "origin"].includes(col.key) ? "name" : "", best ? "best" : ""].join(" ").trim();
      tr.append(el(col.key === "name" ? "th" : "td", {scope: col.key === "name" ? "row" : null,
        className: cls || null, title: col.key === "name" ? row.description : null}, col.text(row)));
    }
    body.append(tr);
  }
  table.append(body);
  if (sortKey) table.querySelector(`button[data-sort="${CSS.escape(sortKey)}"]`).focus();
}

function sortBoard(col, direction) {
  // first click: best first (descending where higher is better, text columns A-Z)
  const dir = direction ?? (col.metric ? (col.higher ? -1 : 1) : 1);
  const rows = [...DATA.rows].sort((a, b) => {
    const x = col.sort(a), y = col.sort(b);
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * dir;
  });
  renderBoard(rows, col.key, dir);
}

function renderContext() {
  const list = document.getElementById("context");
  for (const [key, value] of Object.entries(DATA.context)) {
    if (key !== "best") list.append(el("li", {text: `${key.replaceAll("_", " ")}: ${value}`}));
  }
  const plots = document.getElementById("plots");
  for (const plot of Object.values(DATA.plots)) {
    if (plot.src) plots.append(el("img", {src: plot.src, alt: plot.alt}));
  }
}

renderContext();
renderBoard(DATA.rows, null, 0);
