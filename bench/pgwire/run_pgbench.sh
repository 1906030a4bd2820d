#!/usr/bin/env bash
# Pull queries by key over the PostgreSQL wire protocol, measured with pgbench.
# Starts `sluice server` on a fresh data dir, loads 100 000 keys into the view `by_key`, then runs
# pgbench's pull_query.sql (one SELECT ... WHERE k = random key per transaction) RUNS times per
# protocol and prints each run's queries/s and the median.
#
# Usage: bench/pgwire/run_pgbench.sh [SLUICE_BIN] [SECONDS] [RUNS] [CLIENTS]
# Defaults: build/release/src/cli/sluice, 10 s, 3 runs, 4 clients (pgbench -c 4 -j 2).
# SLUICE_CONFIG=FILE: start the server with this TOML config (e.g. to set [pgwire] io_threads).
# PERF_OUT=FILE: also record a perf profile (perf record -g) of the server during the first
# prepared-mode run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../../build/release/src/cli/sluice}"
seconds="${2:-10}"
runs="${3:-3}"
clients="${4:-4}"
keys=100000

dir="$(mktemp -d)"
http_port=$((20000 + RANDOM % 20000))
pg_port=$((http_port + 1))
kafka_port=$((http_port + 2))
"$bin" server ${SLUICE_CONFIG:+--config "$SLUICE_CONFIG"} --data-dir "$dir/data" --http-port "$http_port" --pg-port "$pg_port" --kafka-port "$kafka_port" \
  >"$dir/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$http_port/ready" >/dev/null && break
  sleep 0.1
done

sql() { curl -sf "http://127.0.0.1:$http_port/v1/sql" -H 'Content-Type: application/json' -d "{\"sql\": \"$1\"}"; }
sql "CREATE SOURCE kv (k BIGINT, v BIGINT) WITH (topic = 'kv')" >/dev/null
sql "CREATE MATERIALIZED VIEW by_key AS SELECT k, count(*) AS n, sum(v) AS total FROM kv GROUP BY k" >/dev/null
# Two events per key, in batches of 10 000.
python3 - "$http_port" "$keys" <<'PY'
import http.client, json, sys
port, keys = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)
for start in range(0, 2 * keys, 10000):
    body = "\n".join(json.dumps({"k": i % keys + 1, "v": i}) for i in range(start, start + 10000))
    conn.request("POST", "/v1/topics/kv/events", body, {"Content-Type": "application/x-ndjson"})
    r = conn.getresponse()
    r.read()
    assert r.status == 200, r.status
PY
for _ in $(seq 300); do
  n="$(psql -X -A -t -h 127.0.0.1 -p "$pg_port" -U bench -d sluice -c 'SELECT count(*) FROM by_key' 2>/dev/null || true)"
  [ "$n" = "$keys" ] && break
  sleep 0.2
done
echo "view by_key: $(psql -X -A -t -h 127.0.0.1 -p "$pg_port" -U bench -d sluice -c 'SELECT count(*) FROM by_key') keys"

# The server's user + system CPU time, in clock ticks: CPU per query is steadier than queries/s
# on a machine where pgbench shares the cores.
server_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }

for mode in simple extended prepared; do
  results=()
  for run in $(seq "$runs"); do
    if [ -n "${PERF_OUT:-}" ] && [ "$mode" = prepared ] && [ "$run" = 1 ]; then
      perf record -F 499 ${PERF_CALLGRAPH:--g} -o "$PERF_OUT" -p "$server" -- sleep "$seconds" >/dev/null 2>&1 &
    fi
    cpu_before="$(server_cpu_ticks)"
    out="$(pgbench -n -h 127.0.0.1 -p "$pg_port" -U bench -M "$mode" -c "$clients" -j 2 -T "$seconds" \
      -f "$here/pull_query.sql" sluice 2>&1)" || { echo "$mode: pgbench failed:"; echo "$out" | tail -5; break; }
    tps="$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1)"
    failed="$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')"
    cpu_after="$(server_cpu_ticks)"
    queries="$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')"
    us_per_query="$(awk -v t="$((cpu_after - cpu_before))" -v hz="$(getconf CLK_TCK)" -v q="${queries:-0}" \
      'BEGIN { if (q > 0) printf "%.1f", t / hz * 1e6 / q; else print "n/a" }')"
    echo "$mode run $run: $tps queries/s (failed: ${failed:-0}; server CPU ${us_per_query} us/query)"
    results+=("$tps")
  done
  if [ "${#results[@]}" -gt 0 ]; then
    median="$(printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
    echo "$mode median: $median queries/s"
  fi
done
