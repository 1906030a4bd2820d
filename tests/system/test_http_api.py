"""The HTTP API of SPEC §2 against the real server: happy paths and every bad-input case."""

import json
import os
import socket
import subprocess
import time
import unittest

from harness import SLUICE_BIN, Server, ServerTestCase

NDJSON = {"Content-Type": "application/x-ndjson"}
JSON = {"Content-Type": "application/json"}


class IngestTest(ServerTestCase):
    def test_single_object_with_curl_default_content_type(self):
        # What `curl -XPOST .../events -d '{"user":1}'` sends.
        status, body = self.server.json("POST", "/v1/topics/clicks/events", '{"user":1}',
                                        {"Content-Type": "application/x-www-form-urlencoded"}, expect=200)
        self.assertEqual(body["accepted"], 1)
        self.assertEqual(body["rejected"], 0)

    def test_ndjson_array_and_pretty_object(self):
        _, body = self.server.json("POST", "/v1/topics/fmt/events", '{"a":1}\n\n{"a":2}\r\n{"a":3}\n', NDJSON, expect=200)
        self.assertEqual(body["accepted"], 3)
        _, body = self.server.json("POST", "/v1/topics/fmt/events", '[{"a":4},{"a":5}]', JSON, expect=200)
        self.assertEqual(body["accepted"], 2)
        _, body = self.server.json("POST", "/v1/topics/fmt/events", '{\n  "a": 6,\n  "b": [1, 2]\n}', JSON, expect=200)
        self.assertEqual(body["accepted"], 1)
        values = []
        _, desc = self.server.json("GET", "/v1/topics/fmt", expect=200)
        for p in desc["partitions"]:
            values += [e["value"]["a"] for e in self.server.read_all("fmt", p["partition"])]
        self.assertEqual(sorted(values), [1, 2, 3, 4, 5, 6])

    def test_bad_events_go_to_dlq_and_the_rest_is_accepted(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "mixed", "partitions": 1}), JSON, expect=201)
        lines = [b'{"ok":1}', b'{"broken":', b'42', b'"text"', b'[1,2]', b'null', b'{"bad_utf8":"\xff\xfe"}',
                 b'[' * 10000 + b']' * 10000, b'{"ok":2}']
        status, _, data = self.server.request("POST", "/v1/topics/mixed/events", b"\n".join(lines), NDJSON)
        self.assertEqual(status, 200, data)
        body = json.loads(data)
        self.assertEqual(body["accepted"], 2)
        self.assertEqual(body["rejected"], 7)
        self.assertEqual(sorted(e["index"] for e in body["errors"]), [1, 2, 3, 4, 5, 6, 7])
        for e in body["errors"]:
            self.assertTrue(e["error"])
        accepted = self.server.read_all("mixed", 0)
        self.assertEqual([e["value"] for e in accepted], [{"ok": 1}, {"ok": 2}])
        # The DLQ holds the raw text and the reason.
        dlq = []
        _, desc = self.server.json("GET", "/v1/topics/mixed.dlq", expect=200)
        for p in desc["partitions"]:
            dlq += self.server.read_all("mixed.dlq", p["partition"])
        self.assertEqual(len(dlq), 7)
        for e in dlq:
            self.assertIsInstance(e["value"], str)
            self.assertTrue(e["headers"]["sluice.error"])
        self.assertIn('{"broken":', [e["value"] for e in dlq])

    def test_unsplittable_bodies_get_400(self):
        for body, ctype in [(b"", NDJSON), (b"   \n  ", NDJSON), (b'[{"a":1},', JSON), (b'[{"a":1}] junk', JSON)]:
            status, _, data = self.server.request("POST", "/v1/topics/bad/events", body, ctype)
            self.assertEqual(status, 400, (body, data))
            self.assert_error(status, data)

    def test_reserved_and_invalid_topic_names_are_refused(self):
        for topic in [".hidden", "a%20b", "x" * 300]:
            status, _, data = self.server.request("POST", "/v1/topics/%s/events" % topic, '{"a":1}', NDJSON)
            self.assertEqual(status, 400, (topic, data))
            self.assert_error(status, data)

    def test_oversized_event_is_rejected_alone(self):
        big = b'{"pad":"' + b"x" * (2 * 1024 * 1024) + b'"}'
        status, _, data = self.server.request("POST", "/v1/topics/big/events", b'{"a":1}\n' + big + b'\n{"a":2}\n', NDJSON)
        self.assertEqual(status, 200, data[:200])
        body = json.loads(data)
        self.assertEqual((body["accepted"], body["rejected"]), (2, 1))
        self.assertEqual(body["errors"][0]["index"], 1)

    def test_keyed_partitioning_is_stable(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "keyed", "partitions": 4, "key": "user"}), JSON, expect=201)
        events = "".join(json.dumps({"user": u % 5, "seq": u}) + "\n" for u in range(100))
        self.server.json("POST", "/v1/topics/keyed/events", events, NDJSON, expect=200)
        owner = {}
        for p in range(4):
            for e in self.server.read_all("keyed", p):
                user = e["value"]["user"]
                self.assertEqual(owner.setdefault(user, p), p, "user %s in two partitions" % user)
                self.assertEqual(e["key"], str(user))
        self.assertEqual(len(owner), 5)
        # ?key= overrides the topic's key field.
        _, body = self.server.json("POST", "/v1/topics/keyed/events?key=seq", '{"user":1,"seq":7}', NDJSON, expect=200)
        p = body["appends"][0]["partition"]
        self.assertEqual(self.server.read_all("keyed", p)[-1]["key"], "7")

    def test_idempotency_key_appends_once(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "idem", "partitions": 2}), JSON, expect=201)
        body = '{"n":1}\n{"n":2}\n{"n":3}\n'
        hdrs = dict(NDJSON, **{"Idempotency-Key": "req-1"})
        _, first = self.server.json("POST", "/v1/topics/idem/events", body, hdrs, expect=200)
        _, again = self.server.json("POST", "/v1/topics/idem/events", body, hdrs, expect=200)
        self.assertEqual(first["accepted"], again["accepted"])
        self.assertEqual(first["first_offset"], again["first_offset"])
        total = sum(len(self.server.read_all("idem", p)) for p in range(2))
        self.assertEqual(total, 3)


class TopicAdminTest(ServerTestCase):
    def test_create_describe_list_delete(self):
        _, t = self.server.json("POST", "/v1/topics", json.dumps({"name": "orders", "partitions": 3, "retention_ms": 3600000, "key": "id"}), JSON, expect=201)
        _, t = self.server.json("GET", "/v1/topics/orders", expect=200)
        self.assertEqual(t["name"], "orders")
        self.assertEqual([p["partition"] for p in t["partitions"]], [0, 1, 2])
        self.assertEqual(t["retention_ms"], 3600000)
        self.assertEqual(t["key"], "id")
        for p in t["partitions"]:
            self.assertEqual((p["start_offset"], p["end_offset"]), (0, 0))
        _, listing = self.server.json("GET", "/v1/topics", expect=200)
        names = [x["name"] for x in (listing["topics"] if isinstance(listing, dict) else listing)]
        self.assertIn("orders", names)
        status, _, data = self.server.request("POST", "/v1/topics", json.dumps({"name": "orders"}), JSON)
        self.assertEqual(status, 409)
        self.assert_error(status, data)
        self.server.json("DELETE", "/v1/topics/orders", expect=200)
        status, _, data = self.server.request("GET", "/v1/topics/orders")
        self.assertEqual(status, 404)
        self.assert_error(status, data)
        status, _, data = self.server.request("DELETE", "/v1/topics/orders")
        self.assertEqual(status, 404)

    def test_bad_topic_requests(self):
        for body in ['{"name":"a/b"}', '{"name":".hidden"}', '{"name":""}', '{"partitions":2}', '{"name":"x","partitions":0}',
                     '{"name":"x","partitions":"many"}', 'not json', '[]']:
            status, _, data = self.server.request("POST", "/v1/topics", body, JSON)
            self.assertEqual(status, 400, (body, data))
            self.assert_error(status, data)


class ReplayTest(ServerTestCase):
    def test_read_by_offset_and_time(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "replay", "partitions": 1}), JSON, expect=201)
        self.server.json("POST", "/v1/topics/replay/events", "".join('{"i":%d}\n' % i for i in range(10)), NDJSON, expect=200)
        time.sleep(0.05)
        cut = time.time()
        time.sleep(0.05)
        self.server.json("POST", "/v1/topics/replay/events", "".join('{"i":%d}\n' % i for i in range(10, 15)), NDJSON, expect=200)
        _, page = self.server.json("GET", "/v1/topics/replay/events?partition=0&offset=3&limit=4", expect=200)
        self.assertEqual([e["value"]["i"] for e in page["events"]], [3, 4, 5, 6])
        self.assertEqual([e["offset"] for e in page["events"]], [3, 4, 5, 6])
        self.assertEqual(page["next_offset"], 7)
        for e in page["events"]:
            self.assertEqual(e["partition"], 0)
            self.assertIsInstance(e["timestamp"], (int, str))
        from_time = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(cut)) + ".%03dZ" % (int(cut * 1000) % 1000)
        _, page = self.server.json("GET", "/v1/topics/replay/events?partition=0&from_time=" + from_time, expect=200)
        self.assertEqual([e["value"]["i"] for e in page["events"]], [10, 11, 12, 13, 14])
        _, page = self.server.json("GET", "/v1/topics/replay/events?partition=0&offset=15", expect=200)
        self.assertEqual(page["events"], [])
        self.assertEqual(page["next_offset"], 15)

    def test_bad_read_parameters(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "params", "partitions": 2}), JSON, expect=201)
        for query in ["partition=x&offset=0", "partition=-1&offset=0", "partition=2&offset=0", "partition=0&offset=abc",
                      "partition=0&offset=-5", "partition=0&offset=0&limit=0", "partition=0&offset=0&limit=many",
                      "partition=0&from_time=yesterday", "partition=0&offset=99"]:
            status, _, data = self.server.request("GET", "/v1/topics/params/events?" + query)
            self.assertIn(status, (400, 416), (query, data))
            self.assert_error(status, data)
        status, _, data = self.server.request("GET", "/v1/topics/nope/events?partition=0&offset=0")
        self.assertEqual(status, 404)
        self.assert_error(status, data)


class RoutingAndConnectionsTest(ServerTestCase):
    def test_unknown_route_and_wrong_method(self):
        status, _, data = self.server.request("GET", "/v2/nothing")
        self.assertEqual(status, 404)
        self.assert_error(status, data, "not_found")
        status, hdrs, data = self.server.request("PUT", "/v1/topics")
        self.assertEqual(status, 405)
        self.assert_error(status, data)
        self.assertIn("allow", hdrs)

    def test_health_ready_and_keep_alive(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        for path in ["/health", "/ready", "/health"]:
            conn.request("GET", path)
            res = conn.getresponse()
            res.read()
            self.assertEqual(res.status, 200)
        conn.close()

    def test_truncated_chunked_body_ingests_nothing(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "chunky", "partitions": 1}), JSON, expect=201)
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"POST /v1/topics/chunky/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n8\r\n{\"a\":1}\n\r\n20\r\n{\"a\":2")
            s.shutdown(socket.SHUT_WR)
            s.recv(4096)  # whatever the server says (or nothing), it must not ingest
        time.sleep(0.2)
        self.assertEqual(self.server.read_all("chunky", 0), [])
        # A well-formed chunked body works.
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"POST /v1/topics/chunky/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                      b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n8\r\n{\"a\":1}\n\r\n0\r\n\r\n")
            reply = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        self.assertIn(b" 200 ", reply.split(b"\r\n")[0] + b" ")
        self.assertEqual(len(self.server.read_all("chunky", 0)), 1)

    def test_disconnect_mid_request_and_slow_client_do_not_hurt_others(self):
        # A client that promises 1000 bytes, sends 10 and vanishes.
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"POST /v1/topics/vanish/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"a\":1}\n")
        # A slow client that sends half a request line and stalls.
        slow = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        slow.sendall(b"POST /v1/topics/slow/eve")
        # Others are served meanwhile.
        for _ in range(5):
            self.server.json("POST", "/v1/topics/others/events", '{"a":1}', NDJSON, expect=200)
        slow.close()
        status, _, _ = self.server.request("GET", "/v1/topics/vanish")
        self.assertIn(status, (200, 404))
        if status == 200:
            self.assertEqual(self.server.read_all("vanish", 0), [])


class AutoCreateOffTest(ServerTestCase):
    CONFIG = "[ingest]\nauto_create_topics = false\nmax_body_bytes = \"64KiB\"\n"

    def test_unknown_topic_is_404(self):
        status, _, data = self.server.request("POST", "/v1/topics/ghost/events", '{"a":1}', NDJSON)
        self.assertEqual(status, 404)
        self.assertIn("ghost", self.assert_error(status, data)["message"])

    def test_configured_body_limit(self):
        self.server.json("POST", "/v1/topics", json.dumps({"name": "small"}), JSON, expect=201)
        status, _, data = self.server.request("POST", "/v1/topics/small/events", '{"p":"%s"}' % ("x" * 70000), NDJSON)
        self.assertEqual(status, 413)
        self.assert_error(status, data)
        self.server.json("GET", "/health", expect=200)


class MetricsTest(ServerTestCase):
    def test_metrics_are_valid_prometheus_text(self):
        self.server.json("POST", "/v1/topics/m/events", '{"a":1}\n{"a":2}\nnope\n', NDJSON, expect=200)
        status, hdrs, data = self.server.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/plain"))
        text = data.decode()
        for name in ["sluice_ingest_events_total", "sluice_http_requests_total", "sluice_log_fsync_seconds_bucket",
                     "sluice_log_end_offset", "sluice_ingest_rejected_total",
                     "sluice_process_resident_memory_bytes", "sluice_http_open_connections"]:
            self.assertIn(name, text)
        check = subprocess.run(["promtool", "check", "metrics"], input=data, capture_output=True)
        # promtool fails on parse errors and on lint problems (naming, types, help text).
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)


class LifecycleTest(unittest.TestCase):
    def test_sigterm_exits_zero_and_data_survives_restart(self):
        server = Server().start()
        try:
            server.json("POST", "/v1/topics", json.dumps({"name": "keep", "partitions": 1}), JSON, expect=201)
            server.json("POST", "/v1/topics/keep/events", '{"a":1}\n{"a":2}\n', NDJSON, expect=200)
            self.assertEqual(server.stop(), 0)
            self.assertIn("stopped cleanly", server.log())
            server.start()
            self.assertEqual([e["value"]["a"] for e in server.read_all("keep", 0)], [1, 2])
            self.assertEqual(server.stop(), 0)
        finally:
            server.cleanup()

    def test_usage_errors_exit_2(self):
        self.assertEqual(subprocess.run([SLUICE_BIN, "nonsense"], capture_output=True).returncode, 2)
        self.assertEqual(subprocess.run([SLUICE_BIN, "server", "--fsync", "sometimes"], capture_output=True).returncode, 2)
        r = subprocess.run([SLUICE_BIN, "server", "--config", "/nonexistent/sluice.toml"], capture_output=True)
        self.assertEqual(r.returncode, 2)

    def test_port_in_use_is_a_clear_runtime_error(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            import tempfile
            d = tempfile.mkdtemp(prefix="sluice-systest-")
            r = subprocess.run([SLUICE_BIN, "server", "--data-dir", d, "--http-port", str(port), "--kafka-port", "0"], capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn(str(port), r.stderr.decode())


class CliTest(ServerTestCase):
    def test_gen_and_topics_commands(self):
        r = subprocess.run([SLUICE_BIN, "gen", "clickstream", "--url", self.server.url(), "--events", "2000", "--rate", "0",
                            "--seed", "3", "--malformed", "0.01", "--quiet"], capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        _, desc = self.server.json("GET", "/v1/topics/clicks", expect=200)
        total = sum(p["end_offset"] - p["start_offset"] for p in desc["partitions"])
        _, dlq = self.server.json("GET", "/v1/topics/clicks.dlq", expect=200)
        rejected = sum(p["end_offset"] - p["start_offset"] for p in dlq["partitions"])
        self.assertEqual(total + rejected, 2000)
        self.assertGreater(rejected, 0)
        r = subprocess.run([SLUICE_BIN, "topics", "list", "--url", self.server.url()], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"clicks", r.stdout)
        r = subprocess.run([SLUICE_BIN, "topics", "create", "cli-made", "--partitions", "2", "--url", self.server.url()],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([SLUICE_BIN, "topics", "describe", "missing", "--url", self.server.url()], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"missing", r.stderr)


if __name__ == "__main__":
    unittest.main()
