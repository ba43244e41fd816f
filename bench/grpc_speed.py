"""Sequential gRPC ModelInfer latency (p50/p99, µs) and rate, one client, for 1-row and
100-row FP64 raw requests. Used by bench/grpc_speed.sh against modeld and the bare tonic
server (examples/grpc_bare.rs). Usage: grpc_speed.py ADDR MODEL FEATURES [N]"""
import sys
import time

import grpc
import numpy as np
from tritonclient.grpc import service_pb2, service_pb2_grpc

addr, model, features = sys.argv[1], sys.argv[2], int(sys.argv[3])
n = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(addr))
for rows in (1, 100):
    x = np.random.default_rng(1).normal(size=(rows, features))
    req = service_pb2.ModelInferRequest(model_name=model)
    req.inputs.add(name="input", datatype="FP64", shape=[rows, features])
    req.raw_input_contents.append(x.tobytes())
    for _ in range(300):
        stub.ModelInfer(req)
    lat = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        stub.ModelInfer(req)
        lat.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    lat_us = np.array(lat) * 1e6
    print(f"{rows:3d} rows  p50 {np.percentile(lat_us, 50):7.0f} µs  p99 {np.percentile(lat_us, 99):7.0f} µs"
          f"  {n / total:7.0f} req/s")
