// The batch oracle: runs SQL in DuckDB over the same events sluice ingested.
// Input (stdin): {"cases": [{"events_file": path, "table": name, "columns": [[name, type], ...],
//                            "queries": [sql, ...]}]}
// A case may instead list several tables, "tables": [{"events_file", "table", "columns"}, ...],
// and "setup": [sql, ...] statements run after loading them.
// Output (stdout): {"results": [[rows of query 0, rows of query 1, ...], ...]} with every value
// as DuckDB's JSON text form (numbers as strings for exactness).
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';

const input = JSON.parse(readFileSync(0, 'utf8'));
const instance = await DuckDBInstance.create(':memory:');
const db = await instance.connect();
await db.run("SET TimeZone = 'UTC'");
const results = [];
for (const c of input.cases) {
  for (const t of c.tables ?? [c]) {
    const spec = '{' + t.columns.map(([n, type]) => `'${n}': '${type}'`).join(', ') + '}';
    await db.run(`CREATE OR REPLACE TABLE ${t.table} AS SELECT * FROM read_json('${t.events_file}', ` +
                 `format = 'newline_delimited', columns = ${spec}, ignore_errors = true)`);
  }
  for (const q of c.setup ?? []) await db.run(q);
  const out = [];
  for (const q of c.queries) {
    const reader = await db.runAndReadAll(q);
    out.push(reader.getRowsJson().map((row) => row.map((v) => (v === null ? null : String(v)))));
  }
  results.push(out);
}
process.stdout.write(JSON.stringify({ results }));
