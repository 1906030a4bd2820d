// A wall-screen panel showing one materialized view live: big numbers, a chart (a time series by
// window, or top-N bars), a stale-data badge and the error states (server unreachable, view gone).

import { TimeSeriesChart, renderBars } from "./charts.js";
import { el, fmtCell, fmtNumber, fmtSeconds, parseSqlTimestamp } from "./format.js";
import { recordPainted } from "./latency.js";
import { LiveView, chartShape, currentWindow } from "./live.js";

const MAX_WINDOWS = 30;
const MAX_SERIES = 6;
const PREFERRED_METRIC = /(revenue|total|amount|spent|sum|value)/i;

export class LivePanel {
  /**
   * @param {number} index panel number (data-testid="live-panel-<index>")
   * @param {{staleSeconds: number, pickView: (panel: LivePanel, views: object[]) => string|null}} options
   */
  constructor(index, options) {
    this.index = index;
    this.options = options;
    this.viewName = null;
    this.userPicked = false;
    this.live = null;
    this.metric = null; // column name chosen in the metric select
    this.lagSeconds = null;
    this.pending = [];
    this.frameRequested = false;
    this.version = 0;
    this.knownViews = [];
    this.build();
    this.tick = setInterval(() => this.updateFreshness(), 500);
  }

  build() {
    this.viewSelect = el("select", {
      class: "select",
      "data-testid": "view-select",
      "aria-label": "view",
      onchange: () => {
        this.userPicked = true;
        this.show(this.viewSelect.value || null);
      },
    });
    this.metricSelect = el("select", {
      class: "select small",
      "data-testid": "metric-select",
      "aria-label": "measure",
      hidden: true,
      onchange: () => {
        this.metric = this.metricSelect.value;
        this.requestFrame();
      },
    });
    this.liveBadge = el("span", { class: "badge live", "data-testid": "live-indicator", text: "LIVE", hidden: true });
    this.staleBadge = el("span", { class: "badge stale", "data-testid": "stale-indicator", hidden: true });
    this.primary = el("div", { class: "big", "data-testid": "live-primary", text: "—" });
    this.primaryLabel = el("div", { class: "big-label", text: "" });
    this.secondary = el("div", { class: "mid", "data-testid": "live-secondary", text: "—" });
    this.secondaryLabel = el("div", { class: "big-label", text: "" });
    this.rowsValue = el("div", { class: "mid", "data-testid": "live-rows", text: "—" });
    this.updatesValue = el("div", { class: "mid", "data-testid": "live-updates", text: "0" });
    this.updatedAgo = el("span", { class: "muted", "data-testid": "live-updated-ago", text: "" });
    this.chartBox = el("div", { class: "chart", "data-testid": "live-chart", "data-points": "0", "data-version": "0" });
    this.barsBox = el("div", { class: "bars", "data-testid": "live-bars" });
    this.barsTitle = el("div", { class: "sub-title", text: "" });
    this.errorBox = el("div", { class: "panel-error", "data-testid": "view-error", hidden: true });
    this.emptyBox = el("div", {
      class: "panel-empty",
      "data-testid": "view-empty",
      text: "No materialized view to show yet: create one in the SQL console.",
    });
    this.body = el(
      "div",
      { class: "live-body", hidden: true },
      el(
        "div",
        { class: "numbers" },
        el("div", { class: "number" }, this.primary, this.primaryLabel),
        el("div", { class: "number" }, this.secondary, this.secondaryLabel),
        el("div", { class: "number" }, this.rowsValue, el("div", { class: "big-label", text: "rows" })),
        el("div", { class: "number" }, this.updatesValue, el("div", { class: "big-label", text: "change batches" })),
      ),
      el("div", { class: "live-charts" }, this.chartBox, el("div", { class: "bars-wrap" }, this.barsTitle, this.barsBox)),
    );
    this.root = el(
      "section",
      { class: "panel live-panel", "data-testid": `live-panel-${this.index}` },
      el(
        "header",
        { class: "panel-head" },
        el("h2", { text: "Live" }),
        this.viewSelect,
        this.metricSelect,
        el("span", { class: "spacer" }),
        this.updatedAgo,
        this.liveBadge,
        this.staleBadge,
      ),
      this.body,
      this.errorBox,
      this.emptyBox,
    );
    this.chart = new TimeSeriesChart(this.chartBox, { height: 240 });
  }

  /** Called with every cluster snapshot: the list of views, and this view's lag. */
  onCluster(snapshot) {
    if (!snapshot) return;
    const views = snapshot.views;
    const names = views.map((v) => v.name);
    if (names.join("\u0000") !== this.knownViews.join("\u0000")) {
      this.knownViews = names;
      const options = [el("option", { value: "", text: names.length ? "choose a view…" : "no views" })];
      for (const n of names) options.push(el("option", { value: n, text: n }));
      if (this.viewName && !names.includes(this.viewName)) {
        options.push(el("option", { value: this.viewName, text: this.viewName + " (gone)" }));
      }
      this.viewSelect.replaceChildren(...options);
      this.viewSelect.value = this.viewName || "";
    }
    if (!this.viewName && !this.userPicked) {
      const pick = this.options.pickView(this, views);
      if (pick) this.show(pick);
    }
    const mine = views.find((v) => v.name === this.viewName);
    this.lagSeconds = mine ? mine.lagSeconds : null;
    this.emptyBox.hidden = Boolean(this.viewName);
    this.emptyBox.textContent = names.length
      ? "Pick a view above to follow it live."
      : "No materialized view to show yet: create one in the SQL console.";
    this.updateFreshness();
  }

  show(name) {
    if (this.live) this.live.close();
    this.live = null;
    this.viewName = name;
    this.metric = null;
    this.metricSelect.replaceChildren();
    this.metricSelect.hidden = true;
    this.viewSelect.value = name || "";
    this.errorBox.hidden = true;
    this.emptyBox.hidden = Boolean(name);
    this.body.hidden = !name;
    this.root.dataset.view = name || "";
    if (!name) return;
    this.live = new LiveView(name, {
      onData: (batch) => {
        this.pending.push(batch);
        this.requestFrame();
      },
      onStatus: (status, error) => this.onStatus(status, error),
    });
  }

  onStatus(status, error) {
    this.root.dataset.status = status;
    if (status === "ended") {
      const dropped = error && error.code === "not_found";
      this.errorBox.replaceChildren(
        el("div", { class: "error-title", text: dropped ? "View unavailable" : "Stream ended" }),
        el("div", { class: "error-message", text: error ? error.message : "" }),
        el("div", { class: "muted", text: "Pick another view above, or recreate it in the SQL console." }),
      );
      this.errorBox.hidden = false;
    } else if (status === "reconnecting") {
      this.errorBox.replaceChildren(
        el("div", { class: "error-title", text: "Server unreachable" }),
        el("div", { class: "error-message", text: "The live stream was cut; reconnecting…" }),
      );
      this.errorBox.hidden = false;
    } else {
      this.errorBox.hidden = true;
    }
    this.updateFreshness();
  }

  requestFrame() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      const painted = this.pending.splice(0);
      this.render();
      recordPainted(this.viewName, painted);
    });
  }

  render() {
    const live = this.live;
    if (!live) return;
    const columns = live.columns;
    const shape = chartShape(columns);
    const metricNames = shape.metricIndexes.map((i) => columns[i].name);
    if (this.metricSelect.options.length !== metricNames.length) {
      this.metricSelect.replaceChildren(...metricNames.map((n) => el("option", { value: n, text: n })));
    }
    if (!this.metric || !metricNames.includes(this.metric)) {
      this.metric = metricNames.find((n) => PREFERRED_METRIC.test(n)) || metricNames[0] || null;
    }
    this.metricSelect.value = this.metric || "";
    this.metricSelect.hidden = metricNames.length < 2;
    const metricIndex = this.metric ? columns.findIndex((c) => c.name === this.metric) : -1;
    const rows = live.allRows();
    const keyOf = (row) =>
      shape.keyIndexes.length ? shape.keyIndexes.map((i) => fmtCell(row[i])).join(" · ") : this.metric || "rows";
    const valueOf = (row) => (metricIndex >= 0 ? Number(row[metricIndex]) || 0 : 1);

    this.rowsValue.textContent = fmtNumber(rows.length, 1);
    this.updatesValue.textContent = fmtNumber(live.batches, 1);
    this.root.dataset.mode = shape.mode;

    if (shape.mode === "timeseries") this.renderTimeSeries(rows, shape, keyOf, valueOf);
    else if (shape.mode === "ranked") this.renderRanked(rows, shape, keyOf, valueOf);
    else this.renderBars(rows, shape, keyOf, valueOf);

    this.version++;
    this.chartBox.dataset.version = String(this.version);
    this.updateFreshness();
  }

  // The measure per window (Unix seconds) and key: Map(t → Map(key → value)), and the windows up
  // to the current one, ascending.
  byWindow(rows, shape, keyOf, valueOf) {
    const byTime = new Map();
    for (const row of rows) {
      const ms = parseSqlTimestamp(row[shape.timeIndex]);
      if (ms === null) continue;
      const t = ms / 1000;
      let m = byTime.get(t);
      if (!m) byTime.set(t, (m = new Map()));
      const k = keyOf(row);
      m.set(k, (m.get(k) || 0) + valueOf(row));
    }
    const all = [...byTime.keys()].sort((a, b) => a - b);
    const current = currentWindow(all, shape.timeName);
    return { byTime, times: all.filter((t) => t <= current).slice(-MAX_WINDOWS) };
  }

  renderRanked(rows, shape, keyOf, valueOf) {
    const { byTime, times } = this.byWindow(rows, shape, keyOf, valueOf);
    const current = times.length ? byTime.get(times[times.length - 1]) : new Map();
    const items = [...current.entries()].map(([label, value]) => ({ label, value })).sort((a, b) => b.value - a.value);
    this.chartBox.hidden = true;
    this.chartBox.dataset.points = String(times.length);
    const when = times.length ? new Date(times[times.length - 1] * 1000).toISOString().slice(11, 16) + " UTC" : "";
    this.barsTitle.textContent = times.length ? `top ${items.length} · ${shape.timeName} ${when}` : "";
    renderBars(this.barsBox, items, { limit: 12 });
    this.primary.textContent = items.length ? fmtNumber(items[0].value) : "—";
    this.primaryLabel.textContent = items.length ? `${this.metric || "rows"} · #1 ${items[0].label}` : "";
    this.secondary.textContent = fmtNumber(items.reduce((a, it) => a + it.value, 0));
    this.secondaryLabel.textContent = `${this.metric || "rows"} · top ${items.length}`;
  }

  renderTimeSeries(rows, shape, keyOf, valueOf) {
    const { byTime, times } = this.byWindow(rows, shape, keyOf, valueOf);
    const totals = new Map();
    for (const t of times) for (const [k, v] of byTime.get(t)) totals.set(k, (totals.get(k) || 0) + v);
    const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
    const shown = ranked.slice(0, MAX_SERIES);
    const rest = ranked.slice(MAX_SERIES);
    // A key absent from a window had nothing in it: 0, so its line stays connected.
    const series = shown.map((k) => ({ label: k, values: times.map((t) => byTime.get(t).get(k) ?? 0) }));
    if (rest.length) {
      series.push({
        label: `other (${rest.length})`,
        values: times.map((t) => rest.reduce((a, k) => a + (byTime.get(t).get(k) || 0), 0)),
      });
    }
    this.chartBox.hidden = false;
    this.chart.setData(times, series);

    const latest = times.length ? byTime.get(times[times.length - 1]) : new Map();
    const previous = times.length > 1 ? byTime.get(times[times.length - 2]) : null;
    const sum = (m) => [...m.values()].reduce((a, v) => a + v, 0);
    const timeName = shape.timeName;
    this.primary.textContent = fmtNumber(sum(latest));
    this.primaryLabel.textContent = `${this.metric || "rows"} · current window`;
    this.secondary.textContent = previous ? fmtNumber(sum(previous)) : "—";
    this.secondaryLabel.textContent = "previous window";
    const last = times.length ? new Date(times[times.length - 1] * 1000).toISOString().slice(11, 16) : "";
    this.barsTitle.textContent = times.length ? `${timeName} ${last} UTC` : "";
    renderBars(
      this.barsBox,
      [...latest.entries()].map(([label, value]) => ({ label, value })).sort((a, b) => b.value - a.value),
      { limit: 8 },
    );
  }

  renderBars(rows, shape, keyOf, valueOf) {
    const byKey = new Map();
    for (const row of rows) {
      const k = keyOf(row);
      byKey.set(k, (byKey.get(k) || 0) + valueOf(row));
    }
    const items = [...byKey.entries()].map(([label, value]) => ({ label, value })).sort((a, b) => b.value - a.value);
    this.chartBox.hidden = true;
    this.chartBox.dataset.points = String(items.length);
    const keyNames = shape.keyIndexes.map((i) => this.live.columns[i].name);
    this.barsTitle.textContent = `top ${Math.min(items.length, 12)} ${keyNames.join(" · ")} by ${this.metric || "rows"}`;
    renderBars(this.barsBox, items, { limit: 12 });
    this.primary.textContent = fmtNumber(items.reduce((a, it) => a + it.value, 0));
    this.primaryLabel.textContent = `${this.metric || "rows"} · all keys`;
    this.secondary.textContent = items.length ? fmtNumber(items[0].value) : "—";
    this.secondaryLabel.textContent = items.length ? `top: ${items[0].label}` : "top";
  }

  /**
   * The stale rule: a view is stale when it has delivered nothing for longer than its limit, or
   * the server reports it lagging (sluice_view_lag_seconds) by more than `staleSeconds`. The limit
   * is `staleSeconds`, or twice the view's usual gap between updates when that is longer (an
   * EMIT ON WINDOW CLOSE view of 1-minute windows updates once a minute and is not stale at 10 s).
   */
  updateFreshness() {
    const live = this.live;
    const base = this.options.staleSeconds;
    const limit = live ? Math.max(base, 2 * live.typicalGap()) : base;
    let reason = null;
    if (live && live.status === "live" && live.lastChangeAt) {
      const idle = (Date.now() - live.lastChangeAt) / 1000;
      this.updatedAgo.textContent = idle < 1.5 ? "updated just now" : `updated ${fmtSeconds(idle)} ago`;
      if (idle > limit) reason = `no update for ${fmtSeconds(idle)}`;
      if (this.lagSeconds !== null && this.lagSeconds > base) reason = `lagging ${fmtSeconds(this.lagSeconds)}`;
    } else {
      this.updatedAgo.textContent = "";
    }
    const ok = live && live.status === "live";
    this.staleBadge.hidden = !(ok && reason);
    if (reason) this.staleBadge.textContent = `STALE · ${reason}`;
    this.liveBadge.hidden = !(ok && !reason);
    this.root.classList.toggle("is-stale", Boolean(ok && reason));
  }
}
