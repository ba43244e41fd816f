#!/usr/bin/env bash
# Soak test: a release modeld under mixed load for DURATION seconds (default 600), printing
# its RSS every 30 s and the totals (requests, errors) at the end; exits non-zero on any
# error. Load (bench/soak.py): native predict via wrk (bench/soak_predict.lua) and Python
# workers for predict + feedback, V2 infer, small training jobs, ONNX import + version
# delete, reloads and /metrics scrapes.
# Usage: bench/soak.sh [DURATION_S]. SOAK_NO_BUILD=1 skips `cargo build --release`
# (the binary is then taken from $CARGO_TARGET_DIR or target/).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
DURATION="${1:-600}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/release/modeld"

if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
fi
if [ "${SOAK_NO_BUILD:-0}" != 1 ]; then
    cargo build --release --bin modeld
fi

DATA="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# The caller's own MODELD_* settings are server config; the soak runs on the defaults.
unset $(env | grep -o '^MODELD_[A-Za-z0-9_]*' || true)
"$BIN" --host 127.0.0.1 --port "$PORT" --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
PID=$!
cleanup() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT

for _ in $(seq 300); do
    if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$PID" 2>/dev/null; then cat "$DATA/server.log"; exit 1; fi
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null
echo "modeld $(curl -fsS "http://127.0.0.1:$PORT/version") pid $PID on :$PORT, ${DURATION}s, $(nproc) cores"

python3 bench/soak.py --addr "127.0.0.1:$PORT" --pid "$PID" --duration "$DURATION" \
    --onnx tests/fixtures/models/linreg_diabetes.onnx --lua bench/soak_predict.lua
