"""KServe Python SDK suite: KServe's own clients (InferenceRESTClient with protocol v2, and
InferenceGRPCClient) against a live modeld started with an API key.

Usage: python kserve_suite.py HTTP_BASE_URL GRPC_ADDR FIXTURES_DIR API_KEY

* live, ready and model ready over REST and gRPC;
* infer on a classifier and a regressor with FP64, FP32 and INT64 inputs over both
  transports; each answer parses with KServe's own response model (so it has an id) and
  equals the native REST predict;
* errors: an unknown model and a missing key are refused with 404 / NOT_FOUND and
  401 / UNAUTHENTICATED.

Runs in a process of its own: kserve and tritonclient both register the `inference.*`
protobuf messages, and one process cannot hold both.
"""
import asyncio
import sys
from pathlib import Path

import grpc
import httpx
import numpy as np
from kserve import (InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest,
                    RESTConfig)
from modeld_http import Modeld

BASE, GRPC, FIXTURES, KEY = sys.argv[1].rstrip("/"), sys.argv[2], Path(sys.argv[3]), sys.argv[4]
AUTH = {"authorization": f"Bearer {KEY}"}
M = Modeld(BASE, FIXTURES, KEY)
ok, http, train, rows_of = M.ok, M.http, M.train, M.rows_of


def check(want, res, transport):
    """`res` is KServe's InferResponse; compares it with the native answer."""
    assert res.id, f"{transport}: the response has no id"
    out = {o.name: o.as_numpy() for o in res.outputs}
    if "probabilities" in want:
        assert out["label"].reshape(-1).tolist() == want["predictions"], (out["label"], want)
        np.testing.assert_allclose(out["probabilities"], np.array(want["probabilities"]),
                                   rtol=1e-6, atol=1e-12)
    else:
        np.testing.assert_allclose(out["variable"].reshape(-1), want["predictions"], rtol=1e-6)


def request(name, xs, dtype, rid):
    inp = InferInput(name="input", shape=list(xs.shape), datatype=dtype)
    inp.set_data_from_numpy(xs)
    return InferRequest(model_name=name, infer_inputs=[inp], request_id=rid)


async def main():
    rest = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=60))
    grpc_client = InferenceGRPCClient(url=GRPC, retries=0, timeout=60)
    grpc_auth = list(AUTH.items())
    assert await rest.is_server_live(BASE, headers=AUTH)
    assert await grpc_client.is_server_live(headers=grpc_auth)
    for _ in range(500):  # the store loads in the background after the bind
        if await rest.is_server_ready(BASE, headers=AUTH):
            break
        await asyncio.sleep(0.02)
    assert await rest.is_server_ready(BASE, headers=AUTH)
    assert await grpc_client.is_server_ready(headers=grpc_auth)
    ok("KServe REST and gRPC clients: server live and ready")

    train("iris", "softmax_regression", "iris")
    train("diabetes", "linear_regression", "diabetes")
    for name, dataset in (("iris", "iris"), ("diabetes", "diabetes")):
        assert await rest.is_model_ready(BASE, name, headers=AUTH)
        assert await grpc_client.is_model_ready(name, headers=grpc_auth)
        x = rows_of(dataset)
        for dtype, np_type in (("FP64", np.float64), ("FP32", np.float32), ("INT64", np.int64)):
            xs = np.rint(x).astype(np_type) if dtype == "INT64" else x.astype(np_type)
            want = http("POST", f"/v1/models/{name}/predict",
                        {"instances": xs.astype(np.float64).tolist()})
            res = await rest.infer(BASE, request(name, xs, dtype, f"kserve-rest-{name}-{dtype}"),
                                   model_name=name, headers=AUTH)
            assert res.id == f"kserve-rest-{name}-{dtype}", res.id
            check(want, res, "REST")
            res = await grpc_client.infer(request(name, xs, dtype, f"kserve-grpc-{name}-{dtype}"),
                                          headers=grpc_auth)
            assert res.id == f"kserve-grpc-{name}-{dtype}", res.id
            check(want, res, "gRPC")
            ok(f"KServe REST and gRPC infer {name} {dtype} == native REST predict")
    # Without a request id, modeld makes one: KServe's response model requires it.
    x = rows_of("iris", 2)
    inp = InferInput(name="input", shape=list(x.shape), datatype="FP64")
    inp.set_data_from_numpy(x)
    res = await rest.infer(BASE, InferRequest(model_name="iris", infer_inputs=[inp]),
                           model_name="iris", headers=AUTH)
    assert res.id, res
    ok(f"KServe REST infer without an id gets one ({res.id[:12]}…)")

    try:
        await rest.infer(BASE, request("nope", x, "FP64", "r"), model_name="nope", headers=AUTH)
        raise AssertionError("infer on an unknown model succeeded")
    except httpx.HTTPStatusError as e:
        assert e.response.status_code == 404 and "nope" in e.response.text, e
    try:
        await grpc_client.infer(request("nope", x, "FP64", "r"), headers=grpc_auth)
        raise AssertionError("infer on an unknown model succeeded")
    except grpc.aio.AioRpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND and "nope" in e.details(), e
    ok("unknown model: REST 404, gRPC NOT_FOUND, both naming it")
    try:
        await rest.infer(BASE, request("iris", x, "FP64", "r"), model_name="iris")
        raise AssertionError("infer without the key succeeded")
    except httpx.HTTPStatusError as e:
        assert e.response.status_code == 401, e
    try:
        await grpc_client.infer(request("iris", x, "FP64", "r"))
        raise AssertionError("infer without the key succeeded")
    except grpc.aio.AioRpcError as e:
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e
    ok("no API key: REST 401, gRPC UNAUTHENTICATED")
    await rest.close()
    await grpc_client.close()
    print(f"kserve interop suite passed: {M.checks} checks")


if __name__ == "__main__":
    asyncio.run(main())
