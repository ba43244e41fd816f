#!/usr/bin/env bash
# Per-row compute time of tree ensembles in modeld (its own tree op inside the tract graph,
# behind the Model trait) and in onnxruntime's Python session, on the same file and rows,
# at batch 1 and 64: a 100-tree depth-8 random forest and a 300-round XGBoost classifier.
# Makes a Python venv (bench/.venv-onnx) with scikit-learn, skl2onnx, onnxruntime,
# xgboost and onnxmltools on first use. Usage: bench/onnx_speed.sh [ROUNDS]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
rounds="${1:-3}"
venv=bench/.venv-onnx
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet scikit-learn==1.9.1 skl2onnx==1.20.0 onnxruntime==1.32.0 \
        xgboost==3.2.0 onnxmltools==1.16.0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" bench/onnx/make_forest.py "$work/rf100.onnx" "$work/xgb300.onnx"
cargo build --release --example onnx_speed
csv=tests/fixtures/data/breast_cancer.csv
for round in $(seq "$rounds"); do
    for batch in 1 64; do
        for m in rf100 xgb300; do
            echo "round $round  $m  $(target/release/examples/onnx_speed "$work/$m.onnx" "$csv" "$batch")"
            echo "round $round  $m  $("$venv/bin/python" bench/onnx/ort_speed.py "$work/$m.onnx" "$csv" "$batch")"
        done
    done
done
