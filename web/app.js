// The web page: one image to /v1/explain (falling back to /v1/identify when the model has no spectra),
// the gallery from /v1/models, enrollment with the token asked for once per tab.
"use strict";
const $ = (id) => document.getElementById(id);

function show(el, on) { el.hidden = !on; }

async function errorText(response) {
  try { const body = await response.json(); return body.error ? body.error.message : response.statusText; }
  catch (_) { return response.status + " " + response.statusText; }
}

function renderAnswer(identification, timings) {
  const verdict = $("verdict");
  verdict.textContent = "";
  // With open_set_score the decision is taken on the best model's score in the gallery's context, a
  // scale of its own: the threshold is shown beside it, not on the candidates' bars.
  const decision = identification.open_set_score;
  if (identification.unknown) {
    const s = document.createElement("span");
    s.className = "unknown";
    s.textContent = "unknown";
    verdict.append("Made by: ", s, decision === null || decision === undefined
      ? " (no enrolled model scores above the threshold " + identification.threshold.toFixed(3) + ")"
      : " (the best model's score in the gallery's context, " + decision.toFixed(3) +
        ", is below the threshold " + identification.threshold.toFixed(3) + ")");
  } else {
    const b = document.createElement("strong");
    b.textContent = identification.model;
    b.id = "top-model";
    verdict.append("Made by: ", b);
    if (decision !== null && decision !== undefined && identification.threshold !== null) {
      verdict.append(" (score in the gallery's context " + decision.toFixed(3) + ", threshold " +
        identification.threshold.toFixed(3) + ")");
    }
  }
  const list = $("ranking");
  list.textContent = "";
  for (const c of identification.candidates) {
    const li = document.createElement("li");
    const row = document.createElement("div");
    row.className = "row";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = c.model;
    const score = document.createElement("span");
    score.textContent = c.score.toFixed(3);
    row.append(name, score);
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = (Math.max(0, Math.min(1, c.score)) * 100) + "%";
    bar.append(fill);
    if (identification.threshold !== null && (decision === null || decision === undefined)) {
      const t = document.createElement("i");
      t.className = "threshold";
      t.title = "open-set threshold";
      t.style.left = (Math.max(0, Math.min(1, identification.threshold)) * 100) + "%";
      bar.append(t);
    }
    li.append(row, bar);
    list.append(li);
  }
  $("timing").textContent = timings ? "answered in " + timings.total.toFixed(0) + " ms" : "";
  show($("answer"), true);
}

function renderExplanation(x, png) {
  $("figure").src = "data:image/png;base64," + png;
  $("figure-model").textContent = x.model + " (mean)";
  const body = $("bands").querySelector("tbody");
  body.textContent = "";
  for (const b of x.bands) {
    const tr = document.createElement("tr");
    if (b.marked) tr.className = "marked";
    const cells = [b.low + "–" + b.high, b.matched_distance.toFixed(2),
      b.other_distance === null ? "–" : b.other_distance.toFixed(2) + " (" + b.other_model + ")", b.weight.toFixed(2)];
    for (const text of cells) { const td = document.createElement("td"); td.textContent = text; tr.append(td); }
    body.append(tr);
  }
  show($("explanation"), true);
}

async function attribute(file) {
  const status = $("status");
  status.className = "";
  status.textContent = "Attributing " + file.name + "…";
  const preview = $("preview");
  preview.src = URL.createObjectURL(file);
  show(preview, true);
  show($("explanation"), false);
  const headers = { "Content-Type": "application/octet-stream" };
  try {
    let r = await fetch("v1/explain", { method: "POST", headers, body: file });
    if (r.ok) {
      const o = await r.json();
      renderAnswer(o.identification, null);
      renderExplanation(o.explanation, o.figure_png);
      status.textContent = "";
      return;
    }
    if (r.status !== 409) throw new Error(await errorText(r));
    r = await fetch("v1/identify", { method: "POST", headers, body: file });
    if (!r.ok) throw new Error(await errorText(r));
    const o = await r.json();
    renderAnswer(o, o.timings_ms);
    status.textContent = "No spectra recorded for this model, so no explanation.";
  } catch (e) {
    status.className = "error";
    status.textContent = e.message;
    show($("answer"), false);
  }
}

async function loadModels() {
  try {
    const r = await fetch("v1/models");
    if (!r.ok) throw new Error(await errorText(r));
    const o = await r.json();
    const list = $("models");
    list.textContent = "";
    for (const m of o.models) {
      const li = document.createElement("li");
      li.textContent = m.name + " — " + m.images + (m.images === 1 ? " image" : " images");
      if (m.notes) li.title = m.notes;
      list.append(li);
    }
    $("gallery-summary").textContent = o.models.length + " models, " +
      (o.calibrated ? "calibrated" : "not calibrated (no image is called unknown)");
  } catch (e) {
    $("gallery-summary").textContent = "Could not load the gallery: " + e.message;
  }
}

async function enroll(event) {
  event.preventDefault();
  const status = $("enroll-status");
  status.className = "";
  let token = sessionStorage.getItem("modelprint-token");
  if (!token) {
    token = prompt("The server's token (from --token-file):");
    if (!token) return;
  }
  const name = $("enroll-name").value.trim();
  const form = new FormData();
  for (const f of $("enroll-files").files) form.append("image", f, f.name);
  const notes = $("enroll-notes").value;
  if (notes) form.append("notes", notes);
  status.textContent = "Enrolling…";
  try {
    const r = await fetch("v1/models/" + encodeURIComponent(name) + "/images",
      { method: "POST", headers: { Authorization: "Bearer " + token }, body: form });
    if (r.status === 401) sessionStorage.removeItem("modelprint-token");
    if (!r.ok) throw new Error(await errorText(r));
    sessionStorage.setItem("modelprint-token", token);
    const o = await r.json();
    status.textContent = "Enrolled " + o.enrolled + " images into " + o.model.name + " (" + o.model.images + " in all).";
    loadModels();
  } catch (e) {
    status.className = "error";
    status.textContent = e.message;
  }
}

const drop = $("drop");
$("file").addEventListener("change", (e) => { if (e.target.files[0]) attribute(e.target.files[0]); });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files[0]) attribute(e.dataTransfer.files[0]);
});
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); } });
$("enroll-form").addEventListener("submit", enroll);
loadModels();
