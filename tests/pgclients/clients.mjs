// node-postgres (`pg`) and postgres.js (`postgres`) against sluice's PostgreSQL listener.
// tests/system/test_pgclients.py creates the source `orders` and the view `revenue`, ingests the
// events, and runs this script; every check is an assertion here (exit code 1 with the failing
// check on stderr), and the last stdout line is a JSON summary the Python side checks again.
//
// Usage: node clients.mjs full|connect PORT USER [PASSWORD]   (TZ=UTC: timestamps are read as UTC)
// `connect` only logs in with each client and asks who it is (for the auth methods).
import assert from "node:assert/strict";
import pg from "pg";
import postgres from "postgres";

const [mode, port, user, password] = process.argv.slice(2);
const connection = { host: "127.0.0.1", port: Number(port), user, database: "sluice" };
const summary = {};

// The rows test_pgclients.py ingests (its EVENTS): qty i = 1..10, ts 2026-01-01 00:0i:05.
const ORDER_COLUMNS = "qty, price, amount, country, paid, ts, at, note";

async function expectError(promise, code, position) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.code, code, `SQLSTATE of ${e.message}`);
    if (position !== undefined) assert.equal(Number(e.position), position, `position of ${e.message}`);
    return e.message;
  }
  assert.fail(`expected SQLSTATE ${code}`);
}

// ---- node-postgres ---------------------------------------------------------------------------
async function nodePostgres() {
  const client = new pg.Client({ ...connection, password });
  await client.connect();
  const out = {};

  // Simple query protocol (no parameters): text results through pg's default type parsers.
  let r = await client.query(`SELECT ${ORDER_COLUMNS} FROM orders WHERE qty = 3`);
  assert.equal(r.rows.length, 1);
  let row = r.rows[0];
  assert.equal(row.qty, "3");                  // int8: a string by default (no precision loss)
  assert.equal(row.price, 1.5);                // float8: a number
  assert.equal(row.amount, "30.25");           // numeric: a string
  assert.equal(row.country, "de");
  assert.equal(row.paid, true);                // bool
  assert.ok(row.ts instanceof Date);           // timestamp
  assert.equal(row.ts.toISOString(), "2026-01-01T00:03:05.000Z");
  assert.ok(row.at instanceof Date);           // timestamptz
  assert.equal(row.at.toISOString(), "2026-01-01T00:03:05.250Z");
  assert.equal(row.note, null);                // NULL
  assert.deepEqual(r.fields.map((f) => f.dataTypeID), [20, 701, 1700, 1043, 16, 1114, 1184, 1043]);

  // Extended protocol with parameters (text format), unnamed statement.
  r = await client.query("SELECT qty, country FROM orders WHERE country = $1 AND qty > $2 ORDER BY qty", ["fr", 2]);
  assert.deepEqual(r.rows.map((x) => x.qty), ["4", "6", "8"]);
  out.param_rows = r.rows.length;

  // A named prepared statement, executed twice with different values.
  for (const [k, want] of [[1, "us"], [2, "fr"]]) {
    r = await client.query({ name: "by_qty", text: "SELECT country FROM orders WHERE qty = $1", values: [k] });
    assert.deepEqual(r.rows, [{ country: want }]);
  }

  // Binary results: pg asks for every column in binary. pg 8 passes each field through a UTF-8
  // string before its binary parser (brianc/node-postgres#3495), so only values whose bytes are
  // valid UTF-8 survive: an int8 3 and a bool. psycopg 3 checks every type's binary form
  // (test_pgwire.py).
  r = await client.query({ text: "SELECT qty, paid FROM orders WHERE qty = $1", values: [3], binary: true });
  assert.equal(String(r.rows[0].qty), "3");
  assert.equal(r.rows[0].paid, true);
  assert.deepEqual(r.fields.map((f) => f.format), ["binary", "binary"]);

  // A parameter cannot change the statement: it stays one string.
  r = await client.query("SELECT count(*) AS n FROM orders WHERE country = $1", ["de' OR 'x' = 'x"]);
  assert.equal(r.rows[0].n, "0");

  // Errors carry SQLSTATE and the 1-based character position psql points at.
  await expectError(client.query("SELECT nope FROM orders"), "42703", 8);
  await expectError(client.query("SELECT qty FROM missing_table"), "42P01", 17);
  await expectError(client.query("SELEC 1"), "42601", 1);
  await expectError(client.query("SELECT qty FROM orders WHERE qty = $1", ["not a number"]), "22P02");
  // The connection is still usable after errors.
  r = await client.query("SELECT count(*) AS n FROM orders");
  assert.equal(r.rows[0].n, "10");

  // The materialized view fed by the ingested events.
  r = await client.query("SELECT window_start, country, revenue, n FROM revenue WHERE country = $1 ORDER BY window_start", ["de"]);
  assert.deepEqual(r.rows.map((x) => [x.window_start.toISOString(), x.revenue, x.n]), [
    ["2026-01-01T00:00:00.000Z", "30.25", "1"],
    ["2026-01-01T00:05:00.000Z", "70.25", "1"],
    ["2026-01-01T00:10:00.000Z", "100.25", "1"],
  ]);
  out.view_rows = r.rows.length;

  // Session commands and the catalog queries drivers and tools send.
  r = await client.query("SELECT version()");
  assert.match(r.rows[0].version, /^PostgreSQL 15/);
  r = await client.query("SHOW server_version_num");
  assert.equal(r.rows[0].server_version_num, "150000");
  await client.query("BEGIN");
  await client.query("SELECT 1 AS one FROM orders LIMIT 1");
  await client.query("COMMIT");

  await client.end();
  return out;
}

// ---- postgres.js -----------------------------------------------------------------------------
async function postgresJs() {
  // fetch_types (the default) runs postgres.js's pg_type query for array types at connect.
  const sql = postgres({ ...connection, pass: password, max: 1, onnotice: () => {} });
  const out = {};

  // Tagged templates: named prepared statements, parameters in text format.
  let rows = await sql`SELECT qty, price, amount, country, paid, ts, at, note FROM orders WHERE qty = ${3}`;
  assert.equal(rows.length, 1);
  let row = rows[0];
  assert.equal(row.qty, "3");                  // int8: a string by default
  assert.equal(row.price, 1.5);
  assert.equal(row.amount, "30.25");
  assert.equal(row.country, "de");
  assert.equal(row.paid, true);
  assert.equal(row.ts.toISOString(), "2026-01-01T00:03:05.000Z");
  assert.equal(row.at.toISOString(), "2026-01-01T00:03:05.250Z");
  assert.equal(row.note, null);
  assert.deepEqual(rows.columns.map((c) => c.type), [20, 701, 1700, 1043, 16, 1114, 1184, 1043]);

  // Typed parameters: postgres.js sends bool (16) and timestamptz (1184, from a Date) typed.
  rows = await sql`SELECT qty FROM orders WHERE paid = ${false} AND at > ${new Date("2026-01-01T00:05:00Z")} ORDER BY qty`;
  assert.deepEqual(rows.map((x) => x.qty), ["6", "8", "10"]);
  out.typed_param_rows = rows.length;

  // The same statement again: postgres.js reuses its prepared statement.
  for (const [k, want] of [[1, "us"], [2, "fr"], [1, "us"]]) {
    rows = await sql`SELECT country FROM orders WHERE qty = ${k}`;
    assert.deepEqual(rows.map((x) => x.country), [want]);
  }

  // The simple query protocol: several statements in one message.
  const results = await sql.unsafe("SELECT count(*) AS n FROM orders; SELECT max(qty) AS m FROM orders").simple();
  assert.equal(results[0][0].n, "10");
  assert.equal(results[1][0].m, "10");

  // Errors.
  await expectError(sql`SELECT nope FROM orders`, "42703", 8);
  await expectError(sql`SELECT qty FROM orders WHERE qty = ${"x"}`, "22P02");
  await expectError(sql.unsafe("SELECT 1 +"), "42601");

  // The materialized view.
  rows = await sql`SELECT window_start, country, revenue FROM revenue
                    WHERE window_start >= ${new Date("2026-01-01T00:05:00Z")} ORDER BY country, window_start`;
  assert.deepEqual(rows.map((x) => [x.window_start.toISOString(), x.country, x.revenue]), [
    ["2026-01-01T00:05:00.000Z", "de", "70.25"],
    ["2026-01-01T00:10:00.000Z", "de", "100.25"],
    ["2026-01-01T00:05:00.000Z", "fr", "140.50"],
    ["2026-01-01T00:05:00.000Z", "us", "140.50"],
  ]);
  out.view_rows = rows.length;

  // A transaction block through postgres.js's sql.begin.
  const inTxn = await sql.begin(async (tx) => (await tx`SELECT count(*) AS n FROM revenue`)[0].n);
  assert.equal(inTxn, "7");

  await sql.end({ timeout: 5 });
  return out;
}

async function connectOnly() {
  const client = new pg.Client({ ...connection, password });
  await client.connect();
  const who = (await client.query("SELECT current_user AS u")).rows[0].u;
  await client.end();
  const sql = postgres({ ...connection, pass: password, max: 1 });
  const who2 = (await sql`SELECT current_user AS u`)[0].u;
  await sql.end({ timeout: 5 });
  return { pg: who, postgres: who2 };
}

try {
  if (mode === "connect") {
    summary.users = await connectOnly();
  } else {
    summary.pg = await nodePostgres();
    summary.postgres = await postgresJs();
  }
  summary.ok = true;
  console.log(JSON.stringify(summary));
} catch (e) {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
}
