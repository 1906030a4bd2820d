#!/usr/bin/env bash
# Side by side with ClickHouse (Debian's clickhouse-server): the same Nexmark bids, the same
# windowed count (bids per auction per 10-second tumbling window) kept by a materialized view,
# each system ingesting the same JSON lines through its own front door:
#   sluice:     HTTP POST /v1/topics/bid/events (NDJSON) into a source, a MATERIALIZED VIEW over
#               TUMBLE(bid, date_time, INTERVAL '10' SECOND), fsync = always;
#   ClickHouse: clickhouse-client INSERT ... FORMAT JSONEachRow into a Null table with a
#               MATERIALIZED VIEW (SummingMergeTree) doing the same GROUP BY (18.16 has no
#               toStartOfInterval: the window start is the epoch second rounded down to 10).
# Reports per system: wall seconds until the view holds every event, events/s, the CPU seconds
# of the server and of the client (clickhouse-client parses the JSON itself), events per
# CPU-second of both, and checks that both views hold the same counts.
#
# Usage: bench/clickhouse/run.sh [SLUICE_BIN] [EVENTS] [RUNS]
# Defaults: build/release/src/cli/sluice, 2 000 000 generated Nexmark events (~92 % bids), 3 runs.
# Installs clickhouse-server and clickhouse-client with apt-get when missing (needs root).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(realpath "${1:-$here/../../build/release/src/cli/sluice}")"
events="${2:-2000000}"
runs="${3:-3}"

if ! command -v clickhouse-server >/dev/null || ! command -v clickhouse-client >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q clickhouse-server clickhouse-client >/dev/null
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" gen nexmark --events "$events" --output "$work/events" --quiet
bids="$work/events/bid.ndjson"
bid_count="$(wc -l <"$bids")"
echo "events: $events generated, $bid_count bids ($(du -m "$bids" | cut -f1) MB of JSON)"

cpu_seconds() {  # utime + stime of a process, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- ClickHouse -------------------------------------------------------------------------------
run_clickhouse() {
  local dir="$work/ch-$1" http tcp inter
  http="$(free_port)"; tcp="$(free_port)"; inter="$(free_port)"
  mkdir -p "$dir"
  sed -e "s|/var/lib/clickhouse/|$dir/|g" -e "s|/var/log/clickhouse-server/|$dir/|g" \
      -e "s|<http_port>8123</http_port>|<http_port>$http</http_port>|" \
      -e "s|<tcp_port>9000</tcp_port>|<tcp_port>$tcp</tcp_port>|" \
      -e "s|<interserver_http_port>9009</interserver_http_port>|<interserver_http_port>$inter</interserver_http_port>|" \
      -e "s|<listen_host>::1</listen_host>||" \
      /etc/clickhouse-server/config.xml >"$dir/config.xml"
  cp /etc/clickhouse-server/users.xml "$dir/users.xml"
  clickhouse-server --config-file="$dir/config.xml" >"$dir/stdout.log" 2>&1 &
  local server=$!
  pids+=("$server")
  local ch=(clickhouse-client --port "$tcp")
  for _ in $(seq 200); do "${ch[@]}" --query "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
  "${ch[@]}" --multiquery --query "
    CREATE TABLE bid (auction UInt64, bidder UInt64, price UInt64, channel String, url String,
                      date_time String, extra String) ENGINE = Null;
    CREATE MATERIALIZED VIEW bids_per_window ENGINE = SummingMergeTree ORDER BY (auction, window_start)
      AS SELECT auction, intDiv(toUInt32(parseDateTimeBestEffort(date_time)), 10) * 10 AS window_start,
                count() AS n
      FROM bid GROUP BY auction, window_start;"
  local cpu0 start end cpu1
  cpu0="$(cpu_seconds "$server")"
  start="$(date +%s.%N)"
  # clickhouse-client parses the JSON itself and sends the server column blocks: its CPU counts.
  /usr/bin/time -o "$work/client.cpu" -f "%U %S" "${ch[@]}" --query "INSERT INTO bid FORMAT JSONEachRow" <"$bids"
  end="$(date +%s.%N)"
  cpu1="$(cpu_seconds "$server")"
  local total
  total="$("${ch[@]}" --query "SELECT sum(n) FROM bids_per_window")"
  [ "$total" = "$bid_count" ] || { echo "clickhouse: the view counts $total bids, expected $bid_count"; exit 1; }
  "${ch[@]}" --query "SELECT auction, window_start, sum(n) FROM bids_per_window
                       GROUP BY auction, window_start ORDER BY auction, window_start FORMAT TSV" >"$work/ch.tsv"
  report clickhouse "$1" "$start" "$end" "$cpu0" "$cpu1"
  kill "$server"; wait "$server" 2>/dev/null || true
}

# ---- sluice -----------------------------------------------------------------------------------
run_sluice() {
  local dir="$work/sluice-$1" http pg kafka
  http="$(free_port)"; pg="$(free_port)"; kafka="$(free_port)"
  mkdir -p "$dir"
  "$bin" server --data-dir "$dir/data" --http-port "$http" --pg-port "$pg" --kafka-port "$kafka" >"$dir/server.log" 2>&1 &
  local server=$!
  pids+=("$server")
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$http/ready" >/dev/null && break; sleep 0.1; done
  local cpu0 start end cpu1
  cpu0="$(cpu_seconds "$server")"
  start="$(date +%s.%N)"
  /usr/bin/time -o "$work/client.cpu" -f "%U %S" python3 - "$http" "$bids" "$bid_count" <<'PY'
import http.client, json, sys, time
port, path, expected = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
def sql(text):
    conn.request("POST", "/v1/sql", json.dumps({"sql": text}), {"Content-Type": "application/json"})
    r = conn.getresponse(); body = r.read()
    if r.status != 200: sys.exit(f"sluice: {text}: {r.status} {body!r}")
    return json.loads(body)
sql("CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, "
    "date_time TIMESTAMP, extra VARCHAR) WITH (topic = 'bid')")
sql("CREATE MATERIALIZED VIEW bids_per_window AS SELECT auction, window_start, count(*) AS n "
    "FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND) GROUP BY auction, window_start, window_end")
with open(path, "rb") as f:
    while True:
        chunk = f.readlines(4 << 20)  # ~4 MB per request
        if not chunk: break
        conn.request("POST", "/v1/topics/bid/events", b"".join(chunk), {"Content-Type": "application/x-ndjson"})
        r = conn.getresponse(); body = r.read()
        if r.status != 200: sys.exit(f"sluice ingest: {r.status} {body[:200]!r}")
while True:
    total = sql("SELECT sum(n) AS total FROM bids_per_window")["results"][0]["rows"][0][0]
    if total == expected: break
    time.sleep(0.005)
PY
  end="$(date +%s.%N)"
  cpu1="$(cpu_seconds "$server")"
  curl -sf "http://127.0.0.1:$http/v1/sql" -H 'Content-Type: application/json' \
    -d '{"sql": "SELECT auction, window_start, n FROM bids_per_window ORDER BY auction, window_start"}' |
    python3 -c '
import json, sys, datetime
rows = json.load(sys.stdin)["results"][0]["rows"]
for a, w, n in rows:
    t = datetime.datetime.fromisoformat(w.replace("Z", "+00:00"))
    print(f"{a}\t{int(t.timestamp())}\t{n}")' >"$work/sluice.tsv"
  report sluice "$1" "$start" "$end" "$cpu0" "$cpu1"
  kill "$server"; wait "$server" 2>/dev/null || true
}

report() {  # system run start end cpu0 cpu1 (the client's CPU is in $work/client.cpu)
  python3 - "$@" "$bid_count" "$(cat "$work/client.cpu")" <<'PY'
import sys
system, run, start, end, cpu0, cpu1, n, client = sys.argv[1:9]
wall = float(end) - float(start); cpu = float(cpu1) - float(cpu0); n = int(n)
client = sum(float(x) for x in client.split())
print(f"{system} run {run}: {wall:.2f} s wall, {n / wall:,.0f} events/s; CPU-s: server {cpu:.2f}, "
      f"client {client:.2f}; {n / (cpu + client):,.0f} events per CPU-second (server + client)")
PY
}

for run in $(seq "$runs"); do
  run_clickhouse "$run"
  run_sluice "$run"
  if ! cmp -s "$work/ch.tsv" "$work/sluice.tsv"; then
    echo "the two views differ:"; diff "$work/ch.tsv" "$work/sluice.tsv" | head -10; exit 1
  fi
  echo "run $run: both views hold the same $(wc -l <"$work/sluice.tsv") (auction, window) counts"
done
