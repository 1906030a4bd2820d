"""Checkpoints: a view's state is written every second and restored after kill -9 (then the
log is replayed from the checkpointed offsets); a corrupt newest checkpoint falls back."""

import glob
import json
import os
import shutil
import tempfile
import time
import unittest

from harness import Server

LATEST = ("CREATE MATERIALIZED VIEW latest AS SELECT id, v FROM (SELECT id, v, ROW_NUMBER() OVER "
          "(PARTITION BY id ORDER BY seq DESC) AS rn FROM ev) x WHERE rn = 1")
TOTALS = ("CREATE MATERIALIZED VIEW totals AS SELECT id, count(*) AS n, count(DISTINCT v % 7) AS d, "
          "approx_percentile(v, 0.5) AS p FROM ev GROUP BY id")


class CheckpointTest(unittest.TestCase):
    def sql(self, text):
        status, _, data = self.server.request("POST", "/v1/sql", json.dumps({"sql": text}), {"Content-Type": "application/json"})
        self.assertEqual(status, 200, data)
        return json.loads(data)["results"][-1]["rows"]

    def ingest(self, events):
        status, _, data = self.server.request("POST", "/v1/topics/ev/events", "\n".join(json.dumps(e) for e in events),
                                              {"Content-Type": "application/x-ndjson"})
        self.assertEqual(status, 200, data)

    def wait_rows(self, query, want, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline and sorted(self.sql(query)) != sorted(want):
            time.sleep(0.05)
        self.assertEqual(sorted(self.sql(query)), sorted(want))

    def checkpoint_files(self, data_dir):
        return sorted(glob.glob(os.path.join(data_dir, "data", "checkpoints", "*", "*.ckpt")))

    def test_restore_after_kill9_and_fallback_on_corruption(self):
        data_dir = tempfile.mkdtemp(prefix="sluice-ckpt-")
        self.server = Server(data_dir=data_dir).start()
        try:
            self.sql("CREATE SOURCE ev (id BIGINT, v BIGINT, seq BIGINT) WITH (topic = 'ev')")
            self.sql(LATEST)
            self.sql(TOTALS)
            seq = 0
            expected_latest, expected_totals = {}, {}

            def send(n):
                nonlocal seq
                batch = []
                for _ in range(n):
                    seq += 1
                    batch.append({"id": seq % 13, "v": seq * 10, "seq": seq})
                    expected_latest[seq % 13] = seq * 10
                    expected_totals[seq % 13] = expected_totals.get(seq % 13, 0) + 1
                self.ingest(batch)

            for round_ in range(3):
                send(300)
                self.wait_rows("SELECT id, v FROM latest", [[k, v] for k, v in expected_latest.items()])
                deadline = time.time() + 10
                while time.time() < deadline and not self.checkpoint_files(data_dir):
                    time.sleep(0.1)
                self.assertTrue(self.checkpoint_files(data_dir), "no checkpoint written")
                time.sleep(1.2)  # let a checkpoint cover the latest round
                self.server.kill9()
                if round_ == 2:
                    # Tear the newest checkpoint: the one before (or the log) must take over.
                    newest = self.checkpoint_files(data_dir)[-1]
                    with open(newest, "r+b") as f:
                        f.truncate(os.path.getsize(newest) // 2)
                self.server = Server(data_dir=data_dir).start()
                self.wait_rows("SELECT id, v FROM latest", [[k, v] for k, v in expected_latest.items()])
                self.wait_rows("SELECT id, n FROM totals", [[k, v] for k, v in expected_totals.items()])
                send(50)
                self.wait_rows("SELECT id, v FROM latest", [[k, v] for k, v in expected_latest.items()])
                self.wait_rows("SELECT id, n FROM totals", [[k, v] for k, v in expected_totals.items()])
            log = self.server.log()
            self.assertIn("restored checkpoint", log)
            self.assertIn("totals: restored checkpoint", log)
            # Which seq was torn depends on how many checkpoints the rounds took.
            self.assertRegex(log, r"totals: checkpoint \d{20}\.ckpt does not verify; using the one before")
            _, _, metrics = self.server.request("GET", "/metrics")
            self.assertIn(b'sluice_view_last_checkpoint_timestamp_seconds{view="latest"}', metrics)
            # State size per operator: 13 groups in the aggregate, bytes once it checkpointed.
            text = metrics.decode()
            self.assertRegex(text, r'\nsluice_view_state_keys\{view="totals",operator="aggregate_\d+"\} 13\n')
            self.assertRegex(text, r'\nsluice_view_state_bytes\{view="totals",operator="aggregate_\d+"\} [1-9]')
            # Dropping a view removes its checkpoints (and only its own).
            dirs = {os.path.dirname(f) for f in self.checkpoint_files(data_dir)}
            self.assertEqual(len(dirs), 2)
            self.sql("DROP MATERIALIZED VIEW latest")
            self.assertEqual(len({os.path.dirname(f) for f in self.checkpoint_files(data_dir)}), 1)
            self.sql("DROP MATERIALIZED VIEW totals")
            self.assertEqual(self.checkpoint_files(data_dir), [])
        finally:
            self.server.stop()
            self.server.cleanup()
            shutil.rmtree(data_dir, ignore_errors=True)

    def test_ready_only_once_views_have_replayed_the_log(self):
        """GET /ready says 503 until every view restored at start has applied what the log held:
        the first moment it says 200, the view already shows every event (no waiting)."""
        data_dir = tempfile.mkdtemp(prefix="sluice-ready-")
        self.server = Server(data_dir=data_dir).start()
        try:
            self.sql("CREATE SOURCE ev (id BIGINT, v BIGINT, seq BIGINT) WITH (topic = 'ev')")
            self.sql("CREATE MATERIALIZED VIEW per_id AS SELECT id % 1000 AS k, count(*) AS n, sum(v) AS s "
                     "FROM ev GROUP BY id % 1000")
            total, chunk = 0, 20000
            for start in range(0, 200000, chunk):
                self.ingest([{"id": i, "v": i % 97, "seq": i} for i in range(start, start + chunk)])
                total += chunk
            self.wait_rows("SELECT sum(n) FROM per_id", [[total]], timeout=60)
            self.server.stop()
            # No checkpoint: the view rebuilds from the whole log at start.
            shutil.rmtree(os.path.join(data_dir, "data", "checkpoints"), ignore_errors=True)
            self.server = Server(data_dir=data_dir).start(timeout=120)  # returns at the first 200
            self.assertEqual(self.sql("SELECT sum(n), count(*) FROM per_id"), [[total, 1000]])
            log = self.server.log()
            self.assertIn("materialized view per_id: caught up with its inputs in", log)
            _, _, metrics = self.server.request("GET", "/metrics")
            self.assertRegex(metrics.decode(), r'\nsluice_view_recovery_seconds\{view="per_id"\} [0-9.e-]+\n')
            # A view created after start never makes the server unready, even while it backfills.
            self.sql("CREATE MATERIALIZED VIEW later AS SELECT v, count(*) AS n FROM ev GROUP BY v")
            status, _, _ = self.server.request("GET", "/ready")
            self.assertEqual(status, 200)
        finally:
            self.server.stop()
            self.server.cleanup()
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
