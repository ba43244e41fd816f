"""What every interop suite needs from modeld's own REST API (check counting, requests,
training a model, sample rows), on the standard library and numpy only, so the
tritonclient suites and the KServe suite, which cannot share a process, all import it."""
import json
import time
import urllib.request
from pathlib import Path

import numpy as np


class Modeld:
    def __init__(self, base, fixtures, key=None):
        self.base, self.fixtures, self.key = base.rstrip("/"), Path(fixtures), key
        self.checks = 0

    def ok(self, what):
        self.checks += 1
        print(f"ok {self.checks:3d} {what}", flush=True)

    def http(self, method, path, body=None, content_type="application/json"):
        """JSON in and out; bytes bodies as given; /metrics as text, octet-streams as bytes."""
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if self.key:
            req.add_header("Authorization", f"Bearer {self.key}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            if path == "/metrics":
                return raw.decode()
            if r.headers.get("Content-Type", "").startswith("application/octet"):
                return raw
            return json.loads(raw)

    def train(self, name, algorithm, dataset, extra=None):
        """Trains `name` on a fixture dataset and waits; returns the new version."""
        csv = (self.fixtures / "data" / f"{dataset}.csv").read_text()
        body = {"algorithm": algorithm, "data": {"csv": csv, "target": "target"},
                "params": {"seed": 1}}
        body.update(extra or {})
        job = self.http("POST", f"/v1/models/{name}/train", body)
        for _ in range(3000):
            j = self.http("GET", f"/v1/jobs/{job['job_id']}")
            if j["state"] in ("succeeded", "failed", "cancelled"):
                assert j["state"] == "succeeded", j
                return j["version"]
            time.sleep(0.02)
        raise AssertionError(f"training {name} did not finish")

    def rows_of(self, dataset, n=12):
        """`n` feature rows spread over a fixture dataset."""
        lines = (self.fixtures / "data" / f"{dataset}.csv").read_text().strip().splitlines()[1:]
        step = max(1, len(lines) // n)
        return np.array([[float(v) for v in l.split(",")[:-1]] for l in lines[::step][:n]])
