// riskdrift operations dashboard: plain JS, no build step.
// The API key comes from ?key= (then kept in localStorage) or localStorage; fetches send it as
// Authorization: Bearer, and the SSE feed (EventSource cannot set headers) as ?key=.
"use strict";
(function () {
  const params = new URLSearchParams(location.search);
  if (params.get("key")) localStorage.setItem("riskdrift.key", params.get("key"));
  const key = localStorage.getItem("riskdrift.key") || "";
  const headers = key ? { Authorization: "Bearer " + key } : {};
  const jobs = new Map();
  let selected = null;

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

    const qbody = $("#queues tbody");
    qbody.replaceChildren(...s.queues.map((q) => {
      const tr = el("tr");
      [q.queue, q.ready, q.deferred, q.running].forEach((v) => tr.append(el("td", {}, String(v))));
      return tr;
    }));
    const wbody = $("#workers tbody");
    wbody.replaceChildren(...(s.workers.length ? s.workers.map((w) => {
      const tr = el("tr");
      tr.append(el("td", {}, w.worker_id), el("td", {}, w.queue),
        el("td", {}, w.busy + " / " + w.max_jobs), el("td", {}, pct(w.utilisation)),
        el("td", {}, w.completed + " / " + w.failed));
      return tr;
    }) : [(() => { const tr = el("tr"); tr.append(el("td", { colspan: 5 }, "no worker alive")); return tr; })()]));
  }

  function renderJobs() {
    const rows = [...jobs.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1)).slice(0, 100);
    $("#jobs tbody").replaceChildren(...rows.map((j) => {
      const tr = el("tr", { "data-job": j.job_id, "data-status": j.status });
      if (j.status === "completed") tr.classList.add("done");
      if (j.job_id === selected) tr.classList.add("selected");
      const bar = el("span", { class: "bar" }); bar.append(el("i", { style: "width:" + j.progress + "%" }));
      const progress = el("td"); progress.append(bar, " " + j.progress + " %");
      const status = el("td"); status.append(el("span", { class: "status " + j.status }, j.status));
      tr.append(el("td", {}, j.job_id.slice(0, 8)), el("td", {}, j.ticker), el("td", {}, j.years.join(" vs ")),
        status, progress, el("td", {}, j.step || ""), el("td", {}, String(j.attempts)), el("td", {}, secs(j.duration_s)));
      if (j.status === "completed") tr.addEventListener("click", () => showResult(j.job_id));
      return tr;
    }));
  }

  function upsert(job) {
    const known = jobs.get(job.job_id);
    jobs.set(job.job_id, job);
    renderJobs();
    if (["completed", "failed", "cancelled"].includes(job.status) && (!known || known.status !== job.status)) {
      pollSummary();  // the last hour's figures just changed
    }
    if (job.status === "completed" && (!known || known.status !== "completed") && selected === null) {
      showResult(job.job_id);
    }
  }

  // colour scale: per measure (column), 0 → panel blue-grey, max → warm red
  function colour(t) {
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
    selected = jobId;
    renderJobs();
    const response = await fetch("/jobs/" + jobId + "/result", { headers });
    if (!response.ok) return;
    const result = await response.json();
    $("#result").hidden = false;
    $("#result-title").textContent = result.company + " (" + result.ticker + ") fiscal " + result.years.join(" vs ");
    $("#summary").textContent = result.summary;
    renderHeatmap(result.heatmap);
    renderStatuses(result.risks);
  }

  async function pollSummary() {
    try {
      const response = await fetch("/dashboard/summary", { headers });
      if (response.ok) renderSummary(await response.json());
    } catch (e) { /* the SSE feed also carries summaries */ }
  }

  function connect() {
    const url = "/dashboard/events" + (key ? "?key=" + encodeURIComponent(key) : "");
    const source = new EventSource(url);
    source.onopen = () => { $("#conn").textContent = "live"; $("#conn").className = "pill on"; };
    source.onerror = () => { $("#conn").textContent = "reconnecting…"; $("#conn").className = "pill off"; };
    source.addEventListener("jobs", (e) => { JSON.parse(e.data).forEach((j) => jobs.set(j.job_id, j)); renderJobs(); });
    source.addEventListener("job", (e) => upsert(JSON.parse(e.data)));
    source.addEventListener("summary", (e) => renderSummary(JSON.parse(e.data)));
  }

  pollSummary();
  setInterval(pollSummary, 10000);
  connect();
})();
