"""The differential test of issue 3: random event streams (keys with skew, out-of-order times,
duplicates, NULLs) go into sluice; the same SQL runs in sluice (ad-hoc scans through the
streaming operators, and materialized views) and in DuckDB (an independent batch engine, via
@duckdb/node-api); the results must be equal (approx_percentile: within its relative error of
the exact rank, see same_rows).

SLUICE_DIFF_SEEDS (default 200) seeds run in CI; set it higher for a long run.
"""

import decimal
import json
import os
import random
import subprocess
import tempfile
import time
import unittest

from harness import Server

HERE = os.path.dirname(os.path.abspath(__file__))
ORACLE_DIR = os.path.join(HERE, "..", "differential")
SEEDS = int(os.environ.get("SLUICE_DIFF_SEEDS", "200"))
COLUMNS = "k VARCHAR, v BIGINT, p DECIMAL(10,2), ts TIMESTAMP"

# approx_percentile's relative accuracy (exec/quantile_sketch.h).
PERCENTILE_ALPHA = 0.01


def duck_rank_bounds(column, q):
    """DuckDB SQL for the two values approx_percentile(column, q) must be within alpha of: ranks
    floor and ceil of q * (n - 1) among the sorted non-NULL values (q as DOUBLE, as sluice)."""
    values = "list_sort(list(%s) FILTER (WHERE %s IS NOT NULL))" % (column, column)
    rank = "%r::DOUBLE * (len(%s) - 1)" % (q, values)
    return "%s[CAST(floor(%s) AS BIGINT) + 1], %s[CAST(ceil(%s) AS BIGINT) + 1]" % (values, rank, values, rank)


def duck_sessions(table, gap_seconds):
    """SESSION(table, ts, gap) per key k in DuckDB: a row starts a session when it is the first of
    its key or `gap` or more after the previous one; a running sum of those starts numbers the
    sessions (RANGE framing: rows with equal times share one number)."""
    gap = "INTERVAL '%d seconds'" % gap_seconds
    return ("(SELECT *, sum(CASE WHEN prev IS NULL OR ts - prev >= %s THEN 1 ELSE 0 END) "
            "OVER (PARTITION BY k ORDER BY ts) AS sid FROM "
            "(SELECT *, lag(ts) OVER (PARTITION BY k ORDER BY ts) AS prev FROM %s WHERE ts IS NOT NULL))" % (gap, table))


# (sluice SQL, DuckDB SQL[, approx]); {t} is the table. Window starts are compared as text.
# `approx`: sluice column indexes holding approx_percentile; for each, DuckDB returns two
# columns (the rank bounds of duck_rank_bounds) in its place.
QUERIES = [
    ("SELECT k, count(*), count(v), sum(v), min(v), max(v), sum(p) FROM {t} GROUP BY k",
     "SELECT k, count(*), count(v), sum(v), min(v), max(v), sum(p) FROM {t} GROUP BY k"),
    ("SELECT k, count(DISTINCT v), min(k), max(p) FROM {t} GROUP BY k",
     "SELECT k, count(DISTINCT v), min(k), max(p) FROM {t} GROUP BY k"),
    ("SELECT k, avg(v), stddev_samp(v), stddev_samp(p) FROM {t} GROUP BY k",
     "SELECT k, avg(v), stddev_samp(v), stddev_samp(p) FROM {t} GROUP BY k"),
    ("SELECT k, v * 2 + 1, upper(k), p * 3 FROM {t} WHERE v > 50 AND k LIKE 'k1%'",
     "SELECT k, v * 2 + 1, upper(k), p * 3 FROM {t} WHERE v > 50 AND k LIKE 'k1%'"),
    ("SELECT k, window_start, count(*), sum(v), max(p) FROM TUMBLE({t}, ts, INTERVAL '10' SECOND) GROUP BY k, window_start",
     "SELECT k, time_bucket(INTERVAL '10 seconds', ts) AS ws, count(*), sum(v), max(p) FROM {t} "
     "WHERE ts IS NOT NULL GROUP BY k, ws"),
    ("SELECT window_start, count(*), min(v) FROM HOP({t}, ts, INTERVAL '5' SECOND, INTERVAL '15' SECOND) GROUP BY window_start",
     "SELECT ws, count(*), min(v) FROM (" + " UNION ALL ".join(
         "SELECT time_bucket(INTERVAL '5 seconds', ts) - INTERVAL '%d seconds' AS ws, v FROM {t} WHERE ts IS NOT NULL" % (5 * i)
         for i in range(3)) + ") GROUP BY ws"),
    ("SELECT k, count(*) FROM {t} WHERE v IS NULL OR p BETWEEN 10 AND 20 GROUP BY k HAVING count(*) > 1",
     "SELECT k, count(*) FROM {t} WHERE v IS NULL OR p BETWEEN 10 AND 20 GROUP BY k HAVING count(*) > 1"),
    ("SELECT k, count(v), approx_percentile(v, 0.5), approx_percentile(p, 0.9), approx_percentile(v, 0) FROM {t} GROUP BY k",
     "SELECT k, count(v), %s, %s, %s FROM {t} GROUP BY k" % (
         duck_rank_bounds("v", 0.5), duck_rank_bounds("p", 0.9), duck_rank_bounds("v", 0.0)),
     [2, 3, 4]),
    ("SELECT k, window_start, window_end, count(*), sum(v), max(p) FROM SESSION({t}, ts, INTERVAL '2' SECOND) "
     "GROUP BY k, window_start, window_end",
     "SELECT k, min(ts), max(ts) + INTERVAL '2 seconds', count(*), sum(v), max(p) FROM %s GROUP BY k, sid"
     % duck_sessions("{t}", 2)),
    ("SELECT window_start, count(*), approx_percentile(v, 0.75) FROM SESSION({t}, ts, INTERVAL '1' SECOND) "
     "GROUP BY window_start",
     "SELECT min(ts), count(*), %s FROM (SELECT *, sum(CASE WHEN prev IS NULL OR ts - prev >= INTERVAL '1 seconds' "
     "THEN 1 ELSE 0 END) OVER (ORDER BY ts) AS sid FROM (SELECT *, lag(ts) OVER (ORDER BY ts) AS prev FROM {t} "
     "WHERE ts IS NOT NULL)) GROUP BY sid" % duck_rank_bounds("v", 0.75),
     [2]),
]
TOP_N = ("SELECT k, v, ts, rn FROM (SELECT k, v, ts, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC NULLS LAST, "
         "ts NULLS LAST, p NULLS LAST) AS rn FROM {t}) x WHERE rn <= 3")
QUERIES.append((TOP_N, TOP_N))
# Queries also checked as materialized views (on a sample of seeds: each view is a thread). The
# views exist before their seed's events arrive, in several requests, so they are updated
# incrementally (sessions extended, bridged, retracted; ranks shifted) rather than only backfilled.
VIEW_QUERIES = [0, 4, 7, 8, 9, len(QUERIES) - 1]


def generate(seed):
    rng = random.Random(seed)
    n = rng.randint(20, 300)
    keys = ["k%d" % i for i in range(rng.randint(1, 30))]
    base = 1767225600  # 2026-01-01T00:00:00Z
    events = []
    for i in range(n):
        if events and rng.random() < 0.05:
            events.append(dict(rng.choice(events)))  # an exact duplicate
            continue
        e = {}
        if rng.random() > 0.05:
            e["k"] = keys[min(int(rng.paretovariate(1.2)) - 1, len(keys) - 1)]  # skewed keys
        if rng.random() > 0.1:
            e["v"] = rng.randint(-1000, 1000)
        if rng.random() > 0.1:
            e["p"] = "%d.%02d" % (rng.randint(0, 99), rng.randint(0, 99))
        if rng.random() > 0.05:
            t = base + i * 0.25 - rng.random() * 4  # out of order by up to 4 s
            ms = int(round(t * 1000))
            e["ts"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)) + ".%03d" % (ms % 1000)
        events.append(e)
    return events


def normalize(value):
    """Values compare as exact decimals when numeric, as text otherwise."""
    if value is None:
        return None
    text = str(value)
    if text in ("true", "false"):
        return text
    try:
        d = decimal.Decimal(text)
        return d.quantize(decimal.Decimal("1.000000")) if d == d.to_integral_value() or abs(d) < 1e12 else d
    except decimal.InvalidOperation:
        return text


def close(a, b):
    if a == b:
        return True
    if isinstance(a, decimal.Decimal) and isinstance(b, decimal.Decimal):
        return abs(a - b) <= decimal.Decimal("1e-6") * max(1, abs(a), abs(b))
    return False


def within_rank_bounds(value, bounds):
    """approx_percentile's contract: within alpha of some value between the two rank bounds."""
    lo, hi = bounds
    if value is None or lo is None:
        return value is None and lo is None
    y, lo, hi = float(value), float(lo), float(hi)
    slack = PERCENTILE_ALPHA * (1 + 1e-9)
    return lo - slack * abs(lo) - 1e-12 <= y <= hi + slack * abs(hi) + 1e-12


def same_rows(got, want, approx=()):
    if approx:
        # Fold each (lo, hi) pair of DuckDB's row into one cell at the sluice column's place.
        folded = []
        for w in want:
            row, j = [], 0
            for i in range(len(w) - len(approx)):
                if i in approx:
                    row.append((w[j], w[j + 1]))
                    j += 2
                else:
                    row.append(w[j])
                    j += 1
            folded.append(row)
        want = folded

    def exact_key(r):
        return repr(tuple(normalize(v) for i, v in enumerate(r) if i not in approx))

    got = sorted(got, key=exact_key)
    want = sorted(want, key=exact_key)
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if len(g) != len(w):
            return False
        for i, (x, y) in enumerate(zip(g, w)):
            if i in approx:
                if not within_rank_bounds(x, y):
                    return False
            elif not close(normalize(x), normalize(y)):
                return False
    return True


def approx_of(qi):
    return QUERIES[qi][2] if len(QUERIES[qi]) > 2 else ()


class DifferentialTest(unittest.TestCase):
    def setUp(self):
        if not os.path.isdir(os.path.join(ORACLE_DIR, "node_modules", "@duckdb")):
            self.fail("DuckDB oracle not installed: run scripts/install-deps.sh (npm install in tests/differential)")

    def sql(self, server, text):
        status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": text}), {"Content-Type": "application/json"})
        self.assertEqual(status, 200, "%s -> %s" % (text, data[:300]))
        return json.loads(data, parse_float=str, parse_int=str)["results"][-1]["rows"]

    def test_sluice_equals_duckdb(self):
        server = Server().start()
        workdir = tempfile.mkdtemp(prefix="sluice-diff-")
        try:
            cases, sluice_results, view_results = [], [], {}
            for seed in range(SEEDS):
                table = "ev%d" % seed
                events = generate(seed)
                self.sql(server, "CREATE SOURCE %s (%s) WITH (topic = '%s')" % (table, COLUMNS, table))
                if seed % 20 == 0:
                    for qi in VIEW_QUERIES:
                        view = "%s_v%d" % (table, qi)
                        self.sql(server, "CREATE MATERIALIZED VIEW %s AS %s" % (view, QUERIES[qi][0].format(t=table)))
                        view_results[(seed, qi)] = view
                body = "\n".join(json.dumps(e) for e in events) + "\n"
                # Several requests, so views see the events in more than one batch.
                cuts = sorted(random.Random(seed).sample(range(1, len(events)), min(3, len(events) - 1)))
                for begin, end in zip([0] + cuts, cuts + [len(events)]):
                    part = "\n".join(json.dumps(e) for e in events[begin:end]) + "\n"
                    status, _, data = server.request("POST", "/v1/topics/%s/events" % table, part,
                                                     {"Content-Type": "application/x-ndjson"})
                    self.assertEqual(status, 200, data)
                path = os.path.join(workdir, table + ".ndjson")
                with open(path, "w") as f:
                    f.write(body)
                cases.append({"events_file": path, "table": table,
                              "columns": [["k", "VARCHAR"], ["v", "BIGINT"], ["p", "DECIMAL(10,2)"], ["ts", "TIMESTAMP"]],
                              "queries": [q[1].format(t=table) for q in QUERIES]})
                sluice_results.append([self.sql(server, q[0].format(t=table)) for q in QUERIES])
            oracle = subprocess.run(["node", os.path.join(ORACLE_DIR, "oracle.mjs")],
                                    input=json.dumps({"cases": cases}).encode(), capture_output=True, timeout=600)
            self.assertEqual(oracle.returncode, 0, oracle.stderr.decode()[-2000:])
            duck = json.loads(oracle.stdout)["results"]
            failures = []
            for seed in range(SEEDS):
                for qi, q in enumerate(QUERIES):
                    if not same_rows(sluice_results[seed][qi], duck[seed][qi], approx_of(qi)):
                        failures.append("seed %d query %d: %s\n  sluice: %s\n  duckdb: %s" % (
                            seed, qi, q[0].format(t="ev%d" % seed), sorted(sluice_results[seed][qi], key=repr)[:5],
                            sorted(duck[seed][qi], key=repr)[:5]))
            # Views catch up asynchronously; poll until they match (or report).
            for (seed, qi), view in view_results.items():
                deadline = time.time() + 30
                while True:
                    rows = self.sql(server, "SELECT * FROM %s" % view)
                    if same_rows(rows, duck[seed][qi], approx_of(qi)) or time.time() > deadline:
                        break
                    time.sleep(0.05)
                if not same_rows(rows, duck[seed][qi], approx_of(qi)):
                    failures.append("view %s differs from DuckDB" % view)
                self.sql(server, "DROP MATERIALIZED VIEW %s" % view)
            self.assertEqual(failures, [], "\n".join(failures[:5]))
            print("\ndifferential: %d seeds x %d queries (+%d views) equal to DuckDB" % (SEEDS, len(QUERIES), len(view_results)))
        finally:
            server.stop()
            server.cleanup()
            subprocess.run(["rm", "-rf", workdir])

    def test_joins_and_watermarks_equal_duckdb(self):
        """Stream-table joins (inner, LEFT), windowed and interval stream-stream joins and
        EMIT ON WINDOW CLOSE, against DuckDB over the same events."""
        server = Server().start()
        workdir = tempfile.mkdtemp(prefix="sluice-diff-join-")
        try:
            cases, sluice_results, view_results = [], [], {}
            for seed in range(SEEDS):
                names = {"f": "fact%d" % seed, "o": "other%d" % seed, "d": "dim%d" % seed}
                dim, fact, other = generate_join_case(seed)
                self.sql(server, "CREATE TABLE %s (%s) WITH (topic = '%s')" % (names["d"], DIM_COLUMNS, names["d"]))
                self.sql(server, "CREATE SOURCE %s (%s) WITH (topic = '%s')" % (names["f"], FACT_COLUMNS, names["f"]))
                self.sql(server, "CREATE SOURCE %s (%s) WITH (topic = '%s')" % (names["o"], OTHER_COLUMNS, names["o"]))
                tables = []
                # The table first: a lookup join reads the table as it is when the event arrives.
                # On view seeds the views exist before the streams arrive, in several requests.
                for key, events, columns, params in (("d", dim, [["id", "BIGINT"], ["g", "VARCHAR"], ["seq", "BIGINT"]], "?key=id"),
                                                     ("f", fact, [["k", "BIGINT"], ["v", "BIGINT"], ["ts", "TIMESTAMP"]], ""),
                                                     ("o", other, [["k", "BIGINT"], ["w", "BIGINT"], ["ts", "TIMESTAMP"]], "")):
                    if key == "f" and seed % 20 == 0:
                        for qi in JOIN_VIEW_QUERIES:
                            view = "%s_v%d" % (names["f"], qi)
                            self.sql(server, "CREATE MATERIALIZED VIEW %s AS %s" % (view, JOIN_QUERIES[qi][0].format(**names)))
                            view_results[(seed, qi)] = view
                        view = "%s_eowc" % names["f"]
                        self.sql(server, "CREATE MATERIALIZED VIEW %s AS %s" % (view, EOWC_VIEW.format(**names)))
                        view_results[(seed, len(JOIN_QUERIES) - 1)] = view
                    parts = 4 if seed % 20 == 0 and key != "d" else 1
                    real = [e for e in events if e.get("ts") != SENTINEL_TS]
                    chunks = [real[i * len(real) // parts:(i + 1) * len(real) // parts] for i in range(parts)]
                    chunks.append(events[len(real):])  # the sentinels, in one request (one per partition)
                    for chunk in chunks:
                        if not chunk:
                            continue
                        status, _, data = server.request("POST", "/v1/topics/%s/events%s" % (names[key], params),
                                                         "\n".join(json.dumps(e) for e in chunk) + "\n",
                                                         {"Content-Type": "application/x-ndjson"})
                        self.assertEqual(status, 200, data)
                        if parts > 1:
                            time.sleep(0.02)
                    path = os.path.join(workdir, names[key] + ".ndjson")
                    with open(path, "w") as f:
                        f.write("\n".join(json.dumps(e) for e in events) + "\n")
                    table = names[key] + ("_raw" if key == "d" else "")
                    tables.append({"events_file": path, "table": table, "columns": columns})
                setup = ["CREATE OR REPLACE TABLE {d} AS SELECT id, arg_max_null(g, seq) AS g FROM {d}_raw "
                         "WHERE id IS NOT NULL GROUP BY id".format(**names)]
                cases.append({"tables": tables, "setup": setup, "queries": [d.format(**names) for _, d in JOIN_QUERIES]})
                sluice_results.append([self.sql(server, s.format(**names)) for s, _ in JOIN_QUERIES if s])
            oracle = subprocess.run(["node", os.path.join(ORACLE_DIR, "oracle.mjs")],
                                    input=json.dumps({"cases": cases}).encode(), capture_output=True, timeout=600)
            self.assertEqual(oracle.returncode, 0, oracle.stderr.decode()[-2000:])
            duck = json.loads(oracle.stdout)["results"]
            failures = []
            for seed in range(SEEDS):
                for qi, (s, _) in enumerate(JOIN_QUERIES):
                    if not s:
                        continue  # views only
                    if not same_rows(sluice_results[seed][qi], duck[seed][qi]):
                        failures.append("seed %d join query %d: %s\n  sluice: %s\n  duckdb: %s" % (
                            seed, qi, s, sorted(sluice_results[seed][qi], key=repr)[:5],
                            sorted(duck[seed][qi], key=repr)[:5]))
            for (seed, qi), view in view_results.items():
                deadline = time.time() + 30
                while True:
                    rows = self.sql(server, "SELECT * FROM %s" % view)
                    if same_rows(rows, duck[seed][qi]) or time.time() > deadline:
                        break
                    time.sleep(0.05)
                if not same_rows(rows, duck[seed][qi]):
                    failures.append("view %s differs from DuckDB:\n  sluice: %s\n  duckdb: %s" % (
                        view, sorted(rows, key=repr)[:5], sorted(duck[seed][qi], key=repr)[:5]))
            for view in sorted(view_results.values(), reverse=True):
                self.sql(server, "DROP MATERIALIZED VIEW %s" % view)
            self.assertEqual(failures, [], "\n".join(failures[:5]))
            print("\ndifferential (joins, EOWC): %d seeds x %d queries (+%d views) equal to DuckDB" % (
                SEEDS, len(JOIN_QUERIES) - 1, len(view_results)))
        finally:
            server.stop()
            server.cleanup()
            subprocess.run(["rm", "-rf", workdir])


DIM_COLUMNS = "id BIGINT PRIMARY KEY, g VARCHAR, seq BIGINT"
FACT_COLUMNS = "k BIGINT, v BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND"
OTHER_COLUMNS = "k BIGINT, w BIGINT, ts TIMESTAMP"
SENTINEL_TS = "2026-01-02 00:00:00.000"  # far past the events: closes every window of them
HOP_UNION = " UNION ALL ".join(
    "SELECT time_bucket(INTERVAL '5 seconds', ts) - INTERVAL '%d seconds' AS ws, k, v FROM {f} WHERE ts IS NOT NULL" % (5 * i)
    for i in range(2))

# (sluice SQL or "" for view-only, DuckDB SQL). The last entry is the EMIT ON WINDOW CLOSE view.
JOIN_QUERIES = [
    ("SELECT d.g, count(*), sum(f.v), max(f.ts) FROM {f} f JOIN {d} d ON f.k = d.id GROUP BY d.g",
     "SELECT d.g, count(*), sum(f.v), max(f.ts) FROM {f} f JOIN {d} d ON f.k = d.id GROUP BY d.g"),
    ("SELECT f.k, f.v, d.g FROM {f} f LEFT JOIN {d} d ON f.k = d.id",
     "SELECT f.k, f.v, d.g FROM {f} f LEFT JOIN {d} d ON f.k = d.id"),
    ("SELECT a.window_start, count(*), sum(b.w) FROM TUMBLE({f}, ts, INTERVAL '10' SECOND) a "
     "JOIN TUMBLE({o}, ts, INTERVAL '10' SECOND) b ON a.k = b.k AND a.window_start = b.window_start GROUP BY a.window_start",
     "SELECT time_bucket(INTERVAL '10 seconds', a.ts) AS ws, count(*), sum(b.w) FROM {f} a JOIN {o} b "
     "ON a.k = b.k AND time_bucket(INTERVAL '10 seconds', a.ts) = time_bucket(INTERVAL '10 seconds', b.ts) GROUP BY ws"),
    ("SELECT a.k, a.v, b.w FROM {f} a JOIN {o} b ON a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '3' SECOND",
     "SELECT a.k, a.v, b.w FROM {f} a JOIN {o} b ON a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '3' SECOND"),
    ("SELECT d.g, count(*), sum(b.w) FROM {f} a JOIN {o} b ON a.k = b.k AND b.ts BETWEEN a.ts - INTERVAL '1' SECOND AND a.ts "
     "JOIN {d} d ON a.k = d.id GROUP BY d.g",
     "SELECT d.g, count(*), sum(b.w) FROM {f} a JOIN {o} b ON a.k = b.k AND b.ts BETWEEN a.ts - INTERVAL '1' SECOND AND a.ts "
     "JOIN {d} d ON a.k = d.id GROUP BY d.g"),
    ("", "SELECT ws, count(*), sum(v), min(k) FROM (" + HOP_UNION + ") WHERE ws + INTERVAL '10 seconds' <= TIMESTAMP '"
     + SENTINEL_TS + "' - INTERVAL '5 seconds' AND k IS NOT NULL GROUP BY ws"),
]
# Queries also checked as materialized views (on a sample of seeds).
JOIN_VIEW_QUERIES = [0, 2, 3]
EOWC_VIEW = ("SELECT window_start, count(*), sum(v), min(k) FROM HOP({f}, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) "
             "WHERE k IS NOT NULL GROUP BY window_start, window_end EMIT ON WINDOW CLOSE")


def generate_join_case(seed):
    """A dimension table with several versions per key (seq orders them), a fact stream and a
    second stream over the same keys; times out of order by up to 4 s (the watermark delay is
    5 s), NULLs, keys without a match. Four sentinel events, one per partition, end the fact
    stream far in the future so that the watermark closes every window of the real events."""
    rng = random.Random(10_000 + seed)
    n_keys = rng.randint(1, 25)
    versions = [key for key in range(n_keys) for _ in range(rng.randint(1, 3))]
    rng.shuffle(versions)  # the versions of different keys interleave; seq is the log order
    dim = [{"id": key, "g": rng.choice(["g1", "g2", "g3", None]), "seq": seq} for seq, key in enumerate(versions)]
    base = 1767225600  # 2026-01-01T00:00:00Z

    def stream(n, field):
        events = []
        for i in range(n):
            e = {}
            if rng.random() > 0.05:
                e["k"] = rng.randint(0, n_keys + 3)
            if rng.random() > 0.1:
                e[field] = rng.randint(-100, 100)
            if rng.random() > 0.03:
                t = base + i * 0.3 - rng.random() * 4
                ms = int(round(t * 1000))
                e["ts"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)) + ".%03d" % (ms % 1000)
            events.append(e)
        return events

    fact = stream(rng.randint(10, 200), "v") + [{"ts": SENTINEL_TS}] * 4
    other = stream(rng.randint(10, 200), "w")
    return dim, fact, other


if __name__ == "__main__":
    unittest.main()
