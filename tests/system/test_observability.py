"""Observability: a real Prometheus (Debian's) scrapes sluice and answers a query on a sluice
series; the alert rules pass `promtool check rules` and their unit tests; every metric the
Grafana dashboard and the alert rules use is one sluice exports."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from harness import Server, free_port

DEPLOY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy")


class ObservabilityTest(unittest.TestCase):
    def test_promtool_checks_the_shipped_rules_and_config(self):
        prom = os.path.join(DEPLOY, "prometheus")
        for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"],
                     ["check", "config", "prometheus.yml"]):
            r = subprocess.run(["promtool"] + args, cwd=prom, capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, (args, r.stdout.decode(), r.stderr.decode()))

    def test_dashboard_and_alerts_use_exported_metrics(self):
        server = Server().start()
        try:
            exported = self.exercise_and_scrape_names(server)
        finally:
            server.stop()
            server.cleanup()
        with open(os.path.join(DEPLOY, "grafana", "dashboards", "sluice.json")) as f:
            dashboard = json.load(f)
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        self.assertGreater(len(exprs), 10)
        with open(os.path.join(DEPLOY, "prometheus", "alerts.yml")) as f:
            exprs += re.findall(r"expr: (.*?)(?:\n\s+for:|\n\s+labels:)", f.read(), re.S)
        used = set()
        for e in exprs:
            for name in re.findall(r"\bsluice_[a-z0-9_]+", e):
                used.add(re.sub(r"_(bucket|sum|count)$", "", name))
        missing = sorted(used - exported)
        self.assertEqual(missing, [], "metrics used by deploy/ but not exported by sluice")
        for p in dashboard["panels"]:
            self.assertIn("gridPos", p)

    def exercise_and_scrape_names(self, server):
        def sql(text):
            status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql": text}), {"Content-Type": "application/json"})
            self.assertEqual(status, 200, data)
        sql("CREATE SOURCE s (k VARCHAR, v BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts) WITH (topic = 's')")
        sql("CREATE MATERIALIZED VIEW v WITH (allowed_lateness = '1 second') AS SELECT k, count(*) AS n FROM s GROUP BY k")
        sql("CREATE SINK out INTO out_topic AS SELECT k, v FROM s")
        events = [{"k": "a", "v": 1, "ts": "2026-01-01T00:01:00Z"}, {"k": "a", "v": "x"}, {"k": "a", "ts": "2026-01-01T00:00:00Z"}]
        for e in events:
            server.request("POST", "/v1/topics/s/events", json.dumps(e), {"Content-Type": "application/json"})
        server.request("POST", "/v1/topics/s/events", "not json", {"Content-Type": "application/json"})
        deadline = time.time() + 10
        text = ""
        while time.time() < deadline:
            _, _, data = server.request("GET", "/metrics")
            text = data.decode()
            if "sluice_late_events_dropped_total{" in text and "sluice_decode_rejected_events_total{" in text:
                break
            time.sleep(0.1)
        return set(re.findall(r"^# TYPE (\S+)", text, re.M))

    def test_real_prometheus_scrapes_sluice(self):
        server = Server().start()
        workdir = tempfile.mkdtemp(prefix="sluice-prom-")
        prom = None
        try:
            status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql":
                "CREATE SOURCE s (k VARCHAR) WITH (topic = 's'); "
                "CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n FROM s GROUP BY k"}),
                {"Content-Type": "application/json"})
            self.assertEqual(status, 200, data)
            server.request("POST", "/v1/topics/s/events", "\n".join('{"k": "k%d"}' % (i % 7) for i in range(100)),
                           {"Content-Type": "application/x-ndjson"})
            config = os.path.join(workdir, "prometheus.yml")
            with open(config, "w") as f:
                f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sluice\n"
                        "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % server.port)
            port = free_port()
            prom = subprocess.Popen(["prometheus", "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(workdir, "data"),
                                     "--web.listen-address=127.0.0.1:%d" % port],
                                    stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "prom.log"), "w"))
            query = "http://127.0.0.1:%d/api/v1/query?query=%s" % (port, urllib.parse.quote('sluice_view_rows{view="per_k"}'))
            deadline = time.time() + 60
            result = []
            while time.time() < deadline:
                try:
                    with urllib.request.urlopen(query, timeout=5) as r:
                        body = json.load(r)
                    result = body["data"]["result"]
                    if result and result[0]["value"][1] == "7":
                        break
                except OSError:
                    pass
                time.sleep(0.5)
            self.assertTrue(result, open(os.path.join(workdir, "prom.log")).read()[-2000:])
            self.assertEqual(result[0]["metric"]["job"], "sluice")
            self.assertEqual(result[0]["value"][1], "7")
        finally:
            if prom is not None:
                prom.terminate()
                prom.wait(timeout=30)
            server.stop()
            server.cleanup()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()


class EndToEndLatencyTest(unittest.TestCase):
    def test_view_e2e_latency_histogram_counts_live_rounds(self):
        server = Server().start()
        try:
            status, _, data = server.request("POST", "/v1/sql", json.dumps({"sql":
                "CREATE SOURCE e2e (id BIGINT) WITH (topic = 'e2e');"
                "CREATE MATERIALIZED VIEW e2e_n AS SELECT count(*) AS n FROM e2e"}), {"Content-Type": "application/json"})
            self.assertEqual(status, 200, data)

            def count():
                _, _, metrics = server.request("GET", "/metrics")
                m = re.search(r'^sluice_view_e2e_latency_seconds_count\{view="e2e_n"\} (\d+)', metrics.decode(), re.M)
                return int(m.group(1)) if m else None

            deadline = time.time() + 10
            while time.time() < deadline and count() is None:
                time.sleep(0.05)
            self.assertEqual(count(), 0)  # nothing applied yet
            for i in range(3):
                status, _, data = server.request("POST", "/v1/topics/e2e/events", json.dumps({"id": i}),
                                                 {"Content-Type": "application/json"})
                self.assertEqual(status, 200, data)
                time.sleep(0.2)
            deadline = time.time() + 10
            while time.time() < deadline and (count() or 0) < 1:
                time.sleep(0.05)
            self.assertGreaterEqual(count(), 1)
            self.assertLessEqual(count(), 3)  # one observation per round that applied events
        finally:
            server.stop()
            server.cleanup()

    def test_bench_latency_delivers_every_event(self):
        from harness import SLUICE_BIN
        # Three subscribers: each must receive all 200 rows (600 delays in the histogram).
        out = subprocess.run([SLUICE_BIN, "bench", "latency", "--rate", "200", "--seconds", "1", "--subscribers", "3"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("200 events", out.stdout)
        self.assertIn("3 subscriber(s)", out.stdout)
        m = re.search(r"p50 ([\d.]+) ms, p99 ([\d.]+) ms, p99\.9 ([\d.]+) ms, max ([\d.]+) ms \((\d+) rows received in all\)",
                      out.stdout)
        self.assertIsNotNone(m, out.stdout)
        self.assertEqual(int(m.group(5)), 600)
        self.assertLessEqual(float(m.group(1)), float(m.group(2)))
        self.assertIn("resync snapshots: 0", out.stdout)
        bad = subprocess.run([SLUICE_BIN, "bench", "latency", "--rate", "0"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("must be positive", bad.stderr)
