// The Sentinel dashboard page: sign-in, project picker, overview, endpoints, request log, live tail, jobs.
import { Api, ApiError } from "./api.js";
import { lines, ring, stackedBars } from "./charts.js";
import {
  ago, bytes, clear, compact, count, h, methodBadge, ms, msAxis, percent, statusBadge, time,
} from "./format.js";

const TOKEN_KEY = "sentinel.dashboard.token";
const PROJECT_KEY = "sentinel.dashboard.project";
const RANGE_KEY = "sentinel.dashboard.range";
const LIVE_LIMIT = 200;
const REFRESH_MS = 20000;

const TITLES = {
  overview: ["Overview", "Traffic, errors and latency of the project"],
  endpoints: ["Endpoints", "Every route with its volume, errors and latency; click a column to sort"],
  requests: ["Request log", "Individual requests, newest first; click one for everything that was captured"],
  live: ["Live tail", "Requests as they are stored, over server-sent events"],
  jobs: ["Jobs & state", "Data jobs and the project's state tree, updated live"],
};

const $ = (selector) => document.querySelector(selector);

const state = {
  api: null,
  projects: [],
  projectId: null,
  range: Number(sessionStorage.getItem(RANGE_KEY)) || 3600000,
  view: "overview",
  endpoints: [],
  sort: { key: "requests", desc: true },
  requestsNext: null,
  live: null,
  livePaused: false,
  liveSeen: 0,
  refreshTimer: null,
  jobsTimer: null,
  latest: {},
};

// Answers can arrive out of order (a filter applied while the previous load is in flight, a quick project
// switch): each loader draws only the answer to its latest call.
function ticket(name) {
  const number = (state.latest[name] || 0) + 1;
  state.latest[name] = number;
  return () => state.latest[name] === number;
}

// ---------------------------------------------------------------- sign-in

function showSignin(message) {
  stopLive();
  $("#app").hidden = true;
  $("#signin").hidden = false;
  const error = $("#signin-error");
  error.textContent = message || "";
  error.hidden = !message;
  $("#token-input").focus();
}

async function signIn(token, { remembered }) {
  const api = new Api(token);
  let answer;
  try {
    answer = await api.projects();
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      sessionStorage.removeItem(TOKEN_KEY);
      const why = err.message ? ` (${err.message})` : "";
      showSignin(
        remembered
          ? `Your saved token is no longer accepted${why}. Sign in again.`
          : `This token was refused${why}. Check that you pasted the whole dashboard token of your tenant.`,
      );
      return;
    }
    showSignin(err.message);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  state.api = api;
  state.projects = answer.items || [];
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#token-input").value = "";
  fillProjects();
  route();
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(PROJECT_KEY);
  state.api = null;
  clearInterval(state.refreshTimer);
  showSignin("");
}

function onAuthError(err) {
  if (err instanceof ApiError && err.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignin(`Your session ended: ${err.message}. Sign in again.`);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- projects, range, routing

function fillProjects() {
  const select = $("#project-select");
  clear(select);
  if (!state.projects.length) {
    select.append(h("option", { value: "" }, "No projects"));
    state.projectId = null;
    banner("This tenant has no project yet: create one with POST /api/projects.", "warn");
    return;
  }
  const saved = sessionStorage.getItem(PROJECT_KEY);
  state.projectId = state.projects.some((p) => p.id === saved) ? saved : state.projects[0].id;
  for (const project of state.projects) {
    select.append(h("option", { value: project.id, selected: project.id === state.projectId }, project.name));
  }
  startLive();
}

function banner(message, kind) {
  const el = $("#banner");
  el.textContent = message || "";
  el.className = `banner ${kind || ""}`;
  el.hidden = !message;
}

function window_() {
  const to = Date.now();
  return { from: to - state.range, to };
}

function route() {
  const name = (window.location.hash.replace(/^#\/?/, "") || "overview").split("?")[0];
  state.view = TITLES[name] ? name : "overview";
  for (const link of document.querySelectorAll(".nav a")) link.classList.toggle("active", link.dataset.view === state.view);
  for (const section of document.querySelectorAll(".view")) section.hidden = section.dataset.view !== state.view;
  const [title, subtitle] = TITLES[state.view];
  $("#view-title").textContent = title;
  $("#view-subtitle").textContent = subtitle;
  $("#range-picker").hidden = state.view === "live" || state.view === "jobs";
  refresh();
  clearInterval(state.refreshTimer);
  state.refreshTimer = setInterval(() => {
    if (!document.hidden && ["overview", "endpoints", "jobs"].includes(state.view)) refresh();
  }, REFRESH_MS);
}

async function refresh() {
  if (!state.api || !state.projectId) return;
  banner("");
  const loaders = { overview: loadOverview, endpoints: loadEndpoints, requests: () => loadRequests(false), live: renderLiveEmpty, jobs: loadJobs };
  try {
    await loaders[state.view]();
  } catch (err) {
    if (!onAuthError(err)) banner(err.message, "error");
  }
}

// ---------------------------------------------------------------- overview

function card(label, value, sub, { metric, unit, tone } = {}) {
  return h(
    "div",
    { class: `card ${tone || ""}` },
    h("div", { class: "card-label" }, label),
    h("div", { class: "card-value", dataset: { metric } }, value, unit ? h("span", { class: "unit" }, unit) : null),
    h("div", { class: "card-sub" }, sub),
  );
}

function msParts(value) {
  const text = ms(value);
  const [number, unit] = text.split(" ");
  return [number, unit];
}

function renderCards(o) {
  const cards = $("#cards");
  clear(cards);
  const [p50, p50u] = msParts(o.p50_ms);
  const [p95, p95u] = msParts(o.p95_ms);
  const [p99, p99u] = msParts(o.p99_ms);
  const errorTone = o.error_rate >= 0.05 ? "bad" : "";
  cards.append(
    card("Requests", count(o.requests), `${o.requests_per_minute.toFixed(1)} per minute`, { metric: "requests" }),
    card("Error rate", percent(o.error_rate), `${count(o.errors_4xx)} 4xx · ${count(o.errors_5xx)} 5xx`, { metric: "error_rate", tone: errorTone }),
    card("p50 latency", p50, `mean ${ms(o.avg_duration_ms)}`, { metric: "p50_ms", unit: p50u }),
    card("p95 latency", p95, "95th percentile", { metric: "p95_ms", unit: p95u }),
    card("p99 latency", p99, "99th percentile", { metric: "p99_ms", unit: p99u }),
    card("Consumers", count(o.consumers), "distinct consumer ids", { metric: "consumers" }),
  );
}

function renderCompleteness(o) {
  const el = $("#completeness");
  clear(el);
  const share = o.completeness;
  const tone = share === null ? "" : share >= 0.999 ? "" : share >= 0.98 ? "warn" : "bad";
  el.append(
    h(
      "div",
      { class: `gauge ${tone}` },
      ring(share ?? 0, share === null ? "–" : share === 1 ? "100%" : percent(share, share >= 0.999 ? 1 : 2)),
      h(
        "dl",
        { class: "kv" },
        h("dt", {}, "Events stored"), h("dd", { dataset: { metric: "stored" } }, count(o.requests)),
        h("dt", {}, "Lost by SDKs"), h("dd", { dataset: { metric: "events_lost" } }, count(o.events_lost)),
        h("dt", {}, "Complete"), h("dd", {}, share === null ? "no batch yet" : percent(share, 2)),
      ),
    ),
    h("p", { class: "muted small" }, "Share of the events the SDKs captured that reached Sentinel, from the loss counters every batch carries."),
  );
}

function renderStatusCodes(page) {
  const el = $("#status-codes");
  clear(el);
  if (!page.items.length) {
    el.append(h("p", { class: "empty" }, "No requests in this window."));
    return;
  }
  const max = Math.max(...page.items.map((i) => i.requests));
  const bars = h("div", { class: "bars" });
  for (const item of page.items) {
    const fill = h("div", { class: `bar-fill s${Math.floor(item.status / 100)}` });
    fill.style.width = `${((item.requests / max) * 100).toFixed(1)}%`;
    bars.append(h("div", { class: "bar-row", dataset: { status: item.status } }, statusBadge(item.status), h("div", { class: "bar-track" }, fill), h("div", { class: "bar-value" }, `${compact(item.requests)} · ${percent(item.share, item.share < 0.1 ? 1 : 0)}`)));
  }
  el.append(bars);
}

function renderConsumers(page) {
  const el = $("#consumers");
  clear(el);
  if (!page.items.length) {
    el.append(h("p", { class: "empty" }, "No identified consumers. Call set_consumer() or pass identify= to the SDK."));
    return;
  }
  const max = Math.max(...page.items.map((i) => i.requests));
  const bars = h("div", { class: "bars" });
  for (const item of page.items.slice(0, 7)) {
    const fill = h("div", { class: "bar-fill" });
    fill.style.width = `${((item.requests / max) * 100).toFixed(1)}%`;
    bars.append(
      h(
        "div",
        { class: "bar-row wide", dataset: { consumer: item.consumer_id } },
        h("div", { class: "bar-label" }, item.name || item.consumer_id, " ", h("span", { class: "bar-sub" }, item.group || "")),
        h("div", { class: "bar-track" }, fill),
        h("div", { class: "bar-value" }, compact(item.requests)),
      ),
    );
  }
  el.append(bars);
}

async function loadOverview() {
  const current = ticket("overview");
  const api = state.api;
  const id = state.projectId;
  const w = window_();
  const series = (metric) => api.project(id, "/metrics/timeseries", { ...w, metric, interval: "auto" });
  const [overview, requests, errors, p50, p95, p99, codes, consumers] = await Promise.allSettled([
    api.project(id, "/metrics/overview", w),
    series("requests"), series("errors"), series("p50"), series("p95"), series("p99"),
    api.project(id, "/metrics/status-codes", w),
    api.project(id, "/metrics/consumers", { ...w, limit: 7 }),
  ]);
  if (!current()) return;
  const failed = [overview, requests, codes].find((r) => r.status === "rejected");
  if (failed && onAuthError(failed.reason)) return;
  if (overview.status === "fulfilled") {
    renderCards(overview.value);
    renderCompleteness(overview.value);
  } else {
    banner(`Metrics are unavailable: ${overview.reason.message}`, "error");
  }
  const withDate = state.range > 86400000;
  if (requests.status === "fulfilled" && errors.status === "fulfilled") {
    const errorsAt = new Map(errors.value.points.map((p) => [p.t, p.value || 0]));
    const buckets = requests.value.points.map((p) => {
      const bad = errorsAt.get(p.t) || 0;
      return { t: p.t, values: { ok: Math.max(0, (p.value || 0) - bad), errors: bad } };
    });
    const volumeSeries = [
      { key: "ok", label: "Successful", color: "#6366f1", swatch: "c-2xx" },
      { key: "errors", label: "Errors", color: "#ef4444", swatch: "c-5xx" },
    ];
    legend("#volume-legend", volumeSeries);
    stackedBars($("#chart-volume"), buckets, volumeSeries, { formatValue: compact, withDate });
  }
  if (p50.status === "fulfilled" && p95.status === "fulfilled" && p99.status === "fulfilled") {
    const latency = [
      { key: "p50", label: "p50", color: "#10b981", swatch: "c-p50", values: p50.value.points.map((p) => p.value) },
      { key: "p95", label: "p95", color: "#6366f1", swatch: "c-p95", values: p95.value.points.map((p) => p.value) },
      { key: "p99", label: "p99", color: "#f43f5e", swatch: "c-p99", values: p99.value.points.map((p) => p.value) },
    ];
    legend("#latency-legend", latency);
    lines($("#chart-latency"), p50.value.points.map((p) => p.t), latency, { formatValue: ms, formatAxis: msAxis, withDate });
  }
  if (codes.status === "fulfilled") renderStatusCodes(codes.value);
  if (consumers.status === "fulfilled") renderConsumers(consumers.value);
}

function legend(selector, series) {
  const el = $(selector);
  clear(el);
  for (const item of series) el.append(h("span", {}, h("span", { class: `swatch ${item.swatch}` }), item.label));
}

// ---------------------------------------------------------------- endpoints

// Sort keys the API sorts on (over every endpoint, not only the page shown); the route is sorted here.
const SERVER_SORTS = ["requests", "error_rate", "p50_ms", "p95_ms", "p99_ms", "avg_request_size", "avg_response_size"];

async function loadEndpoints() {
  const current = ticket("endpoints");
  const { key, desc } = state.sort;
  const sort = SERVER_SORTS.includes(key) ? { sort: key, order: desc ? "desc" : "asc" } : {};
  const page = await state.api.project(state.projectId, "/metrics/endpoints", { ...window_(), ...sort, limit: 200 });
  if (!current()) return;
  state.endpoints = page.items;
  renderEndpoints();
}

function rateCell(rate) {
  const tone = rate >= 0.05 ? "rate-bad" : rate >= 0.01 ? "rate-warn" : "";
  return h("td", { class: `num ${tone}` }, percent(rate));
}

function renderEndpoints() {
  const { key, desc } = state.sort;
  const value = (item) => (key === "route" ? `${item.route || ""} ${item.method}` : item[key]);
  const rows = [...state.endpoints].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const order = typeof x === "string" ? x.localeCompare(y) : x - y;
    return desc ? -order : order;
  });
  for (const th of document.querySelectorAll("#endpoints-table th")) {
    th.classList.toggle("sorted", th.dataset.sort === key);
    th.classList.toggle("asc", th.dataset.sort === key && !desc);
  }
  const body = $("#endpoints-table tbody");
  clear(body);
  if (!rows.length) {
    body.append(h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No requests in this window yet.")));
    return;
  }
  for (const item of rows) {
    const slow = item.p95_ms >= 500 ? "slow" : "";
    body.append(
      h(
        "tr",
        { dataset: { route: item.route || "", method: item.method } },
        h("td", {}, methodBadge(item.method), h("span", { class: "route" }, item.route || "(no route)")),
        h("td", { class: "num", dataset: { col: "requests" } }, count(item.requests)),
        rateCell(item.error_rate),
        h("td", { class: "num" }, ms(item.p50_ms)),
        h("td", { class: `num ${slow}` }, ms(item.p95_ms)),
        h("td", { class: "num" }, ms(item.p99_ms)),
        h("td", { class: "num" }, bytes(item.avg_response_size)),
      ),
    );
  }
}

function onSort(event) {
  const th = event.target.closest("th[data-sort]");
  if (!th) return;
  const key = th.dataset.sort;
  state.sort = { key, desc: state.sort.key === key ? !state.sort.desc : th.dataset.type !== "text" };
  if (SERVER_SORTS.includes(key)) loadEndpoints().catch((err) => onAuthError(err) || banner(err.message, "error"));
  else renderEndpoints();
}

// ---------------------------------------------------------------- request log and detail

function requestFilters() {
  const form = new FormData($("#request-filters"));
  const filters = {};
  for (const [key, value] of form.entries()) if (String(value).trim()) filters[key] = String(value).trim();
  return filters;
}

function requestRow(item) {
  return h(
    "tr",
    { dataset: { eventId: item.event_id }, onclick: () => openDetail(item.event_id) },
    h("td", { class: "time" }, time(item.timestamp, state.range > 86400000)),
    h("td", {}, methodBadge(item.method)),
    h("td", { class: "path", title: item.path }, item.path),
    h("td", {}, statusBadge(item.status)),
    h("td", { class: `num ${item.duration_ms >= 500 ? "slow" : ""}` }, ms(item.duration_ms)),
    h("td", {}, item.consumer_name || item.consumer_id || h("span", { class: "muted" }, "–")),
  );
}

async function loadRequests(more) {
  const current = ticket("requests");
  const body = $("#requests-table tbody");
  const query = { ...window_(), ...requestFilters(), limit: 50 };
  if (more && state.requestsNext) query.cursor = state.requestsNext;
  const page = await state.api.project(state.projectId, "/requests", query);
  if (!current()) return;
  if (!more) clear(body);
  for (const item of page.items) body.append(requestRow(item));
  if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No request matches these filters in this window.")));
  state.requestsNext = page.next;
  $("#requests-more").hidden = !page.next;
}

function kv(pairs) {
  const dl = h("dl", { class: "kv" });
  for (const [key, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(h("dt", {}, key), h("dd", {}, String(value)));
  }
  return dl;
}

function block(title, content) {
  return [h("h3", {}, title), content];
}

function bodyText(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (err) {
    return text;
  }
}

function renderDetail(d) {
  const body = $("#detail-body");
  clear(body);
  body.append(
    h("div", { class: "detail-title" }, methodBadge(d.method), statusBadge(d.status), h("span", {}, d.path)),
    ...block("Request", kv([
      ["Time", time(d.timestamp, true)], ["Route", d.route || "(no route)"], ["Duration", ms(d.duration_ms)],
      ["Time to first byte", d.ttfb_ms !== null && d.ttfb_ms !== undefined ? ms(d.ttfb_ms) : null],
      ["Request size", bytes(d.request_size)], ["Response size", bytes(d.response_size)],
      ["Service", d.service], ["Environment", d.environment], ["Error", d.error], ["Aborted", d.aborted ? "yes" : null],
      ["Event id", d.event_id], ["Trace id", d.trace_id],
    ])),
    ...block("Consumer", kv([
      ["Id", d.consumer_id || "anonymous"], ["Name", d.consumer_name], ["Group", d.consumer_group],
      ["Client IP", d.client_ip], ["User agent", d.user_agent],
    ])),
  );
  if (d.attributes && Object.keys(d.attributes).length) body.append(...block("Attributes", kv(Object.entries(d.attributes))));
  if (d.request_headers) body.append(...block("Request headers", kv(Object.entries(d.request_headers))));
  if (d.response_headers) body.append(...block("Response headers", kv(Object.entries(d.response_headers))));
  if (d.request_body) body.append(...block("Request body", h("pre", {}, bodyText(d.request_body))));
  if (d.response_body) body.append(...block("Response body", h("pre", {}, bodyText(d.response_body))));
}

async function openDetail(eventId, fallback) {
  const current = ticket("detail");
  $("#detail").hidden = false;
  clear($("#detail-body")).append(h("p", { class: "muted" }, "Loading…"));
  try {
    const detail = await state.api.project(state.projectId, `/requests/${encodeURIComponent(eventId)}`);
    if (current()) renderDetail(detail);
  } catch (err) {
    if (onAuthError(err) || !current()) return;
    if (fallback) renderDetail(fallback);
    else clear($("#detail-body")).append(h("p", { class: "form-error" }, err.message));
  }
}

// ---------------------------------------------------------------- live tail (SSE)

function stopLive() {
  if (state.live) state.live.close();
  state.live = null;
  $("#live-dot").hidden = true;
}

function liveStatus(text, kind) {
  const pill = $("#live-status");
  pill.textContent = text;
  pill.className = `pill ${kind}`;
  $("#live-dot").hidden = kind !== "on";
}

async function startLive() {
  stopLive();
  const projectId = state.projectId;
  if (!state.api || !projectId) return;
  liveStatus("Connecting…", "");
  let minted;
  try {
    minted = await state.api.sseToken(projectId);
  } catch (err) {
    if (!onAuthError(err)) {
      liveStatus("Disconnected", "off");
      setTimeout(() => state.projectId === projectId && !state.live && startLive(), 5000);
    }
    return;
  }
  if (state.projectId !== projectId) return;
  const url = `/events?project_id=${encodeURIComponent(projectId)}&topics=requests,metrics,jobs,state&access_token=${encodeURIComponent(minted.access_token)}`;
  const source = new EventSource(url);
  state.live = source;
  source.addEventListener("open", () => liveStatus(state.livePaused ? "Paused" : "Live", state.livePaused ? "paused" : "on"));
  source.addEventListener("requests", (event) => onTail(JSON.parse(event.data)));
  source.addEventListener("metrics", (event) => onTick(JSON.parse(event.data)));
  source.addEventListener("jobs", () => scheduleJobsRefresh());
  source.addEventListener("state", () => scheduleJobsRefresh());
  source.addEventListener("reconnect", () => startLive()); // token or connection lifetime over: mint a new token
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED && state.live === source) {
      liveStatus("Reconnecting…", "off");
      state.live = null;
      setTimeout(() => state.projectId === projectId && !state.live && startLive(), 3000);
    } else if (state.live === source) {
      liveStatus("Reconnecting…", "off");
    }
  });
}

function onTail(message) {
  state.liveSeen += 1;
  $("#live-count").textContent = `${count(state.liveSeen)} received`;
  if (state.livePaused) return;
  const e = message.event;
  const consumer = e.consumer ? e.consumer.name || e.consumer.id : null;
  const detail = {
    ...e, service: message.service, environment: message.environment,
    consumer_id: e.consumer && e.consumer.id, consumer_name: e.consumer && e.consumer.name, consumer_group: e.consumer && e.consumer.group,
  };
  const row = h(
    "tr",
    { class: "fresh", dataset: { eventId: e.event_id }, onclick: () => openDetail(e.event_id, detail) },
    h("td", { class: "time" }, time(e.timestamp)),
    h("td", {}, methodBadge(e.method)),
    h("td", { class: "path", title: e.path }, e.path),
    h("td", {}, statusBadge(e.status)),
    h("td", { class: `num ${e.duration_ms >= 500 ? "slow" : ""}` }, ms(e.duration_ms)),
    h("td", {}, consumer || h("span", { class: "muted" }, "–")),
    h("td", { class: "muted" }, message.service),
  );
  const body = $("#live-table tbody");
  body.prepend(row);
  while (body.children.length > LIVE_LIMIT) body.lastChild.remove();
  renderLiveEmpty();
}

const TICK_WINDOW_MS = 5000;

function onTick(tick) {
  // Each worker publishes what it stored, so the rate adds up every tick of the last few seconds.
  const recent = (state.ticks || []).filter((t) => t.to_ms > tick.to_ms - TICK_WINDOW_MS);
  recent.push(tick);
  state.ticks = recent;
  const requests = recent.reduce((sum, t) => sum + t.requests, 0);
  const errors = recent.reduce((sum, t) => sum + t.errors_4xx + t.errors_5xx, 0);
  const latency = recent.reduce((sum, t) => sum + t.avg_ms * t.requests, 0);
  const from = Math.min(...recent.map((t) => t.from_ms));
  const to = Math.max(...recent.map((t) => t.to_ms));
  const seconds = Math.max(1, (to - from) / 1000); // a lone tick covers at least one second
  const rate = requests / seconds;
  const label = $("#live-rate");
  label.textContent = `${rate < 10 ? rate.toFixed(1) : count(rate)} req/s · ${(requests ? (100 * errors) / requests : 0).toFixed(1)}% errors · avg ${ms(requests ? latency / requests : 0)}`;
  label.dataset.requests = String(requests);
}

function renderLiveEmpty() {
  $("#live-empty").hidden = $("#live-table tbody").children.length > 0;
}

// ---------------------------------------------------------------- jobs and state tree

function scheduleJobsRefresh() {
  if (state.view !== "jobs") return;
  clearTimeout(state.jobsTimer);
  state.jobsTimer = setTimeout(() => refresh(), 300);
}

async function loadJobs() {
  const current = ticket("jobs");
  const [jobs, tree] = await Promise.allSettled([
    state.api.project(state.projectId, "/jobs", { limit: 50 }),
    state.api.project(state.projectId, "/state"),
  ]);
  if (!current()) return;
  if (jobs.status === "rejected") throw jobs.reason;
  const body = $("#jobs-table tbody");
  clear(body);
  for (const job of jobs.value.items) {
    const bar = h("div");
    bar.style.width = `${Math.round((job.progress || 0) * 100)}%`;
    body.append(
      h(
        "tr",
        { dataset: { jobId: job.id }, title: job.error || "" },
        h("td", {}, h("div", { class: "tree-name" }, job.name), h("div", { class: "muted small mono" }, job.id)),
        h("td", {}, job.kind),
        h("td", {}, h("span", { class: `badge ${job.status}` }, job.status.replace(/_/g, " "))),
        h("td", {}, h("div", { class: "progress" }, bar)),
        h("td", { class: "num" }, job.duration_ms === null ? "–" : ms(job.duration_ms)),
        h("td", { class: "num" }, `$${job.cost_total_usd.toFixed(4)}`),
        h("td", { class: "time" }, ago(job.created_at)),
      ),
    );
  }
  $("#jobs-empty").hidden = jobs.value.items.length > 0;
  const el = $("#state-tree");
  clear(el);
  if (tree.status === "fulfilled") {
    el.append(h("ul", {}, treeNode(tree.value.root || tree.value, 0)));
  } else if (!onAuthError(tree.reason)) {
    el.append(h("p", { class: "empty" }, `The state tree is unavailable: ${tree.reason.message}`));
  }
}

// Node figures worth a glance, most telling first; ids and empty values are left out.
const META_ORDER = [
  "detail", "error", "events_per_min", "last_seen_ms", "loss_ratio", "latency_ms", "rows", "last_at_ms",
  "progress", "last_run_ms", "finished_at", "count",
];

function metaText(meta) {
  if (!meta) return "";
  const rank = (key) => (META_ORDER.includes(key) ? META_ORDER.indexOf(key) : META_ORDER.length);
  return Object.entries(meta)
    .filter(([key, value]) => value !== null && value !== undefined && value !== "" && typeof value !== "object")
    .filter(([key]) => !key.endsWith("_id") && !["service", "environment", "engine", "connector_kind", "job_kind"].includes(key))
    .sort(([a], [b]) => rank(a) - rank(b))
    .slice(0, 3)
    .map(([key, value]) => metaItem(key, value))
    .join(" · ");
}

function metaItem(key, value) {
  const words = (suffix) => key.slice(0, -suffix.length).replace(/_/g, " ");
  if (typeof value === "number") {
    const epoch = value > 1e12; // epoch milliseconds, whatever the suffix
    if (key.endsWith("_at") || (key.endsWith("_ms") && epoch)) return `${words(key.endsWith("_at") ? "_at" : "_ms").replace(/ at$/, "")} ${ago(value)}`;
    if (key.endsWith("_ms")) return `${words("_ms")} ${ms(value)}`;
    if (key.endsWith("_ratio") || key === "progress") return `${key.replace(/_ratio$/, "").replace(/_/g, " ")} ${percent(value, 1)}`;
    if (key.endsWith("_s")) return `${words("_s")} ${value}s`;
    if (key.endsWith("_bytes")) return `${words("_bytes")} ${bytes(value)}`;
    if (key.endsWith("_usd")) return `${words("_usd")} $${value.toFixed(4)}`;
    return `${key.replace(/_/g, " ")} ${compact(value)}`;
  }
  if (key === "detail" || key === "error") return String(value);
  return `${key.replace(/_/g, " ")} ${value}`;
}

function treeNode(node, depth) {
  const children = node.children || [];
  const list = h("ul", { hidden: depth >= 2 });
  for (const child of children) list.append(treeNode(child, depth + 1));
  const toggle = h("button", { type: "button", class: "tree-toggle", "aria-label": "Expand", hidden: !children.length }, depth >= 2 ? "▸" : "▾");
  toggle.addEventListener("click", () => {
    list.hidden = !list.hidden;
    toggle.textContent = list.hidden ? "▸" : "▾";
  });
  return h(
    "li",
    { dataset: { nodeId: node.id } },
    h(
      "div",
      { class: "tree-node" },
      toggle,
      h("div", {}, h("div", { class: "tree-kind" }, node.kind || ""), h("div", { class: "tree-name" }, node.name)),
      node.status ? h("span", { class: `badge ${node.status}` }, node.status.replace(/_/g, " ")) : null,
      h("div", { class: "tree-meta" }, metaText(node.meta)),
    ),
    children.length ? list : null,
  );
}

// ---------------------------------------------------------------- wiring

function init() {
  $("#signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("#token-input").value.trim();
    if (!token) {
      showSignin("Paste a dashboard token first.");
      return;
    }
    $("#signin-button").disabled = true;
    signIn(token, { remembered: false }).finally(() => {
      $("#signin-button").disabled = false;
    });
  });
  $("#signout").addEventListener("click", signOut);
  $("#project-select").addEventListener("change", (event) => {
    state.projectId = event.target.value;
    sessionStorage.setItem(PROJECT_KEY, state.projectId);
    clear($("#live-table tbody"));
    state.liveSeen = 0;
    state.ticks = [];
    $("#live-rate").textContent = "";
    startLive();
    refresh();
  });
  for (const button of document.querySelectorAll("#range-picker button")) {
    button.classList.toggle("active", Number(button.dataset.range) === state.range);
    button.addEventListener("click", () => {
      state.range = Number(button.dataset.range);
      sessionStorage.setItem(RANGE_KEY, String(state.range));
      for (const other of document.querySelectorAll("#range-picker button")) other.classList.toggle("active", other === button);
      refresh();
    });
  }
  $("#refresh").addEventListener("click", refresh);
  $("#endpoints-table thead").addEventListener("click", onSort);
  $("#endpoints-table tbody").addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-method]");
    if (!row) return;
    const form = $("#request-filters");
    form.elements.method.value = row.dataset.method;
    form.elements.route.value = row.dataset.route;
    window.location.hash = "#/requests";
  });
  $("#request-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    loadRequests(false).catch((err) => onAuthError(err) || banner(err.message, "error"));
  });
  $("#request-filters").addEventListener("reset", () => setTimeout(() => loadRequests(false).catch((err) => onAuthError(err) || banner(err.message, "error")), 0));
  $("#requests-more").addEventListener("click", () => loadRequests(true).catch((err) => banner(err.message, "error")));
  $("#detail-close").addEventListener("click", () => {
    $("#detail").hidden = true;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") $("#detail").hidden = true;
  });
  $("#live-pause").addEventListener("click", () => {
    state.livePaused = !state.livePaused;
    $("#live-pause").textContent = state.livePaused ? "Resume" : "Pause";
    if (state.live) liveStatus(state.livePaused ? "Paused" : "Live", state.livePaused ? "paused" : "on");
  });
  $("#live-clear").addEventListener("click", () => {
    clear($("#live-table tbody"));
    renderLiveEmpty();
  });
  window.addEventListener("hashchange", () => state.api && route());
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => state.view === "overview" && refresh(), 250);
  });

  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved, { remembered: true });
  else showSignin("");
}

init();
