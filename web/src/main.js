// The sluice dashboard: a header with the server's state, headline numbers, live panels of views
// (SSE), the topics, the views and sinks, and a SQL console. Served from the binary at "/".

import "./style.css";
import { ClusterState } from "./cluster.js";
import { el, fmtBytes, fmtNumber, fmtRate, fmtSeconds, fmtWatermark } from "./format.js";
import "./latency.js";
import { LivePanel } from "./live_panel.js";
import { SqlConsole } from "./sql_console.js";

const params = new URLSearchParams(location.search);
const staleSeconds = Number(params.get("stale")) > 0 ? Number(params.get("stale")) : 10;
const pollMs = Number(params.get("poll")) > 0 ? Number(params.get("poll")) : 2000;
// ?wall: a screen nobody types at, without the SQL console.
const requested = [params.get("view"), params.get("view2"), params.get("view3")];

const cluster = new ClusterState(pollMs);
const panels = [];

const WINDOWED = /\b(TUMBLE|HOP|SESSION)\s*\(/i;
const RANKED = /ROW_NUMBER\s*\(/i;

// Which view a panel shows first: ?view=/view2=/view3= if given, else panel 0 a windowed view,
// panel 1 a ranked (top-N) one, panel 2 a plain aggregate; never one another panel shows.
function pickView(panel, views) {
  const wanted = requested[panel.index];
  if (wanted) return views.some((v) => v.name === wanted) ? wanted : null;
  const taken = new Set(panels.filter((p) => p !== panel).map((p) => p.viewName));
  const free = views.filter((v) => !taken.has(v.name));
  const prefer = [
    (v) => WINDOWED.test(v.definition) && !RANKED.test(v.definition),
    (v) => RANKED.test(v.definition),
    (v) => !WINDOWED.test(v.definition),
  ][panel.index];
  const choice = free.find(prefer) || free[0];
  return choice ? choice.name : null;
}

function tile(label, testid, extra = null) {
  const value = el("div", { class: "kpi-value", "data-testid": testid, text: "—" });
  const node = el("div", { class: "kpi" }, el("div", { class: "kpi-label", text: label }), value, extra);
  return { node, value };
}

function sparkline(history) {
  const w = 160;
  const h = 34;
  if (history.length < 2) return "";
  const max = Math.max(1, ...history.map((p) => p.rate));
  const step = w / (history.length - 1);
  const pts = history.map((p, i) => `${(i * step).toFixed(1)},${(h - (p.rate / max) * (h - 2) - 1).toFixed(1)}`);
  return `<svg viewBox="0 0 ${w} ${h}" preserveAspectRatio="none"><polyline points="${pts.join(" ")}" fill="none" stroke="#38bdf8" stroke-width="2"/></svg>`;
}

function renderTopics(tbody, topics) {
  const rows = [...topics].sort((a, b) => Number(a.isDlq || a.isLate) - Number(b.isDlq || b.isLate) || a.name.localeCompare(b.name));
  tbody.replaceChildren(
    ...rows.map((t) =>
      el(
        "tr",
        { class: t.isDlq ? (t.events > 0 ? "row-dlq" : "row-muted") : t.isLate ? "row-muted" : "", "data-testid": `topic-${t.name}` },
        el("td", {}, el("span", { class: "name" }, t.name), t.isDlq ? el("span", { class: "tag dlq", text: "DLQ" }) : null, t.isLate ? el("span", { class: "tag", text: "late" }) : null),
        el("td", { class: "num", "data-testid": "topic-rate", text: fmtRate(t.rate) }),
        el("td", { class: "num", text: fmtNumber(t.events) }),
        el("td", { class: "num", text: fmtBytes(t.bytes) }),
        el("td", { class: "num", text: String(t.partitions) }),
        el("td", { class: "num" + (t.rejected > 0 ? " warn" : ""), text: fmtNumber(t.rejected) }),
      ),
    ),
  );
}

function renderViews(tbody, list) {
  tbody.replaceChildren(
    ...list.map((v) => {
      const lagging = v.lagSeconds !== null && v.lagSeconds > staleSeconds;
      const watermarkBehind = v.watermark ? Date.now() / 1000 - v.watermark : null;
      return el(
        "tr",
        { class: lagging ? "row-warn" : "", "data-testid": `view-${v.name}` },
        el("td", {}, el("span", { class: "name" }, v.name), el("span", { class: "tag" + (v.kind === "sink" ? " sink" : ""), text: v.kind })),
        el("td", { class: "num", "data-testid": "view-input-rate", text: fmtRate(v.inputRate) }),
        el("td", { class: "num", text: fmtRate(v.outputRate) }),
        el("td", { class: "num" + (lagging ? " warn" : ""), "data-testid": "view-lag", text: `${fmtNumber(v.lagEvents)} · ${fmtSeconds(v.lagSeconds)}` }),
        el("td", { class: "num", title: watermarkBehind !== null ? `${fmtSeconds(watermarkBehind)} behind now` : "", text: fmtWatermark(v.watermark) }),
        el("td", { class: "num" + (v.late > 0 ? " warn" : ""), text: fmtNumber(v.late) }),
        el("td", { class: "num", text: v.kind === "sink" ? "—" : fmtNumber(v.rows) }),
        el("td", {
          class: "num",
          "data-testid": "view-state",
          title: v.checkpointBytes ? `last checkpoint file: ${fmtBytes(v.checkpointBytes)} (compressed)` : "",
          text: v.stateKeys === null && v.stateBytes === null ? "—" : `${fmtNumber(v.stateKeys)} · ${v.stateBytes ? fmtBytes(v.stateBytes) : "—"}`,
        }),
        el("td", { class: "num", text: fmtSeconds(v.checkpointAge) }),
      );
    }),
  );
}

function table(headers, testid) {
  const tbody = el("tbody", { "data-testid": testid });
  const node = el("div", { class: "table-wrap" }, el("table", { class: "grid-table" }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", { text: h })))), tbody));
  return { node, tbody };
}

function main() {
  const app = document.getElementById("app");
  const conn = el("span", { class: "pill", "data-testid": "conn-status", text: "connecting…" });
  const clock = el("span", { class: "clock" });
  const version = el("span", { class: "muted" });
  const banner = el("div", { class: "banner", "data-testid": "conn-error", role: "alert", hidden: true });

  const rateSpark = el("div", { class: "spark" });
  const kRate = tile("Events in", "kpi-ingest-rate", rateSpark);
  const kEvents = tile("Events stored", "kpi-events");
  const kTopics = tile("Topics", "kpi-topics");
  const kViews = tile("Views · sinks", "kpi-views");
  const kDlq = tile("Dead-lettered", "kpi-dlq");
  const kSubs = tile("Subscribers", "kpi-subscribers");
  const kMem = tile("Memory", "kpi-memory");

  const topics = table(["topic", "rate", "events", "size", "parts", "rejected"], "topics-body");
  const views = table(["view / sink", "input", "output", "lag (events · time)", "watermark", "late", "rows", "state (keys · bytes)", "checkpoint age"], "views-body");

  for (let i = 0; i < 3; i++) panels.push(new LivePanel(i, { staleSeconds, pickView }));
  const sql = new SqlConsole({ onDdl: () => cluster.poll() });

  app.append(
    el(
      "header",
      { class: "top" },
      el("div", { class: "brand" }, el("span", { class: "logo", text: "◢" }), el("span", { class: "brand-name", text: "sluice" }), el("span", { class: "muted", text: "live streaming analytics" })),
      el("span", { class: "spacer" }),
      version,
      conn,
      clock,
    ),
    banner,
    el("div", { class: "kpis" }, [kRate, kEvents, kTopics, kViews, kDlq, kSubs, kMem].map((t) => t.node)),
    el(
      "main",
      { class: "grid" },
      el("div", { class: "span-7" }, panels[0].root),
      el("div", { class: "span-5" }, panels[1].root),
      el("div", { class: "span-4" }, panels[2].root),
      el("section", { class: "panel span-8", "data-testid": "topics-panel" }, el("header", { class: "panel-head" }, el("h2", { text: "Topics" })), topics.node),
      el("section", { class: "panel span-12", "data-testid": "views-panel" }, el("header", { class: "panel-head" }, el("h2", { text: "Views and sinks" })), views.node),
      params.has("wall") ? null : el("div", { class: "span-12" }, sql.root),
    ),
  );

  const tickClock = () => (clock.textContent = new Date().toISOString().slice(11, 19) + " UTC");
  tickClock();
  setInterval(tickClock, 1000);

  let lastOk = null;
  cluster.subscribe((snap, error) => {
    if (error) {
      conn.textContent = "unreachable";
      conn.className = "pill bad";
      const what = error.code === "unreachable" ? "Server unreachable" : `The server answered ${error.status}: ${error.message}`;
      const since = lastOk ? ` Showing the data of ${new Date(lastOk).toISOString().slice(11, 19)} UTC;` : "";
      banner.textContent = `${what}.${since} retrying every ${pollMs / 1000} s.`;
      banner.hidden = false;
      document.body.classList.add("disconnected");
      return;
    }
    lastOk = snap.time;
    banner.hidden = true;
    document.body.classList.remove("disconnected");
    conn.textContent = "connected";
    conn.className = "pill ok";
    version.textContent = snap.totals.version ? "v" + snap.totals.version : "";
    kRate.value.textContent = fmtRate(snap.totals.ingestRate);
    rateSpark.innerHTML = sparkline(snap.history);
    kEvents.value.textContent = fmtNumber(snap.totals.events);
    kTopics.value.textContent = String(snap.topics.filter((t) => !t.isDlq && !t.isLate).length);
    kViews.value.textContent = `${snap.views.length} · ${snap.sinks.length}`;
    kDlq.value.textContent = fmtNumber(snap.totals.dlqEvents);
    kDlq.node.classList.toggle("alert", snap.totals.dlqEvents > 0);
    kSubs.value.textContent = fmtNumber(snap.totals.subscriptions ?? 0);
    kMem.value.textContent = fmtBytes(snap.totals.memory);
    renderTopics(topics.tbody, snap.topics);
    renderViews(views.tbody, [...snap.views, ...snap.sinks]);
    for (const p of panels) p.onCluster(snap);
  });
  cluster.start();
}

main();
