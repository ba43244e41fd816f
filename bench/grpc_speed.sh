#!/usr/bin/env bash
# gRPC ModelInfer throughput and latency: modeld (the demo `diabetes` linear regression,
# 10 features, through the full serving path) against a bare tonic server computing the
# same dot product (examples/grpc_bare.rs), alternating in one run. The load comes from
# examples/grpc_load.rs, a Rust client on raw HTTP/2 streams (h2): CONNS connections with
# STREAMS calls in flight on each, 1-row and 100-row FP64 raw requests, every answer
# checked (status 0, one output per row).
# Usage: bench/grpc_speed.sh [ROUNDS] [SECONDS] [CONNS] [STREAMS]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
rounds="${1:-5}"
seconds="${2:-5}"
conns="${3:-4}"
streams="${4:-8}"
cargo build --release --bin modeld --example grpc_bare --example grpc_load
work=$(mktemp -d)
(cd "$work" && MODELD_LOG__FILTER=warn "$ROOT/target/release/modeld" --host 127.0.0.1 --port 18580 --grpc-port 18581) &
modeld_pid=$!
target/release/examples/grpc_bare 18582 10 &
bare_pid=$!
trap 'kill $modeld_pid $bare_pid; rm -rf "$work"' EXIT
until curl -fs localhost:18580/v2/models/diabetes/ready >/dev/null; do sleep 0.2; done
load() { target/release/examples/grpc_load "127.0.0.1:$1" diabetes 10 "$2" "$conns" "$streams" "$seconds"; }
for round in $(seq "$rounds"); do
    for rows in 1 100; do
        # Alternate which server goes first, so drift in the machine's load is shared.
        if [ $((round % 2)) -eq 1 ]; then order="18581 18582"; else order="18582 18581"; fi
        for port in $order; do
            name=$([ "$port" = 18581 ] && echo "modeld    " || echo "bare tonic")
            echo "round $round  $name  $(load "$port" "$rows")"
        done
    done
done
