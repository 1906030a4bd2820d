"""connector = 'kafka': a sluice node reads a topic of an external Kafka cluster through
librdkafka (CREATE SOURCE), and sends a sink's rows into one (CREATE SINK). The cluster here is
a second sluice process speaking the Kafka protocol (its --kafka-port), fed over HTTP and by
kcat. The node is killed with -9 at random moments while it copies or delivers: its view must
end up counting every record exactly once, and the external sink topic must hold every change
exactly once for a read_committed reader.
"""

import json
import random
import re
import shutil
import subprocess
import threading
import time
import unittest

from harness import Server, ingest_keyed, metric, net_rows, sql

KCAT = shutil.which("kcat")








class KafkaConnectorTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Server().start()
        self.cluster.json("POST", "/v1/topics", json.dumps({"name": "orders", "partitions": 3}), expect=201)
        self.node = Server().start()
        self.servers = "127.0.0.1:%d" % self.cluster.kafka_port

    def tearDown(self):
        for s in (self.node, self.cluster):
            s.stop()
            s.cleanup()

    def create(self):
        sql(self.node, "CREATE SOURCE orders (id BIGINT, customer VARCHAR, amount BIGINT) WITH ("
                       "connector = 'kafka', topic = 'orders', properties.bootstrap.servers = '%s', "
                       "group_id = 'reporting')" % self.servers)
        sql(self.node, "CREATE MATERIALIZED VIEW per_customer AS SELECT customer, count(*) AS n, "
                       "sum(amount) AS total FROM orders GROUP BY customer")

    def view(self):
        try:
            rows = sql(self.node, "SELECT customer, n, total FROM per_customer")["results"][0]["rows"]
        except (AssertionError, OSError):
            return None
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def wait_view(self, expected, timeout=60):
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            got = self.view()
            if got is not None and sum(n for n, _ in got.values()) >= sum(n for n, _ in expected.values()):
                time.sleep(0.3)  # a repeat would show up now
                return self.view()
            time.sleep(0.1)
        return got

    def test_a_view_over_a_kafka_topic_counts_every_record_once_across_kill9(self):
        rng = random.Random(7)
        expected = {}
        next_id = [0]

        def batch(n):
            events = []
            for _ in range(n):
                i = next_id[0]
                next_id[0] += 1
                c = "c%d" % rng.randrange(40)
                a = rng.randrange(1, 1000)
                events.append({"id": i, "customer": c, "amount": a})
                n0, t0 = expected.get(c, (0, 0))
                expected[c] = (n0 + 1, t0 + a)
            return events

        ingest_keyed(self.cluster, "orders", batch(2000), "customer")
        self.create()
        # While the cluster keeps receiving events, the reading node is killed and restarted.
        stop = threading.Event()
        errors = []

        def feed():
            try:
                while not stop.is_set():
                    ingest_keyed(self.cluster, "orders", batch(200), "customer")
                    time.sleep(0.02)
            except Exception as e:  # reported below
                errors.append(e)

        feeder = threading.Thread(target=feed)
        feeder.start()
        kills = 0
        try:
            for _ in range(6):
                time.sleep(rng.uniform(0.2, 1.2))
                self.node.kill9()
                kills += 1
                self.node.spawn()
                self.node.wait_ready(60)
        finally:
            stop.set()
            feeder.join()
        self.assertEqual(errors, [])
        self.assertEqual(kills, 6)

        # A real Kafka client produces into the cluster too.
        if KCAT:
            lines = []
            for e in batch(300):
                lines.append("%s:%s" % (e["customer"], json.dumps(e)))
            r = subprocess.run([KCAT, "-b", self.servers, "-P", "-t", "orders", "-K:"],
                               input=("\n".join(lines) + "\n").encode(), capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)

        got = self.wait_view(expected)
        self.assertEqual(got, expected, "the view over the Kafka topic differs after %d kills" % kills)
        # The copy in the node's log holds every record exactly once.
        ids = []
        for p in range(3):
            ids += [e["value"]["id"] for e in self.node.read_all("orders", p)]
        self.assertEqual(sorted(ids), list(range(next_id[0])))
        self.assertGreater(metric(self.node, 'sluice_kafka_source_records_total{source="orders"}'), 0)

    def test_create_checks_the_cluster_and_the_options(self):
        def refused(text):
            status, _, data = self.node.request("POST", "/v1/sql", json.dumps({"sql": text}),
                                                {"Content-Type": "application/json"})
            self.assertGreaterEqual(status, 400, data)
            return json.loads(data)["error"]["message"]

        msg = refused("CREATE SOURCE s (id BIGINT) WITH (connector = 'kafka', topic = 'nope', "
                      "properties.bootstrap.servers = '%s')" % self.servers)
        self.assertIn("topic 'nope' does not exist", msg)
        msg = refused("CREATE SOURCE s (id BIGINT) WITH (connector = 'kafka', topic = 'orders')")
        self.assertIn("properties.bootstrap.servers", msg)
        msg = refused("CREATE SOURCE s (id BIGINT) WITH (connector = 'kafka', topic = 'orders', "
                      "properties.bootstrap.servers = '%s', properties.fetch.wait.max.ms = 'soon')" % self.servers)
        self.assertIn("fetch.wait.max.ms", msg)
        msg = refused("CREATE SOURCE s (id BIGINT) WITH (connector = 'kafka', topic = 'orders', "
                      "properties.bootstrap.servers = '127.0.0.1:1')")
        self.assertIn("cannot reach the Kafka cluster", msg)
        sources = sql(self.node, "SHOW SOURCES")["results"][0]["rows"]
        self.assertEqual(sources, [])
        # A source whose cluster goes away keeps its data and picks up again when it is back.
        self.create()
        ingest_keyed(self.cluster, "orders", [{"id": 1, "customer": "a", "amount": 5}], "customer")
        self.assertEqual(self.wait_view({"a": (1, 5)}), {"a": (1, 5)})
        self.cluster.stop()
        time.sleep(0.5)
        self.assertEqual(self.view(), {"a": (1, 5)})
        self.cluster.spawn()
        self.cluster.wait_ready()
        ingest_keyed(self.cluster, "orders", [{"id": 2, "customer": "a", "amount": 7}], "customer")
        self.assertEqual(self.wait_view({"a": (2, 12)}), {"a": (2, 12)})

    def test_a_sink_delivers_every_change_once_across_kill9(self):
        self.cluster.json("POST", "/v1/topics", json.dumps({"name": "totals", "partitions": 1}), expect=201)
        sql(self.node, "CREATE SOURCE orders (id BIGINT, customer VARCHAR, amount BIGINT)")
        status, _, data = self.node.request("POST", "/v1/sql", json.dumps({"sql":
            "CREATE SINK s INTO s_local WITH (connector = 'kafka', topic = 'missing', "
            "properties.bootstrap.servers = '%s') AS SELECT id FROM orders" % self.servers}),
            {"Content-Type": "application/json"})
        self.assertGreaterEqual(status, 400, data)
        self.assertIn("topic 'missing' does not exist", json.loads(data)["error"]["message"])
        sql(self.node, "CREATE SINK totals INTO totals_local WITH (connector = 'kafka', topic = 'totals', "
                       "properties.bootstrap.servers = '%s') AS SELECT customer, count(*) AS n, sum(amount) AS total "
                       "FROM orders GROUP BY customer" % self.servers)
        rng = random.Random(11)
        expected = {}
        kills = 0

        def ingest_round(round_):
            events = []
            for i in range(500):
                c = "c%d" % rng.randrange(30)
                a = rng.randrange(1, 100)
                events.append({"id": round_ * 500 + i, "customer": c, "amount": a})
                n0, t0 = expected.get(c, (0, 0))
                expected[c] = (n0 + 1, t0 + a)
            ingest_keyed(self.node, "orders", events, "customer")

        for round_ in range(8):
            ingest_round(round_)
            time.sleep(rng.uniform(0.2, 1.8))  # checkpoints (every 1 s) commit, the connector delivers
            self.node.kill9()
            kills += 1
            self.node.spawn()
            self.node.wait_ready(60)
        # A last round for the last process, which may have found everything delivered already.
        ingest_round(8)
        want = {json.dumps({"customer": c, "n": n, "total": t}, sort_keys=True): 1 for c, (n, t) in expected.items()}
        deadline = time.time() + 60
        got = None
        while time.time() < deadline:
            got = net_rows(self.cluster.read_all("totals", 0))
            if got == want:
                break
            time.sleep(0.2)
        self.assertEqual(got, want, "the Kafka topic's changes do not net to the sink's result after %d kills" % kills)
        time.sleep(0.5)  # nothing more arrives: every change was delivered once
        self.assertEqual(net_rows(self.cluster.read_all("totals", 0)), want)
        # The last process delivered the last round's changes.
        self.assertGreater(metric(self.node, 'sluice_kafka_sink_records_total{sink="totals"}'), 0)
        # Some restarts resumed from a position an earlier run had committed in Kafka.
        resumed = [int(m) for m in re.findall(r"delivering topic 'totals_local' from offset (\d+)", self.node.log())]
        self.assertGreaterEqual(len(resumed), kills + 1)  # one per start, more if a connection was retried
        self.assertGreater(max(resumed), 0)


if __name__ == "__main__":
    unittest.main()
