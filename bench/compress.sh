#!/usr/bin/env bash
# Compression through the API (release build): an MLP [128, 64] teacher on a 64-feature,
# 10-class synthetic set (gen_synthetic.py, n = 5000) and on breast_cancer, then int8,
# prune 0.8 with fine-tuning and distillation to [16]. See bench/compress.py.
# Also times the sparse kernel against the dense one (examples/sparse_kernel.rs).
# usage: bench/compress.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c "import numpy" 2>/dev/null; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q numpy
fi
PY=bench/.venv/bin/python
[ -f $OUT/synth64.csv ] || $PY tests/fixtures/data/gen_synthetic.py --task classification \
  --d 64 --classes 10 --n 5000 --out $OUT/synth64.csv --no-params
cp tests/fixtures/data/breast_cancer.csv $OUT/breast_cancer.csv
cargo build --release --bin modeld --example sparse_kernel -q
BIN=${CARGO_TARGET_DIR:-target}/release
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
$PY bench/compress.py $BIN/modeld "$OUT" synth64.csv breast_cancer.csv
$BIN/examples/sparse_kernel
