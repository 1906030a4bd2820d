"""The Nexmark smoke test of issue 6: 2000 generated events (fixed seed) go into sluice through
`sluice gen nexmark` over HTTP; q0-q8 of bench/nexmark run in sluice (ad hoc, and as materialized
views created before the events arrive) and in DuckDB over the same events, which `sluice gen
nexmark --output` writes as NDJSON files; the results must be equal. `sluice bench nexmark`
must give the same result (row count equal to DuckDB's, and the same checksum through the log
and in-process).
"""

import json
import os
import re
import subprocess
import tempfile
import time
import unittest

import test_differential as diff
from harness import SLUICE_BIN, Server

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
NEXMARK_DIR = os.path.join(ROOT, "bench", "nexmark")
ORACLE_DIR = os.path.join(HERE, "..", "differential")

EVENTS = 2000
SEED = 7
RATE = 100  # events per second of event time: 2000 events span 20 s, so the windows matter

COLUMNS = {
    "person": [["id", "BIGINT"], ["name", "VARCHAR"], ["email_address", "VARCHAR"], ["credit_card", "VARCHAR"],
               ["city", "VARCHAR"], ["state", "VARCHAR"], ["date_time", "TIMESTAMP"], ["extra", "VARCHAR"]],
    "auction": [["id", "BIGINT"], ["item_name", "VARCHAR"], ["description", "VARCHAR"], ["initial_bid", "BIGINT"],
                ["reserve", "BIGINT"], ["date_time", "TIMESTAMP"], ["expires", "TIMESTAMP"], ["seller", "BIGINT"],
                ["category", "BIGINT"], ["extra", "VARCHAR"]],
    "bid": [["auction", "BIGINT"], ["bidder", "BIGINT"], ["price", "BIGINT"], ["channel", "VARCHAR"],
            ["url", "VARCHAR"], ["date_time", "TIMESTAMP"], ["extra", "VARCHAR"]],
}


def hop(table, slide_s, size_s):
    """HOP(table, date_time, slide, size) in DuckDB: each row once per window containing it."""
    return "(" + " UNION ALL ".join(
        "SELECT *, time_bucket(INTERVAL '%d seconds', date_time) - INTERVAL '%d seconds' AS window_start FROM %s"
        % (slide_s, slide_s * k, table) for k in range(size_s // slide_s)) + ")"


def tumble(table, size_s):
    return ("(SELECT *, time_bucket(INTERVAL '{s} seconds', date_time) AS window_start, "
            "time_bucket(INTERVAL '{s} seconds', date_time) + INTERVAL '{s} seconds' AS window_end FROM {t})"
            .format(s=size_s, t=table))


# The same queries written for DuckDB: the windowing table functions become time_bucket.
DUCKDB = {
    "q0": "SELECT auction, bidder, price, date_time, extra FROM bid",
    "q1": "SELECT auction, bidder, 0.908 * price AS price, date_time, extra FROM bid",
    "q2": "SELECT auction, price FROM bid WHERE auction % 123 = 0",
    "q3": "SELECT P.name, P.city, P.state, A.id FROM auction AS A JOIN person AS P ON A.seller = P.id "
          "WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')",
    "q4": "SELECT Q.category, avg(Q.final) FROM (SELECT max(B.price) AS final, A.category FROM auction AS A "
          "JOIN bid AS B ON A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires "
          "GROUP BY A.id, A.category) AS Q GROUP BY Q.category",
    "q5": "SELECT AuctionBids.auction, AuctionBids.num FROM ("
          " SELECT auction, count(*) AS num, window_start AS starttime FROM %s GROUP BY window_start, auction"
          ") AS AuctionBids JOIN ("
          " SELECT max(num) AS maxn, starttime_c FROM ("
          "  SELECT count(*) AS num, window_start AS starttime_c FROM %s GROUP BY auction, window_start"
          " ) AS CountBids GROUP BY starttime_c"
          ") AS MaxBids ON AuctionBids.starttime = MaxBids.starttime_c AND AuctionBids.num >= MaxBids.maxn"
          % (hop("bid", 2, 10), hop("bid", 2, 10)),
    "q7": "SELECT B.auction, B.price, B.bidder, B.date_time, B.extra FROM bid AS B JOIN ("
          " SELECT max(price) AS maxprice, window_end AS date_time FROM %s GROUP BY window_start, window_end"
          ") AS B1 ON B.price = B1.maxprice "
          "WHERE B.date_time BETWEEN B1.date_time - INTERVAL '10 seconds' AND B1.date_time" % tumble("bid", 10),
    "q8": "SELECT P.id, P.name, P.starttime FROM ("
          " SELECT id, name, window_start AS starttime, window_end AS endtime FROM %s"
          " GROUP BY id, name, window_start, window_end) AS P JOIN ("
          " SELECT seller, window_start AS starttime, window_end AS endtime FROM %s"
          " GROUP BY seller, window_start, window_end) AS A "
          "ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime"
          % (tumble("person", 10), tumble("auction", 10)),
}
QUERIES = sorted(DUCKDB, key=lambda q: int(q[1:]))


def read(path):
    with open(path) as f:
        return f.read()


def run(args, timeout=120):
    p = subprocess.run([SLUICE_BIN] + args, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class NexmarkTest(unittest.TestCase):
    def setUp(self):
        if not os.path.isdir(os.path.join(ORACLE_DIR, "node_modules", "@duckdb")):
            self.fail("DuckDB oracle not installed: run scripts/install-deps.sh (npm install in tests/differential)")

    def sql(self, server, text):
        status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": text}), {"Content-Type": "application/json"})
        self.assertEqual(status, 200, "%s -> %s" % (text[:200], data[:300]))
        return json.loads(data, parse_float=str, parse_int=str)["results"][-1]["rows"]

    def test_q0_to_q8_equal_duckdb(self):
        workdir = tempfile.mkdtemp(prefix="sluice-nexmark-")
        server = Server().start()
        try:
            # The oracle's copy of the events.
            rc, out, err = run(["gen", "nexmark", "--events", str(EVENTS), "--seed", str(SEED), "--rate", str(RATE),
                                "--output", workdir])
            self.assertEqual(rc, 0, err)
            lines = {t: read(os.path.join(workdir, t + ".ndjson")).count("\n") for t in COLUMNS}
            self.assertEqual(lines, {"person": EVENTS // 50, "auction": EVENTS // 50 * 3, "bid": EVENTS // 50 * 46})

            self.sql(server, read(os.path.join(NEXMARK_DIR, "sources.sql")))
            queries = {q: read(os.path.join(NEXMARK_DIR, q + ".sql")) for q in QUERIES}
            for q in QUERIES:  # views first: they are maintained as the events arrive in rounds
                self.sql(server, "CREATE MATERIALIZED VIEW nexmark_%s AS %s" % (q, queries[q]))
            rc, out, err = run(["gen", "nexmark", "--events", str(EVENTS), "--seed", str(SEED), "--rate", str(RATE),
                                "--max-speed", "--batch", "300", "--quiet", "--url", server.url()])
            self.assertEqual(rc, 0, err)
            counts = {t: self.sql(server, "SELECT count(*) FROM %s" % t)[0][0] for t in COLUMNS}
            self.assertEqual(counts, {t: str(n) for t, n in lines.items()})

            tables = [{"events_file": os.path.join(workdir, t + ".ndjson"), "table": t, "columns": c}
                      for t, c in COLUMNS.items()]
            oracle_queries = ["SELECT count(*) FROM %s" % t for t in COLUMNS] + [DUCKDB[q] for q in QUERIES]
            oracle = subprocess.run(["node", os.path.join(ORACLE_DIR, "oracle.mjs")],
                                    input=json.dumps({"cases": [{"tables": tables, "queries": oracle_queries}]}).encode(),
                                    capture_output=True, timeout=300)
            self.assertEqual(oracle.returncode, 0, oracle.stderr.decode()[-2000:])
            duck = json.loads(oracle.stdout)["results"][0]
            # DuckDB read every line (its reader skips what it cannot parse: that must be nothing).
            self.assertEqual([r[0][0] for r in duck[:3]], [str(lines[t]) for t in COLUMNS])
            duck = dict(zip(QUERIES, duck[3:]))

            failures = []
            for q in QUERIES:
                got = self.sql(server, queries[q])
                if not diff.same_rows(got, duck[q]):
                    failures.append("%s ad hoc: %d rows vs DuckDB %d\n  sluice: %s\n  duckdb: %s" % (
                        q, len(got), len(duck[q]), sorted(got, key=repr)[:3], sorted(duck[q], key=repr)[:3]))
                # Results that do not exercise the query prove little: every query has rows here.
                if not duck[q]:
                    failures.append("%s: DuckDB returned no rows; the smoke data does not exercise it" % q)
            for q in QUERIES:
                deadline = time.time() + 30
                while True:
                    rows = self.sql(server, "SELECT * FROM nexmark_%s" % q)
                    if diff.same_rows(rows, duck[q]) or time.time() > deadline:
                        break
                    time.sleep(0.1)
                if not diff.same_rows(rows, duck[q]):
                    failures.append("%s view: %d rows vs DuckDB %d\n  sluice: %s\n  duckdb: %s" % (
                        q, len(rows), len(duck[q]), sorted(rows, key=repr)[:3], sorted(duck[q], key=repr)[:3]))
            self.assertEqual(failures, [], "\n".join(failures))

            # The benchmark runs the same queries over the same events: the same rows, whether the
            # events go through the log as JSON or straight into the dataflow.
            for q in QUERIES:
                sums = {}
                for mode in ([], ["--in-process"]):
                    rc, out, err = run(["bench", "nexmark", "--query", q, "--events", str(EVENTS), "--seed", str(SEED),
                                        "--rate", str(RATE)] + mode)
                    self.assertEqual(rc, 0, err)
                    m = re.search(r"result:\s+(\d+) rows, checksum ([0-9a-f]{16})", out)
                    self.assertIsNotNone(m, out)
                    self.assertEqual(int(m.group(1)), len(duck[q]), "%s %s: %s" % (q, mode, out))
                    sums[tuple(mode)] = m.group(2)
                self.assertEqual(len(set(sums.values())), 1, "%s: checksums differ between modes: %s" % (q, sums))
            print("\nnexmark: %s equal to DuckDB (ad hoc, views, bench in both modes) over %d events"
                  % (", ".join(QUERIES), EVENTS))
        finally:
            server.stop()
            server.cleanup()
            subprocess.run(["rm", "-rf", workdir])

    def test_cli_errors(self):
        cases = [
            (["gen", "nexmark", "--rate", "0", "--events", "1", "--output", "/tmp/x"], "--rate"),
            (["gen", "nexmark", "--events", "10", "--keys", "5", "--output", "/tmp/x"], "--keys applies to"),
            (["gen", "clickstream", "--max-speed"], "--max-speed applies to the nexmark workload"),
            (["gen", "nexmark", "--output", "/tmp/x"], "--output needs --events"),
            (["bench", "nexmark", "--query", "q6"], "unknown query 'q6'"),
            (["bench", "nexmark", "--query", "q0", "--events", "0"], "--events must be >= 1"),
            (["bench", "nexmark", "--query", "q0", "--rate", "-5"], "--rate"),
        ]
        for args, message in cases:
            rc, out, err = run(args)
            self.assertEqual(rc, 2, "%s: rc %d, %s %s" % (args, rc, out, err))
            self.assertIn(message, err, args)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        rc, out, err = run(["bench", "nexmark", "--list"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.split()[:3], ["q0", "q1", "q2"])


if __name__ == "__main__":
    unittest.main()
