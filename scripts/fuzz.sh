#!/usr/bin/env bash
# Builds the fuzzers with clang (libFuzzer + ASan + UBSan) and runs each for a bounded time:
# sql_fuzzer (parser + binder) and pgwire_fuzzer (the PostgreSQL wire protocol session).
# Usage: scripts/fuzz.sh [seconds]   (default 60 per fuzzer; CI runs this from `make test`)
# Crashes are written to build/fuzz/crash-* and make the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-60}"
OUT=build/fuzz
mkdir -p "$OUT/corpus"

SOURCES=(src/sql/ast.cc src/sql/bound_expr.cc src/sql/catalog.cc src/sql/expression_binder.cc src/sql/lexer.cc
         src/sql/parser.cc src/sql/query_binder.cc src/sql/value.cc src/sql/value_text.cc
         src/common/status.cc src/common/crc32c.cc src/common/file_system.cc src/common/time_format.cc)
clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -msse4.2 -Isrc fuzz/sql_fuzzer.cc "${SOURCES[@]}" -lfmt -lspdlog -pthread -o "$OUT/sql_fuzzer"

# Seed corpus: every statement of the SQL tests.
python3 - "$OUT/corpus" <<'PY'
import glob, os, sys
out = sys.argv[1]
n = 0
for path in glob.glob("tests/sql/*.slt"):
    block = []
    for line in open(path).read().split("\n") + [""]:
        if line.strip():
            block.append(line)
            continue
        if block and block[0].startswith(("statement", "query")):
            body = [l for l in block[1:] if l != "----"]
            if "----" in block:
                body = block[1:block.index("----")]
            with open(os.path.join(out, "seed-%d.sql" % n), "w") as f:
                f.write("\n".join(body))
            n += 1
        block = []
print("fuzz: %d seed statements" % n)
PY

"$OUT/sql_fuzzer" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=10 \
  -artifact_prefix="$OUT/" "$OUT/corpus" 2>&1 | tail -5
echo "fuzz: ran ${SECONDS_TO_RUN}s without a crash"

# The PostgreSQL wire protocol: client bytes into a session (decoder, state machine, encoder).
PG_SOURCES=(src/server/pgwire/catalog_queries.cc src/server/pgwire/errors.cc src/server/pgwire/pg_types.cc
            src/server/pgwire/protocol.cc src/server/pgwire/query_text.cc src/server/pgwire/scram.cc
            src/server/pgwire/session.cc src/sql/value_text.cc src/sql/ast.cc src/common/status.cc
            src/common/time_format.cc src/common/file_system.cc src/common/clock.cc src/common/crc32c.cc)
clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -msse4.2 -Isrc fuzz/pgwire_fuzzer.cc "${PG_SOURCES[@]}" -lfmt -lspdlog -lcrypto -pthread -o "$OUT/pgwire_fuzzer"
mkdir -p "$OUT/pgwire_corpus"
python3 - "$OUT/pgwire_corpus" <<'PY'
import os, struct, sys
out = sys.argv[1]
def msg(t, body): return t + struct.pack("!I", len(body) + 4) + body
startup = b"\0\3\0\0user\0fuzz\0database\0db\0\0"
startup = struct.pack("!I", len(startup) + 4) + startup
seeds = [
    startup + msg(b"Q", b"SELECT 1; SELECT 2\0") + msg(b"X", b""),
    b"\x80" + msg(b"Q", b"BEGIN; SET x = 1; SHOW x; COMMIT\0"),
    b"\x81" + msg(b"P", b"s\0SELECT $1, $2\0\0\x02\0\0\0\x17\0\0\0\0") +
        msg(b"B", b"p\0s\0\0\x01\0\x01\0\x02\0\0\0\x04\0\0\0\x07\xff\xff\xff\xff\0\x01\0\x01") +
        msg(b"D", b"Pp\0") + msg(b"E", b"p\0\0\0\0\x01") + msg(b"S", b""),
    struct.pack("!II", 8, 80877103) + startup,
    struct.pack("!IIII", 16, 80877102, 1, 2),
]
for i, s in enumerate(seeds):
    open(os.path.join(out, "seed-%d" % i), "wb").write(s)
PY
"$OUT/pgwire_fuzzer" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$OUT/pgwire-" "$OUT/pgwire_corpus" 2>&1 | tail -5
echo "fuzz: pgwire ran ${SECONDS_TO_RUN}s without a crash"

