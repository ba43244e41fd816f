#!/usr/bin/env bash
# Interleaved A/B of already running servers: for each round and each target, drives it
# with `wrk -t2 -c32` for 4 s and prints requests/s and the server's CPU per request
# (utime+stime from /proc/<pid>/stat divided by requests). Used to compare two builds of
# modeld with the baseline when a full bench/run.sh is too coarse.
# Usage: bench/cpu_ab.sh ROUNDS "label pid url" ["label pid url" ...]
set -euo pipefail
rounds=$1
shift
body=$(mktemp)
trap 'rm -f "$body"' EXIT
cat >"$body" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"instances": [[0.038, 0.05, 0.062, 0.022, -0.044, -0.035, -0.043, -0.003, 0.02, -0.018]]}'
LUA
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for round in $(seq "$rounds"); do
    for target in "$@"; do
        read -r label pid url <<<"$target"
        t0=$(ticks "$pid")
        out=$(wrk -t2 -c32 -d4s -s "$body" "$url")
        t1=$(ticks "$pid")
        n=$(grep -oE '[0-9]+ requests in' <<<"$out" | cut -d' ' -f1)
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        cpu=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz * 1e6 / n}')
        echo "round $round  $label  req/s $rps  cpu/request ${cpu} µs"
    done
done
