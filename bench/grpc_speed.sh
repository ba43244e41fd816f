#!/usr/bin/env bash
# gRPC ModelInfer, one sequential client (Python grpc stub), 1-row and 100-row FP64 raw
# requests: modeld (the demo `diabetes` linear regression, 10 features, through the full
# serving path) against a bare tonic server computing the same dot product
# (examples/grpc_bare.rs). Needs the interop venv (scripts/setup-python.sh).
# Usage: bench/grpc_speed.sh [ROUNDS]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
rounds="${1:-3}"
py="${INTEROP_PYTHON:-.venv/bin/python}"
cargo build --release --bin modeld --example grpc_bare
work=$(mktemp -d)
(cd "$work" && MODELD_LOG__FILTER=warn "$ROOT/target/release/modeld" --host 127.0.0.1 --port 18580 --grpc-port 18581) &
modeld_pid=$!
target/release/examples/grpc_bare 18582 10 &
bare_pid=$!
trap 'kill $modeld_pid $bare_pid; rm -rf "$work"' EXIT
until curl -fs localhost:18580/v2/models/diabetes/ready >/dev/null; do sleep 0.2; done
for round in $(seq "$rounds"); do
    echo "round $round modeld"; "$py" bench/grpc_speed.py 127.0.0.1:18581 diabetes 10
    echo "round $round bare tonic"; "$py" bench/grpc_speed.py 127.0.0.1:18582 diabetes 10
done
