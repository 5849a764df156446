"use strict";
// Per-finding tables: one measure (F1, precision, recall) per observation and system, with 95% CIs.
function renderFindings() {
  const info = DATA.findings;
  const subset = document.getElementById("finding-subset").value;
  const measure = document.getElementById("finding-measure").value;
  const table = info.tables[subset];
  const names = Object.keys(table.systems);
  const out = document.getElementById("finding-table");
  out.replaceChildren(el("caption", {className: "visually-hidden",
    text: `${measure} per observation (rows) and system (columns), with 95% bootstrap CIs`}));
  out.append(el("thead", {}, el("tr", {}, el("th", {scope: "col", className: "name", text: "observation"}),
    el("th", {scope: "col", text: "in references"}), ...names.map(n => el("th", {scope: "col", text: n})))));
  const body = el("tbody");
  table.rows.forEach((rowName, r) => {
    const cells = names.map(n => table.systems[n][measure][r]);
    const best = Math.max(...cells.map(c => (c[0] === null ? -1 : c[0])));
    const positives = table.reference_positives[r];
    body.append(el("tr", {}, el("th", {scope: "row", className: "name", text: rowName}),
      el("td", {text: positives === undefined ? "" : String(positives)}),
      ...cells.map(c => el("td", {className: c[0] !== null && c[0] === best ? "best" : null},
        withCi(c[0], c[1], c[2])))));
  });
  out.append(body);
}

function setUpFindings() {
  const measure = document.getElementById("finding-measure");
  fillSelect(measure, DATA.findings.measures.map(m => [m, m === "f1" ? "F1" : m]));
  document.getElementById("findings-note").textContent = "Computed from the CheXpert labels of each report " +
    `against the reference's; uncertain labels count as ${DATA.findings.uncertain} (as on the leaderboard). ` +
    `[low, high]: 95% bootstrap CI over studies (${DATA.findings.resamples} resamples). ` +
    "– : nothing to count (no positive label in the reports or the reference). Bold: best in the row. " +
    "in references: how many test studies' reference reports have the finding.";
  for (const id of ["finding-subset", "finding-measure"]) {
    document.getElementById(id).addEventListener("change", renderFindings);
  }
  renderFindings();
}

setUpFindings();
