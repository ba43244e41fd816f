#!/usr/bin/env bash
# One-command benchmark: builds modeld and the bare-axum baseline in release, installs
# wrk if missing, and runs bench/bench.py (A/B rounds on loopback, start-up, memory,
# predict latency under training). Usage: bench/run.sh [--duration 5] [--rounds 3]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
fi
cargo build --release --bin modeld
# Shares the target dir so the baseline reuses the already-built axum and tokio.
CARGO_TARGET_DIR="$ROOT/target" cargo build --release --manifest-path bench/baseline/Cargo.toml
exec python3 bench/bench.py --modeld target/release/modeld \
    --baseline target/release/modeld-bench-baseline "$@"
