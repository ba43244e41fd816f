#!/usr/bin/env bash
# Per-row compute time of tree ensembles in modeld (tract behind the Model trait) and in
# onnxruntime's Python session, on the same file and rows, at batch 1 and 64; medians of
# alternating runs. Makes a Python venv (bench/.venv-onnx) with scikit-learn, skl2onnx
# and onnxruntime on first use. Usage: bench/onnx_speed.sh [ROUNDS]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
rounds="${1:-3}"
venv=bench/.venv-onnx
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet scikit-learn==1.9.1 skl2onnx==1.20.0 onnxruntime==1.32.0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" bench/onnx/make_forest.py "$work/rf100.onnx"
cargo build --release --example onnx_speed
csv=tests/fixtures/data/breast_cancer.csv
for round in $(seq "$rounds"); do
    for batch in 1 64; do
        echo "round $round  rf100 depth 8  $(target/release/examples/onnx_speed "$work/rf100.onnx" "$csv" "$batch")"
        echo "round $round  rf100 depth 8  $("$venv/bin/python" bench/onnx/ort_speed.py "$work/rf100.onnx" "$csv" "$batch")"
    done
done
