// A live subscription to one materialized view over SSE (GET /v1/subscribe, docs/subscriptions.md)
// and the view's current rows, kept as a multiset: a snapshot replaces everything, a change batch
// applies its deletes and then its inserts.

export class LiveView {
  /**
   * @param {string} view
   * @param {{onData: Function, onStatus: Function}} handlers
   *   onData(): rows or columns changed (with the batch's {ts, arrived} for latency)
   *   onStatus(status, error): "connecting" | "live" | "reconnecting" | "ended"
   */
  constructor(view, handlers) {
    this.view = view;
    this.handlers = handlers;
    this.columns = [];
    this.rows = new Map(); // JSON of the row → {row, count}
    this.batches = 0;
    this.lastChangeAt = null; // Date.now() of the last snapshot or change received
    this.gaps = []; // seconds between the last updates (at most 10)
    this.lastTs = null;
    this.status = "connecting";
    this.error = null;
    this.source = null;
    this.closed = false;
    this.open();
  }

  open() {
    const es = new EventSource("/v1/subscribe?view=" + encodeURIComponent(this.view));
    this.source = es;
    es.addEventListener("snapshot", (e) => {
      const msg = JSON.parse(e.data);
      this.columns = msg.columns || [];
      this.rows.clear();
      for (const row of msg.rows || []) this.add(row, 1);
      this.received(msg.ts);
    });
    es.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type !== "change") return;
      for (const row of msg.deletes || []) this.add(row, -1);
      for (const row of msg.inserts || []) this.add(row, 1);
      this.batches++;
      this.received(msg.ts);
    };
    es.addEventListener("end", (e) => {
      const msg = JSON.parse(e.data);
      es.close();
      const error = msg.error || { code: "ended", message: "the stream ended" };
      if (error.code === "unavailable") {
        // The server is shutting down: try again until it is back (a new stream, a snapshot).
        this.setStatus("reconnecting", error);
        this.retry = setTimeout(() => this.closed || this.open(), 2000);
        return;
      }
      this.setStatus("ended", error);
    });
    es.onopen = () => {
      if (this.status !== "ended") this.setStatus("live", null);
    };
    es.onerror = () => {
      if (this.status === "ended" || this.closed) return;
      if (es.readyState === EventSource.CLOSED) {
        // EventSource gives up on a non-200 answer (404 once the view is gone).
        this.setStatus("ended", { code: "not_found", message: `view "${this.view}" is not available` });
      } else {
        this.setStatus("reconnecting", { code: "unreachable", message: "connection lost, reconnecting" });
      }
    };
  }

  add(row, diff) {
    const key = JSON.stringify(row);
    const entry = this.rows.get(key);
    if (entry) {
      entry.count += diff;
      if (entry.count <= 0) this.rows.delete(key);
    } else if (diff > 0) {
      this.rows.set(key, { row, count: diff });
    }
  }

  received(ts) {
    const now = Date.now();
    if (this.lastChangeAt !== null) {
      this.gaps.push((now - this.lastChangeAt) / 1000);
      if (this.gaps.length > 10) this.gaps.shift();
    }
    this.lastChangeAt = now;
    this.lastTs = ts ?? null;
    if (this.status !== "live") this.setStatus("live", null);
    this.handlers.onData({ ts: ts ?? null, arrived: performance.now() });
  }

  setStatus(status, error) {
    this.status = status;
    this.error = error;
    this.handlers.onStatus(status, error);
  }

  /** The median gap between the last updates in seconds (0 before two updates). */
  typicalGap() {
    if (this.gaps.length === 0) return 0;
    const sorted = [...this.gaps].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  /** Every row, each as many times as it is present. */
  allRows() {
    const out = [];
    for (const { row, count } of this.rows.values()) for (let i = 0; i < count; i++) out.push(row);
    return out;
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    if (this.source) this.source.close();
  }
}

const NUMERIC = /^(BIGINT|INTEGER|INT|SMALLINT|DOUBLE|REAL|FLOAT|DECIMAL|NUMERIC)/i;

export function isNumericType(type) {
  return NUMERIC.test(type || "");
}

/**
 * How to draw a view, from its columns: "timeseries" by window when it has window_start or
 * window_end, "ranked" (bars of the current window) when it also has a rank column (rn, rank),
 * else "bars" (top-N over all rows). Returns {mode, timeIndex, timeName, keyIndexes, metricIndexes}.
 */
export function chartShape(columns) {
  const names = columns.map((c) => c.name.toLowerCase());
  let timeIndex = names.indexOf("window_start");
  if (timeIndex < 0) timeIndex = names.indexOf("window_end");
  const rankIndex = names.findIndex((n) => n === "rn" || n === "rank" || n === "row_number");
  const metricIndexes = [];
  const keyIndexes = [];
  columns.forEach((c, i) => {
    if (i === timeIndex) return;
    const name = names[i];
    if (name === "window_start" || name === "window_end") return;
    const idLike = name === "id" || name.endsWith("_id");
    if (isNumericType(c.type) && !idLike && name !== "rn" && name !== "rank") metricIndexes.push(i);
    else if (name !== "rn" && name !== "rank") keyIndexes.push(i);
  });
  const mode = timeIndex < 0 ? "bars" : rankIndex >= 0 ? "ranked" : "timeseries";
  return { mode, timeIndex, timeName: timeIndex >= 0 ? names[timeIndex] : null, keyIndexes, metricIndexes };
}

/**
 * The window that is "now" among `times` (Unix seconds, ascending): by window_start the latest
 * that has begun, by window_end the first that has not ended (a HOP view's later windows hold
 * only part of their data yet). Falls back to the last window when all are past or future.
 */
export function currentWindow(times, timeName, nowSeconds = Date.now() / 1000) {
  if (times.length === 0) return null;
  if (timeName === "window_end") {
    const open = times.find((t) => t >= nowSeconds);
    return open ?? times[times.length - 1];
  }
  let current = null;
  for (const t of times) if (t <= nowSeconds) current = t;
  return current ?? times[0];
}
