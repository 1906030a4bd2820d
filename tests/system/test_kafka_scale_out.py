"""Scale-out over a Kafka consumer group (docs/scale-out.md): three sluice nodes read one external
topic with the same group_id and scale_out = 'true', so Kafka's group coordinator splits its
partitions among them. The cluster is a fourth sluice process (its Kafka listener). One node is
killed with -9 mid-stream and not restarted: after the rebalance, the two survivors' views
together must equal a single-node run over the same topic, row for row, and no key may be
counted by both.
"""

import json
import random
import threading
import time
import unittest

from harness import Server, ingest_keyed, sql





def view(server):
    try:
        rows = sql(server, "SELECT k, n, total FROM per_key")["results"][0]["rows"]
    except (AssertionError, OSError):
        return None
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


class ScaleOutTest(unittest.TestCase):
    def setUp(self):
        self.servers = []
        self.cluster = self.track(Server().start())
        self.cluster.json("POST", "/v1/topics", json.dumps({"name": "ev", "partitions": 6}), expect=201)
        self.bootstrap = "127.0.0.1:%d" % self.cluster.kafka_port

    def tearDown(self):
        for s in reversed(self.servers):
            s.stop()
            s.cleanup()

    def track(self, server):
        self.servers.append(server)
        return server

    def node(self, scale_out=True):
        n = self.track(Server().start())
        sql(n, "CREATE SOURCE ev (k VARCHAR, v BIGINT) WITH (connector = 'kafka', topic = 'ev', "
               "properties.bootstrap.servers = '%s', group_id = '%s', scale_out = '%s', "
               "properties.session.timeout.ms = '3000', properties.heartbeat.interval.ms = '300')"
            % (self.bootstrap, "scale" if scale_out else "single", "true" if scale_out else "false"))
        sql(n, "CREATE MATERIALIZED VIEW per_key AS SELECT k, count(*) AS n, sum(v) AS total FROM ev GROUP BY k")
        return n

    def test_three_nodes_share_the_partitions_and_survive_losing_one(self):
        rng = random.Random(5)
        expected = {}
        lock = threading.Lock()

        def batch(n):
            events = []
            for _ in range(n):
                k = "k%d" % rng.randrange(60)
                v = rng.randrange(1, 100)
                events.append({"k": k, "v": v})
                with lock:
                    c, t = expected.get(k, (0, 0))
                    expected[k] = (c + 1, t + v)
            return events

        ingest_keyed(self.cluster, "ev", batch(1000), "k")
        nodes = [self.node() for _ in range(3)]
        stop = threading.Event()
        errors = []

        def feed():
            try:
                while not stop.is_set():
                    ingest_keyed(self.cluster, "ev", batch(100), "k")
                    time.sleep(0.05)
            except Exception as e:  # reported below
                errors.append(e)

        feeder = threading.Thread(target=feed)
        feeder.start()
        try:
            # All three own partitions before one of them dies.
            deadline = time.time() + 60
            while time.time() < deadline:
                views = [view(n) for n in nodes]
                if all(v for v in views):
                    break
                time.sleep(0.2)
            self.assertTrue(all(view(n) for n in nodes), "not every node got partitions:\n" +
                            "\n".join(n.log()[-2000:] for n in nodes))
            time.sleep(rng.uniform(0.5, 1.5))
            nodes[2].kill9()
            time.sleep(2)
        finally:
            stop.set()
            feeder.join()
        self.assertEqual(errors, [])
        survivors = nodes[:2]
        want = dict(expected)
        got = None
        deadline = time.time() + 120
        while time.time() < deadline:
            parts = [view(n) for n in survivors]
            if all(p is not None for p in parts):
                got = {}
                overlap = set(parts[0]) & set(parts[1])
                for p in parts:
                    got.update(p)
                if got == want and not overlap:
                    break
            time.sleep(0.3)
        parts = [view(n) for n in survivors]
        self.assertEqual(set(parts[0]) & set(parts[1]), set(), "a key is counted by both nodes")
        union = {}
        for p in parts:
            union.update(p)
        self.assertEqual(union, want, "the survivors' views differ from a single-node run:\n" +
                         "\n".join(n.log()[-3000:] for n in survivors))
        # The single-node run: one node that reads every partition itself.
        single = self.node(scale_out=False)
        deadline = time.time() + 60
        while time.time() < deadline and view(single) != want:
            time.sleep(0.2)
        self.assertEqual(view(single), union)


if __name__ == "__main__":
    unittest.main()
