#!/usr/bin/env bash
# Training speed: modeld (release build, through the library) vs scikit-learn on
# the same 100,000 x 20 synthetic data, same algorithm / iterations, same run.
# Times include standardisation and one scoring pass on the training rows.
# usage: [MODELD_TRAIN_THREADS=n] bench/train_speed.sh [runs=3]  (modeld training threads, default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
OUT=bench/out
mkdir -p "$OUT"
GEN=tests/fixtures/data/gen_synthetic.py
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q numpy scikit-learn
fi
PY=bench/.venv/bin/python
[ -f $OUT/reg.csv ] || $PY $GEN --task regression --n 100000 --d 20 --out $OUT/reg.csv --no-params
[ -f $OUT/cls.csv ] || $PY $GEN --task classification --classes 2 --n 100000 --d 20 --out $OUT/cls.csv --no-params
cargo build --release --no-default-features --example train_speed -q
BIN=target/release/examples/train_speed

# name | csv | task | modeld algorithm | modeld params | sklearn case
CASES=(
  "ols|reg|regression|linear_regression|{}|ols"
  "sgd regressor, 5 epochs|reg|regression|linear_regression|{\"optimizer\":\"sgd\",\"epochs\":5,\"l2\":0.0001,\"learning_rate\":0.01}|sgd_reg"
  "logistic C=1 (modeld newton / sklearn lbfgs)|cls|classification|logistic_regression|{\"solver\":\"newton\",\"l2\":0.00001}|logistic"
  "sgd log-loss, 5 epochs|cls|classification|logistic_regression|{\"optimizer\":\"sgd\",\"epochs\":5,\"l2\":0.0001,\"learning_rate\":0.01}|sgd_cls"
  "mlp classifier [32], adam, batch 200, 10 epochs|cls|classification|mlp_classifier|{\"hidden_layers\":[32],\"batch_size\":200,\"learning_rate\":0.001,\"epochs\":10,\"schedule\":{\"kind\":\"constant\"}}|mlp_cls"
  "mlp regressor [32], adam, batch 200, 10 epochs|reg|regression|mlp_regressor|{\"hidden_layers\":[32],\"batch_size\":200,\"learning_rate\":0.001,\"epochs\":10,\"schedule\":{\"kind\":\"constant\"}}|mlp_reg"
)
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { $PY -c "import json,sys; print(json.loads(sys.argv[1])['$1'])" "$2"; }
echo "| case | modeld s (median of $RUNS) | sklearn s | ratio sklearn/modeld | modeld quality | sklearn quality |"
echo "|---|---|---|---|---|---|"
for c in "${CASES[@]}"; do
  IFS='|' read -r name csv task alg params skcase <<<"$c"
  m=(); s=(); mq=""; sq=""
  for _ in $(seq "$RUNS"); do
    r=$($BIN $OUT/$csv.csv "$task" "$alg" "$params"); m+=("$(field seconds "$r")"); mq=$(field value "$r")
    r=$($PY bench/sklearn_speed.py $OUT/$csv.csv "$skcase"); s+=("$(field seconds "$r")"); sq=$(field value "$r")
  done
  mm=$(printf '%s\n' "${m[@]}" | median); sm=$(printf '%s\n' "${s[@]}" | median)
  ratio=$(awk -v a="$sm" -v b="$mm" 'BEGIN {printf "%.2f", a/b}')
  printf '| %s | %.4f | %.4f | %s | %.5f | %.5f |\n' "$name" "$mm" "$sm" "$ratio" "$mq" "$sq"
done
