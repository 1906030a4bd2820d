#!/usr/bin/env bash
# Builds the fuzzers with clang (libFuzzer + ASan + UBSan) and runs each for a bounded time:
# sql_fuzzer (parser + binder), pgwire_fuzzer (the PostgreSQL wire protocol session) and
# kafka_fuzzer (the Kafka protocol request decoders and handlers).
# Usage: scripts/fuzz.sh [seconds]   (default 60 per fuzzer; CI runs this from `make test`)
# Crashes are written to build/fuzz/crash-* and make the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-60}"
OUT=build/fuzz
mkdir -p "$OUT/corpus"

# One CMake project (fuzz/CMakeLists.txt) builds the three fuzzers with clang: Ninja compiles the
# shared sources once, in parallel, and ccache keeps them between runs.
if [ ! -f "$OUT/build.ninja" ]; then
  cmake -S fuzz -B "$OUT" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
fi
cmake --build "$OUT" -j"$(nproc)"

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


# The Kafka protocol: one request frame into the broker (header, every API's decoder and
# handler) over a real log in a temporary directory.
mkdir -p "$OUT/kafka_corpus"
python3 - "$OUT/kafka_corpus" <<'PY'
import os, struct, sys
sys.path.insert(0, "tests/system")
import kafka_wire as kw
out = sys.argv[1]
def frame(key, version, body):  # a request without its size prefix
    return kw.request(key, version, 1, body)[4:]
batch = kw.record_batch([b'{"a":1}', b'{"b":2}'], producer_id=7, epoch=0, base_sequence=0)
seeds = [
    frame(18, 0, b""),
    frame(18, 3, b"\x05kcat\x041.7\x00"),
    frame(3, 1, struct.pack(">i", 1) + kw.string("t")),
    frame(0, 3, kw.produce_v3_body("t", 0, batch)),
    frame(1, 4, struct.pack(">iiiib", -1, 0, 1, 1 << 20, 0) + struct.pack(">i", 1) + kw.string("t") +
          struct.pack(">iiqi", 1, 0, 0, 1 << 20)),
    frame(2, 1, struct.pack(">ii", -1, 1) + kw.string("t") + struct.pack(">iiq", 1, 0, -2)),
    frame(10, 1, kw.string("g") + b"\x00"),
    frame(11, 1, kw.string("g") + struct.pack(">ii", 10000, 10000) + kw.string("") + kw.string("consumer") +
          struct.pack(">i", 1) + kw.string("range") + struct.pack(">i", 3) + b"abc"),
    frame(8, 2, kw.string("g") + struct.pack(">i", -1) + kw.string("") + struct.pack(">qi", -1, 1) + kw.string("t") +
          struct.pack(">iiq", 1, 0, 5) + kw.string("")),
    frame(19, 4, struct.pack(">i", 1) + kw.string("n") + struct.pack(">ihii", 2, -1, 0, 0) + struct.pack(">ib", 1000, 0)),
    frame(22, 0, struct.pack(">hi", -1, 1000)),
    frame(22, 0, kw.string("tx") + struct.pack(">i", 1000)),
    frame(24, 0, kw.string("tx") + struct.pack(">qh", 7, 0) + struct.pack(">i", 1) + kw.string("t") + struct.pack(">ii", 1, 0)),
    frame(25, 0, kw.string("tx") + struct.pack(">qh", 7, 0) + kw.string("g")),
    frame(28, 0, kw.string("tx") + kw.string("g") + struct.pack(">qh", 7, 0) + struct.pack(">i", 1) + kw.string("t") +
          struct.pack(">iiq", 1, 0, 3) + kw.string("")),
    frame(26, 0, kw.string("tx") + struct.pack(">qhb", 7, 0, 1)),
]
for i, s in enumerate(seeds):
    open(os.path.join(out, "seed-%d" % i), "wb").write(s)
PY
"$OUT/kafka_fuzzer" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$OUT/kafka-" "$OUT/kafka_corpus" 2>&1 | tail -5
echo "fuzz: kafka ran ${SECONDS_TO_RUN}s without a crash"
