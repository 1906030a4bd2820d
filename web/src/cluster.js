// Polls the server's state (GET /metrics, GET /v1/topics, SHOW MATERIALIZED VIEWS / SINKS) and
// turns counters into rates. Listeners get a snapshot after every poll, or the error when the
// server did not answer.

import { getJson, getText, runSql } from "./api.js";
import { parsePrometheus, sumBy, valueOf } from "./prom.js";

const HISTORY_POINTS = 150;

export class ClusterState {
  constructor(intervalMs = 2000) {
    this.intervalMs = intervalMs;
    this.listeners = new Set();
    this.prev = null; // {t, ingest: Map, viewInput: Map, viewOutput: Map, sinkRecords: Map}
    this.history = []; // [{t, rate}] total ingest events/s
    this.snapshot = null;
    this.error = null;
    this.timer = null;
  }

  subscribe(fn) {
    this.listeners.add(fn);
    if (this.snapshot || this.error) fn(this.snapshot, this.error);
    return () => this.listeners.delete(fn);
  }

  start() {
    const tick = async () => {
      await this.poll();
      this.timer = setTimeout(tick, this.intervalMs);
    };
    tick();
  }

  async poll() {
    try {
      // One request at a time: the live panels' SSE streams already hold three of the six
      // connections a browser opens to one host over HTTP/1.1.
      const metricsText = await getText("/metrics");
      const topicList = await getJson("/v1/topics");
      const catalog = await runSql("SHOW MATERIALIZED VIEWS; SHOW SINKS");
      this.snapshot = this.build(parsePrometheus(metricsText), topicList.topics || [], catalog);
      this.error = null;
    } catch (e) {
      this.error = e;
    }
    for (const fn of this.listeners) fn(this.snapshot, this.error);
  }

  build(metrics, topics, catalog) {
    const now = Date.now();
    const counters = {
      t: now,
      ingest: sumBy(metrics, "sluice_ingest_events_total", "topic"),
      rejected: sumBy(metrics, "sluice_ingest_rejected_total", "topic"),
      viewInput: sumBy(metrics, "sluice_view_input_events_total", "view"),
      viewOutput: sumBy(metrics, "sluice_view_output_changes_total", "view"),
      sinkRecords: sumBy(metrics, "sluice_sink_records_total", "sink"),
    };
    const prev = this.prev;
    const dt = prev ? (now - prev.t) / 1000 : 0;
    const rate = (cur, old, key) => {
      if (!old || dt <= 0 || !cur.has(key) || !old.has(key)) return null;
      return Math.max(0, (cur.get(key) - old.get(key)) / dt);
    };
    this.prev = counters;

    const topicRows = topics.map((t) => {
      const endOffset = t.partitions.reduce((a, p) => a + p.end_offset, 0);
      const startOffset = t.partitions.reduce((a, p) => a + p.start_offset, 0);
      return {
        name: t.name,
        partitions: t.partitions.length,
        events: endOffset - startOffset,
        endOffset,
        bytes: t.partitions.reduce((a, p) => a + p.bytes, 0),
        rate: rate(counters.ingest, prev?.ingest, t.name),
        rejected: counters.rejected.get(t.name) ?? 0,
        isDlq: t.name.endsWith(".dlq"),
        isLate: t.name.endsWith(".late"),
      };
    });

    const lateByView = sumBy(metrics, "sluice_late_events_dropped_total", "view");
    // State size: Σ over a view's stateful operators (keys held; bytes in its last checkpoint).
    const stateKeys = sumBy(metrics, "sluice_view_state_keys", "view");
    const stateBytes = sumBy(metrics, "sluice_view_state_bytes", "view");
    const viewRow = (name, kind, definition) => {
      const lastCheckpoint = valueOf(metrics, "sluice_view_last_checkpoint_timestamp_seconds", { view: name });
      return {
        name,
        kind,
        definition,
        inputRate: rate(counters.viewInput, prev?.viewInput, name),
        outputRate:
          kind === "sink"
            ? rate(counters.sinkRecords, prev?.sinkRecords, name)
            : rate(counters.viewOutput, prev?.viewOutput, name),
        inputEvents: counters.viewInput.get(name) ?? null,
        lagEvents: valueOf(metrics, "sluice_view_lag_events", { view: name }),
        lagSeconds: valueOf(metrics, "sluice_view_lag_seconds", { view: name }),
        watermark: valueOf(metrics, "sluice_view_watermark_seconds", { view: name }),
        late: lateByView.get(name) ?? 0,
        rows: valueOf(metrics, "sluice_view_rows", { view: name }),
        stateKeys: stateKeys.get(name) ?? null,
        stateBytes: stateBytes.get(name) ?? null,
        checkpointBytes: valueOf(metrics, "sluice_view_checkpoint_bytes", { view: name }),
        checkpointAge: lastCheckpoint ? Math.max(0, now / 1000 - lastCheckpoint) : null,
      };
    };
    const [viewsResult, sinksResult] = catalog;
    const views = (viewsResult?.rows || []).map((r) => viewRow(r[0], "view", r[2]));
    const sinks = (sinksResult?.rows || []).map((r) => viewRow(r[0], "sink", r[2]));

    let totalRate = null;
    if (prev) {
      totalRate = 0;
      for (const t of topicRows) if (!t.isDlq && !t.isLate) totalRate += t.rate ?? 0;
      this.history.push({ t: now / 1000, rate: totalRate });
      if (this.history.length > HISTORY_POINTS) this.history.shift();
    }

    return {
      time: now,
      topics: topicRows,
      views,
      sinks,
      totals: {
        ingestRate: totalRate,
        events: topicRows.filter((t) => !t.isDlq && !t.isLate).reduce((a, t) => a + t.events, 0),
        dlqEvents: topicRows.filter((t) => t.isDlq).reduce((a, t) => a + t.events, 0),
        subscriptions: valueOf(metrics, "sluice_subscriptions"),
        memory: valueOf(metrics, "sluice_process_resident_memory_bytes"),
        connections: valueOf(metrics, "sluice_http_open_connections"),
        startTime: valueOf(metrics, "sluice_process_start_time_seconds"),
        version: (metrics.get("sluice_build_info") || [])[0]?.labels.version ?? null,
      },
      history: this.history.slice(),
    };
  }
}
