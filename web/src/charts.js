// Charts: time series drawn by uPlot (canvas, fast enough to redraw every frame) and top-N bars
// drawn as plain elements (crisp text, no canvas needed).

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { el, fmtNumber } from "./format.js";

export const PALETTE = ["#38bdf8", "#a78bfa", "#34d399", "#fbbf24", "#f472b6", "#fb923c", "#60a5fa", "#94a3b8"];

const AXIS = {
  stroke: "#8b95a7",
  grid: { stroke: "rgba(148,163,184,0.10)", width: 1 },
  ticks: { stroke: "rgba(148,163,184,0.18)", width: 1 },
  font: "12px system-ui, sans-serif",
};

export class TimeSeriesChart {
  /** @param {HTMLElement} container */
  constructor(container, { height = 260, utc = true } = {}) {
    this.container = container;
    this.height = height;
    this.utc = utc;
    this.plot = null;
    this.seriesKey = "";
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(container);
  }

  /** @param {number[]} xs Unix seconds; @param {{label: string, values: (number|null)[]}[]} series */
  setData(xs, series) {
    const key = series.map((s) => s.label).join("\u0000");
    if (!this.plot || key !== this.seriesKey) {
      this.build(series);
      this.seriesKey = key;
    }
    this.plot.setData([xs, ...series.map((s) => s.values)]);
    this.container.dataset.points = String(xs.length);
  }

  build(series) {
    if (this.plot) this.plot.destroy();
    const opts = {
      width: Math.max(200, this.container.clientWidth),
      height: this.height,
      tzDate: this.utc ? (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC") : undefined,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        // One window alone would otherwise stretch the axis over years: pad it by a minute.
        x: { time: true, range: (u, min, max) => (min === max ? [min - 60, max + 60] : [min, max]) },
      },
      axes: [
        { ...AXIS },
        { ...AXIS, size: 60, values: (u, vals) => vals.map((v) => fmtNumber(v)) },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          fill: series.length === 1 ? "rgba(56,189,248,0.12)" : undefined,
          points: { show: true, size: 5 },
          spanGaps: false,
        })),
      ],
    };
    this.plot = new uPlot(opts, [[], ...series.map(() => [])], this.container);
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: Math.max(200, this.container.clientWidth), height: this.height });
  }

  destroy() {
    this.observer.disconnect();
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }
}

/** Horizontal bars, largest first: [{label, value}]. */
export function renderBars(container, items, { limit = 10 } = {}) {
  const top = items.slice(0, limit);
  const max = top.reduce((m, it) => Math.max(m, Math.abs(it.value)), 0) || 1;
  container.replaceChildren(
    ...top.map((it, i) =>
      el(
        "div",
        { class: "bar-row", "data-testid": "bar" },
        el("span", { class: "bar-label", title: it.label, text: it.label }),
        el(
          "span",
          { class: "bar-track" },
          el("span", {
            class: "bar-fill",
            style: `width:${((Math.abs(it.value) / max) * 100).toFixed(1)}%;background:${PALETTE[i % PALETTE.length]}`,
          }),
        ),
        el("span", { class: "bar-value", text: fmtNumber(it.value) }),
      ),
    ),
  );
  container.dataset.points = String(top.length);
}
