"""Durability under kill -9 (issue 2's "done when"): ingest >= 1M events over HTTP while the
server is killed at random moments and restarted; the client re-sends every unacknowledged
batch with the same Idempotency-Key. Afterwards every acknowledged event is in the log exactly
once, and events of one key are in send order within their partition.

SLUICE_SOAK=1 (make soak) runs 10M events and more kills.
"""

import http.client
import json
import os
import random
import threading
import time
import unittest

from harness import Server

SOAK = os.environ.get("SLUICE_SOAK") == "1"
EVENTS = 10_000_000 if SOAK else 1_000_000
WRITERS = 4
BATCH = 1000
MIN_KILLS = 20 if SOAK else 5
PARTITIONS = 4
KEYS_PER_WRITER = 16


class Writer(threading.Thread):
    """Sends its share of events in batches; retries each batch until acknowledged."""

    def __init__(self, server, writer_id, batches, stop):
        super().__init__(daemon=True)
        self.server, self.id, self.batches, self.stop = server, writer_id, batches, stop
        self.acked_batches = 0
        self.retries = 0
        self.error = None

    def body(self, b):
        lines = []
        for i in range(BATCH):
            seq = b * BATCH + i
            lines.append('{"w":%d,"s":%d,"k":"%d-%d"}' % (self.id, seq, self.id, seq % KEYS_PER_WRITER))
        return ("\n".join(lines) + "\n").encode()

    def run(self):
        conn = None
        try:
            for b in range(self.batches):
                body = self.body(b)
                headers = {"Content-Type": "application/x-ndjson", "Idempotency-Key": "w%d-b%d" % (self.id, b)}
                while not self.stop.is_set():
                    try:
                        if conn is None:
                            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
                        conn.request("POST", "/v1/topics/crash/events?key=k", body=body, headers=headers)
                        res = conn.getresponse()
                        data = res.read()
                        if res.status == 200:
                            reply = json.loads(data)
                            if reply["accepted"] != BATCH:
                                raise AssertionError("batch %d of writer %d: %s" % (b, self.id, data[:300]))
                            self.acked_batches += 1
                            break
                        if res.status not in (409, 429, 503):
                            raise AssertionError("unexpected %d: %s" % (res.status, data[:300]))
                    except (OSError, http.client.HTTPException):
                        if conn is not None:
                            conn.close()
                        conn = None
                    self.retries += 1
                    time.sleep(0.05)
        except Exception as e:  # reported by the test
            self.error = e


class CrashIngestTest(unittest.TestCase):
    def test_kill9_loses_and_doubles_nothing(self):
        rng = random.Random(int(os.environ.get("SLUICE_SEED", "1234")))
        server = Server().start()
        try:
            status, _, data = server.request("POST", "/v1/topics", json.dumps({"name": "crash", "partitions": PARTITIONS}),
                                             {"Content-Type": "application/json"})
            self.assertEqual(status, 201, data)
            stop = threading.Event()
            batches = EVENTS // BATCH // WRITERS
            writers = [Writer(server, w, batches, stop) for w in range(WRITERS)]
            for w in writers:
                w.start()
            # Kill at random points of the ingest's progress (so the kills land while data
            # flows however fast the build is), each after a small random delay.
            total_batches = batches * WRITERS
            kill_points = sorted(rng.uniform(0.05, 0.95) for _ in range(MIN_KILLS))
            kills = 0
            deadline = time.time() + (3600 if SOAK else 900)
            for point in kill_points:
                while (sum(w.acked_batches for w in writers) < point * total_batches
                       and any(w.is_alive() for w in writers) and time.time() < deadline):
                    time.sleep(0.001)
                if not any(w.is_alive() for w in writers):
                    break
                time.sleep(rng.uniform(0, 0.02))
                server.kill9()
                kills += 1
                time.sleep(rng.uniform(0, 0.2))
                server.start(timeout=120)
            while any(w.is_alive() for w in writers) and time.time() < deadline:
                time.sleep(0.05)
            stop.set()
            for w in writers:
                w.join(timeout=60)
                self.assertIsNone(w.error, w.error)
                self.assertEqual(w.acked_batches, batches, "writer %d did not finish" % w.id)
            self.assertGreaterEqual(kills, MIN_KILLS, "the ingest finished before every kill point was reached")

            # Every acknowledged event exactly once; per key in send order.
            seen = set()
            total = 0
            for p in range(PARTITIONS):
                last_by_key = {}
                for e in server.read_all("crash", p):
                    v = e["value"]
                    ident = (v["w"], v["s"])
                    self.assertNotIn(ident, seen, "event %s stored twice" % (ident,))
                    seen.add(ident)
                    total += 1
                    key = v["k"]
                    self.assertEqual(e["key"], key)
                    self.assertGreater(v["s"], last_by_key.get(key, -1), "key %s out of order in partition %d" % (key, p))
                    last_by_key[key] = v["s"]
            self.assertEqual(total, batches * BATCH * WRITERS)
            print("\ncrash test: %d events, %d kills, %d retries" % (total, kills, sum(w.retries for w in writers)))
            self.assertEqual(server.stop(), 0)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
