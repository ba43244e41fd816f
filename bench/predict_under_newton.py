"""Predict p99 while a Newton job runs on its training threads, against idle, in one
server: what `[training] threads` costs requests. bench.py's "predict under training"
uses an SGD job, which runs on the job's own thread only; this one keeps the rayon pool
busy with Newton passes over 1M rows (`tol: 0`, so it runs its 100 iterations).

One server per call, with MODELD_TRAINING__THREADS=THREADS; ROUNDS alternating pairs of
3 s wrk runs (1-row predicts to the diabetes demo model, 32 connections): idle, then with
the job running. Needs wrk, and bench/out/cls1m.csv (bench/train_e2e.sh makes it).

usage: bench/.venv/bin/python bench/predict_under_newton.py MODELD_BIN THREADS ROUNDS
prints one JSON line: median p99 idle and under training, their ratio, each pair's ratio,
median req/s, and the job's progress at the end of each training run."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from train_e2e import call, free_port, wait_ready  # noqa: E402

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


def train(base, params):
    return call(base + "/v1/models/bg/train", "POST",
                {"algorithm": "logistic_regression",
                 "data": {"path": "cls1m.csv", "target": "target"}, "params": params})


def main():
    binary, threads, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    port, store = free_port(), tempfile.mkdtemp()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELD_")}
    env.update({"MODELD_TRAINING__THREADS": threads, "MODELD_GRPC__PORT": "0",
                "MODELD_STORE__URI": store})
    server = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(port),
                               "--data-dir", DATA_DIR], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    body = os.path.join(store, "one.json")
    with open(body, "w") as f:
        json.dump({"instances": [bench.ROW]}, f)
    bench.LUA_FILE = os.path.join(store, "post.lua")
    with open(bench.LUA_FILE, "w") as f:
        f.write(bench.LUA)
    try:
        wait_ready(base)
        # Parsed once up front, so every timed job is Newton passes only.
        job = train(base, {"solver": "newton", "epochs": 1})
        while call(base + job["status_url"])["state"] not in ("succeeded", "failed"):
            time.sleep(0.05)
        url = base + "/v1/models/diabetes/predict"
        idle, busy, progress = [], [], []
        for _ in range(rounds):
            idle.append(bench.wrk(url, body, 32, 3))
            job = train(base, {"solver": "newton", "epochs": 100, "tol": 0})
            time.sleep(0.3)
            busy.append(bench.wrk(url, body, 32, 3))
            progress.append(call(base + job["status_url"]).get("progress"))
            cancel = urllib.request.Request(base + job["status_url"], method="DELETE")
            try:
                urllib.request.urlopen(cancel)
            except urllib.error.HTTPError:
                pass  # already finished
            time.sleep(0.5)

        def median(runs, key):
            return statistics.median(run[key] for run in runs)

        print(json.dumps({
            "threads": threads,
            "idle_p99_ms": median(idle, "p99"),
            "training_p99_ms": median(busy, "p99"),
            "ratio": round(median(busy, "p99") / median(idle, "p99"), 2),
            "pairs": [round(b["p99"] / i["p99"], 2) for i, b in zip(idle, busy)],
            "idle_rps": median(idle, "rps"),
            "training_rps": median(busy, "rps"),
            "job_progress": progress,
        }))
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
