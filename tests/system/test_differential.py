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
# Queries also checked as materialized views (on a sample of seeds: each view is a thread). The
# views exist before their seed's events arrive, in several requests, so they are updated
# incrementally (sessions extended, bridged, retracted) rather than only backfilled.
VIEW_QUERIES = [0, 4, 7, 8, 9]


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


if __name__ == "__main__":
    unittest.main()
