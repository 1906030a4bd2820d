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

from harness import Server, ingest_keyed, metric, sql





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

    def feed_and_kill_one(self, rng, nodes, topic, batch, key, ready):
        """Produces batches into `topic` (keyed by field `key`) while the three nodes start; once
        `ready(node)` holds for every node, kills the third with -9 mid-stream. The survivors."""
        stop = threading.Event()
        errors = []

        def feed():
            try:
                while not stop.is_set():
                    ingest_keyed(self.cluster, topic, batch(100), key)
                    time.sleep(0.05)
            except Exception as e:  # reported below
                errors.append(e)

        feeder = threading.Thread(target=feed)
        feeder.start()
        try:
            # All three own partitions before one of them dies.
            deadline = time.time() + 60
            while time.time() < deadline and not all(ready(n) for n in nodes):
                time.sleep(0.2)
            self.assertTrue(all(ready(n) for n in nodes), "not every node got partitions:\n" +
                            "\n".join(n.log()[-2000:] for n in nodes))
            time.sleep(rng.uniform(0.5, 1.5))
            nodes[2].kill9()
            time.sleep(2)
        finally:
            stop.set()
            feeder.join()
        self.assertEqual(errors, [])
        return nodes[:2]

    def assert_disjoint_union(self, survivors, read, want, what):
        """Waits (up to 120 s) until the survivors' views, read by `read`, are disjoint and
        together equal `want`; asserts it and returns the union."""
        deadline = time.time() + 120
        while time.time() < deadline:
            parts = [read(n) for n in survivors]
            if all(p is not None for p in parts) and not set(parts[0]) & set(parts[1]) and \
                    {**parts[0], **parts[1]} == want:
                break
            time.sleep(0.3)
        parts = [read(n) for n in survivors]
        self.assertEqual(set(parts[0]) & set(parts[1]), set(), "a %s is counted by both nodes" % what)
        union = {**parts[0], **parts[1]}
        self.assertEqual(union, want, "the survivors' views differ from a single-node run:\n" +
                         "\n".join(n.log()[-3000:] for n in survivors))
        return union

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
        survivors = self.feed_and_kill_one(rng, nodes, "ev", batch, "k", view)
        want = dict(expected)
        union = self.assert_disjoint_union(survivors, view, want, "key")
        # The single-node run: one node that reads every partition itself.
        single = self.node(scale_out=False)
        deadline = time.time() + 60
        while time.time() < deadline and view(single) != want:
            time.sleep(0.2)
        self.assertEqual(view(single), union)

    def test_a_key_that_differs_from_the_partitioning_goes_through_a_repartition_topic(self):
        # Producers key the clicks by user; the view counts per page. Stage 1 on each node: a
        # sink over the scaled-out source, keyed by page, into an external topic (partitioned by
        # page). Stage 2: a scaled-out source over that topic, aggregated per page.
        self.cluster.json("POST", "/v1/topics", json.dumps({"name": "clicks", "partitions": 6}), expect=201)
        self.cluster.json("POST", "/v1/topics", json.dumps({"name": "by_page", "partitions": 6}), expect=201)
        rng = random.Random(11)
        expected = {}
        lock = threading.Lock()

        def batch(n):
            events = []
            for _ in range(n):
                e = {"u": "u%d" % rng.randrange(40), "page": "p%d" % rng.randrange(30), "n": rng.randrange(1, 100)}
                events.append(e)
                if e["n"] % 10 != 0:  # the sink's filter
                    with lock:
                        c, t = expected.get(e["page"], (0, 0))
                        expected[e["page"]] = (c + 1, t + e["n"])
            return events

        group = ("properties.session.timeout.ms = '3000', properties.heartbeat.interval.ms = '300'")

        def stage_node():
            n = self.track(Server().start())
            sql(n, "CREATE SOURCE clicks (u VARCHAR, page VARCHAR, n BIGINT) WITH (connector = 'kafka', "
                   "topic = 'clicks', properties.bootstrap.servers = '%s', group_id = 'stage1', scale_out = 'true', %s)"
                % (self.bootstrap, group))
            sql(n, "CREATE SINK to_pages INTO by_page WITH (connector = 'kafka', properties.bootstrap.servers = '%s', "
                   "key = 'page', transactional_id = 'repartition') AS SELECT page, u, n FROM clicks WHERE n %% 10 <> 0"
                % self.bootstrap)
            sql(n, "CREATE SOURCE pages (page VARCHAR, u VARCHAR, n BIGINT) WITH (connector = 'kafka', "
                   "topic = 'by_page', properties.bootstrap.servers = '%s', group_id = 'stage2', scale_out = 'true', %s)"
                % (self.bootstrap, group))
            sql(n, "CREATE MATERIALIZED VIEW per_page AS SELECT page, count(*) AS n, sum(n) AS total FROM pages "
                   "GROUP BY page")
            return n

        def pages(server):
            try:
                rows = sql(server, "SELECT page, n, total FROM per_page")["results"][0]["rows"]
            except (AssertionError, OSError):
                return None
            return {r[0]: (int(r[1]), int(r[2])) for r in rows}

        ingest_keyed(self.cluster, "clicks", batch(1000), "u")
        nodes = [stage_node() for _ in range(3)]
        survivors = self.feed_and_kill_one(rng, nodes, "clicks", batch, "u", pages)
        want = dict(expected)
        union = self.assert_disjoint_union(survivors, pages, want, "page")
        for n in survivors:
            self.assertGreater(metric(n, 'sluice_kafka_sink_records_total{sink="to_pages"}'), 0)
            shown = sql(n, "SHOW SINKS")["results"][0]["rows"]
            self.assertEqual([(r[0], r[3]) for r in shown], [("to_pages", "running")])
        # The single-node run: one node that reads every click itself and groups by page.
        single = self.track(Server().start())
        sql(single, "CREATE SOURCE clicks (u VARCHAR, page VARCHAR, n BIGINT) WITH (connector = 'kafka', "
                    "topic = 'clicks', properties.bootstrap.servers = '%s', group_id = 'single')" % self.bootstrap)
        sql(single, "CREATE MATERIALIZED VIEW per_page AS SELECT page, count(*) AS n, sum(n) AS total FROM clicks "
                    "WHERE n % 10 <> 0 GROUP BY page")
        deadline = time.time() + 60
        while time.time() < deadline and pages(single) != want:
            time.sleep(0.2)
        self.assertEqual(pages(single), union)

    def test_a_sink_over_a_scaled_out_source_must_be_stateless_and_go_to_kafka(self):
        n = self.track(Server().start())
        sql(n, "CREATE SOURCE ev (k VARCHAR, v BIGINT) WITH (connector = 'kafka', topic = 'ev', "
               "properties.bootstrap.servers = '%s', group_id = 'g', scale_out = 'true')" % self.bootstrap)
        kafka = "connector = 'kafka', properties.bootstrap.servers = '%s'" % self.bootstrap
        sql(n, "CREATE MATERIALIZED VIEW ev_view AS SELECT k, v FROM ev WHERE v > 0")
        self.cluster.json("POST", "/v1/topics", json.dumps({"name": "ev_out", "partitions": 1}), expect=201)
        for statement, why in [
            ("CREATE SINK s INTO ev_out WITH (%s) AS SELECT k, count(*) AS c FROM ev GROUP BY k" % kafka, "aggregates"),
            ("CREATE SINK s INTO ev_out AS SELECT k, v FROM ev", "into the embedded log"),
            ("CREATE SINK s INTO ev_out WITH (%s, key = 'nope') AS SELECT k, v FROM ev" % kafka, "no column \"nope\""),
            ("CREATE SINK s INTO ev_out WITH (%s, group_id = 'g') AS SELECT k, v FROM ev" % kafka, "group of its own"),
            ("CREATE SINK s INTO ev_out WITH (connector = 'kafka', properties.bootstrap.servers = 'localhost:%d') "
             "AS SELECT k, v FROM ev" % self.cluster.kafka_port, "must use its cluster"),
            ("CREATE SINK s INTO ev_out WITH (%s) AS SELECT * FROM ev_view" % kafka, "reads the scaled-out source"),
        ]:
            status, _, data = n.request("POST", "/v1/sql", json.dumps({"sql": statement}))
            self.assertEqual(status // 100, 4, statement)
            body = json.loads(data)
            self.assertIn(why, body["error"]["message"], statement)


if __name__ == "__main__":
    unittest.main()
