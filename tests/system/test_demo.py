"""`sluice demo` prints the dashboard URL, serves the dashboard there, and its example views fill
up and push changes within seconds (SPEC §1, issue 5 item 4)."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

from harness import SLUICE_BIN, free_port


class DemoTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-demo-")
        self.port = free_port()
        self.out_path = os.path.join(self.dir, "out.log")
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            [SLUICE_BIN, "demo", "--data-dir", os.path.join(self.dir, "data"), "--http-port", str(self.port),
             "--pg-port", str(free_port()), "--kafka-port", str(free_port()), "--rate", "300"],
            stdout=self.out, stderr=subprocess.STDOUT)

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def output(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def sql(self, url, sql):
        req = urllib.request.Request(url + "v1/sql", data=json.dumps({"sql": sql}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.load(res)["results"]

    def test_prints_the_dashboard_url_and_the_views_move(self):
        deadline = time.time() + 60
        url = None
        while time.time() < deadline and url is None:
            self.assertIsNone(self.proc.poll(), self.output())
            m = re.search(r"dashboard:\s+(http://\S+/)", self.output())
            url = m.group(1) if m else None
            time.sleep(0.1)
        self.assertEqual(url, "http://127.0.0.1:%d/" % self.port, self.output())

        with urllib.request.urlopen(url, timeout=10) as res:
            self.assertEqual(res.status, 200)
            self.assertIn("text/html", res.headers["Content-Type"])
            page = res.read().decode()
        for asset in re.findall(r'"(/assets/[^"]+)"', page):
            with urllib.request.urlopen(url.rstrip("/") + asset, timeout=10) as res:
                self.assertEqual(res.status, 200, asset)

        views = {r[0] for r in self.sql(url, "SHOW MATERIALIZED VIEWS")[0]["rows"]}
        for name in ("revenue_per_country_minute", "top_pages_10m", "suspicious_accounts"):
            self.assertIn(name, views)

        # Within seconds: rows in the views, and a live change on the SSE stream the dashboard reads.
        deadline = time.time() + 30
        counts = {}
        while time.time() < deadline:
            counts = {v: self.sql(url, "SELECT count(*) FROM %s" % v)[0]["rows"][0][0]
                      for v in ("revenue_per_country_minute", "top_pages_10m")}
            if all(c > 0 for c in counts.values()):
                break
            time.sleep(0.5)
        self.assertTrue(all(c > 0 for c in counts.values()), counts)

        with urllib.request.urlopen(url + "v1/subscribe?view=revenue_per_country_minute", timeout=30) as res:
            events = []
            started = time.time()
            for raw in res:
                line = raw.decode().strip()
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if events[-1]["type"] == "change":
                        break
                self.assertLess(time.time() - started, 20, "no change within 20 s")
        self.assertEqual(events[0]["type"], "snapshot")
        self.assertEqual(events[-1]["type"], "change")


if __name__ == "__main__":
    unittest.main()
