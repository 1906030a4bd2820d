"""`sluice verify VIEW`: recomputes a view in batch from the retained log and diffs it with the
live view; exit 0 when equal, 1 with the mismatching rows otherwise."""

import json
import subprocess
import time
import unittest

from harness import SLUICE_BIN, Server


class VerifyTest(unittest.TestCase):
    def sql(self, text):
        status, _, data = self.server.request("POST", "/v1/sql", json.dumps({"sql": text}), {"Content-Type": "application/json"})
        self.assertEqual(status, 200, data)
        return json.loads(data)["results"][-1]["rows"]

    def ingest(self, topic, events, key=None):
        target = "/v1/topics/%s/events" % topic + ("?key=%s" % key if key else "")
        status, _, data = self.server.request("POST", target, "\n".join(json.dumps(e) for e in events),
                                              {"Content-Type": "application/x-ndjson"})
        self.assertEqual(status, 200, data)

    def verify(self, view):
        r = subprocess.run([SLUICE_BIN, "verify", view, "--url", self.server.url()], capture_output=True, timeout=60)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def wait_rows(self, query, want):
        deadline = time.time() + 10
        while time.time() < deadline and self.sql(query) != want:
            time.sleep(0.05)
        self.assertEqual(self.sql(query), want)

    def setUp(self):
        self.server = Server().start()

    def tearDown(self):
        self.server.stop()
        self.server.cleanup()

    def test_healthy_views_pass(self):
        self.sql("CREATE TABLE users (id BIGINT PRIMARY KEY, country VARCHAR) WITH (topic = 'users')")
        self.sql("CREATE SOURCE orders (uid BIGINT, amount BIGINT) WITH (topic = 'orders')")
        self.ingest("users", [{"id": i, "country": "c%d" % (i % 3)} for i in range(20)], key="id")
        self.sql("CREATE MATERIALIZED VIEW per_country AS SELECT u.country, count(*) AS n, sum(o.amount) AS total "
                 "FROM orders o JOIN users u ON o.uid = u.id GROUP BY u.country")
        self.sql("CREATE MATERIALIZED VIEW big AS SELECT uid, amount FROM orders WHERE amount > 50")
        for batch in range(5):
            self.ingest("orders", [{"uid": (batch * 7 + i) % 25, "amount": i} for i in range(100)])
        for view in ("per_country", "big"):
            code, out, err = self.verify(view)
            self.assertEqual(code, 0, out + err)
            self.assertIn("OK", out)
        # Verification cuts the log at the view's own offsets: ingest running meanwhile is fine.
        self.ingest("orders", [{"uid": 1, "amount": 99}])
        code, out, err = self.verify("big")
        self.assertEqual(code, 0, out + err)

    def test_planted_mismatch_is_found(self):
        # A view that drops late events differs from the batch answer over every event: verify
        # must say so and show the rows.
        self.sql("CREATE SOURCE ev (k VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) "
                 "WITH (topic = 'ev', idle_timeout = '1 second')")
        self.sql("CREATE MATERIALIZED VIEW counts WITH (allowed_lateness = '1 second') AS "
                 "SELECT k, count(*) AS n FROM ev GROUP BY k")
        self.ingest("ev", [{"k": "a", "ts": "2026-01-01T00:00:%02dZ" % s} for s in range(0, 50, 5)], key="k")
        self.wait_rows("SELECT k, n FROM counts", [["a", 10]])
        code, out, err = self.verify("counts")
        self.assertEqual(code, 0, out + err)
        # The watermark (45 s - 1 s) once the partitions without data count as idle (1 s).
        deadline = time.time() + 10
        while time.time() < deadline:
            _, _, metrics = self.server.request("GET", "/metrics")
            if b'sluice_view_watermark_seconds{view="counts"} 1767225644' in metrics:
                break
            time.sleep(0.05)
        self.assertIn(b'sluice_view_watermark_seconds{view="counts"} 1767225644', metrics)
        self.ingest("ev", [{"k": "a", "ts": "2026-01-01T00:00:01Z"}], key="k")  # 43 s behind: late
        deadline = time.time() + 10
        while time.time() < deadline:
            code, out, err = self.verify("counts")
            if code == 1:
                break
            time.sleep(0.1)
        self.assertEqual(code, 1, out + err)
        self.assertIn("MISMATCH", out)
        self.assertIn("view only:  a | 10", out)
        self.assertIn("batch only: a | 11", out)

    def test_errors(self):
        self.sql("CREATE SOURCE s (k VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts) WITH (topic = 's')")
        self.sql("CREATE MATERIALIZED VIEW closed AS SELECT window_end, count(*) FROM TUMBLE(s, ts, INTERVAL '1' SECOND) "
                 "GROUP BY window_end EMIT ON WINDOW CLOSE")
        for view, message in (("nope", "does not exist"), ("s", "not a materialized view"),
                              ("closed", "not supported yet")):
            code, out, err = self.verify(view)
            self.assertEqual(code, 1, out + err)
            self.assertIn(message, err)
        r = subprocess.run([SLUICE_BIN, "verify"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
