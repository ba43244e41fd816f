"""The shared-store benchmark on loopback (run by bench/store.sh).

1. Predict throughput, local directory store vs S3 store (moto), same binary, same
   model, same load (wrk, 1-row native predict): the store is never on the request path,
   so the two should match.
2. Time for a promote on replica A to be served by replica B, at poll intervals of
   100 ms and 1 s (S3 store), over repeated promotions.
3. Resident memory per replica after the runs.

Usage: python3 bench/store_bench.py MODELD_BIN MOTO_SERVER  (prints a Markdown report)
"""

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN, MOTO = sys.argv[1], sys.argv[2]
WRK_SECONDS = int(os.environ.get("STORE_BENCH_WRK_SECONDS", "10"))
ROUNDS = int(os.environ.get("STORE_BENCH_ROUNDS", "3"))
PROMOTIONS = int(os.environ.get("STORE_BENCH_PROMOTIONS", "20"))
children = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=None, content_type="application/json"):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if data is not None:
        req.add_header("content-type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")
    except OSError:
        return 0, None


def start(env_extra):
    port = free_port()
    data = tempfile.mkdtemp()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELD_")}
    env.update({"MODELD_DEMO__ENABLED": "false", "MODELD_GRPC__PORT": "0"}, **env_extra)
    p = subprocess.Popen([BIN, "--host", "127.0.0.1", "--port", str(port), "--data-dir", data],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(p)
    for _ in range(600):
        if call(port, "GET", "/readyz")[0] == 200:
            return port, p
        time.sleep(0.05)
    raise SystemExit(f"replica on {port} never became ready")


def train(port, model, slope, alias=None):
    rows = [[float(x)] for x in range(1, 11)]
    body = {"algorithm": "linear_regression",
            "data": {"rows": rows, "targets": [slope * r[0] for r in rows], "feature_names": ["x"]}}
    if alias:
        body["alias"] = alias
    status, job = call(port, "POST", f"/v1/models/{model}/train", body)
    assert status == 202, job
    while True:
        _, j = call(port, "GET", f"/v1/jobs/{job['job_id']}")
        if j["state"] == "succeeded":
            return j["version"]
        assert j["state"] in ("queued", "running"), j
        time.sleep(0.02)


def wrk(port, model):
    script = os.path.join(tempfile.mkdtemp(), "predict.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\n'
                'wrk.body = \'{"instances": [[3.0]]}\'\n')
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{WRK_SECONDS}s", "-s", script,
                          f"http://127.0.0.1:{port}/v1/models/{model}/predict"],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert not non2xx, out
    return float(m.group(1))


def rss_mib(p):
    with open(f"/proc/{p.pid}/status") as f:
        kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return kb / 1024


def main():
    moto_port = free_port()
    children.append(subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(moto_port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    endpoint = f"http://127.0.0.1:{moto_port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.05)
    req = urllib.request.Request(f"{endpoint}/bench", method="PUT")
    urllib.request.urlopen(req, timeout=10)
    s3 = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
          "AWS_REGION": "us-east-1"}

    print(f"binary: `{BIN}`; wrk -t2 -c32 -d{WRK_SECONDS}s, 1-row native predict; "
          f"{ROUNDS} rounds each, the first of each round alternating\n")
    local_port, local_p = start({})
    s3_port, s3_p = start({**s3, "MODELD_STORE__URI": "s3://bench/throughput",
                           "MODELD_REPOSITORY__POLL_INTERVAL_MS": "1000"})
    for port in (local_port, s3_port):
        train(port, "m", 2.0)
    local, remote = [], []
    for i in range(ROUNDS):
        # Which store goes first alternates by round, so neither gains from its position.
        if i % 2 == 0:
            local.append(wrk(local_port, "m"))
            remote.append(wrk(s3_port, "m"))
        else:
            remote.append(wrk(s3_port, "m"))
            local.append(wrk(local_port, "m"))
    lm, rm = statistics.median(local), statistics.median(remote)
    paired = statistics.median(r / l for r, l in zip(remote, local))
    print("| store | predict req/s (median) | rounds |\n| --- | --- | --- |")
    print(f"| directory | {lm:,.0f} | {', '.join(f'{x:,.0f}' for x in local)} |")
    print(f"| S3 (moto), polling every 1 s | {rm:,.0f} | {', '.join(f'{x:,.0f}' for x in remote)} |")
    print(f"\nS3 / directory: **{rm / lm:.3f}** (medians), **{paired:.3f}** (paired: median of the rounds' ratios)\n")

    print("| poll interval | promote on A → served by B: median | p90 | max | promotions |")
    print("| --- | --- | --- | --- | --- |")
    replicas = [("local", local_p), ("s3-throughput", s3_p)]
    for poll in (100, 1000):
        prefix = f"s3://bench/converge-{poll}"
        env = {**s3, "MODELD_STORE__URI": prefix, "MODELD_REPOSITORY__POLL_INTERVAL_MS": str(poll)}
        (a, ap), (b, bp) = start(env), start(env)
        replicas += [(f"s3-{poll}-a", ap), (f"s3-{poll}-b", bp)]
        v1, v2 = train(a, "c", 1.0, "production"), train(a, "c", 2.0)
        want = {v1: 3.0, v2: 6.0}
        while call(b, "POST", "/v1/models/c/predict?alias=production", {"instances": [[3.0]]})[0] != 200:
            time.sleep(0.01)
        times = []
        for i in range(PROMOTIONS):
            v = v2 if i % 2 == 0 else v1
            status, _ = call(a, "PUT", "/v1/models/c/aliases/production", {"version": v})
            assert status == 200
            t0 = time.monotonic()
            while True:
                _, r = call(b, "POST", "/v1/models/c/predict?alias=production", {"instances": [[3.0]]})
                if r and abs(r["predictions"][0] - want[v]) < 1e-9:
                    break
                time.sleep(0.002)
            times.append((time.monotonic() - t0) * 1000)
            time.sleep(poll / 1000 * 0.37)  # promotions land at varied points of B's cycle
        times.sort()
        p90 = times[int(0.9 * (len(times) - 1))]
        print(f"| {poll} ms | {statistics.median(times):.0f} ms | {p90:.0f} ms | {times[-1]:.0f} ms | {len(times)} |")

    print("\n| replica | resident memory |\n| --- | --- |")
    for name, p in replicas:
        print(f"| {name} | {rss_mib(p):.1f} MiB |")


try:
    main()
finally:
    for c in children:
        c.terminate()
    for c in children:
        c.wait()
