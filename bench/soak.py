#!/usr/bin/env python3
"""Mixed-load soak driver for a running modeld (started by bench/soak.sh).

Runs, for --duration seconds and all at once: wrk on native predict (rate-capped so the
other workers and the machine keep breathing), and Python workers for predict followed
by feedback for the logged request id, V2 infer (with feedback for its id), small
training jobs, ONNX import + delete of the previous version, reloads (one model, the
whole store, the V2 repository index) and /metrics scrapes. Every 30 s it prints the
server's RSS; at the end the totals per kind (requests, errors) and whether RSS stayed
flat after warm-up. Stdlib only, so it runs with any python3.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter

IRIS_ROWS = [
    ([5.1, 3.5, 1.4, 0.2], 0),
    ([6.4, 3.2, 4.5, 1.5], 1),
    ([6.3, 3.3, 6.0, 2.5], 2),
    ([4.9, 3.0, 1.4, 0.2], 0),
    ([5.7, 2.8, 4.1, 1.3], 1),
    ([7.7, 3.0, 6.1, 2.3], 2),
]


class Stats:
    """Requests and errors per kind; an error is a status the kind does not expect."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = Counter()
        self.errors = Counter()
        self.statuses = Counter()

    def add(self, kind, status, ok):
        with self.lock:
            self.requests[kind] += 1
            self.statuses[(kind, status)] += 1
            if not ok:
                self.errors[kind] += 1


class Client:
    """One keep-alive connection; reconnects after a transport error."""

    def __init__(self, host, port, stats):
        self.host, self.port, self.stats = host, port, stats
        self.conn = None

    def call(self, kind, method, path, body=None, ctype="application/json", ok=(200,)):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        headers = {"Content-Type": ctype} if body is not None else {}
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                self.stats.add(kind, resp.status, resp.status in ok)
                if resp.status not in ok:
                    print(f"  ! {kind} {method} {path} -> {resp.status} {data[:200]!r}",
                          file=sys.stderr)
                try:
                    return resp.status, json.loads(data) if data else None
                except ValueError:
                    return resp.status, None
            except (OSError, http.client.HTTPException) as e:
                self.conn = None
                if attempt == 1:
                    self.stats.add(kind, f"transport:{type(e).__name__}", False)
                    return 0, None
        return 0, None


def predict_feedback(c, stop, rng):
    while not stop.is_set():
        row, label = rng.choice(IRIS_ROWS)
        st, body = c.call("predict", "POST", "/v1/models/iris/predict", {"instances": [row]})
        if st == 200 and body:
            c.call("feedback", "POST", "/v1/models/iris/feedback",
                   {"request_id": body["request_id"], "actual": [label]})
        st, body = c.call("predict", "POST", "/predict",
                          {"model": "diabetes", "instances": [[0.01 * i for i in range(10)]]})
        if st == 200 and body:
            c.call("feedback", "POST", "/v1/models/diabetes/feedback",
                   {"request_id": body["request_id"], "actual": [150.0]})


def v2_infer(c, stop, rng):
    n = 0
    while not stop.is_set():
        n += 1
        row, label = rng.choice(IRIS_ROWS)
        rid = f"soak-v2-{n}"
        st, _ = c.call("v2_infer", "POST", "/v2/models/iris/infer",
                       {"id": rid, "inputs": [{"name": "input", "shape": [1, 4],
                                               "datatype": "FP64", "data": row}]})
        if st == 200 and n % 4 == 0:
            c.call("feedback", "POST", "/v1/models/iris/feedback",
                   {"request_id": rid, "actual": [label]})


def training(c, stop, rng, every):
    """A small job every `every` s; keeps only the newest version so the store stays small."""
    while not stop.wait(every):
        rows = [r for r, _ in IRIS_ROWS] * 10
        targets = [float(t) for _, t in IRIS_ROWS] * 10
        params = {"epochs": 20, "seed": rng.randrange(1000)}
        algorithm = rng.choice(["softmax_regression", "mlp_classifier"])
        if algorithm == "mlp_classifier":
            params["hidden_layers"] = [4]
        st, body = c.call("train", "POST", "/v1/models/soak_trained/train", {
            "algorithm": algorithm, "data": {"rows": rows, "targets": targets},
            "params": params}, ok=(202, 429))
        if st != 202 or not body:
            continue
        job = body["job_id"]
        deadline = time.time() + 120
        while time.time() < deadline and not stop.is_set():
            st, view = c.call("job", "GET", f"/v1/jobs/{job}")
            if st != 200 or view.get("state") in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.2)
        prune_versions(c, "soak_trained")


def prune_versions(c, model, keep=1):
    st, detail = c.call("list", "GET", f"/v1/models/{model}/versions")
    if st != 200 or not detail:
        return
    versions = sorted(v["version"] for v in detail.get("versions", []))
    for v in versions[:-keep] if keep else versions:
        c.call("delete", "DELETE", f"/v1/models/{model}/versions/{v}", ok=(204,))


def onnx_import(c, stop, onnx_bytes, every):
    while not stop.wait(every):
        st, body = c.call("onnx_import", "POST", "/v1/models/soak_onnx/versions",
                          onnx_bytes, ctype="application/octet-stream", ok=(201,))
        if st != 201 or not body:
            continue
        v = body["version"]
        c.call("predict", "POST", f"/v1/models/soak_onnx/predict?version={v}",
               {"instances": [[0.01 * i for i in range(10)]]})
        if v > 1:
            c.call("delete", "DELETE", f"/v1/models/soak_onnx/versions/{v - 1}", ok=(204, 404))


def reloads(c, stop, every):
    while not stop.wait(every):
        c.call("reload", "POST", "/v1/models/iris/reload")
        c.call("reload", "POST", "/v1/reload")
        c.call("reload", "POST", "/v2/repository/index")
        c.call("metrics", "GET", "/metrics")
        c.call("monitoring", "GET", "/v1/models/iris/monitoring")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_wrk(host, port, duration, lua, out):
    if not shutil.which("wrk"):
        out["wrk"] = None
        return
    p = subprocess.run(["wrk", "-t1", "-c2", f"-d{duration}s", "--latency", "-s", lua,
                        f"http://{host}:{port}/v1/models/iris/predict"],
                       capture_output=True, text=True)
    out["wrk"] = p.stdout


def parse_wrk(text):
    reqs, errs = 0, 0
    for line in text.splitlines():
        line = line.strip()
        if "requests in" in line:
            reqs = int(line.split()[0])
        elif line.startswith("Non-2xx or 3xx responses:"):
            errs += int(line.split(":")[1])
        elif line.startswith("Socket errors:"):
            errs += sum(int(x.split()[1]) for x in line.split(":", 1)[1].split(","))
    return reqs, errs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--duration", type=int, default=600)
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--lua", required=True)
    ap.add_argument("--interval", type=int, default=30)
    a = ap.parse_args()
    host, port = a.addr.rsplit(":", 1)
    port = int(port)
    stats = Stats()
    stop = threading.Event()
    with open(a.onnx, "rb") as f:
        onnx_bytes = f.read()
    wrk_out = {}
    workers = [threading.Thread(target=run_wrk, args=(host, port, a.duration, a.lua, wrk_out))]
    seed = 0

    def client():
        return Client(host, port, stats)

    for target, args in [
        (predict_feedback, ()), (predict_feedback, ()), (v2_infer, ()),
        (training, (15,)), (onnx_import, (onnx_bytes, 5)), (reloads, (10,)),
    ]:
        seed += 1
        workers.append(threading.Thread(
            target=target, args=(client(), stop, *([random.Random(seed)] if target in
                                                   (predict_feedback, v2_infer, training)
                                                   else []), *args)))
    start = time.time()
    for w in workers:
        w.start()
    samples = []
    print(f"{'t (s)':>6} {'RSS (MiB)':>10} {'requests so far':>16}")
    ticks = list(range(0, a.duration, a.interval)) + [a.duration]
    for t in ticks:
        time.sleep(max(0.0, start + t - time.time()))
        kib = rss_kib(a.pid)
        with stats.lock:
            n = sum(stats.requests.values())
        samples.append((t, kib))
        print(f"{t:>6} {kib / 1024:>10.1f} {n:>16}", flush=True)
    stop.set()
    for w in workers:
        w.join()
    elapsed = time.time() - start

    print(f"\nelapsed {elapsed:.0f} s")
    print(f"{'kind':<12} {'requests':>9} {'errors':>7}")
    for kind in sorted(stats.requests):
        print(f"{kind:<12} {stats.requests[kind]:>9} {stats.errors[kind]:>7}")
    total, errors = sum(stats.requests.values()), sum(stats.errors.values())
    if wrk_out.get("wrk"):
        wr, we = parse_wrk(wrk_out["wrk"])
        print(f"{'wrk predict':<12} {wr:>9} {we:>7}")
        total, errors = total + wr, errors + we
    else:
        print("wrk not run (not installed)")
    print(f"{'TOTAL':<12} {total:>9} {errors:>7}")
    busy = sum(v for (k, s), v in stats.statuses.items() if k == "train" and s == 429)
    print(f"train answered 429 busy (expected, not an error): {busy}")

    # Warm-up: the first fifth of the run (at least one sample) fills caches, the
    # prediction log ring and the feedback/drift windows, which are bounded by config.
    warm = [kib for t, kib in samples if t >= max(a.interval, a.duration // 5)]
    if warm:
        ref = sorted(warm)[len(warm) // 2]
        lo, hi = min(warm), max(warm)
        dev = max(abs(lo - ref), abs(hi - ref)) / ref * 100 if ref else 0
        flat = dev <= 10
        print(f"RSS after warm-up: median {ref / 1024:.1f} MiB, min {lo / 1024:.1f}, "
              f"max {hi / 1024:.1f}, max deviation {dev:.1f}% -> "
              f"{'FLAT (within ±10%)' if flat else 'NOT FLAT'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
