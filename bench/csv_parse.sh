#!/usr/bin/env bash
# CSV parsing speed, side by side in one run on the same file: modeld's parallel fast path
# (what training uses) and its general single-threaded parser (examples/csv_parse.rs, file
# already in memory), against pandas.read_csv (which also reads the file).
# Data: gen_synthetic.py, 1,000,000 rows x 20 features + target (about 200 MB).
# usage: bench/csv_parse.sh [runs=5]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
OUT=bench/out
mkdir -p "$OUT"
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c "import pandas" 2>/dev/null; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q numpy pandas scikit-learn
fi
PY=bench/.venv/bin/python
CSV=$OUT/reg1m.csv
[ -f $CSV ] || $PY tests/fixtures/data/gen_synthetic.py --task regression --n 1000000 --d 20 --out $CSV --no-params
cargo build --release --example csv_parse -q
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "file: $CSV, $(stat -c %s $CSV) bytes"
echo "modeld:"
"${CARGO_TARGET_DIR:-target}"/release/examples/csv_parse $CSV target regression "$RUNS"
echo "pandas:"
$PY - "$CSV" "$RUNS" <<'PYEOF'
import json, statistics, sys, time
import pandas as pd
path, runs = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(runs):
    t = time.perf_counter()
    df = pd.read_csv(path)
    times.append(time.perf_counter() - t)
m = statistics.median(times)
import os
print(json.dumps({"pandas": pd.__version__, "read_csv_s": round(m, 4), "mb_s": round(os.path.getsize(path) / 1e6 / m, 1), "shape": list(df.shape)}))
PYEOF
