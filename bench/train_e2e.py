"""End to end, as a user waits: from POST /v1/models/{name}/train to a version that
answers a predict, with modeld (release binary, over HTTP, data by path) against
pandas.read_csv + StandardScaler + fit on 80% + score on 20% in scikit-learn, on the same
CSV, in one run. Each modeld case starts a fresh server (an empty parse cache), trains
once ("first") and again ("repeat"); peak RSS is the server's VmHWM. scikit-learn runs in
a fresh process per case; its peak RSS is ru_maxrss.

usage: [ROUNDS=3] train_e2e.py MODELD_BIN DATA_DIR CSV_NAME... (names under DATA_DIR)
prints one JSON line per case and size: medians over the rounds, each round a fresh
server and a fresh scikit-learn process, which of the two goes first alternating."""

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CASES = {
    # name: (task, modeld algorithm, modeld params, sklearn model expression)
    "ols": ("regression", "linear_regression", {"solver": "closed_form"},
            "LinearRegression()"),
    "logistic": ("classification", "logistic_regression", {"solver": "newton", "l2": 1e-5},
                 "LogisticRegression(max_iter=1000)"),
    "sgd_5_epochs": ("classification", "logistic_regression",
                     {"optimizer": "sgd", "epochs": 5, "l2": 1e-4, "learning_rate": 0.01},
                     "SGDClassifier(loss='log_loss', max_iter=5, tol=None, alpha=1e-4, random_state=0)"),
}

SKLEARN = r'''
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
t0 = time.perf_counter()
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
t = time.perf_counter()
df = pd.read_csv(sys.argv[1])
x, y = df.drop(columns=["target"]).to_numpy(), df["target"].to_numpy()
xt, xv, yt, yv = train_test_split(x, y, test_size=0.2, random_state=0)
model = make_pipeline(StandardScaler(), eval(sys.argv[2])).fit(xt, yt)
score = model.score(xv, yv)
secs = time.perf_counter() - t
print(json.dumps({"seconds": secs, "score": score,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ready(base):
    """Polls /readyz until the server answers (at most about 10 s)."""
    for _ in range(500):
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1)
            return
        except Exception:
            time.sleep(0.02)


def call(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def modeld_case(binary, data_dir, csv, case):
    task, algorithm, params, _ = CASES[case]
    port = free_port()
    store = tempfile.mkdtemp()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELD_")}
    env.update({"MODELD_DEMO__ENABLED": "false", "MODELD_GRPC__PORT": "0",
                "MODELD_STORE__URI": store, "MODELD_LOG__FORMAT": "json"})
    server = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(port),
                               "--data-dir", data_dir], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        out = {}
        for run in ("first", "repeat"):
            body = {"algorithm": algorithm, "data": {"path": csv, "target": "target"},
                    "params": params, "validation_split": 0.2}
            t = time.perf_counter()
            accepted = call(f"{base}/v1/models/{case}/train", "POST", body)
            post = time.perf_counter() - t
            while True:
                job = call(base + accepted["status_url"])
                if job["state"] in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(0.005)
            if job["state"] != "succeeded":
                raise SystemExit(f"{case} {run}: {job}")
            row = [[0.0] * 20]
            call(f"{base}/v1/models/{case}/predict?version={job['version']}", "POST", {"instances": row})
            total = time.perf_counter() - t
            metric = job["metrics"]["validation"].get("accuracy", job["metrics"]["validation"].get("r2"))
            out[run] = {"seconds": round(total, 3), "post_seconds": round(post, 3),
                        "validation": metric}
        out["peak_rss_mib"] = round(peak_rss_mib(server.pid), 1)
        return out
    finally:
        server.kill()
        server.wait()


def sklearn_case(data_dir, csv, case):
    r = subprocess.run([sys.executable, "-c", SKLEARN, os.path.join(data_dir, csv), CASES[case][3]],
                       check=True, capture_output=True, text=True)
    return json.loads(r.stdout)


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def main():
    binary, data_dir, csvs = sys.argv[1], sys.argv[2], sys.argv[3:]
    rounds = int(os.environ.get("ROUNDS", "3"))
    for csv in csvs:
        for case, (task, *_rest) in CASES.items():
            if (task == "regression") != csv.startswith("reg"):
                continue
            runs = []
            for r in range(rounds):
                # Alternate which side goes first, so a neighbour's load hits both alike.
                if r % 2:
                    s = sklearn_case(data_dir, csv, case)
                    m = modeld_case(binary, data_dir, csv, case)
                else:
                    m = modeld_case(binary, data_dir, csv, case)
                    s = sklearn_case(data_dir, csv, case)
                runs.append((m, s))
            first = median([m["first"]["seconds"] for m, _ in runs])
            repeat = median([m["repeat"]["seconds"] for m, _ in runs])
            sk = median([s["seconds"] for _, s in runs])
            print(json.dumps({
                "csv": csv, "case": case, "rounds": rounds,
                "modeld_first_s": first, "modeld_repeat_s": repeat, "sklearn_s": round(sk, 3),
                "post_first_s": median([m["first"]["post_seconds"] for m, _ in runs]),
                "post_repeat_s": median([m["repeat"]["post_seconds"] for m, _ in runs]),
                "ratio_first": round(sk / first, 2), "ratio_repeat": round(sk / repeat, 2),
                "paired_ratio_first": round(median([s["seconds"] / m["first"]["seconds"] for m, s in runs]), 2),
                "peak_rss_mib": median([m["peak_rss_mib"] for m, _ in runs]),
                "sklearn_peak_rss_mib": round(median([s["peak_rss_mib"] for _, s in runs]), 1),
                "validation": runs[0][0]["first"]["validation"], "sklearn_score": runs[0][1]["score"],
                "first_runs": [m["first"]["seconds"] for m, _ in runs],
                "sklearn_runs": [round(s["seconds"], 3) for _, s in runs],
            }), flush=True)


if __name__ == "__main__":
    main()
