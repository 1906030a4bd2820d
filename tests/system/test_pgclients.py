"""Real PostgreSQL clients and tools against sluice's pgwire listener (SPEC §5):
node-postgres and postgres.js (tests/pgclients/clients.mjs, pinned by its package-lock.json),
and the queries Grafana's PostgreSQL data source and Metabase send, through psycopg 3."""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest

from harness import Server

for _path in ("/usr/lib/python3/dist-packages",):
    if os.path.isdir(_path) and _path not in sys.path:
        sys.path.append(_path)
import psycopg  # noqa: E402

CLIENTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pgclients")
HAVE_NODE_CLIENTS = shutil.which("node") is not None and all(
    os.path.isdir(os.path.join(CLIENTS_DIR, "node_modules", m)) for m in ("pg", "postgres"))

ORDERS = ("CREATE SOURCE orders (qty BIGINT, price DOUBLE, amount DECIMAL(10,2), country VARCHAR, paid BOOLEAN, "
          "ts TIMESTAMP, at TIMESTAMPTZ, note VARCHAR, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) "
          "WITH (topic = 'orders')")
REVENUE = ("CREATE MATERIALIZED VIEW revenue AS SELECT window_start, country, sum(amount) AS revenue, "
           "count(*) AS n FROM TUMBLE(orders, ts, INTERVAL '5' MINUTE) GROUP BY window_start, window_end, country")
COUNTRY = {1: "us", 5: "us", 9: "us", 2: "fr", 4: "fr", 6: "fr", 8: "fr", 3: "de", 7: "de", 10: "de"}
# qty i: ts 2026-01-01 00:i:05 (i minutes), `at` 250 ms later, paid for odd i, a note for even i.
EVENTS = [{"qty": i, "price": i * 0.5, "amount": "%d.25" % (i * 10), "country": COUNTRY[i], "paid": i % 2 == 1,
           "ts": "2026-01-01T00:%02d:05Z" % i, "at": "2026-01-01T00:%02d:05.250Z" % i,
           "note": ("n%d" % i) if i % 2 == 0 else None} for i in range(1, 11)]
# What `revenue` holds: (window_start minute, country) -> (revenue, n).
REVENUE_ROWS = {(0, "us"): ("10.25", 1), (0, "fr"): ("60.50", 2), (0, "de"): ("30.25", 1),
                (5, "us"): ("140.50", 2), (5, "fr"): ("140.50", 2), (5, "de"): ("70.25", 1),
                (10, "de"): ("100.25", 1)}
SCRAM_CONFIG = '[pgwire]\nauth = "scram-sha-256"\nusers = [{name = "alice", password = "s3cret pass"}]\n'


def setup_data(server, dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(ORDERS)
        conn.execute(REVENUE)
    server.json("POST", "/v1/topics/orders/events", "\n".join(json.dumps(e) for e in EVENTS),
                {"Content-Type": "application/x-ndjson"}, expect=200)
    deadline = time.time() + 30
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.time() < deadline:
            if conn.execute("SELECT count(*) FROM revenue").fetchone()[0] == len(REVENUE_ROWS):
                return
            time.sleep(0.1)
    raise AssertionError("the view did not fill:\n" + server.log()[-3000:])


def stop(server):
    rc = server.stop()
    log = server.log()
    server.cleanup()
    assert rc == 0, "server exit code %d:\n%s" % (rc, log[-3000:])
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def run_clients(server, mode, user, password=None):
    args = ["node", os.path.join(CLIENTS_DIR, "clients.mjs"), mode, str(server.pg_port), user]
    if password is not None:
        args.append(password)
    r = subprocess.run(args, capture_output=True, timeout=120, env=dict(os.environ, TZ="UTC"))
    if r.returncode != 0:
        raise AssertionError("clients.mjs %s failed:\n%s\nserver log tail:\n%s" % (
            mode, r.stderr.decode()[-4000:], server.log()[-3000:]))
    return json.loads(r.stdout.decode().strip().split("\n")[-1])


@unittest.skipIf(not HAVE_NODE_CLIENTS, "node or tests/pgclients/node_modules missing (scripts/install-deps.sh)")
class NodeClientsTest(unittest.TestCase):
    """Both node clients over SCRAM-SHA-256: every query kind, types, errors, the view."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(config=SCRAM_CONFIG).start()
        cls.dsn = "host=127.0.0.1 port=%d user=alice password='s3cret pass' dbname=sluice" % cls.server.pg_port
        setup_data(cls.server, cls.dsn)

    @classmethod
    def tearDownClass(cls):
        stop(cls.server)

    def test_pg_and_postgres_js(self):
        out = run_clients(self.server, "full", "alice", "s3cret pass")
        self.assertTrue(out["ok"])
        self.assertEqual(out["pg"], {"param_rows": 3, "view_rows": 3})
        self.assertEqual(out["postgres"], {"typed_param_rows": 3, "view_rows": 4})

    def test_wrong_password_is_refused_with_28p01(self):
        r = subprocess.run(["node", os.path.join(CLIENTS_DIR, "clients.mjs"), "connect", str(self.server.pg_port),
                            "alice", "wrong"], capture_output=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("password authentication failed", r.stderr.decode())


@unittest.skipIf(not HAVE_NODE_CLIENTS, "node or tests/pgclients/node_modules missing (scripts/install-deps.sh)")
class NodeClientsAuthTest(unittest.TestCase):
    def test_trust_loopback(self):
        server = Server().start()
        try:
            self.assertEqual(run_clients(server, "connect", "grafana")["users"], {"pg": "grafana", "postgres": "grafana"})
        finally:
            stop(server)

    def test_cleartext_password(self):
        server = Server(config=SCRAM_CONFIG.replace("scram-sha-256", "password")).start()
        try:
            self.assertEqual(run_clients(server, "connect", "alice", "s3cret pass")["users"],
                             {"pg": "alice", "postgres": "alice"})
        finally:
            stop(server)


class ToolQueriesTest(unittest.TestCase):
    """The queries Grafana's PostgreSQL data source and Metabase send, as they send them,
    through psycopg 3 (extended protocol)."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        cls.dsn = "host=127.0.0.1 port=%d user=grafana dbname=sluice" % cls.server.pg_port
        setup_data(cls.server, cls.dsn)
        cls.conn = psycopg.connect(cls.dsn, autocommit=True)

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()
        stop(cls.server)

    def query(self, sql):
        cur = self.conn.execute(sql)
        return [d.name for d in cur.description], cur.fetchall()

    # ---- Grafana -------------------------------------------------------------------------------
    def test_grafana_version_and_timescale_checks(self):
        self.assertEqual(self.query("SELECT current_setting('server_version_num')::int/100 as version"),
                         (["version"], [(1500,)]))
        self.assertEqual(self.query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"),
                         (["extversion"], []))
        name, rows = self.query("SELECT version()")
        self.assertRegex(rows[0][0], r"^PostgreSQL 15\.0")
        self.assertEqual(self.query("SELECT 1"), (["?column?"], [(1,)]))

    SCHEMA_CONSTRAINT = """
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )"""

    def test_grafana_schema_table_and_column_lists(self):
        _, rows = self.query("""SELECT schema_name AS "name"
            FROM information_schema.schemata
            WHERE schema_name NOT IN ('information_schema', 'pg_catalog', 'pg_toast', '_timescaledb_cache',
                                      '_timescaledb_catalog', '_timescaledb_internal', '_timescaledb_config',
                                      'timescaledb_information', 'timescaledb_experimental')
            ORDER BY schema_name""")
        self.assertEqual(rows, [("public",)])
        names, rows = self.query("""SELECT
            CASE WHEN %s
              THEN quote_ident(table_name)
              ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
            END AS "table"
            FROM information_schema.tables
            WHERE quote_ident(table_schema) NOT IN ('information_schema', 'pg_catalog', '_timescaledb_cache',
                             '_timescaledb_catalog', '_timescaledb_internal', '_timescaledb_config',
                             'timescaledb_information', 'timescaledb_experimental')
            ORDER BY CASE WHEN %s THEN 0 ELSE 1 END, 1""" % (self.SCHEMA_CONSTRAINT, self.SCHEMA_CONSTRAINT))
        self.assertEqual((names, rows), (["table"], [("orders",), ("revenue",)]))
        # With a schema picked in the query builder.
        _, rows = self.query("""SELECT quote_ident(table_name) AS "table" FROM information_schema.tables
            WHERE quote_ident(table_schema) = 'public' ORDER BY 1""")
        self.assertEqual(rows, [("orders",), ("revenue",)])
        _, rows = self.query("""SELECT quote_ident(table_name) AS "table" FROM information_schema.tables
            WHERE quote_ident(table_schema) = 'elsewhere' ORDER BY 1""")
        self.assertEqual(rows, [])
        names, rows = self.query("""SELECT quote_ident(column_name) AS "column", data_type AS "type"
            FROM information_schema.columns
            WHERE
              CASE WHEN array_length(parse_ident('revenue'),1) = 2
                THEN quote_ident(table_schema) = (parse_ident('revenue'))[1]
                  AND quote_ident(table_name) = (parse_ident('revenue'))[2]
                ELSE quote_ident(table_name) = 'revenue'
                  AND %s
              END""" % self.SCHEMA_CONSTRAINT)
        self.assertEqual(names, ["column", "type"])
        self.assertEqual(rows, [("window_start", "timestamp without time zone"), ("country", "character varying"),
                                ("revenue", "numeric"), ("n", "bigint")])

    def test_grafana_time_series_query(self):
        # What a panel sends after $__timeFilter(window_start) is expanded for its time range.
        names, rows = self.query("""SELECT window_start AS "time", country AS metric, revenue AS value FROM revenue
            WHERE window_start BETWEEN '2026-01-01T00:00:00Z' AND '2026-01-01T00:09:59Z' ORDER BY 1, 2""")
        self.assertEqual(names, ["time", "metric", "value"])
        got = [(t.minute, m, str(v)) for t, m, v in rows]
        want = sorted((k[0], k[1], v[0]) for k, v in REVENUE_ROWS.items() if k[0] < 10)
        self.assertEqual(got, want)
        # $__timeGroupAlias-style bucketing and a time-range filter on a source.
        names, rows = self.query("""SELECT date_trunc('minute', ts) AS "time", sum(qty) AS value FROM orders
            WHERE ts BETWEEN '2026-01-01T00:02:00Z' AND '2026-01-01T00:04:00Z' GROUP BY 1 ORDER BY 1""")
        self.assertEqual([(t.minute, v) for t, v in rows], [(2, 2), (3, 3)])

    # ---- Metabase ------------------------------------------------------------------------------
    def test_metabase_connection_setup(self):
        for stmt in ("SET extra_float_digits = 2",
                     "SET application_name = 'Metabase v0.55.1 [f8f63fdf]'",
                     "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ UNCOMMITTED",
                     "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"):
            self.conn.execute(stmt)
        self.assertEqual(self.query("SHOW TRANSACTION ISOLATION LEVEL")[1], [("read committed",)])
        self.assertEqual(self.query("show timezone")[1], [("UTC",)])

    def test_metabase_schema_and_table_discovery(self):
        names, rows = self.query("""SELECT nspname AS "TABLE_SCHEM", current_database() AS "TABLE_CATALOG"
            FROM pg_catalog.pg_namespace  WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'
            OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'
            OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))
            ORDER BY "TABLE_SCHEM\"""")
        self.assertEqual((names, rows), (["TABLE_SCHEM", "TABLE_CATALOG"], [("public", "sluice")]))
        names, rows = self.query("""SELECT "n"."nspname" AS "schema", "c"."relname" AS "name",
            CASE "c"."relkind" WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW'
              WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type",
            "d"."description" AS "description", "stat"."n_live_tup" AS "estimated_row_count"
            FROM "pg_catalog"."pg_class" AS "c"
            INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid"
            LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = '0')
              AND ("d"."classoid" = 'pg_class'::regclass)
            LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname")
              AND ("c"."relname" = "stat"."relname")
            WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ '^pg_')
              AND ("n"."nspname" <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm')
              AND ("n"."nspname" IN ('public'))
            ORDER BY "type" ASC, "schema" ASC, "name" ASC""")
        self.assertEqual(names, ["schema", "name", "type", "description", "estimated_row_count"])
        self.assertEqual(sorted(r[:4] for r in rows), [("public", "orders", "TABLE", None),
                                                       ("public", "revenue", "MATERIALIZED VIEW", None)])
        names, rows = self.query("""with table_privileges as (
             select NULL as role, t.schemaname as schema, t.objectname as table,
               pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'update') as update,
               pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'select') as select,
               pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'insert') as insert,
               pg_catalog.has_table_privilege(     current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'delete') as delete
             from (
               select schemaname, tablename as objectname from pg_catalog.pg_tables
               union
               select schemaname, viewname as objectname from pg_catalog.pg_views
               union
               select schemaname, matviewname as objectname from pg_catalog.pg_matviews
             ) t
             where t.schemaname !~ '^pg_'
               and t.schemaname <> 'information_schema'
               and pg_catalog.has_schema_privilege(current_user, t.schemaname, 'usage')
            )
            select t.*
            from table_privileges t""")
        self.assertEqual(names, ["role", "schema", "table", "update", "select", "insert", "delete"])
        self.assertEqual(sorted(rows), [(None, "public", "orders", False, True, False, False),
                                        (None, "public", "revenue", False, True, False, False)])

    def test_metabase_column_and_type_introspection(self):
        names, rows = self.query("""SELECT c.column_name AS name, c.udt_name AS "database-type",
            c.ordinal_position - 1 AS "database-position", c.table_schema AS "table-schema",
            c.table_name AS "table-name", c.is_nullable = 'YES' AS "database-required"
            FROM information_schema.columns AS c
            WHERE c.table_schema !~ '^information_schema|catalog_history|pg_' AND c.table_schema IN ('public')
              AND c.table_name = 'orders'
            ORDER BY "table-schema", "table-name", "database-position\"""")
        self.assertEqual([r[:3] for r in rows], [("qty", "int8", 0), ("price", "float8", 1), ("amount", "numeric", 2),
                                                 ("country", "varchar", 3), ("paid", "bool", 4),
                                                 ("ts", "timestamp", 5), ("at", "timestamptz", 6),
                                                 ("note", "varchar", 7)])
        self.assertTrue(all(r[3:5] == ("public", "orders") for r in rows))
        # Enum types: sluice has none.
        self.assertEqual(self.query("""SELECT DISTINCT t.typname as "enum_type" FROM pg_type t
            JOIN pg_enum e ON t.oid = e.enumtypid""")[1], [])
        # A type lookup by OID, as JDBC drivers make for a column type they do not know.
        names, rows = self.query("""SELECT t.oid, t.typname, t.typtype, t.typlen, t.typcategory
            FROM pg_catalog.pg_type t WHERE t.oid = 1700""")
        self.assertEqual(rows, [(1700, "numeric", "b", -1, "N")])
        _, rows = self.query("SELECT typname FROM pg_catalog.pg_type WHERE typname = 'int8'")
        self.assertEqual(rows, [("int8",)])

    def test_unsupported_catalog_sql_is_a_clear_error(self):
        with self.assertRaises(psycopg.errors.FeatureNotSupported) as e:
            self.conn.execute("SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a "
                              "ON a.attrelid = c.oid GROUP BY c.relname HAVING count(*) > 1")
        self.assertIn("not supported", str(e.exception))


if __name__ == "__main__":
    unittest.main()
