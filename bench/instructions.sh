#!/usr/bin/env bash
# User-space instructions per one-row predict, for modeld and the bare-axum baseline:
# each server runs under valgrind's callgrind, is warmed up, has its counters zeroed,
# serves `wrk -t1 -c4` for 10 s, and the instructions counted are divided by the requests
# answered. Unlike req/s on a shared 2-core machine this does not move with the noise, so
# it shows what a change to the request path saves (kernel time is not counted).
# Usage: bench/instructions.sh   (after bench/run.sh, or any release build of both)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
for tool in valgrind wrk; do
    if ! command -v "$tool" >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null; }
    fi
done
cargo build --release --bin modeld
CARGO_TARGET_DIR="$ROOT/target" cargo build --release --manifest-path bench/baseline/Cargo.toml

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"instances": [[0.038, 0.05, 0.062, 0.022, -0.044, -0.035, -0.043, -0.003, 0.02, -0.018]]}'
LUA

# The demo models are trained once outside valgrind, so only serving is measured.
target/release/modeld --host 127.0.0.1 --port 9811 --data-dir "$work/data" >/dev/null 2>&1 &
pid=$!
until curl -sf http://127.0.0.1:9811/readyz >/dev/null; do sleep 0.2; done
kill "$pid"
wait "$pid" 2>/dev/null || true

# measure LABEL URL COMMAND...: prints LABEL's instructions per request.
measure() {
    local label=$1 url=$2
    shift 2
    env -u RUST_LOG valgrind --tool=callgrind --callgrind-out-file="$work/$label.%p" "$@" \
        >"$work/$label.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 600); do
        if curl -s -o /dev/null -XPOST -H 'Content-Type: application/json' \
            -d '{"instances": [[0,0,0,0,0,0,0,0,0,0]]}' "$url" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    wrk -t1 -c4 -d3s -s "$work/post.lua" "$url" >/dev/null
    callgrind_control -z "$pid" >/dev/null
    local n
    n=$(wrk -t1 -c4 -d10s -s "$work/post.lua" "$url" | grep -oE '[0-9]+ requests in' | cut -d' ' -f1)
    callgrind_control -d "$pid" >/dev/null
    sleep 1
    local dump total
    dump=$(ls -t "$work/$label".* | grep -v '\.log$' | head -1)
    total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
    kill "$pid" 2>/dev/null || true
    echo "$label: $((total / n)) instructions per request ($n requests)"
}

measure modeld http://127.0.0.1:9812/v1/models/diabetes/predict \
    target/release/modeld --host 127.0.0.1 --port 9812 --data-dir "$work/data"
measure baseline http://127.0.0.1:9813/predict \
    target/release/modeld-bench-baseline 127.0.0.1:9813
