"use strict";
// The study browser: one card per test study (image, reports side by side, labels against the reference,
// per-study metrics), with filters, sorting and paging. The page holds only what filters and sorts read (ids,
// labels, per-study metrics); each page's report texts and images load from shard scripts next to the page
// (data/studies-NNNNN.js: a <script src> works from file://, where fetch() is refused).
const ST = DATA.studies;
const SYSTEMS = DATA.rows.map(r => r.name);
const KIND = Object.fromEntries(DATA.rows.map(r => [r.name, r.kind]));
const COUNTS_POSITIVE = DATA.findings.uncertain === "positive" ? "1u" : "1";
const view = {order: [], page: 0, rendering: 0, firstScreenAt: 0, completeAt: 0};
const FIRST_SCREEN = 6;  // cards built at once; the rest of the page follows in small tasks, so input stays live

const shards = new Map();   // shard number -> its texts and images, once its script ran
const loading = new Map();  // shard number -> {promise, resolve} while its script loads
window.radzooStudies = (k, data) => {
  shards.set(k, data);
  if (loading.has(k)) loading.get(k).resolve();
};

function shardFile(k) {
  return ST.shard_pattern.replace("00000", String(k).padStart(5, "0"));
}

function loadShard(k) {
  if (shards.has(k)) return Promise.resolve();
  if (!loading.has(k)) {
    let resolve, reject;
    const promise = new Promise((yes, no) => { resolve = yes; reject = no; });
    const script = el("script", {src: shardFile(k)});
    const fail = () => { loading.delete(k); script.remove(); reject(new Error(shardFile(k))); };
    script.onerror = fail;
    script.onload = () => { script.remove(); if (!shards.has(k)) fail(); };
    loading.set(k, {promise, resolve});
    document.head.append(script);
  }
  return loading.get(k).promise;
}

// study i's shard and its place in it (the shard is loaded before a card is built)
function shardOf(i) {
  return [shards.get(Math.floor(i / ST.shard_size)), i % ST.shard_size];
}

// per system, each study's positive labels as 14 bits: computed once, so filters and sorts stay fast at 30,000
const positiveBits = new Map();
function positives(name) {
  if (!positiveBits.has(name)) {
    const labels = ST.systems[name].labels, bits = new Int32Array(labels.length);
    labels.forEach((code, i) => {
      let b = 0;
      for (let k = 0; k < code.length; k++) if (COUNTS_POSITIVE.includes(code[k])) b |= 1 << k;
      bits[i] = b;
    });
    positiveBits.set(name, bits);
  }
  return positiveBits.get(name);
}

// observations on which the chosen systems' positive labels are not all the same
function disagreements(i, names) {
  const first = positives(names[0])[i];
  let differ = 0;
  for (const n of names) differ |= positives(n)[i] ^ first;
  let count = 0;
  for (; differ; differ &= differ - 1) count++;
  return count;
}

function hasError(i, system, wanted) {
  const ref = ST.reference.labels[i], pred = ST.systems[system].labels[i];
  for (let k = 0; k < OBS.length; k++) {
    const kind = labelKind(ref[k], pred[k]);
    if (kind === wanted || (wanted === "error" && (kind === "miss" || kind === "invent"))) return true;
  }
  return false;
}

function selectedStudies() {
  const finding = document.getElementById("f-finding").value;
  const system = document.getElementById("f-system").value;
  const error = document.getElementById("f-error").value;
  const disagree = document.getElementById("f-disagree").value;
  const idPart = document.getElementById("f-id").value.trim().toLowerCase();
  const among = disagree === "learned" ? SYSTEMS.filter(n => KIND[n] === "learned") : SYSTEMS;
  const findingIndex = OBS.indexOf(finding);
  const keep = [];
  ST.ids.forEach((id, i) => {
    if (findingIndex >= 0 && ST.reference.labels[i][findingIndex] !== "1") return;
    if (error && !hasError(i, system, error)) return;
    if (disagree && disagreements(i, among) === 0) return;
    if (idPart && !id.toLowerCase().includes(idPart)) return;
    keep.push(i);
  });
  const key = document.getElementById("sort-key").value;
  const sign = document.getElementById("sort-order").value === "asc" ? 1 : -1;
  if (key !== "order") {
    let value;
    if (key === "disagreement") value = i => disagreements(i, SYSTEMS);
    else {
      const [name, metric] = JSON.parse(key);
      const values = ST.systems[name].metrics[metric];
      value = i => values[i];
    }
    const of = new Map(keep.map(i => [i, value(i)]));  // each value once, not once per comparison
    keep.sort((a, b) => {
      const x = of.get(a), y = of.get(b);
      if (x === null) return y === null ? a - b : 1;  // no value: last, whatever the order
      if (y === null) return -1;
      return x === y ? a - b : (x - y) * sign;
    });
  }
  return keep;
}

function chips(codes, ref) {
  const list = el("ul", {className: "labels", "aria-label": "CheXpert labels"});
  OBS.forEach((obs, k) => {
    const code = codes[k];
    const kind = ref === null ? {"1": "positive", "0": "negative", "u": "unsure", ".": "blank"}[code]
      : labelKind(ref[k], code);
    const words = ref === null ? `${obs}: ${LABEL_WORD[code]}`
      : `${obs}: ${LABEL_WORD[code]}, reference ${LABEL_WORD[ref[k]]} (${kind === "absent" ? "agree" : kind})`;
    list.append(el("li", {className: `chip ${kind}`, "data-obs": obs, "data-label": LABEL_VALUE[code],
      "data-kind": kind, title: words}, `${SHORT[obs]} ${LABEL_SIGN[code]}`,
      el("span", {className: "visually-hidden", text: ` (${words})`})));
  });
  return list;
}

function reportColumn(i, name) {
  const isRef = name === null;
  const source = isRef ? ST.reference : ST.systems[name];
  const [part, j] = shardOf(i);
  const text = isRef ? part.reference[j] : part.systems[name][j];
  const column = el("section", {className: `report ${isRef ? "reference" : KIND[name]}`,
    "data-system": isRef ? "reference" : name}, el("h4", {text: isRef ? "Reference" : name}),
    el("p", {text: text || "(empty report)"}),
    chips(source.labels[i], isRef ? null : ST.reference.labels[i]));
  if (!isRef) {
    const metrics = el("p", {className: "study-metrics"});
    for (const [metric, values] of Object.entries(source.metrics)) {
      metrics.append(el("span", {"data-metric": metric, text: `${metric.replace("chexpert_", "")} ${fmt(values[i])}`}));
    }
    column.append(metrics);
  }
  return column;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const BOX_COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

// the grounded systems' boxes over the frontal image, in its original pixels (the SVG stretches with the image)
function boxOverlay(i, size) {
  const [part, j] = shardOf(i);
  const grounded = Object.entries(part.grounding || {}).filter(([, rows]) => rows[j]);
  if (!grounded.length || !size) return null;
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "boxes");
  svg.setAttribute("viewBox", `0 0 ${size[0]} ${size[1]}`);
  svg.setAttribute("preserveAspectRatio", "none");
  grounded.forEach(([name, rows], n) => {
    for (const {phrase, boxes} of rows[j]) {
      for (const [x0, y0, x1, y1] of boxes) {
        const rect = document.createElementNS(SVG_NS, "rect");
        const attrs = {x: x0, y: y0, width: x1 - x0, height: y1 - y0, stroke: BOX_COLOURS[n % BOX_COLOURS.length],
          "data-system": name, "data-phrase": phrase};
        for (const [k, v] of Object.entries(attrs)) rect.setAttribute(k, v);
        const title = document.createElementNS(SVG_NS, "title");
        title.textContent = `${name}: ${phrase}`;
        rect.append(title);
        svg.append(rect);
      }
    }
  });
  return svg;
}

function figures(i, id) {
  const [part, j] = shardOf(i);
  const image = part.images[j];
  const views = image.views || [{role: "frontal", label: "frontal", thumb: image.thumb, full: image.full}];
  return views.map((v, n) => {
    const button = el("button", {type: "button", className: "thumb",
      "aria-label": `Open the full-size ${v.label} image of study ${id}`},
      el("img", {src: v.thumb, alt: `Chest X-ray of study ${id}, ${v.label}`, loading: "lazy"}),
      n === 0 ? boxOverlay(i, image.size) : null);
    button.addEventListener("click", () => openImage(v.full, `${id}, ${v.label}`, button));
    return el("figure", {className: "view", "data-role": v.role}, button, el("figcaption", {text: v.label}));
  });
}

function card(i) {
  const id = ST.ids[i];
  const [part, j] = shardOf(i);
  const prior = part.images[j].prior;
  const priorNote = prior ? el("p", {className: "prior", "data-prior": prior.id},
    el("strong", {text: `Prior study ${prior.id}: `}), prior.report || "(no report)") : null;
  const images = el("div", {className: "views"}, ...figures(i, id), priorNote);
  const reports = el("div", {className: "reports"}, reportColumn(i, null), ...SYSTEMS.map(n => reportColumn(i, n)));
  return el("article", {className: "card", "data-study": id, "aria-label": `Study ${id}`},
    el("h3", {text: `Study ${id}`}), el("div", {className: "card-body"}, images, reports));
}

function openImage(src, id, opener) {
  const dialog = document.getElementById("zoom");
  const img = document.getElementById("zoom-img");
  img.src = src;
  img.alt = `Chest X-ray of study ${id}, full size`;
  document.getElementById("zoom-caption").textContent = `Study ${id}`;
  dialog.onclose = () => opener.focus();
  dialog.showModal();
}

// Shows the current page once its shards are loaded; a newer filter, sort or page click supersedes it.
// #cards is aria-busy while loading (tests and bench/scale_bench.py wait for it to clear).
async function renderPage() {
  const token = ++view.rendering;
  const size = DATA.page_size, total = view.order.length;
  const pages = Math.max(1, Math.ceil(total / size));
  view.page = Math.min(view.page, pages - 1);
  const start = view.page * size, shown = view.order.slice(start, start + size);
  const cards = document.getElementById("cards");
  cards.setAttribute("aria-busy", "true");
  document.getElementById("count").textContent = total === ST.ids.length
    ? `${total} studies` : `${total} of ${ST.ids.length} studies match`;
  const info = total ? `page ${view.page + 1} of ${pages} (studies ${start + 1}–${start + shown.length})` : "";
  document.querySelectorAll(".page-info").forEach(n => { n.textContent = info; });
  document.querySelectorAll(".pager .prev").forEach(b => { b.disabled = view.page === 0; });
  document.querySelectorAll(".pager .next").forEach(b => { b.disabled = view.page >= pages - 1; });
  // each screenful waits only for its own shards: a sorted page's 50 studies may lie in 50 different files
  const chunks = [];
  for (let from = 0; from < shown.length; from += FIRST_SCREEN) chunks.push(shown.slice(from, from + FIRST_SCREEN));
  for (const [n, chunk] of chunks.entries()) {
    try {
      await Promise.all([...new Set(chunk.map(i => Math.floor(i / ST.shard_size)))].map(loadShard));
    } catch (missing) {
      if (token !== view.rendering) return;
      cards.replaceChildren(el("p", {className: "load-error", role: "alert", text: `Could not load ` +
        `${missing.message} (this page's reports): keep index.html with its data/ and images/ folders, ` +
        `or rebuild them with radzoo view.`}));
      cards.setAttribute("aria-busy", "false");
      return;
    }
    if (token !== view.rendering) return;  // a newer filter, sort or page click replaced this one
    if (n === 0) {
      cards.replaceChildren(...chunk.map(card));
      void cards.offsetHeight;  // style and layout of the first screen now, so firstScreenAt includes them
      view.firstScreenAt = performance.now();
    } else {
      cards.append(...chunk.map(card));
    }
    await new Promise(go => setTimeout(go, 0));  // let input and painting in between screenfuls
    if (token !== view.rendering) return;
  }
  if (!shown.length) {
    cards.replaceChildren();
    view.firstScreenAt = performance.now();
  }
  view.completeAt = performance.now();
  cards.setAttribute("aria-busy", "false");
  // the next page's shards, while this one is read
  const next = view.order.slice(start + size, start + 2 * size);
  new Set(next.map(i => Math.floor(i / ST.shard_size))).forEach(k => loadShard(k).catch(() => {}));
}

function refilter() {
  view.order = selectedStudies();
  view.page = 0;
  return renderPage();
}

function setUpStudies() {
  fillSelect(document.getElementById("f-finding"), OBS.map(o => [o, o]));
  fillSelect(document.getElementById("f-system"), SYSTEMS.map(n => [n, n]));
  const sortOptions = [["order", "test-set order"], ["disagreement", "disagreement between systems"]];
  for (const name of SYSTEMS) {
    for (const metric of Object.keys(ST.systems[name].metrics)) {
      sortOptions.push([JSON.stringify([name, metric]), `${name}: ${metric}`]);
    }
  }
  fillSelect(document.getElementById("sort-key"), sortOptions);
  const legend = document.getElementById("label-legend");
  legend.append("Labels (CheXpert, from each report's text): + positive, − negative, ? uncertain, · not mentioned. " +
    "Colour against the reference: ", el("span", {className: "chip agree", text: "agree"}), " ",
    el("span", {className: "chip miss", text: "miss"}), " ", el("span", {className: "chip invent", text: "invent"}),
    " ", el("span", {className: "chip uncertain", text: "uncertain"}), " ",
    el("span", {className: "chip absent", text: "both without it"}),
    ". Abbreviations: " + OBS.map(o => `${SHORT[o]} ${o}`).join(", ") + ".");
  // text fields filter as one types; selects report "change" (not every browser sends them "input")
  document.getElementById("filters").addEventListener("input", e => { if (e.target.type === "search") refilter(); });
  document.getElementById("filters").addEventListener("change", e => { if (e.target.type !== "search") refilter(); });
  document.getElementById("filters").addEventListener("submit", e => e.preventDefault());
  document.querySelectorAll(".pager .prev").forEach(b => b.addEventListener("click", () => {
    view.page -= 1; renderPage();
  }));
  document.querySelectorAll(".pager .next").forEach(b => b.addEventListener("click", () => {
    view.page += 1; renderPage();
  }));
  document.getElementById("zoom-close").addEventListener("click", () => document.getElementById("zoom").close());
  return refilter();
}

// bench/viewer_bench.py and bench/scale_bench.py read it: the first page's cards are on screen from here
setUpStudies().then(() => {
  performance.mark("viewer-ready");
  setTimeout(() => SYSTEMS.forEach(positives), 0);  // the label bits the disagreement filter and sort read
});
