"""Runs the sqllogictest-style files under tests/sql/ against the real server.

File format (one record per blank-line-separated block; '#' starts a comment line):

  statement ok                 the SQL that follows must succeed
  statement error <text>       ... must fail with <text> in the error message
  ingest <topic> [key=<field>] each following line is one JSON event, ingested over HTTP
                               (partitioned by the field's value when key= is given)
  query [rowsort]              the SQL's rows must equal the lines after '----';
                               each row is its values joined by '|' (NULL for null);
                               rowsort compares ignoring order. Because views are maintained
                               asynchronously, a query is retried until it matches (5 s).
"""

import glob
import json
import os
import time
import unittest

from harness import Server

SQL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sql")
RETRY_SECONDS = 5.0


def parse_records(path):
    records = []
    with open(path) as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.startswith("#"):
            i += 1
            continue
        start = i + 1
        block = []
        while i < len(lines) and lines[i].strip():
            if not lines[i].startswith("#"):
                block.append(lines[i])
            i += 1
        records.append((start, block))
    return records


def format_value(v):
    if v is None:
        return "NULL"
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


class SqlLogicTest(unittest.TestCase):
    def run_file(self, path):
        server = Server().start()
        try:
            for line_no, block in parse_records(path):
                where = "%s:%d" % (os.path.basename(path), line_no)
                head = block[0].split()
                if head[0] == "statement":
                    sql = "\n".join(block[1:])
                    status, _, data = self.post_sql(server, sql)
                    if head[1] == "ok":
                        self.assertEqual(status, 200, "%s: %s" % (where, data))
                    else:
                        expected = " ".join(head[2:])
                        self.assertNotEqual(status, 200, "%s: expected an error" % where)
                        message = json.loads(data)["error"]["message"]
                        self.assertIn(expected, message, where)
                elif head[0] == "ingest":
                    body = "\n".join(block[1:]) + "\n"
                    target = "/v1/topics/%s/events" % head[1]
                    if len(head) > 2 and head[2].startswith("key="):
                        target += "?key=" + head[2][4:]
                    status, _, data = server.request("POST", target, body,
                                                     {"Content-Type": "application/x-ndjson"})
                    self.assertEqual(status, 200, "%s: %s" % (where, data))
                elif head[0] == "query":
                    sep = block.index("----")
                    sql = "\n".join(block[1:sep])
                    expected = block[sep + 1:]
                    rowsort = len(head) > 1 and head[1] == "rowsort"
                    deadline = time.time() + RETRY_SECONDS
                    while True:
                        status, _, data = self.post_sql(server, sql)
                        self.assertEqual(status, 200, "%s: %s" % (where, data))
                        rows = ["|".join(format_value(v) for v in row) for row in json.loads(data, parse_float=str)["results"][-1]["rows"]]
                        got, want = (sorted(rows), sorted(expected)) if rowsort else (rows, expected)
                        if got == want or time.time() > deadline:
                            break
                        time.sleep(0.05)
                    self.assertEqual(got, want, where)
                else:
                    self.fail("%s: unknown directive %r" % (where, head[0]))
        finally:
            server.stop()
            server.cleanup()

    @staticmethod
    def post_sql(server, sql):
        return server.request("POST", "/v1/sql", json.dumps({"sql": sql}), {"Content-Type": "application/json"})


def _make_test(path):
    return lambda self: self.run_file(path)


for _path in sorted(glob.glob(os.path.join(SQL_DIR, "*.slt"))):
    _name = "test_" + os.path.splitext(os.path.basename(_path))[0]
    setattr(SqlLogicTest, _name, _make_test(_path))


if __name__ == "__main__":
    unittest.main()
