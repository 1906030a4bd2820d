"""CREATE SINK: a query's changes written as JSON rows into a topic, and after kill -9 the sink
continues where its last write ended (no row written twice, none skipped)."""

import json
import os
import random
import shutil
import tempfile
import time
import unittest

from harness import Server, net_rows


def sql(server, text, expect=200):
    status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": text}), {"Content-Type": "application/json"})
    if status != expect:
        raise AssertionError("%s -> %d: %s" % (text, status, data[:300]))
    return json.loads(data)


def ingest(server, topic, events):
    body = "\n".join(json.dumps(e) for e in events) + "\n"
    status, _, data = server.request("POST", "/v1/topics/%s/events" % topic, body, {"Content-Type": "application/x-ndjson"})
    assert status == 200, data


def wait_for(predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


class SinkTest(unittest.TestCase):
    def test_filter_and_aggregate_sinks(self):
        server = Server().start()
        try:
            sql(server, "CREATE SOURCE bids (auction BIGINT, price BIGINT) WITH (topic = 'bids')")
            ingest(server, "bids", [{"auction": 1, "price": 5}, {"auction": 2, "price": 500}])
            sql(server, "CREATE SINK big INTO big_bids WITH (key = 'auction') AS "
                        "SELECT auction, price * 2 AS doubled FROM bids WHERE price > 100")
            sql(server, "CREATE SINK totals INTO totals_topic AS SELECT auction, count(*) AS n FROM bids GROUP BY auction")
            ingest(server, "bids", [{"auction": 3, "price": 700}, {"auction": 1, "price": 1}])
            # The filter sink: append-only JSON rows, history included (backfill).
            big = wait_for(lambda: (lambda e: e if len(e) >= 2 else None)(server.read_all("big_bids", 0)))
            self.assertEqual([e["value"] for e in big], [{"auction": 2, "doubled": 1000}, {"auction": 3, "doubled": 1400}])
            self.assertTrue(all(e["headers"]["sluice-op"] == "insert" for e in big))
            self.assertEqual([e["key"] for e in big], ["2", "3"])  # WITH (key = 'auction')
            self.assertEqual(big[0]["headers"]["sluice-sink"], "big")
            # The aggregate sink: inserts and deletes that net to the current result.
            want = {json.dumps({"auction": a, "n": n}, sort_keys=True): 1 for a, n in ((1, 2), (2, 1), (3, 1))}
            got = wait_for(lambda: net_rows(server.read_all("totals_topic", 0)) == want)
            self.assertTrue(got, net_rows(server.read_all("totals_topic", 0)))
            self.assertIn("delete", {e["headers"]["sluice-op"] for e in server.read_all("totals_topic", 0)})

            body = sql(server, "SHOW SINKS")
            self.assertEqual(sorted(r[0] for r in body["results"][0]["rows"]), ["big", "totals"])
            status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": "SELECT * FROM big"}),
                                             {"Content-Type": "application/json"})
            self.assertEqual(status, 400)
            self.assertIn("is a sink", json.loads(data)["error"]["message"])
            for bad, message in (
                    ("CREATE SINK loop INTO bids AS SELECT * FROM bids", "which it reads (a loop)"),
                    ("CREATE SINK s2 INTO x AS SELECT * FROM bids ORDER BY price", "not supported yet"),
                    ("CREATE SINK s3 INTO x AS SELECT * FROM bids WITH (format = 'avro')", "not supported yet"),
                    ("CREATE SINK s4 INTO x AS SELECT * FROM bids WITH (colour = 'red')", "unknown sink option"),
                    ("CREATE SINK s6 INTO x AS SELECT price FROM bids WITH (key = 'auction')", "no column \"auction\""),
                    ("CREATE SINK s5 INTO 'bad topic' AS SELECT * FROM bids", ""),
                    ("CREATE SINK big INTO y AS SELECT * FROM bids", "already exists")):
                status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": bad}), {"Content-Type": "application/json"})
                self.assertEqual(status // 100, 4, bad)
                self.assertIn(message, json.loads(data)["error"]["message"], bad)
            sql(server, "DROP SINK big")
            ingest(server, "bids", [{"auction": 4, "price": 900}])
            time.sleep(0.3)
            self.assertEqual(len(server.read_all("big_bids", 0)), 2)  # a dropped sink writes no more
        finally:
            server.stop()
            server.cleanup()

    def test_sink_survives_kill9_without_duplicates(self):
        data_dir = tempfile.mkdtemp(prefix="sluice-sink-")
        rng = random.Random(7)
        server = Server(data_dir=data_dir).start()
        try:
            sql(server, "CREATE SOURCE ev (id BIGINT, g BIGINT) WITH (topic = 'ev')")
            sql(server, "CREATE SINK copy INTO ev_copy AS SELECT id FROM ev")
            sql(server, "CREATE SINK per_group INTO ev_groups AS SELECT g, count(*) AS n FROM ev GROUP BY g")
            next_id = 0
            for _ in range(4):
                for _ in range(rng.randint(3, 8)):
                    ingest(server, "ev", [{"id": next_id + i, "g": (next_id + i) % 5} for i in range(200)])
                    next_id += 200
                time.sleep(rng.random() * 0.2)
                server.kill9()
                server = Server(data_dir=data_dir).start()
            ingest(server, "ev", [{"id": next_id + i, "g": (next_id + i) % 5} for i in range(10)])
            next_id += 10
            copied = wait_for(lambda: (lambda e: e if len(e) >= next_id else None)(server.read_all("ev_copy", 0)), 60)
            ids = [e["value"]["id"] for e in copied]
            self.assertEqual(len(ids), len(set(ids)), "a row was written twice")
            self.assertEqual(sorted(ids), list(range(next_id)))
            want = {json.dumps({"g": g, "n": next_id // 5}, sort_keys=True): 1 for g in range(5)}
            self.assertTrue(wait_for(lambda: net_rows(server.read_all("ev_groups", 0)) == want, 60),
                            net_rows(server.read_all("ev_groups", 0)))
        finally:
            server.stop()
            server.cleanup()
            shutil.rmtree(data_dir, ignore_errors=True)

    def test_output_is_visible_only_once_its_checkpoint_commits(self):
        """A sink's output is a transaction committed after the checkpoint that covers it:
        read_committed readers (the default) do not see it before, and after kill -9 the
        uncommitted part is aborted and written again from the checkpoint, exactly once."""
        data_dir = tempfile.mkdtemp(prefix="sluice-sinktxn-")
        # One checkpoint at the first round with work, then none for an hour.
        config = '[checkpoint]\ninterval = "1h"\n'
        server = Server(data_dir=data_dir, config=config).start()
        try:
            server.json("POST", "/v1/topics", json.dumps({"name": "ev", "partitions": 1}), expect=201)
            sql(server, "CREATE SOURCE ev (id BIGINT) WITH (topic = 'ev')")
            sql(server, "CREATE SINK copy INTO ev_copy AS SELECT id FROM ev")
            ingest(server, "ev", [{"id": i} for i in range(5)])
            first = wait_for(lambda: (lambda e: e if len(e) >= 5 else None)(server.read_all("ev_copy", 0)))
            self.assertEqual([e["value"]["id"] for e in first], list(range(5)))

            def uncommitted():
                _, body = server.json("GET", "/v1/topics/ev_copy/events?partition=0&offset=0&isolation=read_uncommitted",
                                      expect=200)
                return [e["value"]["id"] for e in body["events"]]

            ingest(server, "ev", [{"id": i} for i in range(5, 8)])
            self.assertTrue(wait_for(lambda: len(uncommitted()) >= 8), uncommitted())
            time.sleep(0.3)
            # Written, but no checkpoint covers it yet: read_committed readers do not see it.
            self.assertEqual([e["value"]["id"] for e in server.read_all("ev_copy", 0)], list(range(5)))
            status, _, _ = server.request("GET", "/v1/topics/ev_copy/events?isolation=bogus")
            self.assertEqual(status, 400)

            server.kill9()
            server = Server(data_dir=data_dir, config=config).start()
            # Restart: the open transaction is aborted, the rows are written again and committed.
            again = wait_for(lambda: (lambda e: e if len(e) >= 8 else None)(server.read_all("ev_copy", 0)), 30)
            self.assertEqual([e["value"]["id"] for e in again], list(range(8)))
            self.assertEqual(sorted(uncommitted()), sorted(list(range(8)) + [5, 6, 7]))  # the aborted copy stays in the log
            # DROP SINK commits what it wrote since its checkpoint.
            ingest(server, "ev", [{"id": 8}])
            self.assertTrue(wait_for(lambda: len(uncommitted()) >= 12), uncommitted())
            sql(server, "DROP SINK copy")
            self.assertEqual([e["value"]["id"] for e in server.read_all("ev_copy", 0)], list(range(9)))
        finally:
            server.stop()
            server.cleanup()
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
