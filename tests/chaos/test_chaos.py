"""The chaos test (issue 4, "the proof"): the same input goes through a crash-free server (run A)
and through a server that is killed with SIGKILL at random moments and restarted on the same
data directory (run B) — while events are ingested, right after a restart while it recovers,
and while it is idle writing checkpoints. The ingester re-sends every request that was not
acknowledged, with the same Idempotency-Key. At the end every view and every sink topic of
run B must equal run A's, row for row (SPEC §4).

Environment: SLUICE_CHAOS_KILLS (default 20), SLUICE_CHAOS_ORDERS (input size, default 10000),
SLUICE_CHAOS_SEED (default 1; the input and the kill schedule follow from it).
"""

import collections
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from harness import Server  # noqa: E402

import workload  # noqa: E402

KILLS = int(os.environ.get("SLUICE_CHAOS_KILLS", "20"))
ORDERS = int(os.environ.get("SLUICE_CHAOS_ORDERS", "10000"))
SEED = int(os.environ.get("SLUICE_CHAOS_SEED", "1"))
CONFIG = """
[ingest]
idempotency_window = "24h"
"""
# Waiting (never asserted on): how long a restarted server may take to become ready, and how
# long the views may take to settle at the end.
READY_TIMEOUT = 300
SETTLE_TIMEOUT = 180


def log(msg):
    print("[chaos %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def sql(server, text, timeout=60):
    status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": text}),
                                     {"Content-Type": "application/json"}, timeout=timeout)
    if status != 200:
        raise AssertionError("%s -> %d: %s" % (text[:200], status, data[:500]))
    return json.loads(data)["results"]


def setup(server):
    for stmt in workload.statements():
        if isinstance(stmt, tuple):
            status, _, data = server.request("POST", "/v1/topics", json.dumps(stmt[1]),
                                             {"Content-Type": "application/json"})
            if status != 201:
                raise AssertionError("create topic %s -> %d: %s" % (stmt[1], status, data[:300]))
        else:
            sql(server, stmt)


class Ingester(threading.Thread):
    """Sends the requests one after another (so the log holds them in the same order in both
    runs); re-sends a request until it is acknowledged. `gate` pauses it between requests."""

    def __init__(self, server, requests):
        super().__init__(daemon=True)
        self.server, self.requests = server, requests
        self.gate = threading.Event()
        self.gate.set()
        self.idle = threading.Event()  # set while paused at the gate
        self.acked = 0
        self.retries = 0
        self.error = None
        self.stop = False

    def run(self):
        conn = None
        try:
            for topic, key, body, count in self.requests:
                if not self.gate.is_set():
                    self.idle.set()
                    self.gate.wait()
                    self.idle.clear()
                headers = {"Content-Type": "application/x-ndjson", "Idempotency-Key": key}
                path = "/v1/topics/%s/events" % topic
                while not self.stop:
                    try:
                        if conn is None:
                            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
                        conn.request("POST", path, body=body.encode(), headers=headers)
                        res = conn.getresponse()
                        data = res.read()
                        if res.status == 200:
                            reply = json.loads(data)
                            if reply["accepted"] != count or reply.get("rejected", 0) != 0:
                                raise AssertionError("request %s: %s" % (key, data[:300]))
                            self.acked += 1
                            break
                        if res.status not in (409, 429, 503):
                            raise AssertionError("request %s: unexpected %d: %s" % (key, res.status, data[:300]))
                    except (OSError, http.client.HTTPException):
                        if conn is not None:
                            conn.close()
                        conn = None
                    self.retries += 1
                    time.sleep(0.02)
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            self.idle.set()
            if conn is not None:
                conn.close()


def read_topic(server, topic):
    """Every record the replay API shows of partition 0 (sinks write there). Pages may be empty
    while next_offset moves (e.g. batches with no visible records): read until it stops."""
    records, offset = [], 0
    while True:
        status, _, data = server.request("GET", "/v1/topics/%s/events?partition=0&offset=%d&limit=5000" % (topic, offset))
        if status == 404:
            return records
        if status != 200:
            raise AssertionError("read %s -> %d: %s" % (topic, status, data[:300]))
        body = json.loads(data)
        records += body["events"]
        if body["next_offset"] <= offset and not body["events"]:
            return records
        offset = body["next_offset"]


def bytes_before_too_late(server, topic, partitions):
    """Per partition: how many bytes of events precede its first too-late event."""
    out = []
    for p in range(partitions):
        size, offset, done = 0, 0, False
        while not done:
            _, body = server.json("GET", "/v1/topics/%s/events?partition=%d&offset=%d&limit=5000" % (topic, p, offset),
                                  expect=200)
            for e in body["events"]:
                if e["value"]["event_id"].startswith("late"):
                    done = True
                    break
                size += len(json.dumps(e["value"]))
            if not body["events"] or body["next_offset"] <= offset:
                break
            offset = body["next_offset"]
        out.append(size)
    return out


def key_of(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def consolidate(records, sink):
    """Applies a sink's insert/delete records in order into a multiset. A delete of a row that is
    not there is an error (a count never goes negative)."""
    rows = collections.Counter()
    errors = []
    for r in records:
        op = r["headers"].get("sluice-op")
        k = key_of(r["value"])
        if op == "insert":
            rows[k] += 1
        elif op == "delete":
            if rows[k] <= 0:
                errors.append("%s: delete of a row not present at offset %d: %s" % (sink, r["offset"], k))
            rows[k] -= 1
        else:
            errors.append("%s: record at offset %d without sluice-op: %s" % (sink, r["offset"], r["headers"]))
    return +rows, errors


def view_rows(server, name):
    return collections.Counter(key_of(row) for row in sql(server, "SELECT * FROM %s" % name)[0]["rows"])


def collect(server):
    """Everything compared: per view its rows, per sink the consolidated (or, append-only, the
    raw) multiset of records, per .late topic the set of (view, event) it holds."""
    out, errors = {}, []
    for name in workload.VIEWS:
        out["view " + name] = view_rows(server, name)
    for name, (topic, _) in workload.SINKS.items():
        records = read_topic(server, topic)
        if name in workload.APPEND_ONLY_SINKS:
            out["sink " + name] = collections.Counter(key_of(r["value"]) for r in records)
            errors += ["%s: %s record in an append-only sink" % (name, r["headers"].get("sluice-op"))
                       for r in records if r["headers"].get("sluice-op") != "insert"]
        else:
            rows, errs = consolidate(records, name)
            out["sink " + name] = rows
            errors += errs
    return out, errors


def late_events(server):
    """(source, view, event id) -> how often it was written to {source}.late."""
    out = collections.Counter()
    for source in ("orders", "orders_raw", "payments"):
        for r in read_topic(server, source + ".late"):
            out[(source, r["headers"].get("sluice-view"), r["value"]["event_id"])] += 1
    return out


def lags(server):
    _, _, data = server.request("GET", "/metrics")
    total = 0
    for line in data.decode().splitlines():
        if line.startswith("sluice_view_lag_events{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def settle(server, want=None):
    """Waits until the views have caught up and stopped changing (the watermark moves once
    the sources go idle; EMIT ON WINDOW CLOSE rows and sink records follow it), or — given
    `want` — until they equal it. Returns the last collection."""
    deadline = time.time() + SETTLE_TIMEOUT
    last = None
    while True:
        while lags(server) > 0 and time.time() < deadline:
            time.sleep(0.2)
        got, errors = collect(server)
        if want is not None and got == want[0]:
            return got, errors
        if want is None and got == last:
            return got, errors
        if time.time() > deadline:
            return got, errors
        last = got
        # Past the sources' idle timeout, so that a quiet source's watermark has moved.
        time.sleep(3)


def diff(a, b, limit=15):
    """Human-readable difference of two collections (run A vs run B)."""
    lines = []
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name, collections.Counter()), b.get(name, collections.Counter())
        if x == y:
            continue
        only_a = x - y
        only_b = y - x
        lines.append("%s: %d rows in run A, %d in run B; %d only (or more often) in A, %d only in B"
                     % (name, sum(x.values()), sum(y.values()), sum(only_a.values()), sum(only_b.values())))
        for label, part in (("  A-only", only_a), ("  B-only", only_b)):
            for k, n in sorted(part.items())[:limit]:
                lines.append("%s x%d %s" % (label, n, k))
            if len(part) > limit:
                lines.append("%s ... %d more" % (label, len(part) - limit))
    return "\n".join(lines)


class ChaosTest(unittest.TestCase):
    def setUp(self):
        self.dirs = []
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            try:
                s.stop()
            except Exception:
                pass
            s.cleanup()
        if not self.failed:
            for d in self.dirs:
                shutil.rmtree(d, ignore_errors=True)
        else:
            log("data directories kept: %s" % " ".join(self.dirs))

    def run(self, result=None):
        self.failed = True
        result = super().run(result)
        return result

    def new_server(self, prefix):
        d = tempfile.mkdtemp(prefix=prefix)
        self.dirs.append(d)
        server = Server(data_dir=d, config=CONFIG)
        self.servers.append(server)
        return server

    def ingest_all(self, server, requests):
        ingester = Ingester(server, requests)
        ingester.start()
        return ingester

    def run_a(self, w):
        server = self.new_server("sluice-chaos-a-").start()
        setup(server)
        ingester = self.ingest_all(server, w.requests)
        ingester.join()
        self.assertIsNone(ingester.error, ingester.error)
        got, errors = settle(server)
        self.assertEqual(errors, [], "run A (no crash) is not consistent:\n" + "\n".join(errors[:20]))
        late = late_events(server)
        # Closing sessions forgets state, never output: the same query with and without it agree,
        # and sessions were forgotten.
        self.assertEqual(got["view v_session_closing"], got["view v_session"])
        _, _, metrics = server.request("GET", "/metrics")
        expired = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.decode().splitlines()
                      if line.startswith('sluice_view_state_expired_total{view="v_session_closing"'))
        self.assertGreater(expired, 0, "no session of v_session_closing was closed")
        # The premise of workload.py: a replay from the start (1 MiB per partition per round)
        # has ended a round before it reads the first too-late event of any partition.
        for topic, partitions in (("orders", 2), ("payments", 1)):
            sizes = bytes_before_too_late(server, topic, partitions)
            self.assertTrue(all(n > 1.5 * 2**20 for n in sizes),
                            "input too small: %s has only %s bytes before its first too-late event" % (topic, sizes))
        self.assertEqual(server.stop(), 0)
        return got, late

    def run_b(self, w, rng):
        server = self.new_server("sluice-chaos-b-").start()
        setup(server)
        ingester = self.ingest_all(server, w.requests)
        total = len(w.requests)
        # Kill points spread over the ingest's progress (so kills land while data flows however
        # fast the build is); those past 1.0 come after the last request, while the views catch up.
        points = sorted(rng.uniform(0.02, 1.15) for _ in range(KILLS))
        kills = collections.Counter()
        for point in points:
            while ingester.acked < point * total and ingester.is_alive():
                time.sleep(0.005)
            self.assertIsNone(ingester.error, ingester.error)
            mode = rng.choice(("ingest", "ingest", "recovering", "idle"))
            if mode == "ingest":
                time.sleep(rng.uniform(0, 0.3))
                server.kill9()
            elif mode == "recovering":
                # Kill, restart and kill again before it is ready (restoring, replaying).
                server.kill9()
                kills["restart"] += 1
                server.spawn()
                time.sleep(rng.uniform(0.05, 1.5))
                server.kill9()
            else:
                # Quiet: let checkpoints be written (every second), then kill.
                ingester.gate.clear()
                ingester.idle.wait(timeout=60)
                time.sleep(rng.uniform(0.5, 2.5))
                server.kill9()
                ingester.gate.set()
            kills[mode] += 1
            time.sleep(rng.uniform(0, 0.2))
            server.start(timeout=READY_TIMEOUT)
        ingester.join()
        self.assertIsNone(ingester.error, ingester.error)
        got, errors = settle(server, want=self.want)
        late = late_events(server)
        log("run B: %d kills (%s), %d re-sent requests" % (sum(kills.values()), dict(kills), ingester.retries))
        self.assertEqual(server.stop(), 0)
        return got, errors, late

    def test_kill9_equals_crash_free_run(self):
        started = time.time()
        w = workload.Workload(SEED, ORDERS)
        log("seed %d: %d events in %d requests (%.1f MB), %d kills" % (
            SEED, len(w.events), len(w.requests), sum(len(r[2]) for r in w.requests) / 1e6, KILLS))
        want, want_late = self.run_a(w)
        self.want = (want, [])
        log("run A done in %.0f s: %s" % (time.time() - started, ", ".join(
            "%s %d" % (k, sum(v.values())) for k, v in sorted(want.items()))))
        # The input exercises what it should: every view and sink has rows, and exactly the
        # too-late events were dropped as late (no on-time event was, under any schedule).
        for name, rows in want.items():
            self.assertTrue(rows, "%s is empty in run A" % name)
        late_ids = {(src if src != "orders_raw" else "orders", e) for src, _, e in want_late}
        self.assertEqual(late_ids, w.too_late, "run A: the events dropped as late are not the too-late ones")

        b_started = time.time()
        got, errors, got_late = self.run_b(w, random.Random(SEED * 7919 + 1))
        log("run B done in %.0f s" % (time.time() - b_started))
        problems = diff(want, got)
        if errors:
            problems += "\n" + "\n".join(errors[:30])
        # The .late topics are not sink topics, but what they hold must not change either.
        if set(want_late) != set(got_late):
            problems += "\nlate events differ: A-only %s, B-only %s" % (
                sorted(set(want_late) - set(got_late))[:10], sorted(set(got_late) - set(want_late))[:10])
        doubled = sum(n - 1 for n in got_late.values() if n > 1) - sum(n - 1 for n in want_late.values() if n > 1)
        if doubled > 0:
            log("note: %d late events were written to a .late topic more than once in run B" % doubled)
        self.assertEqual(problems, "", "run B (with kill -9) differs from run A:\n" + problems)
        log("equal: %d views, %d sinks, %.0f s in all" % (len(workload.VIEWS), len(workload.SINKS), time.time() - started))
        self.failed = False


if __name__ == "__main__":
    unittest.main()
