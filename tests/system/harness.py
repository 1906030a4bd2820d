"""Shared helpers for system tests: start the real sluice binary, talk HTTP to it.

Only the Python standard library is used. Tests never mock sluice: they start the binary
built by `make test` (SLUICE_BIN) on a free port with its own data directory.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

SLUICE_BIN = os.environ.get("SLUICE_BIN", os.path.join(os.path.dirname(__file__), "../../build/debug/src/cli/sluice"))
ARTIFACTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "artifacts")


_handed_out = set()


def free_port():
    """A port nothing listens on now and that this process has not handed out before. The kernel
    may give the same ephemeral port to two binds in a row once the first socket is closed, so a
    server's HTTP, pgwire and Kafka ports could collide without the memory of earlier answers."""
    held = []
    try:
        while True:
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    finally:
        for s in held:
            s.close()


def mount_small_tmpfs(test, prefix, size, covered_by):
    """A real file system that fills up: mounts a tmpfs of `size` at test.mount (inside a new
    test.root), unmounted and removed when the test ends. Skips the test where mounting is not
    allowed (it needs root), naming the tests that cover the case instead (`covered_by`)."""
    test.root = tempfile.mkdtemp(prefix=prefix)
    test.mount = os.path.join(test.root, "data")
    os.makedirs(test.mount)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", test.mount], capture_output=True)
    if r.returncode != 0:
        shutil.rmtree(test.root, ignore_errors=True)
        test.skipTest("cannot mount a tmpfs here (needs root); %s" % covered_by)
    test.addCleanup(shutil.rmtree, test.root, ignore_errors=True)
    test.addCleanup(subprocess.run, ["umount", "-l", test.mount], capture_output=True)


class Server:
    """One sluice server process with its own data dir and port."""

    def __init__(self, data_dir=None, config=None, extra_args=()):
        self.owns_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="sluice-systest-")
        self.port = free_port()
        self.pg_port = free_port()
        self.kafka_port = free_port()
        self.config_path = None
        if config is not None:
            self.config_path = os.path.join(self.data_dir, "sluice.toml")
            with open(self.config_path, "w") as f:
                f.write(config)
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")

    def start(self, timeout=30):
        self.spawn()
        return self.wait_ready(timeout)

    def spawn(self):
        """Starts the process without waiting for it to be ready (e.g. to kill it while it recovers)."""
        args = [SLUICE_BIN, "server", "--data-dir", os.path.join(self.data_dir, "data"), "--http-port", str(self.port)]
        if self.config_path:
            args += ["--config", self.config_path]
        if "--pg-port" not in self.extra_args:
            args += ["--pg-port", str(self.pg_port)]
        if "--kafka-port" not in self.extra_args:
            args += ["--kafka-port", str(self.kafka_port)]
        args += self.extra_args
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log_file, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sluice exited with %d during startup:\n%s" % (self.proc.returncode, self.log()))
            try:
                status, _, _ = self.request("GET", "/ready", timeout=1)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("sluice did not become ready:\n" + self.log())

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log_file.close()

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.log_file.close()
        return rc

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def request(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            data = res.read()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, data
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None, expect=None):
        status, hdrs, data = self.request(method, path, body, headers)
        if expect is not None and status != expect:
            raise AssertionError("%s %s -> %d (expected %d): %s" % (method, path, status, expect, data[:500]))
        return status, json.loads(data) if data else None

    def read_all(self, topic, partition, limit=10000):
        """Every visible event of one partition, via the replay API."""
        events = []
        offset = 0
        while True:
            _, body = self.json("GET", "/v1/topics/%s/events?partition=%d&offset=%d&limit=%d" % (topic, partition, offset, limit), expect=200)
            events += body["events"]
            if not body["events"] or body["next_offset"] <= offset:
                return events
            offset = body["next_offset"]


def sql(server, text, expect=200):
    """POST /v1/sql; the decoded body, or AssertionError with the server log's tail."""
    status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": text}), {"Content-Type": "application/json"})
    if status != expect:
        raise AssertionError("%s -> %d (expected %d): %s\nserver log tail:\n%s" % (
            text, status, expect, data[:500], server.log()[-3000:]))
    return json.loads(data)


def ingest_keyed(server, topic, events, key):
    """NDJSON ingest partitioned by the field `key`."""
    body = "\n".join(json.dumps(e) for e in events) + "\n"
    status, _, data = server.request("POST", "/v1/topics/%s/events?key=%s" % (topic, key), body,
                                     {"Content-Type": "application/x-ndjson"})
    assert status == 200, data


def metric(server, series):
    """The value of one series (name with labels, as exposed) on /metrics; 0 if absent."""
    _, _, body = server.request("GET", "/metrics")
    for line in body.decode().split("\n"):
        if line.startswith(series + " "):
            return float(line.split(" ")[1])
    return 0.0


def net_rows(events):
    """Applies sink changes (sluice-op insert/delete): the resulting multiset of rows."""
    rows = {}
    for e in events:
        key = json.dumps(e["value"], sort_keys=True)
        rows[key] = rows.get(key, 0) + (-1 if e["headers"].get("sluice-op") == "delete" else 1)
    return {k: v for k, v in rows.items() if v != 0}


class ServerTestCase(unittest.TestCase):
    """Starts one server per test class (config/extra args from class attributes)."""

    CONFIG = None
    EXTRA_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server(config=cls.CONFIG, extra_args=cls.EXTRA_ARGS).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def assert_error(self, status, body, code=None):
        """The SPEC's error body: {"error": {"code": snake_case, "message": text}}."""
        doc = json.loads(body)
        self.assertIn("error", doc)
        self.assertRegex(doc["error"]["code"], r"^[a-z][a-z0-9_]*$")
        self.assertTrue(doc["error"]["message"])
        if code is not None:
            self.assertEqual(doc["error"]["code"], code, doc)
        return doc["error"]
