#!/usr/bin/env bash
# Builds the SQL fuzzer with clang (libFuzzer + ASan + UBSan) and runs it for a bounded time.
# Usage: scripts/fuzz.sh [seconds]   (default 60; CI runs this from `make test`)
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
