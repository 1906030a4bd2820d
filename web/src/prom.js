// A parser for the Prometheus text exposition format (0.0.4), enough for what /metrics serves:
// HELP/TYPE comments, samples with optional labels and an optional timestamp.

/**
 * @typedef {{labels: Record<string, string>, value: number}} Sample
 * @returns {Map<string, Sample[]>} samples by metric name (histograms keep their _bucket/_sum/_count names)
 */
export function parsePrometheus(text) {
  const out = new Map();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const sample = parseSample(line);
    if (!sample) continue;
    let list = out.get(sample.name);
    if (!list) out.set(sample.name, (list = []));
    list.push({ labels: sample.labels, value: sample.value });
  }
  return out;
}

function parseSample(line) {
  let i = 0;
  while (i < line.length && line[i] !== "{" && line[i] !== " " && line[i] !== "\t") i++;
  const name = line.slice(0, i);
  if (!name) return null;
  const labels = {};
  if (line[i] === "{") {
    i++;
    for (;;) {
      while (line[i] === " " || line[i] === ",") i++;
      if (line[i] === "}") {
        i++;
        break;
      }
      const eq = line.indexOf("=", i);
      if (eq < 0 || line[eq + 1] !== '"') return null;
      const key = line.slice(i, eq).trim();
      let j = eq + 2;
      let value = "";
      while (j < line.length && line[j] !== '"') {
        if (line[j] === "\\" && j + 1 < line.length) {
          const c = line[j + 1];
          value += c === "n" ? "\n" : c;
          j += 2;
        } else {
          value += line[j++];
        }
      }
      if (j >= line.length) return null;
      labels[key] = value;
      i = j + 1;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  const value = parseValue(rest[0]);
  if (value === null) return null;
  return { name, labels, value };
}

function parseValue(text) {
  if (text === undefined) return null;
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const v = Number(text);
  return Number.isNaN(v) ? null : v;
}

/** Sums the samples of `name` whose labels include `match`, grouped by the label `by`. */
export function sumBy(metrics, name, by, match = {}) {
  const out = new Map();
  for (const s of metrics.get(name) || []) {
    if (!Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    const key = s.labels[by] ?? "";
    out.set(key, (out.get(key) || 0) + s.value);
  }
  return out;
}

/** The single value of `name` with exactly matching labels (or the sum when several match). */
export function valueOf(metrics, name, match = {}) {
  let total = null;
  for (const s of metrics.get(name) || []) {
    if (!Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    total = (total ?? 0) + s.value;
  }
  return total;
}
