#!/usr/bin/env bash
# Installs everything sluice needs to build and test, from Debian 12 packages.
# Idempotent: packages already present are skipped, so a second run is fast.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # C++ libraries (see README "Stack")
  libboost1.81-dev libsimdjson-dev libabsl-dev libspdlog-dev libfmt-dev
  libcli11-dev libtomlplusplus-dev libzstd-dev liblz4-dev libsnappy-dev
  libxxhash-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev libedit-dev zlib1g-dev
  # test peers and tools
  curl python3 prometheus clang libclang-rt-14-dev
  # PostgreSQL wire protocol clients (tests/system/test_pgwire.py); pgbench (BENCHMARKS.md,
  # pull queries over pgwire) ships in Debian's postgresql-15, which postgresql-contrib pulls in
  postgresql-client python3-psycopg2 python3-psycopg postgresql-contrib
  # the dashboard's browser tests: tests/browser drives Debian's chromium with playwright-core
  chromium
  # Kafka protocol clients (tests/system/test_kafka.py)
  kcat python3-confluent-kafka
  # external Kafka connectors (src/connectors/kafka): librdkafka, with its mock cluster for tests
  librdkafka-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

install_npm_packages() {
  # Node.js + npm build the dashboard (web/, run by CMake) and run the npm-based tests.
  local root
  root="$(cd "$(dirname "$0")/.." && pwd)"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install-deps: installing nodejs npm"
    $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  # The DuckDB oracle of the differential tests (npm registry, pinned by package-lock.json).
  if [ ! -d "$root/tests/differential/node_modules/@duckdb/node-api" ]; then
    echo "install-deps: npm install in tests/differential"
    (cd "$root/tests/differential" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  # playwright-core for the browser tests (it drives Debian's chromium; it downloads no browser).
  if [ ! -d "$root/tests/browser/node_modules/playwright-core" ]; then
    echo "install-deps: npm ci in tests/browser"
    (cd "$root/tests/browser" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  # node-postgres and postgres.js for tests/system/test_pgclients.py (pinned by package-lock.json).
  if [ ! -d "$root/tests/pgclients/node_modules/pg" ] || [ ! -d "$root/tests/pgclients/node_modules/postgres" ]; then
    echo "install-deps: npm ci in tests/pgclients"
    (cd "$root/tests/pgclients" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  # kafkajs, a Kafka client for tests/system/test_kafka.py (pinned by package-lock.json).
  if [ ! -d "$root/tests/kafkajs/node_modules/kafkajs" ]; then
    echo "install-deps: npm install in tests/kafkajs"
    (cd "$root/tests/kafkajs" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  install_npm_packages
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_npm_packages
echo "install-deps: done"
