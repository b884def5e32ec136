// riskdrift operations dashboard: plain JS, no build step.
// The API key comes from ?key= (then kept in localStorage) or localStorage; fetches send it as
// Authorization: Bearer; the SSE feed and links opened in a new tab (EventSource and <a> cannot
// set headers) carry it as ?key=, which the API accepts on GET requests.
"use strict";
(function () {
  const params = new URLSearchParams(location.search);
  if (params.get("key")) localStorage.setItem("riskdrift.key", params.get("key"));
  const key = localStorage.getItem("riskdrift.key") || "";
  const headers = key ? { Authorization: "Bearer " + key } : {};
  const withKey = (url) => (key ? url + (url.includes("?") ? "&" : "?") + "key=" + encodeURIComponent(key) : url);
  const jobs = new Map();
  const filter = { status: "", ticker: "", search: "" };
  let cursor = null;  // the server's next page of the current listing (status/ticker filter)
  let selected = null;
  const FINISHED = ["completed", "failed", "cancelled"];

  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const svgEl = (tag, attrs, text) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1) + " %");
  const secs = (s) => (s === null || s === undefined ? "–" : s < 10 ? s.toFixed(2) + " s" : s < 90 ? s.toFixed(1) + " s" : (s / 60).toFixed(1) + " min");
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
  const between = (a, b) => (a && b ? (new Date(b) - new Date(a)) / 1000 : null);

  async function api(method, path) {
    const response = await fetch(path, { method, headers });
    const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
    return { ok: response.ok, status: response.status, body };
  }

  function grade(card, value, good, warn) {
    const node = $(card);
    node.classList.remove("ok", "warn", "bad");
    if (value === null || value === undefined) return;
    node.classList.add(good(value) ? "ok" : warn(value) ? "warn" : "bad");
  }

  function renderSummary(s) {
    const ready = s.queues.reduce((n, q) => n + q.ready, 0);
    $("#card-queue b").textContent = ready;
    grade("#card-queue", ready, (v) => v < 50, (v) => v < 100);
    const util = Object.values(s.utilisation).filter((v) => v !== null);
    const u = util.length ? util.reduce((a, b) => a + b, 0) / util.length : null;
    $("#card-util b").textContent = pct(u);
    grade("#card-util", u, (v) => v >= 0.6 && v <= 0.8, (v) => v < 0.9);
    $("#card-fail b").textContent = pct(s.jobs.failure_ratio);
    grade("#card-fail", s.jobs.failure_ratio, (v) => v < 0.01, (v) => v < 0.05);
    $("#card-p95 b").textContent = secs(s.jobs.p95_seconds);
    grade("#card-p95", s.jobs.p95_seconds, (v) => v < 180, (v) => v < 300);

    $("#queues tbody").replaceChildren(...s.queues.map((q) => {
      const tr = el("tr");
      [q.queue, q.ready, q.deferred, q.running].forEach((v) => tr.append(el("td", {}, String(v))));
      return tr;
    }));
    const now = s.taken_at || Date.now() / 1000;
    $("#workers tbody").replaceChildren(...(s.workers.length ? s.workers.map((w) => {
      const tr = el("tr", { "data-worker": w.worker_id });
      const state = w.busy >= w.max_jobs ? "saturated" : w.busy > 0 ? "busy" : "idle";
      tr.append(el("td", {}, w.worker_id), el("td", {}, w.queue),
        el("td", { class: "state " + state }, state),
        el("td", {}, w.busy + " / " + w.max_jobs), el("td", {}, pct(w.utilisation)),
        el("td", {}, w.completed + " / " + w.failed), el("td", {}, secs(now - w.started_at)));
      return tr;
    }) : [(() => { const tr = el("tr"); tr.append(el("td", { colspan: 7 }, "no worker alive")); return tr; })()]));
  }

  // --- charts over the last hour ---------------------------------------------------------
  function chart(id, points, kind) {
    const w = 300, h = 90, pad = 18;
    const values = points.map((p) => (p === null ? 0 : p));
    const max = Math.max(1, ...values);
    const svg = svgEl("svg", { viewBox: "0 0 " + w + " " + h, preserveAspectRatio: "none", role: "img", "data-max": String(max) });
    svg.append(svgEl("line", { class: "axis", x1: 0, y1: h - pad, x2: w, y2: h - pad }));
    const x = (i) => (i * w) / Math.max(1, points.length - 1);
    const y = (v) => h - pad - ((h - pad - 4) * v) / max;
    if (kind === "bar") {
      const bw = w / points.length;
      values.forEach((v, i) => { if (v > 0) svg.append(svgEl("rect", { class: "bar", x: i * bw, y: y(v), width: Math.max(1, bw - 1), height: h - pad - y(v) })); });
    } else {
      const d = points.map((v, i) => (v === null ? null : [x(i), y(v)])).filter(Boolean)
        .map(([px, py], i) => (i ? "L" : "M") + px.toFixed(1) + " " + py.toFixed(1)).join(" ");
      if (d) svg.append(svgEl("path", { class: "line", d }));
      points.forEach((v, i) => { if (v !== null) svg.append(svgEl("circle", { class: "point", cx: x(i), cy: y(v), r: 2 })); });
    }
    svg.append(svgEl("text", { x: 2, y: 10 }, "max " + (Number.isInteger(max) ? max : max.toFixed(1))),
      svgEl("text", { x: 2, y: h - 4 }, "−60 min"), svgEl("text", { x: w - 26, y: h - 4 }, "now"));
    $(id + " .chart").replaceChildren(svg);
  }

  async function pollSeries() {
    try {
      const { ok, body } = await api("GET", "/dashboard/timeseries");
      if (!ok) return;
      const m = body.minutes;
      chart("#chart-throughput", m.map((r) => r.completed), "bar");
      chart("#chart-failures", m.map((r) => r.failed), "bar");
      chart("#chart-p95", m.map((r) => r.p95_seconds), "line");
      chart("#chart-waiting", m.map((r) => r.waiting), "line");
    } catch (e) { /* next poll */ }
  }

  // --- jobs table: filters, search, paging --------------------------------------------------
  function matches(j) {
    if (filter.status && j.status !== filter.status) return false;
    if (filter.ticker && j.ticker !== filter.ticker) return false;
    const q = filter.search.toLowerCase();
    return !q || j.job_id.startsWith(q) || j.ticker.toLowerCase().includes(q) || (j.error || "").toLowerCase().includes(q);
  }

  function renderJobs() {
    const rows = [...jobs.values()].filter(matches).sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    $("#shown").textContent = rows.length + " shown of " + jobs.size + " loaded";
    $("#jobs tbody").replaceChildren(...rows.map((j) => {
      const tr = el("tr", { "data-job": j.job_id, "data-status": j.status });
      if (j.status === "completed") tr.classList.add("done");
      if (j.job_id === selected) tr.classList.add("selected");
      const bar = el("span", { class: "bar" }); bar.append(el("i", { style: "width:" + j.progress + "%" }));
      const progress = el("td"); progress.append(bar, " " + j.progress + " %");
      const status = el("td"); status.append(el("span", { class: "status " + j.status }, j.status));
      const duration = j.duration_s !== undefined ? j.duration_s : between(j.started_at, j.finished_at);
      tr.append(el("td", {}, j.job_id.slice(0, 8)), el("td", {}, j.ticker), el("td", {}, j.years.join(" vs ")),
        status, progress, el("td", {}, j.step || ""), el("td", {}, String(j.attempts)), el("td", {}, secs(duration)),
        el("td", { class: "error", title: j.error || "" }, j.error || ""));
      tr.addEventListener("click", () => showJob(j.job_id));
      return tr;
    }));
  }

  let listing = 0;  // a filter change starts a new listing; answers to an older one are dropped
  async function loadPage(reset) {
    const mine = reset ? ++listing : listing;
    const query = new URLSearchParams({ limit: "100" });
    if (filter.status) query.set("status", filter.status);
    if (filter.ticker) query.set("ticker", filter.ticker);
    if (!reset && cursor) query.set("cursor", cursor);
    const { ok, body } = await api("GET", "/jobs?" + query);
    if (mine !== listing) return;
    if (!ok) { $("#older-note").textContent = (body && body.detail) || "could not load jobs"; return; }
    body.jobs.forEach((j) => { if (!jobs.has(j.job_id) || reset) jobs.set(j.job_id, { ...jobs.get(j.job_id), ...j }); });
    cursor = body.next_cursor;
    $("#older").disabled = !cursor;
    $("#older-note").textContent = cursor ? "" : "no older jobs";
    renderJobs();
  }

  function setFilter(changes) {
    if (Object.entries(changes).every(([k, v]) => filter[k] === v)) return;  // e.g. a blur's change
    Object.assign(filter, changes);
    $("#f-status").value = filter.status;
    $("#f-ticker").value = filter.ticker;
    $("#f-search").value = filter.search;
    cursor = null;
    renderJobs();
    loadPage(true);
  }

  function upsert(job) {
    const known = jobs.get(job.job_id);
    jobs.set(job.job_id, job);
    renderJobs();
    if (FINISHED.includes(job.status) && (!known || known.status !== job.status)) {
      pollSummary();  // the last hour's figures just changed
      pollSeries();
    }
    if (job.job_id === selected) showJob(job.job_id, { keepNote: true });
    else if (job.status === "completed" && (!known || known.status !== "completed") && selected === null) showResult(job.job_id);
  }

  // --- job detail and actions -------------------------------------------------------------
  function field(dl, name, value) { dl.append(el("dt", {}, name), el("dd", {}, value)); }

  async function showJob(jobId, opts) {
    selected = jobId;
    renderJobs();
    const [{ ok, body: j }, deliveries] = await Promise.all([
      api("GET", "/jobs/" + jobId), api("GET", "/jobs/" + jobId + "/deliveries")]);
    if (!ok) return;
    jobs.set(jobId, { ...jobs.get(jobId), ...j });
    $("#detail").hidden = false;
    $("#detail-id").textContent = j.job_id;
    const dl = $("#detail-fields");
    dl.replaceChildren();
    field(dl, "ticker", j.ticker); field(dl, "years", j.years.join(" vs "));
    field(dl, "status", j.status); field(dl, "step", (j.step || "–") + " · " + j.progress + " %");
    field(dl, "attempts", String(j.attempts));
    field(dl, "created", when(j.created_at)); field(dl, "started", when(j.started_at)); field(dl, "finished", when(j.finished_at));
    field(dl, "waited", secs(between(j.created_at, j.started_at)));
    field(dl, "ran", secs(between(j.started_at, j.finished_at)));
    field(dl, "callback", j.callback_url || "–");
    $("#detail-error").hidden = !j.error;
    $("#detail-error").textContent = j.error || "";
    $("#act-cancel").disabled = FINISHED.includes(j.status);
    $("#act-retry").disabled = !["failed", "cancelled"].includes(j.status);
    $("#act-redeliver").disabled = !(j.callback_url && ["completed", "failed"].includes(j.status));
    $("#act-result").hidden = $("#act-report").hidden = j.status !== "completed";
    $("#act-result").href = withKey("/jobs/" + jobId + "/result");
    $("#act-report").href = withKey("/jobs/" + jobId + "/report");
    if (!(opts && opts.keepNote)) $("#action-note").textContent = "";
    const list = deliveries.ok ? deliveries.body.deliveries : [];
    $("#deliveries tbody").replaceChildren(...(list.length ? list.map((d) => {
      const tr = el("tr", { "data-delivery": d.delivery_id });
      tr.append(el("td", {}, d.type), el("td", {}, d.status), el("td", {}, String(d.series)),
        el("td", { title: d.attempts.map((a) => a.at + " " + a.outcome + (a.status_code ? " " + a.status_code : "")).join("\n") }, String(d.attempt_count)),
        el("td", {}, d.last_status_code === null ? "–" : String(d.last_status_code)),
        el("td", { class: "error" }, d.last_error || ""), el("td", {}, when(d.delivered_at)));
      return tr;
    }) : [(() => { const tr = el("tr"); tr.append(el("td", { colspan: 7, class: "dim" }, j.callback_url ? "no delivery yet" : "no callback_url: no webhooks")); return tr; })()]));
    if (j.status === "completed") showResult(jobId);
    else $("#result").hidden = true;
  }

  async function act(path, done) {
    const note = $("#action-note");
    note.textContent = "…";
    const { ok, status, body } = await api("POST", path);
    note.textContent = ok ? done(body) : "refused (" + status + "): " + ((body && (body.detail || body.title)) || "error");
    if (selected) showJob(selected, { keepNote: true });
  }

  $("#act-cancel").addEventListener("click", () => act("/jobs/" + selected + "/cancel", () => "cancelled"));
  $("#act-retry").addEventListener("click", () => act("/jobs/" + selected + "/retry", (b) => {
    jobs.set(b.job_id, { job_id: b.job_id, status: b.status, ticker: jobs.get(selected).ticker, years: jobs.get(selected).years,
      progress: 0, step: null, attempts: 0, error: null, created_at: new Date().toISOString() });
    renderJobs();
    return "retried as job " + b.job_id;
  }));
  $("#act-redeliver").addEventListener("click", () => act("/jobs/" + selected + "/deliveries/redeliver", (b) => "redelivery series " + b.series + " queued"));

  // --- result of a completed job ------------------------------------------------------------
  function colour(t) {  // per measure (column): 0 → panel blue-grey, max → warm red
    const a = [38, 48, 64], b = [248, 81, 73];
    return "rgb(" + a.map((x, i) => Math.round(x + (b[i] - x) * t)).join(",") + ")";
  }

  function renderHeatmap(h) {
    const cell = 56, rowLabel = 190, colLabel = 150, cw = cell, ch = 26;
    const width = rowLabel + h.columns.length * cw + 90, height = colLabel + h.rows.length * ch + 10;
    const svg = svgEl("svg", { width, height, viewBox: "0 0 " + width + " " + height, id: "heatmap-svg", role: "img" });
    const max = h.columns.map((_, c) => Math.max(1e-9, ...h.values.map((r) => Math.abs(r[c]))));
    h.columns.forEach((name, c) => {
      const x = rowLabel + c * cw + cw / 2;
      svg.append(svgEl("text", { x, y: colLabel - 6, transform: "rotate(-45 " + x + " " + (colLabel - 6) + ")" }, name));
    });
    h.rows.forEach((name, r) => {
      const y = colLabel + r * ch;
      svg.append(svgEl("text", { x: rowLabel - 8, y: y + ch / 2 + 4, "text-anchor": "end" }, name));
      h.columns.forEach((col, c) => {
        const v = h.values[r][c];
        const rect = svgEl("rect", { class: "cell", x: rowLabel + c * cw, y, width: cw - 2, height: ch - 2, rx: 3,
          fill: colour(Math.abs(v) / max[c]) });
        rect.append(svgEl("title", {}, name + " · " + col + ": " + v));
        svg.append(rect, svgEl("text", { x: rowLabel + c * cw + cw / 2 - 1, y: y + ch / 2 + 3, "text-anchor": "middle" },
          Number.isInteger(v) ? String(v) : v.toFixed(2)));
      });
    });
    $("#heatmap").replaceChildren(svg);
  }

  function renderStatuses(risks) {
    const counts = { new: 0, removed: 0, modified: 0, unchanged: 0 };
    risks.forEach((r) => { counts[r.status] = (counts[r.status] || 0) + 1; });
    const colours = { new: "#3fb950", removed: "#f85149", modified: "#d29922", unchanged: "#8a96a8" };
    const total = Math.max(1, risks.length), w = 360;
    const svg = svgEl("svg", { width: w + 140, height: 4 * 30 + 10, id: "status-svg" });
    Object.entries(counts).forEach(([name, n], i) => {
      svg.append(svgEl("text", { x: 0, y: i * 30 + 18 }, name),
        svgEl("rect", { x: 80, y: i * 30 + 4, width: Math.max(2, (w * n) / total), height: 20, rx: 3, fill: colours[name] }),
        svgEl("text", { x: 86 + (w * n) / total, y: i * 30 + 18 }, String(n)));
    });
    $("#statuses").replaceChildren(svg);
  }

  async function showResult(jobId) {
    const { ok, body: result } = await api("GET", "/jobs/" + jobId + "/result?exclude=texts");
    if (!ok) return;
    $("#result").hidden = false;
    $("#result-title").textContent = result.company + " (" + result.ticker + ") fiscal " + result.years.join(" vs ");
    $("#warnings").replaceChildren(...result.filings.flatMap((f) => ((f.extraction && f.extraction.warnings) || [])
      .map((w) => el("li", {}, "fiscal " + f.year + ": " + w))));
    $("#summary").textContent = result.summary;
    renderHeatmap(result.heatmap);
    renderStatuses(result.risks);
    const current = result.years[0];
    $("#history-chart").src = withKey("/companies/" + encodeURIComponent(result.ticker) +
      "/history.svg?from=" + Math.max(2005, current - 10) + "&to=" + current);
    $("#history-chart").alt = result.ticker + " risk history, fiscal " + Math.max(2005, current - 10) + "-" + current;
  }

  async function pollSummary() {
    try {
      const { ok, body } = await api("GET", "/dashboard/summary");
      if (ok) renderSummary(body);
    } catch (e) { /* the SSE feed also carries summaries */ }
  }

  // --- watchlists: per company its state, last filing seen and last analysis ------------
  async function pollWatchlists() {
    try {
      const { ok, body } = await api("GET", "/watchlists?limit=200");
      if (!ok) return;
      const rows = [];
      for (const w of body.watchlists) {
        for (const c of w.companies) {
          const tr = el("tr", { "data-watchlist": w.watchlist_id, "data-ticker": c.ticker, "data-status": c.status });
          const filing = c.last_filing ? c.last_filing.form + " FY" + c.last_filing.fiscal_year + " (" + c.last_filing.key + ")" : "–";
          const analysis = el("td");
          if (c.last_job_id) {
            const link = el("a", { href: "#", "data-job": c.last_job_id }, c.last_job_id.slice(0, 8));
            link.addEventListener("click", (e) => { e.preventDefault(); showJob(c.last_job_id); });
            analysis.append(link);
          } else {
            analysis.textContent = "–";
          }
          tr.append(el("td", {}, w.name), el("td", {}, c.ticker),
            el("td", { class: "state " + c.status, title: c.last_error || "" }, c.status),
            el("td", {}, when(c.last_polled_at)), el("td", {}, filing), analysis);
          rows.push(tr);
        }
      }
      if (!rows.length) {
        const tr = el("tr");
        tr.append(el("td", { colspan: 6 }, "no watchlists"));
        rows.push(tr);
      }
      $("#watchlists tbody").replaceChildren(...rows);
    } catch (e) { /* the next poll tries again */ }
  }

  function connect() {
    const source = new EventSource(withKey("/dashboard/events"));
    source.onopen = () => { $("#conn").textContent = "live"; $("#conn").className = "pill on"; };
    source.onerror = () => { $("#conn").textContent = "reconnecting…"; $("#conn").className = "pill off"; };
    source.addEventListener("jobs", (e) => { JSON.parse(e.data).forEach((j) => jobs.set(j.job_id, j)); renderJobs(); });
    source.addEventListener("job", (e) => upsert(JSON.parse(e.data)));
    source.addEventListener("summary", (e) => renderSummary(JSON.parse(e.data)));
  }

  $("#f-status").addEventListener("change", (e) => setFilter({ status: e.target.value }));
  $("#f-ticker").addEventListener("change", (e) => setFilter({ ticker: e.target.value.trim().toUpperCase() }));
  $("#f-search").addEventListener("input", (e) => { filter.search = e.target.value.trim(); renderJobs(); });
  $("#failed-view").addEventListener("click", () => setFilter({ status: "failed" }));
  $("#clear-filters").addEventListener("click", () => setFilter({ status: "", ticker: "", search: "" }));
  $("#older").addEventListener("click", () => loadPage(false));

  pollSummary();
  pollSeries();
  loadPage(true);
  setInterval(pollSummary, 10000);
  setInterval(pollSeries, 15000);
  pollWatchlists();
  setInterval(pollWatchlists, 10000);
  connect();
})();
