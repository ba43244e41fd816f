#!/usr/bin/env bash
# The shared-store benchmark (bench/store_bench.py) on loopback: predict throughput with
# the directory store vs the S3 store (moto from the repository venv), time to converge
# after a promote at poll intervals of 100 ms and 1 s, and memory per replica.
# Usage: bench/store.sh. STORE_BENCH_NO_BUILD=1 skips `cargo build --release`;
# MODELD_BIN overrides the binary. Needs wrk (installed from Debian if missing) and the
# venv of scripts/setup-python.sh (moto).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${MODELD_BIN:-$TARGET/release/modeld}"

if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
fi
if [ ! -x .venv/bin/moto_server ]; then
    bash scripts/setup-python.sh >&2
fi
if [ "${STORE_BENCH_NO_BUILD:-0}" != 1 ] && [ -z "${MODELD_BIN:-}" ]; then
    cargo build --release --bin modeld >&2
fi
echo "machine: $(nproc) cores, $(uname -r); $(date -u +%Y-%m-%dT%H:%MZ)"
.venv/bin/python bench/store_bench.py "$BIN" "$ROOT/.venv/bin/moto_server"
