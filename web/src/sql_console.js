// The SQL console: POST /v1/sql, the last result as a table and (when it has a number column) as
// a chart; errors shown with the server's code and message, and a caret at the reported position.

import { TimeSeriesChart, renderBars } from "./charts.js";
import { runSql } from "./api.js";
import { el, fmtCell, parseSqlTimestamp } from "./format.js";
import { isNumericType } from "./live.js";

const MAX_TABLE_ROWS = 500;

export class SqlConsole {
  constructor({ onDdl }) {
    this.onDdl = onDdl;
    this.input = el("textarea", {
      class: "sql-input",
      "data-testid": "sql-input",
      spellcheck: "false",
      rows: "4",
      placeholder: "SELECT * FROM my_view LIMIT 20     (Ctrl+Enter runs)",
      onkeydown: (e) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          this.run();
        }
      },
    });
    this.runButton = el("button", { class: "button", "data-testid": "sql-run", text: "Run", onclick: () => this.run() });
    this.status = el("span", { class: "muted", "data-testid": "sql-status" });
    this.error = el("div", { class: "sql-error", "data-testid": "sql-error", role: "alert", hidden: true });
    this.table = el("div", { class: "table-wrap sql-table", "data-testid": "sql-result" });
    this.chartBox = el("div", { class: "chart", "data-testid": "sql-chart", hidden: true });
    this.barsBox = el("div", { class: "bars", "data-testid": "sql-bars", hidden: true });
    this.chart = null;
    this.root = el(
      "section",
      { class: "panel sql-panel", "data-testid": "sql-console" },
      el("header", { class: "panel-head" }, el("h2", { text: "SQL console" }), el("span", { class: "spacer" }), this.status, this.runButton),
      this.input,
      this.error,
      el("div", { class: "sql-results" }, this.table, el("div", { class: "sql-chart-wrap" }, this.chartBox, this.barsBox)),
    );
  }

  async run() {
    const sql = this.input.value.trim();
    if (!sql) return;
    this.runButton.disabled = true;
    this.status.textContent = "running…";
    const started = performance.now();
    try {
      const results = await runSql(sql);
      const ms = performance.now() - started;
      this.error.hidden = true;
      const last = results[results.length - 1];
      this.status.textContent = `${results.map((r) => r.command).join(", ")} · ${ms.toFixed(0)} ms`;
      this.showResult(last);
      if (results.some((r) => /^(CREATE|DROP)/.test(r.command || ""))) this.onDdl();
    } catch (e) {
      this.status.textContent = "failed";
      this.showError(sql, e);
    } finally {
      this.runButton.disabled = false;
    }
  }

  showError(sql, e) {
    const parts = [
      el("div", { class: "error-title" }, "Error ", el("code", { text: e.code || "error" })),
      el("div", { class: "error-message", "data-testid": "sql-error-message", text: e.message }),
    ];
    // "... at line L, column C ...": show that line with a caret under the column.
    const m = /line (\d+), column (\d+)/.exec(e.message || "");
    if (m) {
      const line = sql.split("\n")[Number(m[1]) - 1];
      if (line !== undefined) {
        parts.push(el("pre", { class: "error-caret", text: `${line}\n${" ".repeat(Math.max(0, Number(m[2]) - 1))}^` }));
      }
    }
    this.error.replaceChildren(...parts);
    this.error.hidden = false;
  }

  showResult(result) {
    const columns = result?.columns || [];
    const rows = result?.rows || [];
    if (columns.length === 0) {
      this.table.replaceChildren(el("div", { class: "muted", text: result ? result.command : "" }));
      this.chartBox.hidden = this.barsBox.hidden = true;
      return;
    }
    const head = el("tr", {}, columns.map((c) => el("th", { class: isNumericType(c.type) ? "num" : "", title: c.type, text: c.name })));
    const body = rows.slice(0, MAX_TABLE_ROWS).map((r) =>
      el("tr", {}, r.map((v, i) => el("td", { class: isNumericType(columns[i].type) ? "num" : "", text: fmtCell(v) }))),
    );
    const note = rows.length > MAX_TABLE_ROWS ? el("div", { class: "muted", text: `showing ${MAX_TABLE_ROWS} of ${rows.length} rows` }) : null;
    this.table.replaceChildren(el("table", { class: "grid-table" }, el("thead", {}, head), el("tbody", {}, body)), ...(note ? [note] : []));
    this.table.dataset.rows = String(rows.length);
    this.drawChart(columns, rows);
  }

  drawChart(columns, rows) {
    const numeric = columns.map((c, i) => (isNumericType(c.type) && !/(^id$|_id$)/i.test(c.name) ? i : -1)).filter((i) => i >= 0);
    const time = columns.findIndex((c) => /^TIMESTAMP/i.test(c.type));
    this.chartBox.hidden = this.barsBox.hidden = true;
    if (numeric.length === 0 || rows.length === 0) return;
    if (time >= 0) {
      // One line per number column over the first timestamp column, summed per time.
      const byTime = new Map();
      for (const r of rows) {
        const ms = parseSqlTimestamp(r[time]);
        if (ms === null) continue;
        const acc = byTime.get(ms / 1000) || numeric.map(() => 0);
        numeric.forEach((ci, k) => (acc[k] += Number(r[ci]) || 0));
        byTime.set(ms / 1000, acc);
      }
      const xs = [...byTime.keys()].sort((a, b) => a - b);
      this.chartBox.hidden = false;
      if (!this.chart) this.chart = new TimeSeriesChart(this.chartBox, { height: 220 });
      this.chart.setData(xs, numeric.map((ci, k) => ({ label: columns[ci].name, values: xs.map((x) => byTime.get(x)[k]) })));
      return;
    }
    const label = columns.findIndex((c, i) => !numeric.includes(i));
    const value = numeric[0];
    const items = rows.map((r) => ({ label: label >= 0 ? fmtCell(r[label]) : "", value: Number(r[value]) || 0 }));
    items.sort((a, b) => b.value - a.value);
    this.barsBox.hidden = false;
    renderBars(this.barsBox, items, { limit: 15 });
  }
}
