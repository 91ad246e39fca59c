// mlpilot web app: five steps over the JSON API in mlpilot/ui/app.py. No framework, no build step.
// The URL hash (#/p/<project>/<step>) is the only client state, so a reload resumes where the user was.
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = { config: null, project: null, step: 0, poll: null, snippets: {}, plotly: null, evaluated: null };

// ------------------------------------------------------------------------------------ helpers
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function api(path, { method = "GET", json, form } = {}) {
  const options = { method, headers: {} };
  if (json !== undefined) {
    options.body = JSON.stringify(json);
    options.headers["content-type"] = "application/json";
  } else if (form) {
    options.body = form;
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("The mlpilot server cannot be reached; check that `mlpilot ui` is still running.");
  }
  if (!response.ok) {
    let message = `The server answered ${response.status}.`;
    try {
      const body = await response.json();
      if (body.errors && body.errors.length) message = body.errors.map((e) => e.message).join(" ");
      else if (body.detail) message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    } catch (_) { /* not JSON: keep the status sentence */ }
    throw new Error(message);
  }
  return response;
}
const getJSON = async (path, options) => (await api(path, options)).json();

function showMessage(id, text, kind = "error") {
  const box = document.getElementById(id);
  box.textContent = text || "";
  box.classList.toggle("info", kind === "info");
}

async function busy(button, work) {
  button.disabled = true;
  try { return await work(); } finally { button.disabled = false; }
}

const fmtSeconds = (s) => (s == null ? "–" : s < 90 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);
const fmtScore = (v) => (v == null ? "–" : Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(4));

// ------------------------------------------------------------------------------------ navigation
function projectPath(suffix = "") { return `/api/projects/${state.project.id}${suffix}`; }

function maxStep() {
  const p = state.project;
  if (!p) return 0;
  if (p.has_run) return 5;
  return p.target ? 3 : 1;
}

function go(step) {
  if (!state.project) { location.hash = "#/"; return; }
  location.hash = `#/p/${state.project.id}/${step}`;
}

async function route() {
  const match = location.hash.match(/^#\/p\/([0-9a-f]{12})(?:\/(\d))?/);
  if (!match) { state.project = null; return showHome(); }
  try {
    if (!state.project || state.project.id !== match[1]) state.project = await getJSON(`/api/projects/${match[1]}`);
  } catch (err) {
    state.project = null;
    await showHome();
    return showMessage("home-message", err.message);
  }
  const wanted = Number(match[2] || state.project.step || 1);
  showStep(Math.min(Math.max(wanted, 1), maxStep()));
}

function renderStepper() {
  const limit = maxStep();
  document.querySelectorAll("#stepper button").forEach((button) => {
    const step = Number(button.dataset.step);
    button.disabled = step > limit;
    button.classList.toggle("done", step < state.step && step <= limit);
    if (step === state.step) button.setAttribute("aria-current", "step");
    else button.removeAttribute("aria-current");
  });
  $("#project-name").textContent = state.project ? `${state.project.name} · ${state.project.n_rows.toLocaleString()} rows` : "";
}

function showSection(id) {
  document.querySelectorAll("section.step").forEach((s) => { s.hidden = s.id !== id; });
  $("#main").focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

async function showStep(step) {
  state.step = step;
  renderStepper();
  showSection(`step-${step}`);
  if (state.project.step !== step) {
    state.project.step = step;
    api(projectPath("/step"), { method: "POST", json: { step } }).catch(() => {});
  }
  const show = { 1: showProblem, 2: showData, 3: showTrain, 4: showEvaluate, 5: showDeploy }[step];
  try { await show(); } catch (err) { showMessage(`step${step}-message`, err.message); }
}

// ------------------------------------------------------------------------------------ home
async function showHome() {
  state.step = 0;
  renderStepper();
  showSection("home");
  const projects = await getJSON("/api/projects").catch(() => []);
  const list = $("#recent-list");
  list.replaceChildren();
  for (const p of projects.slice(0, 8)) {
    const what = p.target ? `predicting “${p.target}”` : "no target chosen yet";
    const link = el("a", { href: `#/p/${p.id}/${p.step || 1}` }, el("span", { text: p.name }),
      el("span", { class: "meta", text: `${p.n_rows.toLocaleString()} rows · ${what} · step ${p.step || 1}` }));
    list.append(el("li", {}, link));
  }
  $("#recent").hidden = projects.length === 0;
}

async function startProject(work) {
  showMessage("home-message", "");
  try {
    state.project = await work();
    go(1);
  } catch (err) {
    showMessage("home-message", err.message);
  }
}

function onUpload(event) {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file) return;
  if (file.size > state.config.max_upload_bytes) return showMessage("home-message", state.config.too_large_message);
  showMessage("home-message", `Reading “${file.name}”…`, "info");
  const form = new FormData();
  form.append("file", file, file.name);
  startProject(() => getJSON("/api/projects", { method: "POST", form }));
}

// ------------------------------------------------------------------------------------ step 1
function renderProblem(problem) {
  $("#problem-card").hidden = !problem;
  if (!problem) return;
  $("#problem-headline").textContent = problem.headline;
  $("#problem-detail").textContent = problem.detail;
  $("#problem-metric").textContent = problem.metric_why;
}

async function showProblem() {
  const p = state.project;
  $("#table-facts").textContent = `“${p.name}”: ${p.n_rows.toLocaleString()} rows and ${p.columns.length} columns.`;
  const select = $("#target-select");
  select.replaceChildren(el("option", { value: "", text: "Choose a column…" }),
    ...p.columns.map((c) => el("option", { value: c, text: c })));
  select.value = p.target || "";
  renderProblem(p.problem);
}

async function chooseTarget() {
  const target = $("#target-select").value;
  showMessage("step1-message", "");
  if (!target) return showMessage("step1-message", "Choose the column you want to predict first.");
  await busy($("#choose-target"), async () => {
    try {
      state.project = await getJSON(projectPath("/target"), { method: "POST", json: { target } });
      renderStepper();
      renderProblem(state.project.problem);
    } catch (err) {
      renderProblem(null);
      showMessage("step1-message", err.message);
    }
  });
}

// ------------------------------------------------------------------------------------ step 2
async function showData() {
  const data = await getJSON(projectPath("/data"));
  const overview = $("#data-overview");
  const dropped = data.columns.filter((c) => c.dropped).length;
  const target = el("div", {}, el("div", { class: "hint", text: `Target “${data.target}”` }));
  target.insertAdjacentHTML("beforeend", data.target_profile.sparkline);  // SVG of numbers, built by the server
  target.append(el("div", { class: "hint", text: data.target_profile.summary }));
  overview.replaceChildren(el("div", { class: "overview" },
    el("div", {}, el("div", { class: "big", text: data.n_rows.toLocaleString() }), el("div", { class: "hint", text: "rows to learn from" })),
    el("div", {}, el("div", { class: "big", text: String(data.columns.length - dropped) }), el("div", { class: "hint", text: `columns used (${dropped} left out)` })),
    target), el("p", { text: data.problem.headline }));
  if (data.rows_dropped) overview.append(el("p", { class: "hint", text: `${data.rows_dropped} rows have no value to predict and are left out.` }));
  const warnings = $("#warnings");
  warnings.replaceChildren(...(data.warnings.length ? [el("h2", { text: `Worth a look (${data.warnings.length})` })] : []),
    ...data.warnings.map((w) => el("div", { class: "warning", "data-column": w.column },
      el("strong", { text: w.title }), el("span", { text: w.text }), el("p", { class: "why", text: w.why }))));
  const body = $("#columns-table tbody");
  body.replaceChildren(...data.columns.map(columnRow));
}

function columnRow(c) {
  const spark = el("td");
  spark.insertAdjacentHTML("beforeend", c.sparkline);  // SVG of numbers only, built by the server
  const missing = el("td", { class: c.missing_pct > 20 ? "missing-high" : "", text: `${c.missing_pct}%` });
  const name = el("td", {}, el("strong", { text: c.name }));
  if (c.dropped) name.append(el("div", { class: "hint", text: "left out" }));
  return el("tr", { class: c.dropped ? "dropped" : "", title: c.reason },
    name, el("td", {}, el("span", { class: "kind", text: c.kind_label })), missing, spark,
    el("td", { text: c.summary }));
}

// ------------------------------------------------------------------------------------ step 3
async function showTrain() {
  const status = await getJSON(projectPath("/train"));
  renderTraining(status);
  if (["running", "stopping"].includes(status.state)) startPolling();
}

function budgetSeconds() {
  const choice = document.querySelector('input[name="budget"]:checked').value;
  return choice === "custom" ? Number($("#budget-custom").value) : Number(choice);
}

async function startTraining() {
  showMessage("step3-message", "");
  await busy($("#start-training"), async () => {
    try {
      const status = await getJSON(projectPath("/train"), { method: "POST", json: { time_limit: budgetSeconds() } });
      renderTraining(status);
      startPolling();
    } catch (err) { showMessage("step3-message", err.message); }
  });
}

function startPolling() {
  clearInterval(state.poll);
  state.poll = setInterval(async () => {
    if (state.step !== 3 || !state.project) { clearInterval(state.poll); return; }
    try {
      const status = await getJSON(projectPath("/train"));
      renderTraining(status);
      if (!["running", "stopping"].includes(status.state)) {
        clearInterval(state.poll);
        state.project = await getJSON(projectPath());
        state.evaluated = null;
        renderStepper();
      }
    } catch (err) { showMessage("step3-message", err.message); }
  }, 1000);
}

const STATE_TITLES = { running: "Training…", stopping: "Stopping…", done: "Training finished",
  failed: "Training did not finish", interrupted: "Training was interrupted" };

function renderTraining(s) {
  const active = ["running", "stopping"].includes(s.state);
  $("#train-setup").hidden = active;
  $("#train-live").hidden = s.state === "idle";
  if (s.state === "idle") return;
  $("#train-state").textContent = STATE_TITLES[s.state] || s.state;
  $("#stop-training").hidden = !active;
  $("#stop-training").disabled = s.state === "stopping";
  const used = s.time_limit ? Math.min(100, (100 * s.elapsed) / s.time_limit) : 0;
  $("#train-bar .fill").style.width = `${s.state === "done" ? 100 : used}%`;
  $("#train-bar").setAttribute("aria-valuenow", String(Math.round(used)));
  $("#train-elapsed").textContent = fmtSeconds(s.elapsed);
  $("#train-remaining").textContent = active ? fmtSeconds(s.remaining) : "–";
  const ok = (s.leaderboard || []).filter((r) => r.status === "ok" && r.model !== "WeightedEnsemble").length;
  $("#train-models").textContent = s.n_total ? `${ok} of ${s.n_total} tried` : String(ok);
  $("#train-best").textContent = fmtScore(s.state === "done" && s.score != null ? s.score : s.best_score);
  const metric = state.project.problem ? state.project.problem.metric_name : "score";
  $("#train-best-label").textContent = s.state === "done" ? `Final ${metric}` : `Best ${metric} so far`;
  $("#start-training").textContent = s.state === "idle" ? "Start training" : "Train again";
  $("#train-message").textContent = s.message || "";
  if (s.state === "failed" || s.state === "interrupted") showMessage("step3-message", s.message);
  const body = $("#leaderboard tbody");
  body.replaceChildren(...(s.leaderboard || []).map((r, i) => el("tr", { class: i === 0 && s.state === "done" ? "best" : "" },
    el("td", { text: r.model === "WeightedEnsemble" ? "Ensemble of the best (final model)" : r.model }),
    el("td", { text: fmtScore(r.score) }), el("td", { class: `status-${r.status}`, text: r.status }),
    el("td", { class: "hint", text: r.note || "" }))));
  $("#to-evaluate").hidden = s.state !== "done";
}

// ------------------------------------------------------------------------------------ step 4
function loadPlotly() {
  if (!state.plotly) {
    state.plotly = new Promise((resolve, reject) => {
      const script = el("script", { src: "/static/plotly.js" });
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => reject(new Error("The chart library could not be loaded from the server."));
      document.head.append(script);
    });
  }
  return state.plotly;
}

async function showEvaluate() {
  $("#report-link").href = projectPath("/report.html");
  if (state.evaluated === state.project.id) return;
  showMessage("step4-message", "Computing the evaluation…", "info");
  const [page, Plotly] = await Promise.all([getJSON(projectPath("/evaluate")), loadPlotly()]);
  showMessage("step4-message", "");
  $("#summary-list").replaceChildren(...page.summary.map((line) => el("li", { text: line })));
  const charts = $("#charts");
  charts.replaceChildren();
  const plots = page.figures.map((fig) => {
    const plot = el("div", { class: "plot", id: `chart-${fig.id}`, role: "img", "aria-label": fig.title });
    charts.append(el("figure", { class: "card chart", "data-chart": fig.id }, el("h2", { text: fig.title }), plot,
      el("figcaption", { class: "caption", text: fig.caption })));
    return plot;
  });
  // Drawn only once every card is in the grid: a plot sizes itself to its card's width when drawn.
  page.figures.forEach((fig, i) => {
    const plot = plots[i];
    const layout = { ...(fig.figure.layout || {}), autosize: true };
    delete layout.width;  // the card sets the width; the figure's own height is kept so nothing is clipped
    plot.style.height = `${layout.height || 400}px`;
    Plotly.newPlot(plot, fig.figure.data || [], layout, { responsive: true, displaylogo: false });
  });
  const suggested = $("#suggested-rows");
  suggested.replaceChildren(...(page.suggested_rows.length ? [el("span", { class: "hint", text: "Try: " })] : []),
    ...page.suggested_rows.map((r) => {
      const button = el("button", { type: "button", class: "secondary", text: r.label });
      button.addEventListener("click", () => { $("#explain-row").value = r.row; explainRow(); });
      return button;
    }));
  $("#explain-row").max = String(state.project.n_rows);
  state.evaluated = state.project.id;
}

async function explainRow() {
  const row = Number($("#explain-row").value);
  showMessage("explain-message", "");
  await busy($("#explain-button"), async () => {
    try {
      renderExplanation(await getJSON(projectPath(`/explain?row=${encodeURIComponent(row)}`)));
    } catch (err) {
      $("#explanation").hidden = true;
      showMessage("explain-message", err.message);
    }
  });
}

function renderExplanation(e) {
  const box = $("#explanation");
  const head = el("div", { class: "explanation-head" },
    el("div", {}, el("div", { class: "hint", text: `Row ${e.row}: prediction` }), el("div", { class: "big", text: e.prediction })));
  if (e.probabilities) {
    const p = e.probabilities[e.prediction];
    if (p != null) head.append(el("div", {}, el("div", { class: "hint", text: "model's confidence" }), el("div", { class: "big", text: `${Math.round(100 * p)}%` })));
  }
  if (e.actual !== undefined) {
    head.append(el("div", {}, el("div", { class: "hint", text: "what really happened" }), el("div", { class: "big", text: e.actual })));
  }
  const peak = Math.max(...e.reasons.map((r) => Math.abs(r.contribution)), 1e-9);
  const list = el("ol", { class: "reasons", "aria-label": "Top reasons" }, ...e.reasons.map((r) => {
    const bar = el("div", { class: `reason-bar ${r.contribution > 0 ? "up" : "down"}` });
    bar.style.width = `${Math.max(4, (70 * Math.abs(r.contribution)) / peak)}%`;
    return el("li", {}, el("span", { text: r.sentence }),
      el("div", { class: "reason-track" }, bar, el("span", { text: `${r.contribution > 0 ? "+" : ""}${r.contribution.toFixed(2)}` })));
  }));
  box.replaceChildren(head, el("h3", { text: "Top reasons" }), list,
    el("p", { class: "hint", text: `Bar sizes are each value's contribution (${e.units}); red pushes up, green pushes down.` }));
  box.hidden = false;
}

// ------------------------------------------------------------------------------------ step 5
async function showDeploy() {
  $("#download-run").href = projectPath("/run.zip");
  const info = await getJSON(projectPath("/deploy"));
  state.snippets = info.snippets;
  renderServing(info.serving);
  selectSnippet(document.querySelector('#snippet-tabs [aria-selected="true"]').dataset.snippet);
}

function selectSnippet(name) {
  document.querySelectorAll("#snippet-tabs button").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.snippet === name)));
  $("#snippet-code").textContent = state.snippets[name] || "";
}

function renderServing(s) {
  const running = s.state === "running" || s.state === "starting";
  $("#serve-start").hidden = running;
  $("#serve-stop").hidden = !running;
  const status = $("#serve-status");
  if (running) {
    status.replaceChildren("Serving at ", el("a", { class: "serving-url", href: s.url, target: "_blank", rel: "noopener", text: s.url }),
      " · ", el("a", { href: s.docs, target: "_blank", rel: "noopener", text: "interactive API docs" }));
  } else {
    status.textContent = s.state === "failed" ? s.message : "Not serving.";
  }
}

async function toggleServing(action) {
  showMessage("step5-message", "");
  const button = action === "start" ? $("#serve-start") : $("#serve-stop");
  if (action === "start") $("#serve-status").textContent = "Starting the server (a few seconds)…";
  await busy(button, async () => {
    try {
      renderServing(await getJSON(projectPath(`/serve/${action}`), { method: "POST" }));
      const info = await getJSON(projectPath("/deploy"));
      state.snippets = info.snippets;
      selectSnippet(document.querySelector('#snippet-tabs [aria-selected="true"]').dataset.snippet);
    } catch (err) { showMessage("step5-message", err.message); }
  });
}

async function scoreFile(event) {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file) return;
  showMessage("step5-message", "");
  if (file.size > state.config.max_upload_bytes) return showMessage("step5-message", state.config.too_large_message);
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const text = await (await api(projectPath("/score"), { method: "POST", form })).text();
    const link = $("#score-download");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    link.download = `${file.name.replace(/\.[^.]+$/, "")}_predictions.csv`;
    const lines = text.trim().split("\n");
    $("#score-count").textContent = `${lines.length - 1} rows scored.`;
    const rows = lines.slice(0, 6).map((line) => line.split(","));
    const shown = (c) => (/^-?\d+\.\d{4,}$/.test(c) ? Number(c).toFixed(3) : c);  // preview only; the file keeps every digit
    $("#score-preview").replaceChildren(el("caption", { class: "hint", text: "First rows of the predictions" }),
      ...rows.map((cells, i) => el("tr", {}, ...cells.map((c) => el(i ? "td" : "th", { text: i ? shown(c) : c })))));
    $("#score-result").hidden = false;
  } catch (err) { showMessage("step5-message", err.message); }
}

async function copySnippet() {
  const text = $("#snippet-code").textContent;
  try {
    await navigator.clipboard.writeText(text);
    $("#copy-snippet").textContent = "Copied";
  } catch (_) {
    const range = document.createRange();
    range.selectNodeContents($("#snippet-code"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $("#copy-snippet").textContent = "Selected: press Ctrl+C";
  }
  setTimeout(() => { $("#copy-snippet").textContent = "Copy"; }, 2000);
}

// ------------------------------------------------------------------------------------ start
async function init() {
  state.config = await getJSON("/api/config");
  $("#version").textContent = state.config.version;
  $("#upload-limit").textContent = `Up to ${Math.round(state.config.max_upload_bytes / 2 ** 20)} MB. The file stays on this computer.`;
  $("#upload-input").addEventListener("change", onUpload);
  $("#use-churn").addEventListener("click", (e) => busy(e.target, () => startProject(() => getJSON("/api/projects/churn", { method: "POST" }))));
  $("#choose-target").addEventListener("click", chooseTarget);
  $("#start-training").addEventListener("click", startTraining);
  $("#stop-training").addEventListener("click", async () => {
    try { renderTraining(await getJSON(projectPath("/train/stop"), { method: "POST" })); } catch (err) { showMessage("step3-message", err.message); }
  });
  $("#explain-button").addEventListener("click", explainRow);
  $("#score-input").addEventListener("change", scoreFile);
  $("#serve-start").addEventListener("click", () => toggleServing("start"));
  $("#serve-stop").addEventListener("click", () => toggleServing("stop"));
  $("#copy-snippet").addEventListener("click", copySnippet);
  document.querySelectorAll("#snippet-tabs button").forEach((b) => b.addEventListener("click", () => selectSnippet(b.dataset.snippet)));
  document.querySelectorAll("#stepper button").forEach((b) => b.addEventListener("click", () => go(Number(b.dataset.step))));
  document.querySelectorAll("[data-goto]").forEach((b) => b.addEventListener("click", () => go(Number(b.dataset.goto))));
  window.addEventListener("hashchange", route);
  await route();
}

init().catch((err) => { document.body.prepend(el("p", { class: "message", role: "alert", text: err.message })); });
