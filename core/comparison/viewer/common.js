"use strict";
// The viewer's data (embedded by radzoo.viewer.page) and the small helpers every section uses.
const DATA = JSON.parse(document.getElementById("viewer-data").textContent);
const OBS = DATA.observations;
const SHORT = {"No Finding": "NoF", "Enlarged Cardiomediastinum": "ECM", "Cardiomegaly": "CMG",
  "Lung Lesion": "LLes", "Lung Opacity": "LOp", "Edema": "Edem", "Consolidation": "Cons", "Pneumonia": "Pna",
  "Atelectasis": "Atel", "Pneumothorax": "Ptx", "Pleural Effusion": "Eff", "Pleural Other": "PlOth",
  "Fracture": "Frac", "Support Devices": "Dev"};
// label codes -> the values `radzoo label` writes, and words for people
const LABEL_VALUE = {"1": "1.0", "0": "0.0", "u": "-1.0", ".": ""};
const LABEL_WORD = {"1": "positive", "0": "negative", "u": "uncertain", ".": "not mentioned"};
const LABEL_SIGN = {"1": "+", "0": "−", "u": "?", ".": "·"};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function fmt(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (typeof value !== "number") return String(value);
  return Math.abs(value) >= 1000 ? Math.round(value).toLocaleString("en") : value.toFixed(digits);
}

function withCi(value, low, high) {
  return low === null || low === undefined ? fmt(value) : `${fmt(value)} [${fmt(low)}, ${fmt(high)}]`;
}

// how a system's label for one observation relates to the reference's
function labelKind(ref, pred) {
  if (ref === "u" || pred === "u") return "uncertain";
  const r = ref === "1", p = pred === "1";
  if (r && p) return "agree";
  if (r) return "miss";
  if (p) return "invent";
  return "absent";
}

function fillSelect(select, options) {
  for (const [value, text] of options) select.append(el("option", {value, text}));
}
