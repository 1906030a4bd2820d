"""The Kafka wire protocol listener with real clients: Debian's kcat (librdkafka) for produce,
consume, metadata and compression; raw sockets for hostile input. Events produced over Kafka
must be the same events HTTP ingest writes: readable by the replay API and by SQL views.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
import unittest

from harness import Server, ServerTestCase, metric
import kafka_wire as kw

KCAT = shutil.which("kcat")
KAFKAJS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kafkajs")
HAVE_KAFKAJS = shutil.which("node") is not None and os.path.isdir(os.path.join(KAFKAJS_DIR, "node_modules", "kafkajs"))

# Debian's python3-confluent-kafka lives in the system's dist-packages, which an interpreter
# from elsewhere (pyenv) does not search.
for _path in ("/usr/lib/python3/dist-packages",):
    if os.path.isdir(_path) and _path not in sys.path:
        sys.path.append(_path)
try:
    import confluent_kafka as ck
except ImportError:  # scripts/install-deps.sh installs it
    ck = None


def kcat(server, *args, stdin=None, timeout=60):
    cmd = [KCAT, "-b", "127.0.0.1:%d" % server.kafka_port, "-X", "socket.timeout.ms=10000"] + list(args)
    r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("%s -> %d\nstdout: %s\nstderr: %s\nserver log tail:\n%s" % (
            " ".join(cmd), r.returncode, r.stdout[-2000:], r.stderr[-2000:], server.log()[-3000:]))
    return r.stdout.decode()


@unittest.skipIf(KCAT is None, "kcat is not installed (scripts/install-deps.sh installs it)")
class KcatTest(ServerTestCase):
    def test_produce_consume_and_metadata(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "kc", "partitions": 3}), expect=201)
        lines = ["k%d:{\"n\": %d}" % (i % 5, i) for i in range(200)]
        kcat(self.server, "-P", "-t", "kc", "-K:", stdin=("\n".join(lines) + "\n").encode())
        out = kcat(self.server, "-C", "-t", "kc", "-o", "beginning", "-e", "-q", "-f", "%k|%s|%p|%o\n")
        got = [l.split("|") for l in out.strip().split("\n")]
        self.assertEqual(sorted(int(json.loads(v)["n"]) for _, v, _, _ in got), list(range(200)))
        # Kafka's partitioner: one key, one partition; offsets in a partition are 0, 1, 2, ...
        by_key = {}
        for k, _, p, _ in got:
            by_key.setdefault(k, set()).add(p)
        self.assertTrue(all(len(ps) == 1 for ps in by_key.values()), by_key)
        for p in {p for _, _, p, _ in got}:
            offsets = [int(o) for _, _, q, o in got if q == p]
            self.assertEqual(offsets, list(range(len(offsets))))

        meta = json.loads(kcat(self.server, "-L", "-J"))
        self.assertEqual(meta["brokers"], [{"id": 0, "name": "127.0.0.1:%d" % self.server.kafka_port}])
        topics = {t["topic"]: t for t in meta["topics"]}
        self.assertEqual(len(topics["kc"]["partitions"]), 3)
        self.assertTrue(all(p["leader"] == 0 for p in topics["kc"]["partitions"]))
        self.assertFalse(any(name.startswith(".") for name in topics))

    def test_produced_events_are_visible_over_http_and_sql(self):
        s = self.server
        status, _, data = s.request("POST", "/v1/sql", json.dumps({"sql":
            "CREATE SOURCE orders (id BIGINT, amount BIGINT, country VARCHAR) WITH (topic = 'orders', format = 'json');"
            "CREATE MATERIALIZED VIEW revenue AS SELECT country, count(*) AS n, sum(amount) AS total "
            "FROM orders GROUP BY country"}), {"Content-Type": "application/json"})
        self.assertEqual(status, 200, data)
        events = [{"id": i, "amount": i * 10, "country": "fr" if i % 2 else "de"} for i in range(50)]
        kcat(s, "-P", "-t", "orders", stdin=("\n".join(json.dumps(e) for e in events) + "\n").encode())
        # The replay API returns the same JSON events.
        _, info = s.json("GET", "/v1/topics/orders", expect=200)
        replayed = []
        for p in info["partitions"]:
            replayed += [e["value"] for e in s.read_all("orders", p["partition"])]
        self.assertEqual(sorted(replayed, key=lambda e: e["id"]), events)
        # The view sees them.
        q = json.dumps({"sql": "SELECT country, n, total FROM revenue ORDER BY country"})
        deadline = time.time() + 20
        rows = None
        while time.time() < deadline:
            _, _, data = s.request("POST", "/v1/sql", q, {"Content-Type": "application/json"})
            rows = json.loads(data)["results"][0]["rows"]
            if rows == [["de", 25, sum(i * 10 for i in range(0, 50, 2))], ["fr", 25, sum(i * 10 for i in range(1, 50, 2))]]:
                break
            time.sleep(0.1)
        else:
            self.fail("view rows %s" % rows)

    def test_compressed_produce_with_every_codec(self):
        s = self.server
        for codec in ("gzip", "snappy", "lz4", "zstd"):
            topic = "z-" + codec
            s.json("POST", "/v1/topics", json.dumps({"name": topic, "partitions": 1}), expect=201)
            events = [{"codec": codec, "i": i, "pad": "x" * 50} for i in range(300)]
            kcat(s, "-P", "-t", topic, "-z", codec, "-X", "linger.ms=50",
                 stdin=("\n".join(json.dumps(e) for e in events) + "\n").encode())
            out = kcat(s, "-C", "-t", topic, "-o", "beginning", "-e", "-q")
            self.assertEqual([json.loads(l) for l in out.strip().split("\n")], events, codec)
            # Stored as sent (compressed) yet readable by the HTTP replay path.
            self.assertEqual([e["value"] for e in s.read_all(topic, 0)], events, codec)
            _, info = s.json("GET", "/v1/topics/" + topic, expect=200)
            self.assertLess(info["partitions"][0]["bytes"], 300 * 60, codec)  # really compressed

    def test_list_offsets_and_auto_created_topic(self):
        s = self.server
        kcat(s, "-P", "-t", "auto-made", "-p", "0", stdin=b"a\nb\nc\n")
        _, info = s.json("GET", "/v1/topics/auto-made", expect=200)
        self.assertEqual(info["partitions"][0]["end_offset"], 3)
        # kcat -o -2: start two records before the end (ListOffsets latest).
        out = kcat(s, "-C", "-t", "auto-made", "-p", "0", "-o", "-2", "-e", "-q")
        self.assertEqual(out.split(), ["b", "c"])
        # By timestamp: -o s@<ms> is ListOffsets with a timestamp.
        out = kcat(s, "-C", "-t", "auto-made", "-p", "0", "-o", "s@0", "-e", "-q")
        self.assertEqual(out.split(), ["a", "b", "c"])

    def test_consumer_group_with_kcat(self):
        s = self.server
        s.json("POST", "/v1/topics", json.dumps({"name": "grp", "partitions": 2}), expect=201)
        kcat(s, "-P", "-t", "grp", stdin=("\n".join("a%d" % i for i in range(30)) + "\n").encode())
        # -G joins group g1 (JoinGroup/SyncGroup/Heartbeat), -e exits at the end, committing.
        # (-o would override the committed offsets: where there are none, start at the beginning.)
        out = kcat(s, "-G", "g1", "-X", "auto.offset.reset=earliest", "-e", "-q", "grp")
        self.assertEqual(sorted(out.split()), sorted("a%d" % i for i in range(30)))
        kcat(s, "-P", "-t", "grp", stdin=("\n".join("b%d" % i for i in range(10)) + "\n").encode())
        out = kcat(s, "-G", "g1", "-X", "auto.offset.reset=earliest", "-e", "-q", "grp")
        self.assertEqual(sorted(out.split()), sorted("b%d" % i for i in range(10)))  # resumes at the commit


    def test_transactional_produce_with_kcat(self):
        s = self.server
        s.json("POST", "/v1/topics", json.dumps({"name": "ktx", "partitions": 1}), expect=201)
        out = subprocess.run([KCAT, "-b", "127.0.0.1:%d" % s.kafka_port, "-P", "-t", "ktx", "-X", "transactional.id=kc1"],
                             input=b"x1\nx2\n", capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(b"Transaction successfully committed", out.stderr)
        got = kcat(s, "-C", "-t", "ktx", "-o", "beginning", "-e", "-q", "-X", "isolation.level=read_committed")
        self.assertEqual(got.split(), ["x1", "x2"])
        # The log holds the data batch and a COMMIT marker after it (3 offsets for 2 records).
        _, info = s.json("GET", "/v1/topics/ktx", expect=200)
        self.assertEqual(info["partitions"][0]["end_offset"], 3)
        self.assertEqual([e["offset"] for e in s.read_all("ktx", 0)], [0, 1])

class HostileInputTest(ServerTestCase):
    def assert_still_serving(self):
        c = kw.Conn(self.server.kafka_port)
        err, apis = kw.api_versions_v0(c, 99)
        self.assertEqual(err, 0)
        self.assertIn(0, apis)
        c.close()

    def test_api_versions_fallback_for_an_unknown_version(self):
        c = kw.Conn(self.server.kafka_port)
        c.send(kw.request(18, 77, 5, b""))
        corr, body = c.response()
        self.assertEqual(corr, 5)
        err, n = struct.unpack_from(">hi", body, 0)
        self.assertEqual(err, 35)  # UNSUPPORTED_VERSION, with the supported list
        keys = {struct.unpack_from(">h", body, 6 + 6 * i)[0]: struct.unpack_from(">hh", body, 8 + 6 * i)
                for i in range(n)}
        self.assertEqual(keys[18], (0, 3))
        # The client falls back to a version from the list, on the same connection.
        err, apis = kw.api_versions_v0(c, 6)
        self.assertEqual(err, 0)
        self.assertEqual(apis[0], (0, 9))
        c.close()

    def test_unknown_api_key_and_version_get_an_error_not_a_dropped_connection(self):
        c = kw.Conn(self.server.kafka_port)
        for corr, (key, version) in enumerate([(999, 0), (3, 99), (1, 0)], start=10):
            c.send(kw.request(key, version, corr, b""))
            got = c.response()
            self.assertIsNotNone(got)
            self.assertEqual(got[0], corr)
            self.assertEqual(struct.unpack(">h", got[1][:2])[0], 35)
        err, _ = kw.api_versions_v0(c, 20)
        self.assertEqual(err, 0)
        c.close()

    def test_bad_frames_close_only_their_connection(self):
        bystander = kw.Conn(self.server.kafka_port)
        cases = {
            "truncated": struct.pack(">i", 100) + b"\x00\x03\x00\x01",
            "negative size": struct.pack(">i", -5) + b"x" * 10,
            "size below a header": struct.pack(">i", 3) + b"abc",
            "oversized": struct.pack(">i", 1 << 30) + b"\x00" * 100,
            "malformed body": kw.request(3, 1, 1, struct.pack(">i", 0x7fffffff)),
        }
        for name, data in cases.items():
            c = kw.Conn(self.server.kafka_port)
            c.send(data)
            if name == "truncated":
                c.sock.shutdown(1)  # the client goes away mid-request
            self.assertTrue(c.closed_by_server(), name)
            c.close()
            self.assert_still_serving()
        err, _ = kw.api_versions_v0(bystander, 1)  # a connection open all along is unaffected
        self.assertEqual(err, 0)
        bystander.close()
        self.assertGreaterEqual(metric(self.server, "sluice_kafka_bad_frames_total"), 4)

    def test_corrupt_crc_is_corrupt_message_and_good_batches_append(self):
        s = self.server
        s.json("POST", "/v1/topics", json.dumps({"name": "raw", "partitions": 1}), expect=201)
        requests_before = metric(s, 'sluice_kafka_requests_total{api="Produce"}')
        errors_before = metric(s, 'sluice_kafka_request_errors_total{api="Produce"}')
        c = kw.Conn(s.kafka_port)
        good = kw.record_batch([b'{"a":1}', b'{"a":2}'])
        c.send(kw.request(0, 3, 1, kw.produce_v3_body("raw", 0, good)))
        self.assertEqual(kw.parse_produce_v3(c.response()[1]), [("raw", 0, 0, 0)])
        bad = bytearray(good)
        bad[-3] ^= 0x40  # flip a bit in the last record's value
        c.send(kw.request(0, 3, 2, kw.produce_v3_body("raw", 0, bytes(bad))))
        self.assertEqual(kw.parse_produce_v3(c.response()[1]), [("raw", 0, 2, -1)])  # CORRUPT_MESSAGE
        c.send(kw.request(0, 3, 3, kw.produce_v3_body("raw", 0, good[:-4])))  # truncated batch
        self.assertEqual(kw.parse_produce_v3(c.response()[1])[0][2], 2)
        c.send(kw.request(0, 3, 4, kw.produce_v3_body("nope", 0, good)))
        self.assertEqual(kw.parse_produce_v3(c.response()[1])[0][2], 3)  # UNKNOWN_TOPIC_OR_PARTITION
        c.send(kw.request(0, 3, 5, kw.produce_v3_body("raw", 0, good)))
        self.assertEqual(kw.parse_produce_v3(c.response()[1]), [("raw", 0, 0, 2)])
        c.close()
        self.assertEqual([e["value"] for e in s.read_all("raw", 0)], [{"a": 1}, {"a": 2}, {"a": 1}, {"a": 2}])
        self.assertEqual(metric(s, 'sluice_kafka_requests_total{api="Produce"}') - requests_before, 5)
        self.assertEqual(metric(s, 'sluice_kafka_request_errors_total{api="Produce"}') - errors_before, 3)

    def test_acks_zero_gets_no_response(self):
        s = self.server
        s.json("POST", "/v1/topics", json.dumps({"name": "acks0", "partitions": 1}), expect=201)
        c = kw.Conn(s.kafka_port)
        c.send(kw.request(0, 3, 1, kw.produce_v3_body("acks0", 0, kw.record_batch([b'{"x":1}']), acks=0)))
        err, _ = kw.api_versions_v0(c, 2)  # the next response is ApiVersions'
        self.assertEqual(err, 0)
        c.close()
        self.assertEqual([e["value"] for e in s.read_all("acks0", 0)], [{"x": 1}])


    def test_a_waiting_fetch_is_woken_by_an_append(self):
        # A fetch at the end of a partition waits up to max_wait_ms (here 60 s) for data. An
        # append ends the wait (the listener's waker thread): the answer, with the new record,
        # comes while the client still waits (its socket gives up after 30 s, long before 60).
        s = self.server
        s.json("POST", "/v1/topics", json.dumps({"name": "wake", "partitions": 1}), expect=201)
        c = kw.Conn(s.kafka_port, timeout=30)
        c.send(kw.request(1, 4, 7, kw.fetch_v4_body("wake", 0, 0, max_wait_ms=60000)))
        time.sleep(0.5)  # the fetch is waiting now
        s.json("POST", "/v1/topics/wake/events", json.dumps({"x": 1}), expect=200)
        correlation, body = c.response()
        self.assertEqual(correlation, 7)
        [(topic, part, err, hw, records)] = kw.parse_fetch_v4(body)
        self.assertEqual((topic, part, err, hw), ("wake", 0, 0, 1))
        self.assertIn(b'{"x": 1}', records.replace(b'{"x":1}', b'{"x": 1}'))
        c.close()

    def test_pipelined_requests_are_answered_in_order(self):
        # Produces are pipelined on a connection (the next is read while one waits for its
        # fsync); anything else waits for them. Whatever the mix, responses come back in
        # request order, nothing is lost, and each partition keeps its order.
        s = self.server
        s.json("POST", "/v1/topics", json.dumps({"name": "piped", "partitions": 2}), expect=201)
        pipelined_before = metric(s, "sluice_kafka_pipelined_requests_total")
        c = kw.Conn(s.kafka_port)
        frames = b""
        expected = []
        for i in range(12):
            batch = kw.record_batch([json.dumps({"i": i}).encode()])
            acks = 0 if i == 5 else -1
            frames += kw.request(0, 3, 100 + i, kw.produce_v3_body("piped", i % 2, batch, acks=acks))
            if acks != 0:
                expected.append(100 + i)
            if i == 7:
                frames += kw.request(18, 0, 500, b"")  # ApiVersions in the middle
                expected.append(500)
        frames += kw.request(0, 3, 999, kw.produce_v3_body("piped", 0, kw.record_batch([b"not json"])))
        expected.append(999)
        c.send(frames)  # all at once, without waiting for any response
        got = []
        for _ in expected:
            r = c.response()
            self.assertIsNotNone(r, "the server closed the connection after %s" % got)
            got.append(r[0])
            if r[0] != 500:
                (topic, part, err, _base), = kw.parse_produce_v3(r[1])
                self.assertEqual((topic, err), ("piped", 0))
        self.assertEqual(got, expected)
        c.close()
        # Sent at once, some Produces were read while earlier ones waited for their fsync.
        self.assertGreater(metric(s, "sluice_kafka_pipelined_requests_total") - pipelined_before, 0)
        for part in (0, 1):
            values = [e["value"] for e in s.read_all("piped", part) if isinstance(e["value"], dict)]
            self.assertEqual(values, [{"i": i} for i in range(12) if i % 2 == part])


    def test_a_bad_frame_behind_pipelined_produces_closes_after_their_responses(self):
        # Produces ahead of a malformed one are appended and answered; then the connection
        # closes (no response can be parsed for the bad one); other connections are unaffected.
        s = self.server
        s.json("POST", "/v1/topics", json.dumps({"name": "piped_bad", "partitions": 1}), expect=201)
        c = kw.Conn(s.kafka_port)
        good = [kw.request(0, 3, 10 + i, kw.produce_v3_body("piped_bad", 0, kw.record_batch([b'{"n":%d}' % i])))
                for i in range(3)]
        bad = kw.request(0, 3, 99, struct.pack(">i", 0x7fffffff))  # a Produce body that does not decode
        c.send(b"".join(good) + bad + good[0])
        for i in range(3):
            r = c.response()
            self.assertIsNotNone(r, "closed before the response to request %d" % i)
            self.assertEqual(r[0], 10 + i)
            self.assertEqual(kw.parse_produce_v3(r[1])[0][2], 0)
        self.assertIsNone(c.response())  # closed: nothing for the bad frame or after it
        c.close()
        self.assertEqual([e["value"] for e in s.read_all("piped_bad", 0)], [{"n": 0}, {"n": 1}, {"n": 2}])
        err, _ = kw.api_versions_v0(kw.Conn(s.kafka_port), 1)
        self.assertEqual(err, 0)


@unittest.skipIf(ck is None, "python3-confluent-kafka is not installed")
class ConfluentKafkaTest(unittest.TestCase):
    """librdkafka through confluent-kafka: group rebalances, commits across a restart, and
    the idempotent producer."""

    def setUp(self):
        self.server = Server().start()

    def tearDown(self):
        self.server.stop()
        self.server.cleanup()

    def bootstrap(self):
        return "127.0.0.1:%d" % self.server.kafka_port

    def consumer(self, group, **extra):
        conf = {"bootstrap.servers": self.bootstrap(), "group.id": group, "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000, "heartbeat.interval.ms": 200, "enable.auto.commit": False}
        conf.update(extra)
        return ck.Consumer(conf)

    def produce(self, topic, values, partitions=None, **extra):
        """Produces values; with partitions=N, value i goes to partition i % N (librdkafka's
        sticky partitioner may otherwise put a whole small run into one partition)."""
        conf = {"bootstrap.servers": self.bootstrap(), "linger.ms": 5}
        conf.update(extra)
        p = ck.Producer(conf)
        errors = []
        for i, v in enumerate(values):
            where = {"partition": i % partitions} if partitions else {}
            p.produce(topic, value=v, on_delivery=lambda err, msg: err and errors.append(err), **where)
        self.assertEqual(p.flush(30), 0)
        self.assertEqual(errors, [])

    def poll_until(self, consumers, done, timeout=30):
        """Polls every consumer until done() is true; returns {consumer index: [values]}."""
        got = {i: [] for i in range(len(consumers))}
        deadline = time.time() + timeout
        while time.time() < deadline and not done(got):
            for i, c in enumerate(consumers):
                m = c.poll(0.1)
                if m is not None and not m.error():
                    got[i].append(m.value())
        return got

    def test_two_members_split_the_partitions_and_rebalance_when_one_leaves(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "shared", "partitions": 4}), expect=201)
        a = self.consumer("g2")
        a.subscribe(["shared"])
        self.poll_until([a], lambda got: len(a.assignment()) == 4)
        self.assertEqual(len(a.assignment()), 4)
        b = self.consumer("g2")
        b.subscribe(["shared"])
        # Both keep polling (so that a's rejoin happens) until the partitions are split.
        self.poll_until([a, b], lambda got: len(a.assignment()) == 2 and len(b.assignment()) == 2)
        self.assertEqual(len(a.assignment()), 2)
        self.assertEqual(len(b.assignment()), 2)
        parts_a = {tp.partition for tp in a.assignment()}
        parts_b = {tp.partition for tp in b.assignment()}
        self.assertEqual(parts_a | parts_b, {0, 1, 2, 3})
        self.produce("shared", [b"v%d" % i for i in range(200)], partitions=4)
        got = self.poll_until([a, b], lambda got: len(got[0]) + len(got[1]) >= 200)
        self.assertEqual(sorted(got[0] + got[1]), sorted(b"v%d" % i for i in range(200)))
        self.assertTrue(got[0] and got[1])  # both members received some
        b.close()  # LeaveGroup: a takes over every partition
        self.poll_until([a], lambda got: len(a.assignment()) == 4)
        self.assertEqual(len(a.assignment()), 4)
        _, _, metrics = self.server.request("GET", "/metrics")
        self.assertRegex(metrics.decode(), r"sluice_kafka_group_rebalances_total [3-9]")
        a.close()

    def test_committed_offsets_survive_a_restart(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "durable", "partitions": 2}), expect=201)
        self.produce("durable", [b"first-%d" % i for i in range(40)], partitions=2)
        c = self.consumer("g3")
        c.subscribe(["durable"])
        got = self.poll_until([c], lambda got: len(got[0]) >= 40)
        self.assertEqual(len(got[0]), 40)
        committed = c.commit(asynchronous=False)
        self.assertTrue(all(tp.error is None for tp in committed))
        c.close()
        data_dir = self.server.data_dir
        self.assertEqual(self.server.stop(), 0)
        self.server = Server(data_dir=data_dir).start()
        self.server.owns_dir = True  # cleaned up in tearDown
        self.produce("durable", [b"second-%d" % i for i in range(10)], partitions=2)
        c = self.consumer("g3")
        c.subscribe(["durable"])
        got = self.poll_until([c], lambda got: len(got[0]) >= 10, timeout=20)
        time.sleep(0.5)
        got[0] += [m.value() for m in [c.poll(0.2) for _ in range(3)] if m is not None and not m.error()]
        self.assertEqual(sorted(got[0]), sorted(b"second-%d" % i for i in range(10)))  # nothing replayed
        positions = {tp.partition: tp.offset for tp in c.committed([ck.TopicPartition("durable", p) for p in (0, 1)])}
        self.assertEqual(positions, {0: 20, 1: 20})
        c.close()

    def test_idempotent_producer_writes_each_record_once(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "idem", "partitions": 3}), expect=201)
        values = [b'{"i": %d}' % i for i in range(500)]
        self.produce("idem", values, **{"enable.idempotence": True, "acks": "all"})
        replayed = []
        for p in range(3):
            replayed += [json.dumps(e["value"], separators=(",", ": ")).encode() for e in self.server.read_all("idem", p)]
        self.assertEqual(sorted(replayed), sorted(values))

    def transactional_producer(self, txn_id):
        p = ck.Producer({"bootstrap.servers": self.bootstrap(), "transactional.id": txn_id, "linger.ms": 5})
        p.init_transactions(15)
        return p

    def read_all(self, topic, isolation, expect):
        c = self.consumer("reader-%s-%f" % (isolation, time.time()), **{"isolation.level": isolation})
        c.subscribe([topic])
        got = self.poll_until([c], lambda got: len(got[0]) >= expect)
        time.sleep(0.5)  # anything beyond `expect` would show up now
        got[0] += [m.value() for m in [c.poll(0.2) for _ in range(3)] if m is not None and not m.error()]
        c.close()
        return sorted(got[0])

    def test_transactions_commit_abort_and_read_committed(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "tx", "partitions": 2}), expect=201)
        p = self.transactional_producer("t1")
        p.begin_transaction()
        for i in range(10):
            p.produce("tx", value=b"c%d" % i)
        p.commit_transaction(15)
        p.begin_transaction()
        for i in range(10):
            p.produce("tx", value=b"a%d" % i)
        self.assertEqual(p.flush(15), 0)  # written to the log, then aborted
        p.abort_transaction(15)
        p.begin_transaction()
        for i in range(5):
            p.produce("tx", value=b"d%d" % i)
        p.commit_transaction(15)
        committed = sorted([b"c%d" % i for i in range(10)] + [b"d%d" % i for i in range(5)])
        self.assertEqual(self.read_all("tx", "read_committed", 15), committed)
        self.assertEqual(self.read_all("tx", "read_uncommitted", 25), sorted(committed + [b"a%d" % i for i in range(10)]))

    def test_sql_views_and_replay_read_committed_data(self):
        """Every internal reader reads committed data: a view over a topic written by a
        transactional Kafka producer counts committed records only and waits for an open
        transaction; the HTTP replay read leaves aborted records out unless asked."""
        self.server.json("POST", "/v1/topics", json.dumps({"name": "txsql", "partitions": 1}), expect=201)
        status, _, data = self.server.request("POST", "/v1/sql", json.dumps({"sql":
            "CREATE SOURCE txsql (k TEXT) WITH (topic = 'txsql');"
            "CREATE MATERIALIZED VIEW txcount AS SELECT k, count(*) AS n FROM txsql GROUP BY k"}),
            {"Content-Type": "application/json"})
        self.assertEqual(status, 200, data)
        p = self.transactional_producer("t5")
        p.begin_transaction()
        p.produce("txsql", value=b'{"k": "committed"}')
        p.commit_transaction(15)
        p.begin_transaction()
        p.produce("txsql", value=b'{"k": "aborted"}')
        self.assertEqual(p.flush(15), 0)
        p.abort_transaction(15)
        p.begin_transaction()
        p.produce("txsql", value=b'{"k": "pending"}')
        self.assertEqual(p.flush(15), 0)
        self.produce("txsql", [b'{"k": "plain"}'])  # behind the open transaction

        def rows():
            status, _, data = self.server.request("POST", "/v1/sql", json.dumps({"sql": "SELECT k, n FROM txcount"}),
                                                  {"Content-Type": "application/json"})
            self.assertEqual(status, 200, data)
            return sorted(tuple(r) for r in json.loads(data)["results"][-1]["rows"])

        deadline = time.time() + 10
        while time.time() < deadline and rows() != [("committed", 1)]:
            time.sleep(0.05)
        self.assertEqual(rows(), [("committed", 1)])
        time.sleep(0.3)
        self.assertEqual(rows(), [("committed", 1)])  # the open transaction holds the rest back
        p.commit_transaction(15)
        deadline = time.time() + 10
        while time.time() < deadline and rows() != [("committed", 1), ("pending", 1), ("plain", 1)]:
            time.sleep(0.05)
        self.assertEqual(rows(), [("committed", 1), ("pending", 1), ("plain", 1)])
        replay = [e["value"]["k"] for e in self.server.read_all("txsql", 0)]
        self.assertEqual(replay, ["committed", "pending", "plain"])
        _, body = self.server.json("GET", "/v1/topics/txsql/events?partition=0&offset=0&isolation=read_uncommitted",
                                   expect=200)
        self.assertEqual([e["value"]["k"] for e in body["events"]], ["committed", "aborted", "pending", "plain"])

    def test_open_transaction_blocks_read_committed_until_fenced(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "fence", "partitions": 1}), expect=201)
        self.produce("fence", [b"plain-0"])
        old = self.transactional_producer("t2")
        old.begin_transaction()
        old.produce("fence", value=b"pending")
        self.assertEqual(old.flush(15), 0)
        self.produce("fence", [b"plain-1"])  # after the open transaction: not stable yet
        self.assertEqual(self.read_all("fence", "read_committed", 1), [b"plain-0"])
        new = self.transactional_producer("t2")  # same id: fences `old`, aborts its transaction
        self.assertEqual(self.read_all("fence", "read_committed", 2), [b"plain-0", b"plain-1"])
        with self.assertRaises(ck.KafkaException):
            old.commit_transaction(10)
        new.begin_transaction()
        new.produce("fence", value=b"fresh")
        new.commit_transaction(15)
        self.assertEqual(self.read_all("fence", "read_committed", 3), [b"fresh", b"plain-0", b"plain-1"])

    def test_transaction_open_past_its_timeout_is_aborted(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "slow", "partitions": 1}), expect=201)
        p = ck.Producer({"bootstrap.servers": self.bootstrap(), "transactional.id": "t4",
                         "transaction.timeout.ms": 1000, "linger.ms": 5})
        p.init_transactions(15)
        p.begin_transaction()
        p.produce("slow", value=b"abandoned")
        self.assertEqual(p.flush(15), 0)
        self.produce("slow", [b"later"])
        # After the timeout the coordinator aborts it: "later" becomes stable, "abandoned" never.
        self.assertEqual(self.read_all("slow", "read_committed", 1), [b"later"])
        with self.assertRaises(ck.KafkaException):
            p.commit_transaction(10)

    def test_transaction_left_open_by_a_restart_is_aborted(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "crash", "partitions": 1}), expect=201)
        p = self.transactional_producer("t3")
        p.begin_transaction()
        p.produce("crash", value=b"kept")
        p.commit_transaction(15)
        p.begin_transaction()
        p.produce("crash", value=b"lost")
        self.assertEqual(p.flush(15), 0)
        data_dir = self.server.data_dir
        self.server.kill9()
        self.server = Server(data_dir=data_dir).start()
        self.server.owns_dir = True
        self.produce("crash", [b"after"])
        self.assertEqual(self.read_all("crash", "read_committed", 2), [b"after", b"kept"])


@unittest.skipIf(not HAVE_KAFKAJS, "node or tests/kafkajs/node_modules missing (scripts/install-deps.sh installs them)")
class KafkajsTest(ServerTestCase):
    def test_admin_producer_and_a_group_of_three_that_rebalances(self):
        # tests/kafkajs/group.mjs: CreateTopics (3 partitions), three members with one partition
        # each, 300 messages, one member leaves, the other two take over, 100 more messages.
        r = subprocess.run(["node", os.path.join(KAFKAJS_DIR, "group.mjs"), "127.0.0.1:%d" % self.server.kafka_port, "js"],
                           capture_output=True, timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-3000:] + self.server.log()[-3000:])
        out = json.loads(r.stdout.decode().strip().split("\n")[-1])
        self.assertTrue(out["listed"])
        self.assertEqual(sorted(p for ps in out["phase1"] for p in ps), [0, 1, 2])
        self.assertTrue(all(len(ps) == 1 for ps in out["phase1"]))
        self.assertEqual(sorted(p for ps in out["phase2"] for p in ps), [0, 1, 2])
        self.assertEqual(out["seen"], 400)  # every message reached the group (at least once)


class IdempotentProduceTest(unittest.TestCase):
    """Sequence checks with hand-made batches: duplicates acknowledged, not re-appended;
    gaps refused; older epochs fenced; state rebuilt from the log after a restart."""

    def test_sequence_rules_and_restart(self):
        server = Server().start()
        try:
            server.json("POST", "/v1/topics", json.dumps({"name": "seq", "partitions": 1}), expect=201)
            c = kw.Conn(server.kafka_port)
            c.send(kw.request(22, 0, 1, struct.pack(">hi", -1, 60000)))  # InitProducerId v0
            _, body = c.response()
            _throttle, err, pid, epoch = struct.unpack(">ihqh", body)
            self.assertEqual((err, epoch), (0, 0))

            def send(corr, seq, values, ep=epoch):
                values = [json.dumps({"v": v.decode()}).encode() for v in values]
                batch = kw.record_batch(values, producer_id=pid, epoch=ep, base_sequence=seq)
                c.send(kw.request(0, 3, corr, kw.produce_v3_body("seq", 0, batch)))
                return kw.parse_produce_v3(c.response()[1])[0][2:]

            self.assertEqual(send(2, 0, [b"1", b"2"]), (0, 0))
            self.assertEqual(send(3, 2, [b"3"]), (0, 2))
            self.assertEqual(send(4, 0, [b"1", b"2"]), (0, 0))   # a retry: same offset, not appended
            self.assertEqual(send(5, 5, [b"x"]), (45, -1))       # OUT_OF_ORDER_SEQUENCE_NUMBER
            self.assertEqual(send(6, 0, [b"e1"], ep=epoch + 1), (0, 3))  # a new epoch starts at 0
            self.assertEqual(send(7, 3, [b"old"], ep=epoch), (47, -1))   # INVALID_PRODUCER_EPOCH
            c.close()
            self.assertEqual(server.stop(), 0)
            server = Server(data_dir=server.data_dir).start()
            server.owns_dir = True
            c = kw.Conn(server.kafka_port)
            self.assertEqual(send(8, 0, [b"e1"], ep=epoch + 1), (0, 3))  # still a duplicate after restart
            self.assertEqual(send(9, 1, [b"e2"], ep=epoch + 1), (0, 4))
            self.assertEqual(send(10, 9, [b"gap"], ep=epoch + 1), (45, -1))
            c.close()
            values = [e["value"]["v"] for e in server.read_all("seq", 0)]
            self.assertEqual(values, ["1", "2", "3", "e1", "e2"])
        finally:
            server.stop()
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
