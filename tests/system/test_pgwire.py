"""The PostgreSQL wire protocol (SPEC §5) against the real binary with real clients: psql,
psycopg2 (simple query protocol) and psycopg 3 (extended protocol, server-side parameters,
binary results), plus raw sockets for the failure cases."""

import base64
import hashlib
import hmac
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time
import unittest

from harness import Server

# Debian's python3-psycopg2 / python3-psycopg live in the system's dist-packages, which an
# interpreter from elsewhere (pyenv) does not search.
for _path in ("/usr/lib/python3/dist-packages",):
    if os.path.isdir(_path) and _path not in sys.path:
        sys.path.append(_path)
import psycopg  # noqa: E402
import psycopg2  # noqa: E402

BID = ("CREATE SOURCE bid (auction BIGINT, price BIGINT, channel VARCHAR, amount DECIMAL(10,2), "
       "date_time TIMESTAMP) WITH (topic = 'bid')")


def psql(server, *args, user="tester", password=None, check=True):
    env = dict(os.environ, PGCONNECT_TIMEOUT="10")
    env.pop("PGPASSWORD", None)
    if password is not None:
        env["PGPASSWORD"] = password
    cmd = ["psql", "-X", "-h", "127.0.0.1", "-p", str(server.pg_port), "-U", user, "-d", "sluice",
           "-v", "ON_ERROR_STOP=1"] + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    if check and proc.returncode != 0:
        raise AssertionError("psql %s failed (%d): %s" % (args, proc.returncode, proc.stderr))
    return proc


def startup_packet(user="raw"):
    body = struct.pack("!I", 196608) + b"user\0" + user.encode() + b"\0database\0sluice\0\0"
    return struct.pack("!I", len(body) + 4) + body


def read_messages(sock, until=b"Z", limit=1 << 22):
    """Reads backend messages until one of type `until`; returns [(type, body)]."""
    data = b""
    messages = []
    while True:
        while len(data) >= 5:
            (length,) = struct.unpack("!I", data[1:5])
            if len(data) < 1 + length:
                break
            messages.append((data[0:1], data[5:1 + length]))
            data = data[1 + length:]
            if messages[-1][0] == until:
                return messages
        chunk = sock.recv(65536)
        if not chunk:
            return messages
        data += chunk
        if len(data) > limit:
            raise AssertionError("too much data")


class PgwireTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        cls.dsn = "host=127.0.0.1 port=%d user=tester dbname=sluice" % cls.server.pg_port
        conn = psycopg2.connect(cls.dsn)
        conn.autocommit = True
        conn.cursor().execute(BID)
        conn.close()
        events = [{"auction": i % 10, "price": i, "channel": "c%d" % (i % 3), "amount": "%d.25" % i,
                   "date_time": "2026-01-01T00:00:%02dZ" % (i % 60)} for i in range(100)]
        cls.server.json("POST", "/v1/topics/bid/events", "\n".join(json.dumps(e) for e in events),
                        {"Content-Type": "application/x-ndjson"}, expect=200)

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        log = cls.server.log()
        cls.server.cleanup()
        assert rc == 0, "server exit code %d:\n%s" % (rc, log[-3000:])
        assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]

    def test_psql_connects_and_queries(self):
        out = psql(self.server, "-A", "-t", "-c", "SELECT count(*), sum(price), max(channel) FROM bid").stdout
        self.assertEqual(out.strip(), "100|4950|c2")
        out = psql(self.server, "-A", "-t", "-c", "SELECT auction, price, amount, date_time FROM bid WHERE price = 61").stdout
        self.assertEqual(out.strip(), "1|61|61.25|2026-01-01 00:00:01")
        # Several statements in one Query message; every result is printed.
        out = psql(self.server, "-A", "-t", "-c", "SELECT 1 + 1 AS two FROM bid LIMIT 1; SHOW SOURCES").stdout
        self.assertIn("2", out)
        self.assertIn("bid|bid|CREATE SOURCE bid", out)
        version = psql(self.server, "-A", "-t", "-c", "SHOW server_version").stdout.strip()
        self.assertEqual(version, "15.0 (sluice)")

    def test_psql_describe_commands_use_the_catalog(self):
        psql(self.server, "-c", "CREATE MATERIALIZED VIEW IF NOT EXISTS per_channel AS "
             "SELECT channel, count(*) AS n FROM bid GROUP BY channel")
        out = psql(self.server, "-c", r"\dt").stdout
        self.assertIn("bid", out)
        self.assertIn("source", out)
        self.assertNotIn("per_channel", out)
        out = psql(self.server, "-c", r"\d").stdout
        self.assertIn("per_channel", out)
        self.assertIn("materialized view", out)
        out = psql(self.server, "-c", r"\d bid").stdout
        self.assertIn('Table "public.bid"', out)
        self.assertRegex(out, r"amount\s+\|\s+numeric\(10,2\)")
        self.assertRegex(out, r"date_time\s+\|\s+timestamp without time zone")
        out = psql(self.server, "-c", r"\d+ per_channel").stdout
        self.assertIn("View definition", out)
        self.assertIn("GROUP BY channel", out)
        out = psql(self.server, "-c", r"\l").stdout
        self.assertIn("sluice", out)
        proc = psql(self.server, "-c", r"\d nosuchthing", check=False)
        self.assertIn('Did not find any relation named "nosuchthing"', proc.stderr)
        # A dropped object disappears from \d: the answers are not a fixed list.
        psql(self.server, "-c", "DROP MATERIALIZED VIEW per_channel")
        self.assertNotIn("per_channel", psql(self.server, "-c", r"\d").stdout)

    def test_errors_carry_sqlstate_and_position(self):
        conn = psycopg2.connect(self.dsn)
        conn.autocommit = True
        cur = conn.cursor()
        cases = [
            ("SELECT pricee FROM bid", "42703"),
            ("SELECT * FROM nosuch", "42P01"),
            ("SELECT price FROM bid WHERE", "42601"),
            ("SELECT price / 0 FROM bid", "22012"),
            (BID, "42P07"),
            ("SELECT price FROM bid WHERE channel = 1", "42883"),
        ]
        for sql, code in cases:
            with self.assertRaises(psycopg2.Error, msg=sql) as ctx:
                cur.execute(sql)
            self.assertEqual(ctx.exception.pgcode, code, "%s: %s" % (sql, ctx.exception))
        with self.assertRaises(psycopg2.Error) as ctx:
            cur.execute("SELECT price,\n  pricee FROM bid")
        self.assertEqual(ctx.exception.diag.statement_position, "17")
        # psql prints the SQLSTATE with VERBOSITY verbose.
        proc = psql(self.server, "-c", r"\set VERBOSITY verbose", "-c", "SELECT nope FROM bid", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("42703", proc.stderr)
        conn.close()

    def test_psycopg2_transactions_and_client_side_parameters(self):
        conn = psycopg2.connect(self.dsn)  # autocommit off: BEGIN before the first statement
        cur = conn.cursor()
        cur.execute("SELECT price, channel FROM bid WHERE channel = %s AND price < %s ORDER BY price",
                    ("c1", 10))
        self.assertEqual(cur.fetchall(), [(1, "c1"), (4, "c1"), (7, "c1")])
        self.assertEqual(conn.get_transaction_status(), psycopg2.extensions.TRANSACTION_STATUS_INTRANS)
        with self.assertRaises(psycopg2.Error):
            cur.execute("SELECT nope FROM bid")
        self.assertEqual(conn.get_transaction_status(), psycopg2.extensions.TRANSACTION_STATUS_INERROR)
        with self.assertRaises(psycopg2.errors.InFailedSqlTransaction):
            cur.execute("SELECT 1 FROM bid")
        conn.rollback()
        cur.execute("SELECT count(*) FROM bid")
        self.assertEqual(cur.fetchone(), (100,))
        conn.close()

    def test_psycopg3_extended_protocol_parameters_and_binary(self):
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            # Server-side parameters: Parse/Bind/Describe/Execute with $1, $2.
            rows = conn.execute("SELECT price, channel, amount FROM bid WHERE channel = %s AND price > %s "
                                "ORDER BY price LIMIT 3", ("c2", 90)).fetchall()
            self.assertEqual([(r[0], r[1], str(r[2])) for r in rows],
                             [(92, "c2", "92.25"), (95, "c2", "95.25"), (98, "c2", "98.25")])
            # A value that would be SQL in a naive substitution stays a value.
            rows = conn.execute("SELECT count(*) FROM bid WHERE channel = %s", ("c1' OR '1'='1",)).fetchall()
            self.assertEqual(rows, [(0,)])
            # Binary results.
            cur = conn.cursor(binary=True)
            cur.execute("SELECT price, channel, date_time, price > %s AS big, amount FROM bid WHERE price = %s",
                        (50, 61))
            price, channel, ts, big, amount = cur.fetchone()
            self.assertEqual((price, channel, big, str(amount)), (61, "c1", True, "61.25"))
            self.assertEqual(ts.isoformat(), "2026-01-01T00:00:01")
            self.assertEqual([d.type_code for d in cur.description], [20, 1043, 1114, 16, 1700])
            # A prepared statement reused with different parameters.
            for p in (10, 20, 30):
                n = conn.execute("SELECT count(*) FROM bid WHERE price < %s", (p,), prepare=True).fetchone()[0]
                self.assertEqual(n, p)
            # A typed parameter with a bad value is refused by the server with 22P02.
            with self.assertRaises(psycopg.errors.InvalidTextRepresentation):
                conn.execute("SELECT count(*) FROM bid WHERE price < %s::bigint", ("x",))
            with self.assertRaises(psycopg.errors.UndefinedColumn):
                conn.execute("SELECT nope FROM bid WHERE price = %s", (1,))
            # The connection is usable after errors in the extended protocol.
            self.assertEqual(conn.execute("SELECT count(*) FROM bid WHERE price = %s", (1,)).fetchone(), (1,))

    def test_row_limit_in_execute(self):
        # psycopg 3's named (server-side) cursors fetch with Execute(max_rows).
        with psycopg.connect(self.dsn) as conn:
            cur = conn.cursor()
            cur.execute("SELECT price FROM bid ORDER BY price")
            self.assertEqual(len(cur.fetchall()), 100)
        # Raw: Parse/Bind/Execute(2) twice → PortalSuspended, then the rest.
        with socket.create_connection(("127.0.0.1", self.server.pg_port), timeout=10) as s:
            s.sendall(startup_packet())
            read_messages(s)
            def msg(t, body):
                return t + struct.pack("!I", len(body) + 4) + body
            s.sendall(msg(b"P", b"\0SELECT price FROM bid ORDER BY price LIMIT 5\0\0\0") +
                      msg(b"B", b"\0\0\0\0\0\0\0\0") +
                      msg(b"E", b"\0" + struct.pack("!i", 2)) + msg(b"E", b"\0" + struct.pack("!i", 2)) +
                      msg(b"E", b"\0" + struct.pack("!i", 0)) + msg(b"S", b""))
            types = b"".join(t for t, _ in read_messages(s))
            self.assertEqual(types, b"12DDsDDsDCZ")

    def test_client_disconnecting_mid_result(self):
        conn = psycopg2.connect(self.dsn)
        conn.autocommit = True
        conn.cursor().execute("CREATE SOURCE IF NOT EXISTS wide (id BIGINT, pad VARCHAR) WITH (topic = 'wide')")
        conn.close()
        pad = "x" * 200
        body = "\n".join(json.dumps({"id": i, "pad": pad}) for i in range(30000))
        self.server.json("POST", "/v1/topics/wide/events", body, {"Content-Type": "application/x-ndjson"}, expect=200)
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", self.server.pg_port), timeout=10)
            s.sendall(startup_packet())
            read_messages(s)
            query = b"SELECT * FROM wide\0"
            s.sendall(b"Q" + struct.pack("!I", len(query) + 4) + query)
            s.recv(1000)  # the first rows arrive; then the client vanishes
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
            s.close()
        # The server is fine and serves everyone else.
        out = psql(self.server, "-A", "-t", "-c", "SELECT count(*) FROM wide").stdout
        self.assertEqual(out.strip(), "30000")

    def test_garbage_bytes_do_not_hurt_other_clients(self):
        healthy = psycopg2.connect(self.dsn)
        healthy.autocommit = True
        rnd = random.Random(7)
        payloads = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", bytes(rnd.getrandbits(8) for _ in range(4096)),
                    struct.pack("!I", 0x7FFFFFFF) + b"xx", struct.pack("!II", 8, 1234)]
        # After a good startup: an unknown message type, a truncated Bind, a huge length.
        after_startup = [b"?" + struct.pack("!I", 8) + b"abcd", b"B" + struct.pack("!I", 6) + b"\0\0",
                         b"Q" + struct.pack("!I", 0x7FFFFFF0)]
        for payload in payloads + [None] * len(after_startup):
            s = socket.create_connection(("127.0.0.1", self.server.pg_port), timeout=10)
            if payload is None:
                s.sendall(startup_packet())
                read_messages(s)
                payload = after_startup.pop()
            try:
                s.sendall(payload)
                messages = read_messages(s, until=b"E")
                # If the server says anything, it is a FATAL protocol error; then it hangs up.
                if messages:
                    self.assertEqual(messages[-1][0], b"E")
                    self.assertIn(b"FATAL", messages[-1][1])
                self.assertEqual(s.recv(100), b"")
            except (ConnectionResetError, BrokenPipeError):
                pass
            finally:
                s.close()
            cur = healthy.cursor()
            cur.execute("SELECT count(*) FROM bid")
            self.assertEqual(cur.fetchone(), (100,))
        healthy.close()

    def test_ssl_request_is_declined_and_metrics_exported(self):
        with socket.create_connection(("127.0.0.1", self.server.pg_port), timeout=10) as s:
            s.sendall(struct.pack("!II", 8, 80877103))
            self.assertEqual(s.recv(1), b"N")
            s.sendall(startup_packet())
            types = b"".join(t for t, _ in read_messages(s))
            self.assertTrue(types.startswith(b"R") and types.endswith(b"Z"), types)
        # sslmode=prefer (libpq's default) falls back to plain text.
        psycopg2.connect(self.dsn + " sslmode=prefer").close()
        _, _, body = self.server.request("GET", "/metrics")
        text = body.decode()
        self.assertIn("sluice_pgwire_connections ", text)
        self.assertRegex(text, r'sluice_pgwire_queries_total\{status="ok"\} [1-9]')
        self.assertRegex(text, r'sluice_pgwire_queries_total\{status="error"\} [1-9]')
        self.assertIn("sluice_pgwire_bytes_sent_total", text)


class PgwireAuthTest(unittest.TestCase):
    def start(self, auth):
        config = ('[pgwire]\nauth = "%s"\nusers = [{name = "alice", password = "wonder land"},\n'
                  '         {name = "bob", password = "%s"}]\n')
        # bob's entry is a SCRAM secret (PostgreSQL's stored form) for the password "builder",
        # derived here with RFC 5802's formulas.
        secret = "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==${stored}:{server}"
        salted = hashlib.pbkdf2_hmac("sha256", b"builder", b"saltsaltsaltsalt", 4096)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = base64.b64encode(hashlib.sha256(client_key).digest()).decode()
        server_key = base64.b64encode(hmac.new(salted, b"Server Key", hashlib.sha256).digest()).decode()
        secret = secret.format(stored=stored, server=server_key)
        server = Server(config=config % (auth, secret)).start()
        self.addCleanup(server.cleanup)
        self.addCleanup(server.stop)
        return server

    def check(self, server, method):
        ok = psql(server, "-A", "-t", "-c", "SELECT 1 + 1", user="alice", password="wonder land")
        self.assertEqual(ok.stdout.strip(), "2")
        ok = psql(server, "-A", "-t", "-c", "SELECT current_user", user="bob", password="builder")
        self.assertEqual(ok.stdout.strip(), "bob")
        for user, password in (("alice", "wrong"), ("nobody", "wonder land"), ("bob", "wonder land")):
            bad = psql(server, "-c", "SELECT 1", user=user, password=password, check=False)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn('password authentication failed for user "%s"' % user, bad.stderr)
        # psycopg2 too; and the server says which method it asked for.
        dsn = "host=127.0.0.1 port=%d dbname=sluice user=alice" % server.pg_port
        psycopg2.connect(dsn + " password='wonder land'").close()
        with self.assertRaises(psycopg2.OperationalError):
            psycopg2.connect(dsn + " password=nope")
        with self.assertRaises(psycopg2.OperationalError):
            psycopg2.connect(dsn)  # no password at all
        self.assertIn("auth %s" % method, server.log())
        _, _, body = server.request("GET", "/metrics")
        self.assertRegex(body.decode(), r"sluice_pgwire_auth_failures_total [1-9]")

    def test_scram(self):
        server = self.start("scram-sha-256")
        self.check(server, "scram-sha-256")
        # The startup log names the method; psql with a password file-less PGPASSWORD did SCRAM.
        self.assertIn("auth scram-sha-256", server.log())

    def test_cleartext_password(self):
        server = self.start("password")
        self.check(server, "password")

    def test_bad_auth_config_is_a_clear_startup_error(self):
        server = Server(config='[pgwire]\nauth = "scram-sha-256"\n')
        self.addCleanup(server.cleanup)
        with self.assertRaises(RuntimeError) as ctx:
            server.start(timeout=10)
        self.assertIn("needs at least one user", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
