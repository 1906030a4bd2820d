"""POST /v1/sql and `sluice sql` against the real server: DDL, SHOW, DESCRIBE, EXPLAIN, errors,
and the catalog surviving a restart."""

import json
import subprocess
import time
import unittest

from harness import SLUICE_BIN, Server

BID = """CREATE SOURCE bid (
  auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  date_time TIMESTAMP, extra VARCHAR,
  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (topic = 'bid', format = 'json')"""


class SqlApiTest(unittest.TestCase):
    def setUp(self):
        self.server = Server().start()

    def tearDown(self):
        self.server.stop()
        self.server.cleanup()

    def sql(self, text, expect=200):
        status, _, data = self.server.request("POST", "/v1/sql", json.dumps({"sql": text}), {"Content-Type": "application/json"})
        self.assertEqual(status, expect, data)
        return json.loads(data)

    def test_ddl_show_describe_explain_and_restart(self):
        body = self.sql(BID + "; CREATE TABLE auctions (id BIGINT PRIMARY KEY, seller BIGINT) WITH (topic = 'auction')")
        self.assertEqual([r["command"] for r in body["results"]], ["CREATE SOURCE", "CREATE TABLE"])
        # The source's topic exists and takes events.
        _, topic = self.server.json("GET", "/v1/topics/bid", expect=200)
        self.assertEqual(topic["name"], "bid")
        r = self.sql("SHOW SOURCES")["results"][0]
        self.assertEqual([c["name"] for c in r["columns"]], ["name", "topic", "definition"])
        self.assertEqual(r["rows"][0][:2], ["bid", "bid"])
        d = self.sql("DESCRIBE bid")["results"][0]
        self.assertEqual([row[:2] for row in d["rows"]][5], ["date_time", "TIMESTAMP"])
        plan = self.sql("EXPLAIN SELECT auction, count(*) AS n FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND) "
                        "GROUP BY auction, window_start")["results"][0]
        text = "\n".join(row[0] for row in plan["rows"])
        self.assertIn("Window TUMBLE", text)
        self.assertIn("Aggregate", text)
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        r = self.sql("SHOW TABLES")["results"][0]
        self.assertEqual(r["rows"][0][0], "auctions")
        err = self.sql("DROP SOURCE bid; DROP SOURCE bid", expect=404)
        self.assertIn("does not exist", err["error"]["message"])

    def test_errors_are_clear(self):
        self.sql(BID)
        err = self.sql("SELECT auction FROM bid WHERE", expect=400)["error"]
        self.assertIn("syntax error at line 1, column 30", err["message"])
        err = self.sql("SELECT pricee FROM bid", expect=400)["error"]
        self.assertIn('column "pricee" does not exist', err["message"])
        err = self.sql(BID, expect=409)["error"]
        self.assertEqual(err["message"], 'source "bid" already exists')
        err = self.sql("CREATE SINK s INTO out_topic AS SELECT auction FROM bid GROUP BY auction LIMIT 3", expect=400)["error"]
        self.assertIn("not supported yet: ORDER BY or LIMIT in a sink", err["message"])
        for bad in [b"not json", b"{}", b'{"sql": 5}']:
            status, _, data = self.server.request("POST", "/v1/sql", bad, {"Content-Type": "application/json"})
            self.assertEqual(status, 400, data)
        status, hdrs, _ = self.server.request("GET", "/v1/sql")
        self.assertEqual(status, 405)
        huge = "SELECT " + "(" * 100000 + "1"
        self.assertIn("nested too deeply", self.sql(huge, expect=400)["error"]["message"])

    def test_sluice_sql_command(self):
        r = subprocess.run([SLUICE_BIN, "sql", "--url", self.server.url(), "-e", BID + "; SHOW SOURCES;"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("CREATE SOURCE", out)
        self.assertIn(" bid ", out)
        self.assertIn("(1 row)", out)
        piped = "DESCRIBE bid;\nSHOW\n  TOPICS;\nSELECT nope FROM bid;\nSHOW SOURCES;\n"
        r = subprocess.run([SLUICE_BIN, "sql", "--url", self.server.url()], input=piped.encode(), capture_output=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("date_time", r.stdout.decode())
        self.assertIn('ERROR:  column "nope" does not exist', r.stderr.decode())
        self.assertNotIn("definition", r.stdout.decode())  # stopped at the error


if __name__ == "__main__":
    unittest.main()


class AdHocQueryTest(unittest.TestCase):
    """SELECT on a source is a batch scan of its retained log, checked against Python's answer."""

    def test_select_over_ingested_events(self):
        server = Server().start()
        try:
            status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": BID}), {"Content-Type": "application/json"})
            self.assertEqual(status, 200, data)
            events = []
            for i in range(3000):
                events.append({"auction": 1000 + i % 7, "bidder": i % 13, "price": (i * 7919) % 100000,
                               "channel": ["apple", "google", "baidu"][i % 3], "url": "https://x/%d" % i,
                               "date_time": "2026-01-01T00:%02d:%02d.000Z" % (i // 60 % 60, i % 60), "extra": ""})
            body = "\n".join(json.dumps(e) for e in events) + "\n" + '{"auction": "not a number"}\n'
            status, _, data = server.request("POST", "/v1/topics/bid/events", body, {"Content-Type": "application/x-ndjson"})
            self.assertEqual(status, 200, data)
            q = ("SELECT auction, count(*) AS n, sum(price) AS total, max(price) AS top FROM bid "
                 "WHERE channel <> 'baidu' GROUP BY auction ORDER BY auction")
            status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": q}), {"Content-Type": "application/json"})
            self.assertEqual(status, 200, data)
            rows = json.loads(data)["results"][0]["rows"]
            expect = {}
            for e in events:
                if e["channel"] == "baidu":
                    continue
                n, total, top = expect.get(e["auction"], (0, 0, 0))
                expect[e["auction"]] = (n + 1, total + e["price"], max(top, e["price"]))
            # sum(bigint) is an exact DECIMAL(38,0): compare as numbers.
            self.assertEqual([[r[0], r[1], int(r[2]), r[3]] for r in rows],
                             [[k, v[0], v[1], v[2]] for k, v in sorted(expect.items())])
            q = ("SELECT window_start, count(*) FROM TUMBLE(bid, date_time, INTERVAL '10' MINUTE) "
                 "GROUP BY window_start ORDER BY window_start LIMIT 2")
            status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": q}), {"Content-Type": "application/json"})
            self.assertEqual(status, 200, data)
            self.assertEqual(json.loads(data)["results"][0]["rows"],
                             [["2026-01-01 00:00:00", 600], ["2026-01-01 00:10:00", 600]])
        finally:
            server.stop()
            server.cleanup()


class MaterializedViewTest(unittest.TestCase):
    """A view over a source backfills, follows new events, is queryable, and survives restarts."""

    def wait_rows(self, server, query, expect, timeout=30):
        deadline = time.time() + timeout
        rows = None
        while time.time() < deadline:
            status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": query}), {"Content-Type": "application/json"})
            self.assertEqual(status, 200, data)
            rows = json.loads(data)["results"][0]["rows"]
            if rows == expect:
                return
            time.sleep(0.05)
        self.fail("view rows %s, expected %s" % (rows, expect))

    def test_view_follows_ingest(self):
        server = Server().start()
        try:
            def sql(text):
                status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": text}), {"Content-Type": "application/json"})
                self.assertEqual(status, 200, data)
            sql(BID)
            def ingest(events):
                body = "\n".join(json.dumps(e) for e in events)
                status, _, data = server.request("POST", "/v1/topics/bid/events", body, {"Content-Type": "application/x-ndjson"})
                self.assertEqual(status, 200, data)
            ingest([{"auction": a, "price": p, "channel": "c", "date_time": "2026-01-01T00:00:00Z"}
                    for a, p in [(1, 10), (2, 20), (1, 30)]])
            sql("CREATE MATERIALIZED VIEW per_auction AS SELECT auction, count(*) AS n, sum(price) AS total "
                "FROM bid GROUP BY auction")
            q = "SELECT auction, n, total FROM per_auction ORDER BY auction"
            self.wait_rows(server, q, [[1, 2, 40], [2, 1, 20]])
            ingest([{"auction": 2, "price": 5}, {"auction": 3, "price": 1}])
            self.wait_rows(server, q, [[1, 2, 40], [2, 2, 25], [3, 1, 1]])
            _, _, metrics = server.request("GET", "/metrics")
            self.assertIn(b'sluice_view_rows{view="per_auction"} 3', metrics)
            # An uncastable value: the event goes to bid.dlq with the reason, once.
            ingest([{"auction": "seven", "price": 1}])
            deadline = time.time() + 10
            while time.time() < deadline and server.request("GET", "/v1/topics/bid.dlq")[0] != 200:
                time.sleep(0.05)
            while time.time() < deadline and not server.read_all("bid.dlq", 0):
                time.sleep(0.05)
            dlq = server.read_all("bid.dlq", 0)
            self.assertEqual(len(dlq), 1, dlq)
            self.assertIn("auction", dlq[0]["headers"]["sluice.error"])
            self.assertEqual(dlq[0]["headers"]["sluice.source"], "bid")
            self.assertEqual(json.loads(dlq[0]["value"]), {"auction": "seven", "price": 1})
            _, _, metrics = server.request("GET", "/metrics")
            self.assertIn(b'sluice_decode_rejected_events_total{source="bid"} 1', metrics)
            self.assertEqual(server.stop(), 0)
            server.start()
            self.wait_rows(server, q, [[1, 2, 40], [2, 2, 25], [3, 1, 1]])
            time.sleep(0.2)
            self.assertEqual(len(server.read_all("bid.dlq", 0)), 1)  # not reported again after a restart
            status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": "DROP SOURCE bid"}), {"Content-Type": "application/json"})
            self.assertEqual(status, 409, data)
            self.assertIn("per_auction depends on it", json.loads(data)["error"]["message"])
        finally:
            server.stop()
            server.cleanup()
