"""Subscriptions (SPEC §2 /v1/subscribe and /v1/ws, §5 SUBSCRIBE): the real binary, real clients.

SSE is read incrementally with http.client; WebSocket is a minimal RFC 6455 client written here
over a raw socket; pgwire uses psycopg 3 (streaming, single-row mode) and psql.
"""

import base64
import hashlib
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

from harness import Server

for _path in ("/usr/lib/python3/dist-packages",):
    if os.path.isdir(_path) and _path not in sys.path:
        sys.path.append(_path)
try:
    import psycopg  # noqa: E402
except ImportError:  # pragma: no cover
    psycopg = None

CONFIG = """
[subscriptions]
heartbeat = "300ms"
buffer_batches = 16
buffer_bytes = "1MiB"
history_batches = 100
max_message_bytes = "4KiB"
"""


# ---- Server-Sent Events ------------------------------------------------------------------------

class SmallBufferConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket has a small receive buffer (set before connecting, so the
    TCP window stays small): a client that stops reading blocks the server quickly."""

    def __init__(self, *args, rcvbuf=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.rcvbuf = rcvbuf

    def connect(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        sock.settimeout(self.timeout)
        sock.connect((self.host, self.port))
        self.sock = sock


class Sse:
    def __init__(self, server, query, headers=None, timeout=15, rcvbuf=None):
        self.conn = SmallBufferConnection("127.0.0.1", server.port, timeout=timeout, rcvbuf=rcvbuf)
        self.conn.request("GET", "/v1/subscribe?" + query, headers=headers or {})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.comments = 0

    def next_event(self):
        """The next event as {"id", "event", "data"} (data parsed), or None at the end."""
        event = {"id": None, "event": "", "data": None}
        data = []
        while True:
            line = self.resp.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if line == "":
                if data:
                    event["data"] = json.loads("\n".join(data))
                    return event
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data.append(value)
            elif field in ("id", "event"):
                event[field] = value

    def close(self):
        self.conn.close()


# ---- WebSocket (RFC 6455, client side) -----------------------------------------------------------

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Ws:
    def __init__(self, port, path="/v1/ws", timeout=15):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("connection closed during the handshake: %r" % head)
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        if self.status == 101:
            expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            assert self.headers.get("sec-websocket-accept") == expected, self.headers
        self.pings = 0
        self.pongs = 0

    def send_frame(self, opcode, payload, mask=True, fin=True, rsv=0):
        header = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
        n = len(payload)
        bit = 0x80 if mask else 0
        if n < 126:
            header += bytes([bit | n])
        elif n < 65536:
            header += bytes([bit | 126]) + struct.pack("!H", n)
        else:
            header += bytes([bit | 127]) + struct.pack("!Q", n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            header += key
        self.sock.sendall(header + payload)

    def send_text(self, text):
        self.send_frame(0x1, text.encode())

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self):
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._read(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._read(8))
        assert not (b1 & 0x80), "server frames must not be masked"
        return b0 & 0x0F, bool(b0 & 0x80), self._read(n)

    def recv(self, control=False):
        """The next message: ("text", str), ("binary", bytes) or ("close", code, reason); with
        `control`, also ("ping", payload) and ("pong", payload). Pings are answered; fragments
        are joined."""
        parts = []
        kind = None
        while True:
            opcode, fin, payload = self.recv_frame()
            if opcode == 0x9:
                self.pings += 1
                self.send_frame(0xA, payload)
                if control:
                    return ("ping", payload)
                continue
            if opcode == 0xA:
                self.pongs += 1
                if control:
                    return ("pong", payload)
                continue
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return ("close", code, payload[2:].decode(errors="replace"))
            if opcode in (0x1, 0x2):
                kind = "text" if opcode == 0x1 else "binary"
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                return (kind, data.decode()) if kind == "text" else (kind, data)

    def recv_json(self):
        message = self.recv()
        assert message[0] == "text", message
        return json.loads(message[1])

    def close(self):
        try:
            self.send_frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


# ---- helpers ---------------------------------------------------------------------------------------

def apply_changes(state, message):
    """Applies a snapshot or change message to a {row tuple: count} multiset."""
    if message["type"] == "snapshot":
        state.clear()
        for row in message["rows"]:
            state[tuple(row)] = state.get(tuple(row), 0) + 1
        return
    for row in message["deletes"]:
        key = tuple(row)
        state[key] -= 1
        if state[key] == 0:
            del state[key]
    for row in message["inserts"]:
        state[tuple(row)] = state.get(tuple(row), 0) + 1


def seq_of(event_id):
    return int(event_id.rsplit("-", 1)[1])


class SubscribeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(config=CONFIG).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def sql(self, text, expect=200):
        status, body = self.server.json("POST", "/v1/sql", json.dumps({"sql": text}))
        self.assertEqual(status, expect, body)
        return body

    def ingest(self, topic, events):
        body = "\n".join(json.dumps(e) for e in events)
        status, doc = self.server.json("POST", "/v1/topics/%s/events" % topic, body,
                                       {"Content-Type": "application/x-ndjson"})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["accepted"], len(events), doc)

    def rows(self, query):
        return self.sql(query)["results"][0]["rows"]

    def wait_rows(self, query, check, timeout=20):
        deadline = time.time() + timeout
        while True:
            rows = self.rows(query)
            if check(rows):
                return rows
            if time.time() > deadline:
                raise AssertionError("timed out waiting on %s: %s" % (query, rows))
            time.sleep(0.05)

    def make_counts(self, name):
        """A source `{name}_src` and a view `{name}` counting events per page."""
        self.sql("CREATE SOURCE %s_src (user_id BIGINT, page VARCHAR, pad VARCHAR) WITH (topic = '%s_src')" % (name, name))
        self.sql("CREATE MATERIALIZED VIEW %s AS SELECT page, count(*) AS views FROM %s_src GROUP BY page" % (name, name))
        return name + "_src"

    def read_until(self, sse, predicate, timeout=20):
        deadline = time.time() + timeout
        events = []
        while time.time() < deadline:
            event = sse.next_event()
            self.assertIsNotNone(event, "stream ended early after %s" % events)
            events.append(event)
            if predicate(event, events):
                return events
        raise AssertionError("condition not met; events: %s" % events)

    # ---- SSE ----------------------------------------------------------------------------------

    def test_sse_snapshot_then_live_changes_and_heartbeats(self):
        src = self.make_counts("live")
        self.ingest(src, [{"user_id": 1, "page": "a"}, {"user_id": 2, "page": "a"}])
        self.wait_rows("SELECT * FROM live", lambda r: r == [["a", 2]])
        sse = Sse(self.server, "view=live")
        try:
            self.assertEqual(sse.status, 200)
            self.assertTrue(sse.resp.getheader("Content-Type").startswith("text/event-stream"))
            first = sse.next_event()
            self.assertEqual(first["event"], "snapshot")
            snap = first["data"]
            self.assertEqual(snap["type"], "snapshot")
            self.assertFalse(snap["resync"])
            self.assertEqual([c["name"] for c in snap["columns"]], ["page", "views"])
            self.assertEqual(snap["rows"], [["a", 2]])
            self.assertEqual(first["id"], snap["id"])
            state = {}
            apply_changes(state, snap)

            self.ingest(src, [{"user_id": 3, "page": "a"}, {"user_id": 4, "page": "b"}])
            last = [seq_of(first["id"])]

            def caught_up(event, _):
                self.assertEqual(event["event"], "")  # changes are plain "message" events
                change = event["data"]
                self.assertEqual(set(change), {"type", "id", "ts", "inserts", "deletes"})
                self.assertGreater(seq_of(event["id"]), last[0])
                last[0] = seq_of(event["id"])
                apply_changes(state, change)
                return state == {("a", 3): 1, ("b", 1): 1}

            events = self.read_until(sse, caught_up)
            # The aggregate's update arrives as a delete of the old row and an insert of the new.
            deletes = [row for e in events for row in e["data"]["deletes"]]
            self.assertIn(["a", 2], deletes)
            # Nothing happens now: heartbeat comments keep the stream alive.
            before = sse.comments
            sse.conn.sock.settimeout(1)
            ingest_after = threading.Timer(1.2, lambda: self.ingest(src, [{"user_id": 5, "page": "c"}]))
            ingest_after.start()
            event = sse.next_event()
            ingest_after.join()
            self.assertGreater(sse.comments, before)
            self.assertEqual(event["data"]["inserts"], [["c", 1]])
        finally:
            sse.close()

    def test_sse_sql_filter_and_projection(self):
        src = self.make_counts("filtered")
        self.ingest(src, [{"page": "a"}, {"page": "a"}, {"page": "b"}])
        self.wait_rows("SELECT * FROM filtered", lambda r: sorted(r) == [["a", 2], ["b", 1]])
        query = urllib.parse.urlencode({"sql": "SELECT upper(page) AS p, views FROM filtered WHERE views >= 2"})
        sse = Sse(self.server, query)
        try:
            self.assertEqual(sse.status, 200)
            snap = sse.next_event()["data"]
            self.assertEqual([c["name"] for c in snap["columns"]], ["p", "views"])
            self.assertEqual(snap["rows"], [["A", 2]])
            self.ingest(src, [{"page": "b"}, {"page": "c"}])  # b reaches 2, c stays out
            state = {}
            apply_changes(state, snap)
            self.read_until(sse, lambda e, _: (apply_changes(state, e["data"]), state == {("A", 2): 1, ("B", 2): 1})[1])
            self.ingest(src, [{"page": "c"}, {"page": "a"}])
            events = self.read_until(sse, lambda e, _: (apply_changes(state, e["data"]),
                                                        state == {("A", 3): 1, ("B", 2): 1, ("C", 2): 1})[1])
            for e in events:
                for row in e["data"]["inserts"] + e["data"]["deletes"]:
                    self.assertGreaterEqual(row[1], 2)
        finally:
            sse.close()

    def test_sse_last_event_id_resumes_without_loss(self):
        src = self.make_counts("resume")
        self.ingest(src, [{"page": "a"}])
        self.wait_rows("SELECT * FROM resume", lambda r: r == [["a", 1]])
        sse = Sse(self.server, "view=resume")
        state = {}
        first = sse.next_event()
        apply_changes(state, first["data"])
        self.ingest(src, [{"page": "b"}])
        events = self.read_until(sse, lambda e, _: (apply_changes(state, e["data"]), ("b", 1) in state)[1])
        last_id = events[-1]["id"]
        sse.close()

        # Changes while disconnected.
        for page in ["a", "c", "c", "d"]:
            self.ingest(src, [{"page": page}])
        expected = {tuple(r): 1 for r in self.wait_rows("SELECT * FROM resume", lambda r: len(r) == 4)}
        again = Sse(self.server, "view=resume", headers={"Last-Event-ID": last_id})
        try:
            self.assertEqual(again.status, 200)
            events = self.read_until(again, lambda e, _: (apply_changes(state, e["data"]), state == expected)[1])
            self.assertEqual(events[0]["event"], "", "resumed from history: no snapshot")
            self.assertEqual(seq_of(events[0]["id"]), seq_of(last_id) + 1)
        finally:
            again.close()

        # A resume point the server cannot serve: a snapshot flagged as a resync.
        for bad in ["0000deadbeef-3", last_id.rsplit("-", 1)[0] + "-999999"]:
            other = Sse(self.server, "view=resume&last_event_id=" + bad)
            try:
                event = other.next_event()
                self.assertEqual(event["event"], "snapshot")
                self.assertTrue(event["data"]["resync"])
                self.assertEqual({tuple(r): 1 for r in event["data"]["rows"]}, expected)
            finally:
                other.close()

    def test_slow_subscriber_is_resynced_without_slowing_others(self):
        self.sql("CREATE SOURCE flood_src (user_id BIGINT, page VARCHAR, pad VARCHAR) WITH (topic = 'flood_src')")
        self.sql("CREATE MATERIALIZED VIEW flood AS SELECT user_id, page, pad FROM flood_src")
        slow = Sse(self.server, "view=flood", rcvbuf=4096)
        fast = Sse(self.server, "view=flood")
        self.assertEqual(slow.next_event()["event"], "snapshot")  # then it stops reading
        self.assertEqual(fast.next_event()["event"], "snapshot")
        total = 40 * 500
        fast_rows = []
        fast_resyncs = []

        def read_fast():
            while len(fast_rows) < total:
                event = fast.next_event()
                if event is None:
                    return
                if event["event"] == "snapshot":
                    fast_resyncs.append(event)
                else:
                    fast_rows.extend(event["data"]["inserts"])

        reader = threading.Thread(target=read_fast)
        reader.start()
        pad = "x" * 200
        slowest = 0
        for batch in range(40):
            start = time.time()
            self.ingest("flood_src", [{"user_id": batch * 500 + i, "page": "p", "pad": pad} for i in range(500)])
            slowest = max(slowest, time.time() - start)
        reader.join(timeout=60)
        self.assertFalse(reader.is_alive(), "the fast subscriber did not get every row (%d)" % len(fast_rows))
        self.assertEqual(len(fast_rows), total)
        self.assertEqual(fast_resyncs, [])
        self.assertLess(slowest, 2.0, "ingest slowed down by a slow subscriber")
        fast.close()

        # The slow one reads again: whatever was in flight, then a snapshot flagged as a resync
        # that holds every row.
        slow.conn.sock.settimeout(30)
        resync = None
        while resync is None:
            event = slow.next_event()
            self.assertIsNotNone(event)
            if event["event"] == "snapshot":
                resync = event
        self.assertTrue(resync["data"]["resync"])
        self.assertEqual(len(resync["data"]["rows"]), total)
        slow.close()
        _, _, metrics = self.server.request("GET", "/metrics")
        line = [l for l in metrics.decode().splitlines()
                if l.startswith('sluice_subscription_resyncs_total{transport="sse"}')]
        self.assertTrue(line and float(line[0].split()[-1]) >= 1, line)

    def test_dropped_view_ends_sse_and_websocket_streams(self):
        self.make_counts("doomed")
        sse = Sse(self.server, "view=doomed")
        ws = Ws(self.server.port, "/v1/ws?view=doomed")
        try:
            self.assertEqual(sse.next_event()["event"], "snapshot")
            self.assertEqual(ws.recv_json()["type"], "snapshot")
            self.sql("DROP MATERIALIZED VIEW doomed")
            end = sse.next_event()
            self.assertEqual(end["event"], "end")
            self.assertEqual(end["data"]["error"]["code"], "not_found")
            self.assertIn("was dropped", end["data"]["error"]["message"])
            self.assertIsNone(sse.next_event())  # the response ends
            message = ws.recv_json()
            self.assertEqual(message["type"], "end")
            self.assertIn("was dropped", message["error"]["message"])
            close = ws.recv()
            self.assertEqual(close[0], "close")
            self.assertEqual(close[1], 1000)
        finally:
            sse.close()
            ws.close()
        status, _, body = self.server.request("GET", "/v1/subscribe?view=doomed")
        self.assertEqual(status, 404, body)

    def test_hundreds_of_idle_sse_connections_while_the_api_answers(self):
        src = self.make_counts("idle")
        self.ingest(src, [{"page": "a"}])
        self.wait_rows("SELECT * FROM idle", lambda r: r == [["a", 1]])
        socks = []
        try:
            for _ in range(220):
                s = socket.create_connection(("127.0.0.1", self.server.port), timeout=15)
                s.sendall(b"GET /v1/subscribe?view=idle HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            for s in socks:
                data = b""
                while b"event: snapshot" not in data:
                    chunk = s.recv(65536)
                    self.assertTrue(chunk)
                    data += chunk
            start = time.time()
            for _ in range(10):
                status, _, _ = self.server.request("GET", "/health", timeout=5)
                self.assertEqual(status, 200)
                self.assertEqual(self.rows("SELECT * FROM idle"), [["a", 1]])
            self.ingest(src, [{"page": "b"}])
            self.assertLess(time.time() - start, 5)
            _, _, metrics = self.server.request("GET", "/metrics")
            gauge = [l for l in metrics.decode().splitlines() if l.startswith('sluice_subscriptions{transport="sse"}')]
            self.assertTrue(gauge and float(gauge[0].split()[-1]) >= 220, gauge)
            # Every idle subscriber still gets the change.
            for s in socks[:20]:
                data = b""
                while b'["b",1]' not in data:
                    chunk = s.recv(65536)
                    self.assertTrue(chunk)
                    data += chunk
        finally:
            for s in socks:
                s.close()

    def test_malformed_subscribe_requests_get_clear_errors(self):
        self.make_counts("valid")
        cases = [
            ("/v1/subscribe", 400, "invalid_argument"),
            ("/v1/subscribe?view=nope", 404, "not_found"),
            ("/v1/subscribe?view=valid_src", 400, "invalid_argument"),  # a source
            ("/v1/subscribe?view=valid&sql=SELECT%201", 400, "invalid_argument"),
            ("/v1/subscribe?sql=SELEKT%20*%20FROM%20valid", 400, "invalid_argument"),
            ("/v1/subscribe?sql=SELECT%20count(*)%20FROM%20valid", 400, "invalid_argument"),
            ("/v1/subscribe?sql=SELECT%20nope%20FROM%20valid", 400, "invalid_argument"),
            ("/v1/subscribe?view=valid&last_event_id=garbage", 400, "invalid_argument"),
            ("/v1/ws", 426, "upgrade_required"),
        ]
        for path, status, code in cases:
            got, _, body = self.server.request("GET", path)
            self.assertEqual(got, status, (path, body))
            doc = json.loads(body)
            self.assertEqual(doc["error"]["code"], code, (path, doc))
            self.assertTrue(doc["error"]["message"])
        got, headers, _ = self.server.request("POST", "/v1/subscribe?view=valid", body="{}")
        self.assertEqual(got, 405)
        self.assertEqual(headers.get("allow"), "GET")
        got, _, body = self.server.request("GET", "/v1/subscribe?sql=SELECT%20count(*)%20FROM%20valid")
        self.assertIn("not supported", json.loads(body)["error"]["message"])

        def ws_error(messages, expect_code, expect_close):
            ws = Ws(self.server.port)
            try:
                self.assertEqual(ws.status, 101)
                for opcode, payload, mask in messages:
                    ws.send_frame(opcode, payload, mask=mask)
                reply = ws.recv()
                if expect_code is not None:
                    self.assertEqual(reply[0], "text", reply)
                    doc = json.loads(reply[1])
                    self.assertEqual(doc["type"], "error")
                    self.assertEqual(doc["error"]["code"], expect_code, doc)
                    reply = ws.recv()
                self.assertEqual(reply[0], "close", reply)
                self.assertEqual(reply[1], expect_close, reply)
            finally:
                ws.sock.close()

        ws_error([(0x1, b'{"subscribe": "nope"}', True)], "not_found", 1008)
        ws_error([(0x1, b"hello", True)], "invalid_argument", 1008)
        ws_error([(0x1, b'{"sql": "SELECT count(*) FROM valid"}', True)], "invalid_argument", 1008)
        ws_error([(0x2, b"\x00\x01", True)], "invalid_argument", 1003)   # binary
        ws_error([(0x1, b'{"subscribe": "valid"}', False)], None, 1002)   # unmasked client frame
        ws_error([(0x3, b"", True)], None, 1002)                          # reserved opcode
        ws_error([(0x1, b'{"subscribe": "' + b"v" * 8000 + b'"}', True)], None, 1009)  # over 4 KiB
        ws_error([(0x1, b'{"subscribe": "\xff\xfe"}', True)], None, 1007)  # not UTF-8
        status, _, _ = self.server.request("GET", "/health")
        self.assertEqual(status, 200)

    # ---- WebSocket ------------------------------------------------------------------------------

    def test_websocket_stream_ping_pong_and_resume(self):
        src = self.make_counts("wsview")
        self.ingest(src, [{"page": "a"}])
        self.wait_rows("SELECT * FROM wsview", lambda r: r == [["a", 1]])
        ws = Ws(self.server.port)
        try:
            self.assertEqual(ws.status, 101)
            ws.send_text(json.dumps({"subscribe": "wsview"}))
            snap = ws.recv_json()
            self.assertEqual(snap["type"], "snapshot")
            self.assertEqual(snap["rows"], [["a", 1]])
            state = {}
            apply_changes(state, snap)
            self.ingest(src, [{"page": "a"}, {"page": "b"}])
            last_id = None
            while state != {("a", 2): 1, ("b", 1): 1}:
                change = ws.recv_json()
                self.assertEqual(change["type"], "change")
                apply_changes(state, change)
                last_id = change["id"]
            ws.send_text(json.dumps({"subscribe": "wsview"}))  # a second subscribe is refused
            self.assertEqual(ws.recv_json()["type"], "error")
            # Our ping is answered; the server pings us (heartbeat) and we answer.
            ws.send_frame(0x9, b"hi")
            deadline = time.time() + 5
            ws.sock.settimeout(1)
            while (ws.pongs == 0 or ws.pings == 0) and time.time() < deadline:
                ws.recv(control=True)
            self.assertGreater(ws.pongs, 0)
            self.assertGreater(ws.pings, 0)
        finally:
            ws.close()
        self.ingest(src, [{"page": "c"}])
        ws = Ws(self.server.port, "/v1/ws?" + urllib.parse.urlencode({"view": "wsview", "last_event_id": last_id}))
        try:
            change = ws.recv_json()
            self.assertEqual(change["type"], "change")
            self.assertEqual(seq_of(change["id"]), seq_of(last_id) + 1)
            self.assertEqual(change["inserts"], [["c", 1]])
        finally:
            ws.close()

    # ---- pgwire ---------------------------------------------------------------------------------

    @unittest.skipIf(psycopg is None, "psycopg 3 is not installed")
    def test_pgwire_subscribe_streams_until_cancel(self):
        src = self.make_counts("pgsub")
        self.ingest(src, [{"page": "a"}])
        self.wait_rows("SELECT * FROM pgsub", lambda r: r == [["a", 1]])
        dsn = "host=127.0.0.1 port=%d user=tester dbname=sluice" % self.server.pg_port
        rows = []
        errors = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            def stream():
                try:
                    with conn.cursor() as cur:
                        for row in cur.stream("SUBSCRIBE TO pgsub"):
                            rows.append(row)
                except Exception as e:  # noqa: BLE001 - the cancel ends the stream with an error
                    errors.append(e)

            reader = threading.Thread(target=stream)
            reader.start()
            deadline = time.time() + 10
            while len(rows) < 1 and time.time() < deadline:
                time.sleep(0.02)
            self.assertEqual(len(rows), 1, rows)
            ts, diff, page, views = rows[0]
            self.assertEqual((diff, page, views), (1, "a", 1))
            self.assertGreater(ts, 1_600_000_000_000)
            self.ingest(src, [{"page": "a"}])
            while len(rows) < 3 and time.time() < deadline + 5:
                time.sleep(0.02)
            self.assertEqual(sorted((r[1], r[2], r[3]) for r in rows[1:]), [(-1, "a", 1), (1, "a", 2)])
            conn.cancel()
            reader.join(timeout=10)
            self.assertFalse(reader.is_alive())
            self.assertEqual(len(errors), 1)
            self.assertIsInstance(errors[0], psycopg.errors.QueryCanceled)
            # The connection is usable afterwards.
            self.assertEqual(conn.execute("SELECT * FROM pgsub").fetchall(), [("a", 2)])
            with self.assertRaises(psycopg.errors.UndefinedTable):
                conn.execute("SUBSCRIBE TO nope")

    def test_psql_subscribe_with_cancel(self):
        self.make_counts("psqlsub")
        env = dict(os.environ, PGCONNECT_TIMEOUT="10")
        proc = subprocess.Popen(["psql", "-X", "-h", "127.0.0.1", "-p", str(self.server.pg_port), "-U", "tester",
                                 "-d", "sluice", "-c", "SUBSCRIBE psqlsub WITH (SNAPSHOT = false)"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        time.sleep(1.5)
        if proc.poll() is not None:
            self.fail("SUBSCRIBE returned instead of streaming: %s" % (proc.communicate(),))
        proc.send_signal(signal.SIGINT)  # psql sends a CancelRequest
        _, err = proc.communicate(timeout=10)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("canceling statement due to user request", err)


if __name__ == "__main__":
    unittest.main()
