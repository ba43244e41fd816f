"""Compression, measured through the API: train an MLP [128, 64] teacher, then quantize,
prune 0.8 (with fine-tuning) and distill to [16], each as a compress job on the same CSV,
and print the job's own report (stored bytes, accuracy on the held-out 20%, agreement,
predict latency p50/p99 at batch 1 and 64) as one JSON line per case, plus the sizes of
the ONNX exports of the teacher and of each result.

usage: compress.py MODELD_BIN DATA_DIR CSV_NAME...   (names under DATA_DIR)"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from train_e2e import wait_ready

TEACHER = {"hidden_layers": [128, 64], "epochs": 200, "seed": 7,
           "early_stopping": {"patience": 10}}
METHODS = {
    "int8": {"method": "quantize", "params": {"bits": 8}},
    "prune_0.8_ft": {"method": "prune", "params": {"sparsity": 0.8, "fine_tune_epochs": 20}},
    "distill_16": {"method": "distill",
                   "params": {"algorithm": "mlp_classifier", "temperature": 2.0,
                              "params": {"hidden_layers": [16], "epochs": 300, "seed": 7,
                                         "early_stopping": {"patience": 15}}}},
}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(url, method="GET", body=None, raw=False):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        payload = r.read()
        return payload if raw else json.loads(payload)


def wait(base, accepted):
    while True:
        job = call(base + accepted["status_url"])
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.02)


def main():
    binary, data_dir, csvs = sys.argv[1], sys.argv[2], sys.argv[3:]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELD_")}
    env.update({"MODELD_DEMO__ENABLED": "false", "MODELD_GRPC__PORT": "0",
                "MODELD_STORE__URI": tempfile.mkdtemp(), "MODELD_LOG__FORMAT": "json"})
    server = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(port),
                               "--data-dir", data_dir], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        for csv in csvs:
            name = os.path.splitext(csv)[0].replace("_", "-")
            data = {"path": csv, "target": "target"}
            job = wait(base, call(f"{base}/v1/models/{name}/train", "POST",
                                  {"algorithm": "mlp_classifier", "data": data,
                                   "params": TEACHER}))
            if job["state"] != "succeeded":
                raise SystemExit(f"teacher on {csv}: {job}")
            teacher = job["version"]
            onnx = lambda v: len(call(f"{base}/v1/models/{name}/versions/{v}/export?format=onnx", raw=True))
            teacher_onnx = onnx(teacher)
            for case, body in METHODS.items():
                body = dict(body, data=data)
                job = wait(base, call(f"{base}/v1/models/{name}/versions/{teacher}/compress",
                                      "POST", body))
                if job["state"] != "succeeded":
                    raise SystemExit(f"{case} on {csv}: {job}")
                r = job["report"]
                lat = r["latency_us"]
                print(json.dumps({
                    "csv": csv, "case": case,
                    "size_ratio": round(r["bytes_before"] / r["bytes_after"], 2),
                    "bytes": [r["bytes_before"], r["bytes_after"]],
                    "onnx_bytes": [teacher_onnx, onnx(job["version"])],
                    "accuracy": [round(r["before"], 4), round(r["after"], 4)],
                    "accuracy_drop": round(r["before"] - r["after"], 4),
                    "agreement": round(r["agreement"], 4),
                    "layers": r["layers"], "sparsity": round(r["sparsity"], 3),
                    "p50_us_b1": [round(lat["before"]["batch_1"]["p50"], 1),
                                  round(lat["after"]["batch_1"]["p50"], 1)],
                    "p50_us_b64": [round(lat["before"]["batch_64"]["p50"], 1),
                                   round(lat["after"]["batch_64"]["p50"], 1)],
                    "p99_us_b64": [round(lat["before"]["batch_64"]["p99"], 1),
                                   round(lat["after"]["batch_64"]["p99"], 1)],
                    "n_eval": r["n_eval"],
                }), flush=True)
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
