#!/usr/bin/env python3
"""modeld benchmark driver (run through bench/run.sh).

Throughput and latency: modeld and the bare-axum baseline are started on loopback and
driven alternately (A B in odd rounds, B A in even ones) by wrk for each scenario; medians over rounds and
the modeld/baseline ratio are printed as a Markdown table. Then: start-up time with
1,000 versions in the store, idle RSS, RSS after ~1M predictions, and predict p99 while
a training job runs.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BODY_FILE"), "rb")
wrk.body = f:read("*a")
f:close()
"""

ROW = [0.038, 0.05, 0.062, 0.022, -0.044, -0.035, -0.043, -0.003, 0.02, -0.018]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, body=None, method=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read() or b"null")


def wait_ready(url, timeout=60):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return time.monotonic() - start
        except Exception:
            pass
        time.sleep(0.005)
    raise SystemExit(f"{url} not ready after {timeout}s")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def start_modeld(binary, data_dir, port, extra_env=None):
    # Default configuration (log level included): the numbers are what a user gets.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELD_")}
    env.update(extra_env or {})
    env.pop("RUST_LOG", None)
    return subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", data_dir], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wrk(url, body_file, conns, duration, threads=2):
    out = subprocess.run(
        ["wrk", f"-t{min(threads, conns)}", f"-c{conns}", f"-d{duration}s", "--latency",
         "-s", LUA_FILE, url],
        env=dict(os.environ, BODY_FILE=body_file), capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def lat(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50": lat(50), "p99": lat(99), "errors": errors, "requests": total}


def write_body(path, rows):
    with open(path, "w") as f:
        json.dump({"instances": [ROW] * rows}, f)


def write_v2_body(path, rows):
    with open(path, "w") as f:
        json.dump({"inputs": [{"name": "input", "shape": [rows, len(ROW)], "datatype": "FP64",
                               "data": ROW * rows}]}, f)


def prepare_models(port):
    """Trains an MLP and imports an ONNX graph (both 10 features, like the baseline's)."""
    base = f"http://127.0.0.1:{port}"
    rows = [[((i * 37 + j * 11) % 101) / 500.0 - 0.1 for j in range(10)] for i in range(2000)]
    targets = [sum(r) * 100 + r[0] * r[1] * 1000 for r in rows]
    _, job = http(f"{base}/v1/models/mlp/train",
                  {"algorithm": "mlp_regressor", "data": {"rows": rows, "targets": targets},
                   "params": {"hidden_layers": [256, 256], "epochs": 3}})
    while True:
        _, j = http(f"{base}/v1/jobs/{job['job_id']}")
        if j["state"] in ("succeeded", "failed", "cancelled"):
            if j["state"] != "succeeded":
                raise SystemExit(f"MLP training for the benchmark failed: {j}")
            break
        time.sleep(0.2)
    onnx = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                        "models", "linreg_diabetes.onnx")
    if not os.path.exists(onnx):
        print(f"({onnx} not found: the ONNX scenario is skipped)")
        return False
    with open(onnx, "rb") as f:
        req = urllib.request.Request(f"{base}/v1/models/onnx/versions", data=f.read(),
                                     headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(req, timeout=30).read()
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modeld", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-extras", action="store_true")
    ap.add_argument("--only", help="run only scenarios whose name contains this text")
    ap.add_argument("--set", action="append", default=[], metavar="MODELD_KEY=VALUE",
                    help="extra environment for the main modeld (e.g. batching settings)")
    args = ap.parse_args()

    global LUA_FILE
    tmp = tempfile.mkdtemp(prefix="modeld-bench-")
    LUA_FILE = os.path.join(tmp, "post.lua")
    with open(LUA_FILE, "w") as f:
        f.write(LUA)
    one, batch = os.path.join(tmp, "one.json"), os.path.join(tmp, "batch.json")
    v2one = os.path.join(tmp, "v2one.json")
    write_body(one, 1)
    write_body(batch, 100)
    write_v2_body(v2one, 1)

    data_dir = os.path.join(tmp, "data")
    mport, bport, cport = free_port(), free_port(), free_port()
    nport = free_port()
    modeld = start_modeld(args.modeld, data_dir, mport, dict(kv.split("=", 1) for kv in args.set))
    base = subprocess.Popen([args.baseline, f"127.0.0.1:{bport}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The same plain server answering modeld's wire contract (request id header and
    # model/version/request_id fields): a reference row, not the target's baseline.
    same = subprocess.Popen([args.baseline, f"127.0.0.1:{cport}", "--same-response"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [modeld, base, same]
    try:
        wait_ready(f"http://127.0.0.1:{mport}/readyz")
        time.sleep(0.5)
        idle_rss = rss_mib(modeld.pid)
        base_rss = rss_mib(base.pid)
        has_onnx = prepare_models(mport)
        # The same store served with batching off, for the with/without comparison.
        nobatch = start_modeld(args.modeld, data_dir, nport,
                               {"MODELD_BATCHING__FAMILIES": "[]", "MODELD_DEMO__ENABLED": "false"})
        procs.append(nobatch)
        wait_ready(f"http://127.0.0.1:{nport}/readyz")
        m = f"http://127.0.0.1:{mport}"
        n = f"http://127.0.0.1:{nport}"
        murl = f"{m}/v1/models/diabetes/predict"
        burl = f"http://127.0.0.1:{bport}/predict"
        same_url = f"http://127.0.0.1:{cport}/predict"
        linear = [("modeld", murl), ("baseline, same response", same_url)]
        scenarios = [("1 row, 1 conn", one, 1, 1, linear),
                     ("1 row, 32 conns", one, 32, 1, linear),
                     ("100 rows, 32 conns", batch, 32, 100, linear),
                     ("V2 infer 1 row, 32 conns", v2one, 32, 1,
                      [("modeld", f"{m}/v2/models/diabetes/infer")]),
                     ("MLP 256-256, 1 row, 32 conns", one, 32, 1,
                      [("modeld batched", f"{m}/v1/models/mlp/predict"),
                       ("modeld unbatched", f"{n}/v1/models/mlp/predict")])]
        if has_onnx:
            scenarios.append(("ONNX linear, 1 row, 32 conns", one, 32, 1,
                              [("modeld batched", f"{m}/v1/models/onnx/predict"),
                               ("modeld unbatched", f"{n}/v1/models/onnx/predict")]))
        if args.only:
            scenarios = [sc for sc in scenarios if args.only in sc[0]]
        results = {}
        for r in range(args.rounds):
            for name, body, conns, rows, targets in scenarios:
                # The baseline always gets the native body of the same size (it does not
                # speak V2): the comparison is per predicted row.
                # Who goes first alternates by round (A B, B A, ...), so a machine that
                # slows down or speeds up during a round does not favour either side.
                order = [("baseline", burl)] + targets
                for who, url in (order if r % 2 == 0 else order[::-1]):
                    res = wrk(url, (one if rows == 1 else batch) if who == "baseline" else body,
                              conns, args.duration)
                    res["rows_per_s"] = res["rps"] * rows
                    results.setdefault((name, who), []).append(res)
                    print(f"round {r + 1} {name:30s} {who:24s} {res['rps']:>10.0f} req/s "
                          f"p50 {res['p50']:.3f} ms p99 {res['p99']:.3f} ms errors {res['errors']}",
                          flush=True)

        def med(name, who, key):
            return statistics.median(x[key] for x in results[(name, who)])

        # "req/s ratio" is the ratio of the two medians (the target). "paired" is
        # the median of each round's own ratio (the two runs back to back), which cancels
        # the machine's slower and faster spells between rounds.
        lines = ["| scenario | server | req/s | rows/s | p50 ms | p99 ms | errors | req/s ratio | paired | p99 ratio |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for name, _, _, _, targets in scenarios:
            for who in ["baseline"] + [w for w, _ in targets]:
                errs = sum(x["errors"] for x in results[(name, who)])
                ratio = med(name, who, "rps") / med(name, "baseline", "rps")
                paired = statistics.median(
                    a["rps"] / b["rps"]
                    for a, b in zip(results[(name, who)], results[(name, "baseline")]))
                pratio = med(name, who, "p99") / med(name, "baseline", "p99")
                lines.append(f"| {name} | {who} | {med(name, who, 'rps'):.0f} | "
                             f"{med(name, who, 'rows_per_s'):.0f} | {med(name, who, 'p50'):.3f} | "
                             f"{med(name, who, 'p99'):.3f} | {errs} | {ratio:.2f} | {paired:.2f} | "
                             f"{pratio:.2f} |")
        print()
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
              f"wrk -t2, {args.duration}s per run, median of {args.rounds} alternating rounds")
        print("\n".join(lines))
        print(f"\nidle RSS with the demo models: modeld {idle_rss:.1f} MiB, baseline {base_rss:.1f} MiB")

        if not args.skip_extras:
            extras(args, tmp, murl, mport, one, modeld)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def extras(args, tmp, murl, mport, one, modeld):
    # Predict p99 while a long training job runs, against idle (same process), in
    # alternating rounds: a single pair of 3 s runs moved the ratio by ±0.4.
    rows = [[(i * 37 % 101) / 50.0 - 1.0 + 0.01 * j for j in range(10)] for i in range(20000)]
    targets = [sum(r) for r in rows]
    idle_runs, busy_runs = [], []
    for _ in range(args.rounds):
        idle_runs.append(wrk(murl, one, 32, args.duration))
        status, job = http(f"http://127.0.0.1:{mport}/v1/models/bg/train",
                           {"algorithm": "linear_regression",
                            "data": {"rows": rows, "targets": targets},
                            "params": {"optimizer": "sgd", "epochs": 100000}})
        time.sleep(0.5)
        busy_runs.append(wrk(murl, one, 32, args.duration))
        http(f"http://127.0.0.1:{mport}/v1/jobs/{job['job_id']}", method="DELETE")
        time.sleep(0.5)

    def median_of(runs, key):
        return statistics.median(run[key] for run in runs)

    idle_p99, busy_p99 = median_of(idle_runs, "p99"), median_of(busy_runs, "p99")
    ratios = " ".join(f"{b['p99'] / i['p99']:.2f}" for i, b in zip(idle_runs, busy_runs))
    print(f"\npredict under training (1 row, 32 conns, median of {args.rounds} idle/training "
          f"pairs): idle p99 {idle_p99:.3f} ms, training p99 {busy_p99:.3f} ms, ratio "
          f"{busy_p99 / idle_p99:.2f} (pairs: {ratios}); req/s "
          f"{median_of(idle_runs, 'rps'):.0f} → {median_of(busy_runs, 'rps'):.0f}")

    # Memory across ~1M predictions.
    before = rss_mib(modeld.pid)
    total = 0
    while total < 1_000_000:
        total += wrk(murl, one, 32, 10)["requests"]
    after = rss_mib(modeld.pid)
    print(f"RSS across {total} predictions: {before:.1f} MiB → {after:.1f} MiB")

    # Start-up with 1,000 versions in the store.
    store = os.path.join(tmp, "data", "models")
    big = os.path.join(tmp, "big")
    src = os.path.join(store, "diabetes", "1")
    dst_model = os.path.join(big, "models", "many")
    os.makedirs(dst_model)
    with open(os.path.join(src, "meta.json")) as f:
        meta = json.load(f)
    for v in range(1, 1001):
        d = os.path.join(dst_model, str(v))
        os.makedirs(d)
        shutil.copy(os.path.join(src, "model.json"), d)
        meta["version"] = v
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump(meta, f)
    times = []
    for _ in range(3):
        port = free_port()
        t0 = time.monotonic()
        p = start_modeld(args.modeld, big, port, {"MODELD_DEMO__ENABLED": "false"})
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
            times.append(time.monotonic() - t0)
            rss = rss_mib(p.pid)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=15)
    print(f"start-up to ready with 1,000 versions: median {statistics.median(times) * 1000:.0f} ms "
          f"(runs {', '.join(f'{t * 1000:.0f}' for t in times)} ms), RSS then {rss:.1f} MiB")


if __name__ == "__main__":
    sys.exit(main())
