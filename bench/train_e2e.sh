#!/usr/bin/env bash
# Training end to end, side by side in one run: modeld over HTTP (release build, data by
# path, a fresh server per case; first and repeated training) against pandas + scikit-learn
# on the same CSVs. See bench/train_e2e.py for exactly what is timed.
# usage: bench/train_e2e.sh [rows...]   (default: 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c "import pandas, sklearn" 2>/dev/null; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q numpy pandas scikit-learn
fi
PY=bench/.venv/bin/python
GEN=tests/fixtures/data/gen_synthetic.py
NAMES=()
for n in "${@:-100000 1000000}"; do
  for n1 in $n; do
    tag=$([ "$n1" = 1000000 ] && echo 1m || echo "$((n1 / 1000))k")
    [ -f $OUT/reg$tag.csv ] || $PY $GEN --task regression --n "$n1" --d 20 --out $OUT/reg$tag.csv --no-params
    [ -f $OUT/cls$tag.csv ] || $PY $GEN --task classification --classes 2 --n "$n1" --d 20 --out $OUT/cls$tag.csv --no-params
    NAMES+=("reg$tag.csv" "cls$tag.csv")
  done
done
cargo build --release --bin modeld -q
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
$PY bench/train_e2e.py "${CARGO_TARGET_DIR:-target}/release/modeld" "$OUT" "${NAMES[@]}"
