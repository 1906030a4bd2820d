// Event → pixel latency, measured in the page. For each change batch that reaches a live panel we
// keep its server timestamp (`ts`: Unix ms when the view's round that produced it ended) and the
// moment it arrived. The panel redraws in a requestAnimationFrame callback; from there we queue a
// task (MessageChannel), which the browser runs after that frame's style, layout and paint, and
// stamp the time then. Two figures per batch:
//   source_ms:  ts → painted (wall clock; server and browser on one machine share it)
//   arrival_ms: arrival in the page → painted (performance.now, no clock skew)
// window.__sluiceLatency exposes them for the browser tests and the benchmark.

const MAX_SAMPLES = 10000;

const samples = [];
const channel = new MessageChannel();
const afterPaint = [];
channel.port1.onmessage = () => {
  const callbacks = afterPaint.splice(0);
  for (const cb of callbacks) cb();
};

/** Runs `cb` in a task queued now; called from a rAF callback it runs after that frame paints. */
export function afterNextPaint(cb) {
  afterPaint.push(cb);
  if (afterPaint.length === 1) channel.port2.postMessage(0);
}

/** Records the batches `pending` ([{ts, arrived}]) painted by the current frame. */
export function recordPainted(view, pending) {
  if (pending.length === 0) return;
  afterNextPaint(() => {
    const wall = Date.now();
    const mono = performance.now();
    for (const p of pending) {
      samples.push({
        view,
        source_ms: p.ts ? wall - p.ts : null,
        arrival_ms: mono - p.arrived,
        at: wall,
      });
    }
    if (samples.length > MAX_SAMPLES) samples.splice(0, samples.length - MAX_SAMPLES);
  });
}

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function summary(field = "source_ms", sinceMs = 0) {
  const values = samples
    .filter((s) => s.at >= sinceMs && s[field] !== null)
    .map((s) => s[field])
    .sort((a, b) => a - b);
  return {
    count: values.length,
    p50: quantile(values, 0.5),
    p99: quantile(values, 0.99),
    max: values.length ? values[values.length - 1] : null,
  };
}

window.__sluiceLatency = {
  samples,
  summary,
  reset() {
    samples.length = 0;
  },
};

export { summary as latencySummary };
