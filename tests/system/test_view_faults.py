"""Faults around views: a full disk while checkpointing (a real tiny tmpfs), and a view whose
definition no longer binds after a restart (its catalog record written in the catalog's own
format, docs/formats/catalog.md)."""

import glob
import json
import os
import re
import shutil
import struct
import tempfile
import time
import unittest

from harness import Server, mount_small_tmpfs
from kafka_wire import crc32c, varint

NDJSON = {"Content-Type": "application/x-ndjson"}
JSON = {"Content-Type": "application/json"}


def checkpoint_verifies(path):
    """docs/formats/checkpoint.md: magic, version, lengths, CRC-32C and the seq in the name."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 44 or data[:4] != b"SLCK":
        return False
    version, seq, _fingerprint, _raw, stored = struct.unpack("<IQQQQ", data[4:40])
    if version != 1 or stored != len(data) - 44:
        return False
    if struct.unpack("<I", data[-4:])[0] != crc32c(data[:-4]):
        return False
    return seq == int(os.path.basename(path)[:20])


def catalog_record(op, version, object_id, kind, name, sql):
    """One catalog record (docs/formats/catalog.md)."""
    def string(s):
        b = s.encode()
        return varint(len(b)) + b
    payload = bytes([1, op]) + varint(version) + varint(object_id) + bytes([kind]) + string(name) + string(sql)
    return struct.pack(">II", len(payload), crc32c(payload)) + payload


def read_catalog(path):
    """(version, id) of every record."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    while pos + 8 <= len(data):
        length, _ = struct.unpack(">II", data[pos:pos + 8])
        payload = data[pos + 8:pos + 8 + length]
        values, i = [], 2
        for _ in range(2):  # version, id: zig-zag varints
            shift, u = 0, 0
            while True:
                b = payload[i]
                i += 1
                u |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    break
            values.append((u >> 1) ^ -(u & 1))
        out.append(tuple(values))
        pos += 8 + length
    return out


class ViewFaultTest(unittest.TestCase):
    def sql(self, text, expect=200):
        status, _, data = self.server.request("POST", "/v1/sql", json.dumps({"sql": text}), JSON)
        self.assertEqual(status, expect, data)
        body = json.loads(data)
        return body["results"][-1]["rows"] if expect == 200 else body["error"]

    def wait_rows(self, query, want, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline and sorted(self.sql(query)) != sorted(want):
            time.sleep(0.05)
        self.assertEqual(sorted(self.sql(query)), sorted(want))

    def metric(self, name, view):
        _, _, data = self.server.request("GET", "/metrics")
        m = re.search(r'\n%s\{view="%s"\} ([0-9.e+-]+)\n' % (name, view), data.decode())
        return float(m.group(1)) if m else None

    def wait_metric(self, name, view, pred, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.metric(name, view)
            if v is not None and pred(v):
                return v
            time.sleep(0.1)
        return None


class CheckpointDiskFullTest(ViewFaultTest):
    def setUp(self):
        mount_small_tmpfs(self, "sluice-ckpt-full-", "24m", "checkpoint ENOSPC covered by engine_test")

    def checkpoints(self):
        return sorted(glob.glob(os.path.join(self.mount, "checkpoints", "*", "*.ckpt")))

    def fill_up(self, path):
        """Writes `path` until the file system has no byte left."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for size in (1 << 20, 1 << 16, 4096, 1):
                try:
                    while os.write(fd, b"\0" * size) > 0:
                        pass
                except OSError:
                    pass
        finally:
            os.close(fd)

    def test_checkpoint_on_a_full_disk(self):
        """Ingest answers 503, checkpoints fail (counted, the view keeps answering), every
        checkpoint file still verifies and the newest is restored after kill -9, and both
        ingest and checkpoints resume once space returns."""
        self.server = Server(data_dir=self.root, config='[log]\nsegment_bytes = "4MiB"\n').start()
        try:
            self.sql("CREATE SOURCE ev (id BIGINT, pad VARCHAR) WITH (topic = 'ev')")
            self.sql("CREATE MATERIALIZED VIEW totals AS SELECT id % 10 AS k, count(*) AS n FROM ev GROUP BY id % 10")
            acked = 0

            def ingest(n):
                nonlocal acked
                body = "".join('{"id":%d,"pad":"%s"}\n' % (acked + i, "x" * 200) for i in range(n))
                status, hdrs, data = self.server.request("POST", "/v1/topics/ev/events", body, NDJSON)
                if status == 200:
                    acked += n
                return status, hdrs, data

            def expected():
                return [[k, len(range(k, acked, 10))] for k in range(10) if k < acked]

            self.assertEqual(ingest(500)[0], 200)
            self.wait_rows("SELECT k, n FROM totals", expected())
            self.assertIsNotNone(self.wait_metric("sluice_view_last_checkpoint_timestamp_seconds", "totals",
                                                  lambda v: v > 0))
            with open(os.path.join(self.mount, "filler"), "wb") as f:
                f.write(b"\0" * (6 * 1024 * 1024))
            # Fill the log until ingest is refused, then take every byte left, so that the
            # checkpoint of the events acknowledged last cannot be written. A checkpoint that
            # slipped in before the disk was full is retried with one more acknowledged batch.
            full_status = None
            for _ in range(400):
                status, hdrs, data = ingest(500)
                if status != 200:
                    full_status = status
                    self.assertIn("retry-after", hdrs)
                    break
            self.assertEqual(full_status, 503, "the disk never filled up")
            filler2 = os.path.join(self.mount, "filler2")
            failures = None
            for _ in range(5):
                self.fill_up(filler2)
                failures = self.wait_metric("sluice_view_checkpoint_failures_total", "totals", lambda v: v >= 1,
                                            timeout=5)
                if failures is not None:
                    break
                os.remove(filler2)
                self.assertEqual(ingest(50)[0], 200)
            self.assertIsNotNone(failures, "no checkpoint failed on the full disk")
            self.assertEqual(ingest(10)[0], 503)
            # The view runs on: it shows every acknowledged event.
            self.wait_rows("SELECT k, n FROM totals", expected())
            self.assertIn("totals: checkpoint", self.server.log())
            self.assertIn("not written (retrying every 1000 ms; the view keeps running)", self.server.log())
            files = self.checkpoints()
            self.assertTrue(files)
            for f in files:
                self.assertTrue(checkpoint_verifies(f), f)
            self.assertEqual(glob.glob(os.path.join(self.mount, "checkpoints", "*", "*.tmp*")), [])
            newest = int(os.path.basename(files[-1])[:20])
            # kill -9 on the full disk, restart on it: the newest checkpoint, then the log.
            self.server.kill9()
            self.server.start()
            self.assertIn("totals: restored checkpoint %d " % newest, self.server.log())
            self.wait_rows("SELECT k, n FROM totals", expected())
            self.assertIsNotNone(self.wait_metric("sluice_view_checkpoint_failures_total", "totals",
                                                  lambda v: v >= 1))
            # Space returns: ingest and checkpoints resume.
            os.remove(filler2)
            os.remove(os.path.join(self.mount, "filler"))
            self.assertEqual(ingest(100)[0], 200)
            self.wait_rows("SELECT k, n FROM totals", expected())
            deadline = time.time() + 20
            while time.time() < deadline and int(os.path.basename(self.checkpoints()[-1])[:20]) <= newest:
                time.sleep(0.1)
            self.assertGreater(int(os.path.basename(self.checkpoints()[-1])[:20]), newest)
            self.assertIn("totals: checkpoints are written again", self.server.log())
            for f in self.checkpoints():
                self.assertTrue(checkpoint_verifies(f), f)
            self.assertEqual(self.server.stop(), 0)
            self.server.start()
            self.wait_rows("SELECT k, n FROM totals", expected())
            self.assertEqual(self.server.stop(), 0)
        finally:
            self.server.cleanup()


class ViewNoLongerBindsTest(ViewFaultTest):
    def test_failed_view_is_reported_and_the_others_run(self):
        data_dir = tempfile.mkdtemp(prefix="sluice-badview-")
        self.server = Server(data_dir=data_dir).start()
        try:
            self.sql("CREATE SOURCE ev (id BIGINT, v BIGINT) WITH (topic = 'ev')")
            self.sql("CREATE MATERIALIZED VIEW good AS SELECT id, sum(v) AS s FROM ev GROUP BY id")
            self.sql("CREATE MATERIALIZED VIEW also_good AS SELECT count(*) AS n FROM ev")
            status, _, data = self.server.request("POST", "/v1/topics/ev/events", '{"id":1,"v":5}\n{"id":2,"v":7}\n', NDJSON)
            self.assertEqual(status, 200, data)
            self.wait_rows("SELECT id, s FROM good", [[1, 5], [2, 7]])
            self.assertEqual(self.server.stop(), 0)
            # The catalog gains a view over a column the source does not have, and a view over
            # that view, as if written by a version that bound them differently.
            path = os.path.join(data_dir, "data", "catalog", "catalog.log")
            version, last_id = max(v for v, _ in read_catalog(path)), max(i for _, i in read_catalog(path))
            with open(path, "ab") as f:
                f.write(catalog_record(1, version + 1, last_id + 1, 2, "bad",
                                       "CREATE MATERIALIZED VIEW bad AS SELECT region, count(*) AS n FROM ev GROUP BY region"))
                f.write(catalog_record(1, version + 2, last_id + 2, 2, "over_bad",
                                       "CREATE MATERIALIZED VIEW over_bad AS SELECT n FROM bad"))
            self.server.start()
            log = self.server.log()
            self.assertIn('catalog: materialized view "bad" cannot run: its definition no longer binds: '
                          'column "region" does not exist', log)
            self.assertIn('catalog: materialized view "over_bad" cannot run', log)
            _, views = self.server.json("GET", "/v1/views", expect=200)
            by_name = {v["name"]: v for v in views["views"]}
            self.assertEqual(set(by_name), {"good", "also_good", "bad", "over_bad"})
            self.assertEqual(by_name["good"]["status"], "running")
            self.assertIsNone(by_name["good"]["error"])
            self.assertEqual(by_name["bad"]["status"], "failed")
            self.assertIn('its definition no longer binds: column "region" does not exist', by_name["bad"]["error"])
            self.assertEqual(by_name["over_bad"]["status"], "failed")
            self.assertIn('materialized view "bad" is not available', by_name["over_bad"]["error"])
            rows = self.sql("SHOW MATERIALIZED VIEWS")
            self.assertIn(["bad", "failed"], [[r[0], r[3]] for r in rows])
            err = self.sql("SELECT * FROM bad", expect=409)
            self.assertIn('materialized view "bad" is not available: its definition no longer binds', err["message"])
            err = self.sql("SELECT * FROM over_bad", expect=409)
            self.assertIn('materialized view "over_bad" is not available', err["message"])
            # Every other view runs and follows the log.
            status, _, data = self.server.request("POST", "/v1/topics/ev/events", '{"id":1,"v":10}\n', NDJSON)
            self.assertEqual(status, 200, data)
            self.wait_rows("SELECT id, s FROM good", [[1, 15], [2, 7]])
            self.wait_rows("SELECT n FROM also_good", [[3]])
            # DROP removes it; the name is free again.
            self.sql("DROP MATERIALIZED VIEW over_bad; DROP MATERIALIZED VIEW bad")
            self.sql("CREATE MATERIALIZED VIEW bad AS SELECT id FROM ev")
            self.assertEqual(self.server.stop(), 0)
            self.server.start()
            _, views = self.server.json("GET", "/v1/views", expect=200)
            self.assertEqual({v["name"]: v["status"] for v in views["views"]},
                             {"good": "running", "also_good": "running", "bad": "running"})
            self.wait_rows("SELECT id FROM bad", [[1], [2], [1]])
        finally:
            self.server.stop()
            self.server.cleanup()
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
