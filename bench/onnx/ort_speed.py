#!/usr/bin/env python3
"""Per-row compute time of an ONNX file in an onnxruntime session (`run` alone), the
reference for bench/onnx_speed.sh. Usage: ort_speed.py MODEL.onnx ROWS.csv BATCH [REPEATS]"""
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

model, csv, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
d = inp.shape[1]
rows = np.loadtxt(csv, delimiter=",", skiprows=1)[:, :d]
x = rows[np.arange(batch) % len(rows)].astype(np.float32)
for _ in range(repeats // 10 + 1):
    sess.run(None, {inp.name: x})
per_row = []
for _ in range(repeats):
    t = time.perf_counter()
    sess.run(None, {inp.name: x})
    per_row.append((time.perf_counter() - t) * 1e6 / batch)
print(f"onnxruntime {ort.__version__} batch {batch}: median {statistics.median(per_row):.3f} "
      f"us/row over {repeats} calls")
