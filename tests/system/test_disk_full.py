"""ENOSPC on a real (tiny tmpfs) file system: ingest answers 503 + Retry-After, acknowledged
events stay intact, nothing partial is stored, and ingest resumes once space returns."""

import json
import os
import unittest

from harness import Server, mount_small_tmpfs

NDJSON = {"Content-Type": "application/x-ndjson"}


class DiskFullTest(unittest.TestCase):
    def setUp(self):
        mount_small_tmpfs(self, "sluice-diskfull-", "24m", "disk-full covered by log unit tests")

    def test_enospc_gets_503_and_recovers(self):
        server = Server(data_dir=self.root, config='[log]\nsegment_bytes = "4MiB"\n').start()
        try:
            server.json("POST", "/v1/topics", json.dumps({"name": "full", "partitions": 1}), {"Content-Type": "application/json"}, expect=201)
            filler = os.path.join(self.mount, "filler")
            with open(filler, "wb") as f:
                f.write(b"\0" * (6 * 1024 * 1024))
            acked = 0
            full_status = None
            for b in range(400):
                body = "".join('{"b":%d,"i":%d,"pad":"%s"}\n' % (b, i, "x" * 200) for i in range(500))
                status, hdrs, data = server.request("POST", "/v1/topics/full/events", body, NDJSON)
                if status == 200:
                    acked += 500
                    continue
                full_status = status
                self.assertEqual(status, 503, data)
                self.assertIn("retry-after", hdrs)
                err = json.loads(data)["error"]
                self.assertIn("space", err["message"].lower() + err["code"])
                break
            self.assertIsNotNone(full_status, "the disk never filled up")
            self.assertGreater(acked, 0)
            # What was acknowledged is readable and complete; nothing partial follows it.
            events = server.read_all("full", 0)
            self.assertEqual(len(events), acked)
            # Space returns: ingest works again, offsets stay contiguous.
            os.remove(filler)
            status, _, data = server.request("POST", "/v1/topics/full/events", '{"after":1}\n', NDJSON)
            self.assertEqual(status, 200, data)
            events = server.read_all("full", 0)
            self.assertEqual([e["offset"] for e in events], list(range(acked + 1)))
            self.assertEqual(events[-1]["value"], {"after": 1})
            self.assertEqual(server.stop(), 0)
            server.start()
            self.assertEqual(len(server.read_all("full", 0)), acked + 1)
            self.assertEqual(server.stop(), 0)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
