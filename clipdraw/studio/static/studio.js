// clipdraw studio: the page's behaviour. Plain JavaScript, no build step.
// The form is drawn from /api/options (the option schema); the server checks every value.
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = { fields: [], current: null, source: null, history: [], uploads: {} };

// -- small helpers ------------------------------------------------------------------------------
function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function showMessage(text, kind = "error") {
  const box = $("#message");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

function markInvalid(key) {
  document.querySelectorAll(".field.invalid").forEach((f) => f.classList.remove("invalid"));
  const field = key && document.getElementById("field-" + key);
  if (field) {
    field.classList.add("invalid");
    if (!field.closest("#main-fields")) $("#more").open = true;
  }
}

async function api(method, url, body, headers = {}) {
  const options = { method, headers };
  if (body instanceof Blob) options.body = body;
  else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new Error("the studio cannot be reached (" + error.message + ")");
  }
  let data = null;
  try { data = await response.json(); } catch (error) { data = null; }
  if (!response.ok) {
    const problem = new Error((data && data.error) || response.status + " " + response.statusText);
    problem.option = data && data.option;
    throw problem;
  }
  return data;
}

function number(value, digits = 4) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return seconds.toFixed(0) + " s";
  return Math.floor(seconds / 60) + " min " + Math.round(seconds % 60) + " s";
}

// -- tabs ---------------------------------------------------------------------------------------
function showTab(name) {
  for (const tab of ["draw", "clip"]) {
    $("#page-" + tab).hidden = tab !== name;
    $("#tab-" + tab).classList.toggle("active", tab === name);
  }
  if (name === "clip") refreshClipImages();
}

// -- the form, from the schema ------------------------------------------------------------------
function fieldInput(field) {
  const id = "opt-" + field.key;
  const placeholder = field.default ? "default: " + field.default : "";
  if (field.kind === "texts") {
    return element("textarea", { id, rows: field.key === "prompts" ? 3 : 2,
      placeholder: "one per line; text::weight sets a weight" });
  }
  if (field.kind === "flag") return element("input", { id, type: "checkbox" });
  if (field.kind === "choice") {
    const select = element("select", { id });
    select.append(element("option", { value: "", text: placeholder || "(default)" }));
    for (const choice of field.choices) select.append(element("option", { value: choice, text: choice }));
    return select;
  }
  if (field.kind === "upload") {
    const input = element("input", { id, type: "file", accept: "image/*" });
    input.addEventListener("change", () => uploadFor(field.key, input));
    return input;
  }
  return element("input", { id, type: "text", placeholder });
}

function buildForm(fields) {
  state.fields = fields;
  for (const field of fields) {
    const help = field.help + (field.describe && field.kind !== "flag" ? " (" + field.describe + ")" : "");
    const input = fieldInput(field);
    input.title = help;
    const label = element("label", { for: input.id, text: field.label, title: help });
    const note = element("span", { class: "help", text: help });
    const box = element("div", { class: "field " + field.kind, id: "field-" + field.key },
      field.kind === "flag" ? [input, label, note] : [label, input, note]);
    if (field.kind === "upload") box.append(element("span", { class: "upload-status help", id: "upload-" + field.key }));
    (field.main ? $("#main-fields") : $("#more-fields")).append(box);
  }
}

async function upload(file) {
  return api("POST", "/api/uploads?name=" + encodeURIComponent(file.name), file);
}

async function uploadFor(key, input) {
  const status = $("#upload-" + key);
  delete state.uploads[key];
  if (!input.files.length) { status.textContent = ""; return; }
  status.textContent = "uploading…";
  try {
    const kept = await upload(input.files[0]);
    state.uploads[key] = kept.id;
    status.textContent = kept.name + " (" + kept.width + "×" + kept.height + ")";
    showMessage("");
  } catch (error) {
    input.value = "";
    status.textContent = "";
    markInvalid(key);
    showMessage(error.message);
  }
}

function formValues() {
  const values = {};
  for (const field of state.fields) {
    const input = document.getElementById("opt-" + field.key);
    if (field.kind === "texts") {
      const lines = input.value.split("\n").map((l) => l.trim()).filter((l) => l);
      if (lines.length) values[field.key] = lines;
    } else if (field.kind === "flag") {
      if (input.checked) values[field.key] = true;
    } else if (field.kind === "upload") {
      if (state.uploads[field.key]) values[field.key] = state.uploads[field.key];
    } else if (input.value.trim()) {
      values[field.key] = input.value.trim();
    }
  }
  return values;
}

function fillForm(values) {
  for (const field of state.fields) {
    const input = document.getElementById("opt-" + field.key);
    const value = values[field.key];
    if (field.kind === "texts") input.value = value === undefined ? "" : [].concat(value).join("\n");
    else if (field.kind === "flag") input.checked = value === true || value === "1" || value === "true";
    else if (field.kind === "upload") {
      if (value) state.uploads[field.key] = value; else delete state.uploads[field.key];
      $("#upload-" + field.key).textContent = value ? "upload " + value : "";
    } else input.value = value === undefined ? "" : value;
  }
}

// The shared link: /?prompt=...&seed=...&autostart=1 (uploads are not part of a link).
function fieldByName(name) {
  const aliases = { prompt: "prompts", negative: "negatives" };
  const key = aliases[name] || name;
  return state.fields.find((f) => f.key === key || f.label === name);
}

function readLink() {
  const params = new URLSearchParams(location.search);
  const values = {};
  for (const [name, value] of params) {
    if (name === "autostart") continue;
    const field = fieldByName(name);
    if (!field || field.kind === "upload") {
      showMessage("the link names an unknown setting: " + name);
      continue;
    }
    if (field.kind === "texts") (values[field.key] = values[field.key] || []).push(value);
    else values[field.key] = value;
  }
  fillForm(values);
  return params.get("autostart") === "1";
}

function makeLink() {
  const params = new URLSearchParams();
  const values = formValues();
  for (const field of state.fields) {
    const value = values[field.key];
    if (value === undefined || field.kind === "upload") continue;
    const name = field.key === "prompts" ? "prompt" : field.key === "negatives" ? "negative" : field.key;
    for (const item of [].concat(value)) params.append(name, item === true ? "1" : item);
  }
  params.set("autostart", "1");
  return location.origin + "/?" + params.toString();
}

// -- a drawing ----------------------------------------------------------------------------------
function showFrame(frame) {
  if (frame.svg) $("#canvas").innerHTML = frame.svg;
  $("#stat-step").textContent = frame.step + " / " + frame.iterations;
  $("#stat-loss").textContent = number(frame.loss);
  $("#stat-similarity").textContent = number(frame.similarity);
  $("#stat-speed").textContent = frame.speed ? frame.speed.toFixed(2) + " steps/s" : "–";
  $("#stat-eta").textContent = duration(frame.eta);
  if (frame.history_from === 0) state.history = [];
  state.history.push(...frame.history);
  const preparing = frame.status === "running" && !state.history.length;
  $("#stat-status").textContent = frame.status + (frame.error ? ": " + frame.error : "") +
    (preparing ? " (preparing the first step)" : "");
  drawPlot();
  const running = frame.status === "running" || frame.status === "queued";
  $("#stop").disabled = !running;
  $("#resume").disabled = frame.status !== "stopped" || !frame.files.includes("svg");
  for (const kind of ["svg", "png", "json"]) {
    const link = $("#download-" + kind);
    if (frame.has_drawing) link.href = "/api/drawings/" + frame.id + "/drawing." + kind;
    else link.removeAttribute("href");
  }
  if (frame.status === "failed" && frame.error) showMessage(frame.error);
  const card = document.querySelector(`#gallery .card[data-id="${frame.id}"] .muted`);
  if (card) card.textContent = cardText(frame);
}

function cardText(job) {
  return job.status + " · " + job.step + "/" + job.iterations +
    (job.similarity !== null ? " · " + job.similarity.toFixed(3) : "");
}

function drawPlot() {
  const useSimilarity = state.history.some((h) => h[2] !== null);
  const points = state.history.map((h) => [h[0], useSimilarity ? h[2] : h[1]]).filter((p) => p[1] !== null);
  $("#plot-label").textContent = (useSimilarity ? "similarity" : "loss") + " per step";
  if (points.length < 2) { $("#plot-line").setAttribute("points", ""); return; }
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const step = Math.max(1, Math.floor(points.length / 300));
  const line = points.filter((p, i) => i % step === 0 || i === points.length - 1).map((p) =>
    ((p[0] - x0) / (x1 - x0 || 1) * 300).toFixed(1) + "," + (78 - (p[1] - y0) / (y1 - y0 || 1) * 76).toFixed(1));
  $("#plot-line").setAttribute("points", line.join(" "));
}

function follow(id) {
  if (state.source) state.source.close();
  state.current = id;
  state.history = [];
  const source = new EventSource("/api/drawings/" + id + "/events");
  state.source = source;
  source.addEventListener("frame", (event) => {
    if (state.current === id) showFrame(JSON.parse(event.data));
  });
  source.addEventListener("end", () => { source.close(); refreshGallery(); });
  source.onerror = () => { source.close(); };
  refreshGallery();
}

async function start(event) {
  if (event) event.preventDefault();
  markInvalid(null);
  try {
    const job = await api("POST", "/api/drawings", { settings: formValues() });
    showMessage(job.status === "queued" && job.id !== "1" ? "queued as drawing " + job.id : "", "info");
    follow(job.id);
  } catch (error) {
    markInvalid(error.option);
    showMessage(error.message);
  }
}

async function stop() {
  if (!state.current) return;
  try { await api("POST", "/api/drawings/" + state.current + "/stop"); }
  catch (error) { showMessage(error.message); }
}

async function resume() {
  if (!state.current) return;
  try { follow((await api("POST", "/api/drawings/" + state.current + "/resume")).id); }
  catch (error) { showMessage(error.message); }
}

// -- the gallery --------------------------------------------------------------------------------
async function refreshGallery() {
  let list;
  try { list = (await api("GET", "/api/drawings")).drawings; } catch (error) { return; }
  state.drawings = list;
  const gallery = $("#gallery");
  gallery.replaceChildren();
  for (const job of list) {
    const card = element("div", { class: "card", "data-id": job.id });
    if (job.has_drawing) {
      card.append(element("img", { src: "/api/drawings/" + job.id + "/drawing.svg?v=" + job.step, alt: job.title }));
    }
    card.append(element("div", { class: "title", title: job.title, text: "#" + job.id + " " + job.title }));
    card.append(element("div", { class: "muted", text: cardText(job) }));
    const load = element("button", { type: "button", class: "load", text: "Load" });
    load.addEventListener("click", async () => {
      fillForm(job.request);
      const frame = await api("GET", "/api/drawings/" + job.id);
      state.current = job.id;
      state.history = [];
      showFrame(frame);
      if (!["done", "stopped", "failed"].includes(frame.status)) follow(job.id);
    });
    card.append(load);
    gallery.append(card);
  }
}

// -- the CLIP page ------------------------------------------------------------------------------
const clipImages = [];  // {ref, name, src}

function refreshClipImages() {
  const box = $("#clip-images");
  const chosen = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  const drawings = (state.drawings || []).filter((j) => j.has_drawing).map((j) =>
    ({ ref: "d" + j.id, name: "#" + j.id + " " + j.title, src: "/api/drawings/" + j.id + "/drawing.svg?v=" + j.step }));
  box.replaceChildren();
  for (const image of [...clipImages, ...drawings]) {
    const checkbox = element("input", { type: "checkbox", value: image.ref });
    checkbox.checked = chosen.has(image.ref) || image.fresh === true;
    image.fresh = false;
    box.append(element("label", { title: image.name }, [element("img", { src: image.src, alt: image.name }), checkbox, image.name.slice(0, 14)]));
  }
}

async function addClipFiles() {
  const input = $("#clip-files");
  for (const file of input.files) {
    try {
      const kept = await upload(file);
      clipImages.push({ ref: kept.id, name: kept.name, src: "/api/uploads/" + kept.id, fresh: true });
      showMessage("");
    } catch (error) {
      showMessage(error.message);
    }
  }
  input.value = "";
  refreshClipImages();
}

function heatmap(values) {
  const canvas = element("canvas", { width: values.length, height: 1 });
  const context = canvas.getContext("2d");
  const image = context.createImageData(values.length, 1);
  const scale = Math.max(...values.map(Math.abs)) || 1;
  values.forEach((v, i) => {
    const t = v / scale;  // blue for negative, red for positive
    image.data.set([t > 0 ? 255 : Math.round(255 * (1 + t)), Math.round(255 * (1 - Math.abs(t))),
      t < 0 ? 255 : Math.round(255 * (1 - t)), 255], i * 4);
  });
  context.putImageData(image, 0, 0);
  return canvas;
}

async function compare() {
  const prompts = $("#clip-prompts").value.split("\n").map((l) => l.trim()).filter((l) => l);
  const boxes = [...$("#clip-images").querySelectorAll("input:checked")];
  const images = boxes.map((b) => b.value);
  try {
    const table = await api("POST", "/api/clip", { prompts, images });
    const head = element("tr", {}, [element("th", { text: "prompt \\ image" })]);
    boxes.forEach((box) => {
      const label = box.closest("label");
      head.append(element("th", { title: label.title }, [label.querySelector("img").cloneNode()]));
    });
    const rows = [head];
    table.similarity.forEach((row, i) => {
      const tr = element("tr", {}, [element("th", { text: prompts[i] })]);
      row.forEach((value, j) => tr.append(element("td", { class: table.best[j] === i ? "best" : "", text: value.toFixed(3) })));
      rows.push(tr);
    });
    $("#clip-table").replaceChildren(...rows);
    const embeddings = $("#clip-embeddings");
    embeddings.replaceChildren();
    table.text_embeddings.forEach((v, i) => embeddings.append(element("div", { class: "embedding" },
      [element("span", { text: "“" + prompts[i] + "”", title: prompts[i] }), heatmap(v)])));
    table.image_embeddings.forEach((v, j) => embeddings.append(element("div", { class: "embedding" },
      [element("span", { text: boxes[j].closest("label").title }), heatmap(v)])));
    showMessage("");
  } catch (error) {
    showMessage(error.message);
  }
}

// -- start --------------------------------------------------------------------------------------
async function refreshStatus() {
  try {
    const status = await api("GET", "/api/status");
    const text = "model: " + status.models.join(" + ") + " · " + status.state + " · " + status.device;
    $("#model-status").textContent = text;
    if (status.error) showMessage(status.error);
    return status.state;
  } catch (error) {
    $("#model-status").textContent = "studio unreachable";
    return "unreachable";
  }
}

async function main() {
  for (const link of document.querySelectorAll("nav a")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      history.pushState(null, "", link.getAttribute("href") + (link.dataset.tab === "draw" ? location.search : ""));
      showTab(link.dataset.tab);
    });
  }
  window.addEventListener("popstate", () => showTab(location.pathname === "/clip" ? "clip" : "draw"));
  $("#draw-form").addEventListener("submit", start);
  $("#stop").addEventListener("click", stop);
  $("#resume").addEventListener("click", resume);
  $("#share").addEventListener("click", async () => {
    const link = $("#share-link");
    link.value = makeLink();
    link.hidden = false;
    link.select();
    try { await navigator.clipboard.writeText(link.value); } catch (error) { /* shown instead */ }
  });
  $("#clip-files").addEventListener("change", addClipFiles);
  $("#clip-run").addEventListener("click", compare);
  buildForm((await api("GET", "/api/options")).fields);
  showTab(location.pathname === "/clip" ? "clip" : "draw");
  const autostart = readLink();
  await refreshStatus();
  await refreshGallery();
  document.body.dataset.ready = "1";
  if (autostart) await start();
  setInterval(refreshStatus, 5000);
}

main().catch((error) => showMessage("the page could not start: " + error.message));
