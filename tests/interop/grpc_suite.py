"""gRPC interop suite: tritonclient.grpc (and its raw protobuf stub) against a live modeld
started with an API key and a small body limit.

Usage: python grpc_suite.py HTTP_BASE_URL GRPC_ADDR FIXTURES_DIR API_KEY BODY_LIMIT

* live/ready/metadata over gRPC match REST's;
* ModelInfer on a classifier and a regressor, FP32/FP64/INT64, raw contents both ways
  (tritonclient) and typed contents both ways (the stub), equals the native REST answer;
* errors carry the OIP codes: NOT_FOUND, INVALID_ARGUMENT, UNAUTHENTICATED,
  RESOURCE_EXHAUSTED; the gRPC id joins feedback and the metrics count the method;
* the repository extension (index, unload, load) agrees with REST's.
"""
import sys
import time
from pathlib import Path

import grpc
import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from modeld_http import Modeld

BASE, GRPC, FIXTURES, KEY, LIMIT = (sys.argv[1].rstrip("/"), sys.argv[2], Path(sys.argv[3]),
                                    sys.argv[4], int(sys.argv[5]))
AUTH = {"authorization": f"Bearer {KEY}"}
M = Modeld(BASE, FIXTURES, KEY)
ok, http, train, rows_of = M.ok, M.http, M.train, M.rows_of


def native(name, x):
    return http("POST", f"/v1/models/{name}/predict", {"instances": x.tolist()})


def check(want, get):
    """`get(output_name)` -> numpy; compares with the native answer."""
    if "probabilities" in want:
        label, probs = get("label"), get("probabilities")
        assert label.dtype == np.int64 and label.tolist() == want["predictions"], (label, want)
        np.testing.assert_allclose(probs, np.array(want["probabilities"]), rtol=1e-6, atol=1e-12)
    else:
        values = get("variable")
        np.testing.assert_allclose(values.reshape(-1), want["predictions"], rtol=1e-6)


def code_of(call):
    try:
        call()
    except grpc.RpcError as e:
        return e.code(), e.details()
    raise AssertionError("the call succeeded")


def main():
    client = grpcclient.InferenceServerClient(url=GRPC)
    assert client.is_server_live(headers=AUTH)
    for _ in range(500):  # the store loads in the background after the bind
        if client.is_server_ready(headers=AUTH):
            break
        time.sleep(0.02)
    assert client.is_server_ready(headers=AUTH)
    meta = client.get_server_metadata(headers=AUTH, as_json=True)
    rest_meta = http("GET", "/v2")
    assert meta["name"] == rest_meta["name"] and meta["extensions"] == rest_meta["extensions"], meta
    ok(f"gRPC live, ready, server metadata == REST ({meta['name']} {meta['version']})")

    train("iris", "softmax_regression", "iris")
    train("diabetes", "linear_regression", "diabetes")
    for name in ("iris", "diabetes"):
        assert client.is_model_ready(name, headers=AUTH)
        md = client.get_model_metadata(name, headers=AUTH, as_json=True)
        rest = http("GET", f"/v2/models/{name}")
        assert md["inputs"][0]["name"] == rest["inputs"][0]["name"], md
        assert [int(d) for d in md["inputs"][0]["shape"]] == rest["inputs"][0]["shape"], md
        assert [o["name"] for o in md["outputs"]] == [o["name"] for o in rest["outputs"]], md
        assert md["versions"] == rest["versions"] and md["platform"] == rest["platform"], md
        ok(f"gRPC model ready + metadata of {name} == REST")

    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(GRPC))
    meta_auth = list(AUTH.items())
    for name, dataset in (("iris", "iris"), ("diabetes", "diabetes")):
        x = rows_of(dataset)
        for dtype, np_type in (("FP64", np.float64), ("FP32", np.float32), ("INT64", np.int64)):
            xs = np.rint(x).astype(np_type) if dtype == "INT64" else x.astype(np_type)
            want = native(name, xs.astype(np.float64))
            # Raw contents both ways (tritonclient always sends raw_input_contents).
            t = grpcclient.InferInput("input", list(xs.shape), dtype)
            t.set_data_from_numpy(xs)
            res = client.infer(name, [t], request_id=f"grpc-{name}-{dtype}", headers=AUTH)
            assert res.get_response().id == f"grpc-{name}-{dtype}"
            assert len(res.get_response().raw_output_contents) > 0
            check(want, res.as_numpy)
            # Typed contents both ways.
            req = service_pb2.ModelInferRequest(model_name=name, model_version="1")
            inp = req.inputs.add(name="input", datatype=dtype, shape=list(xs.shape))
            field = {"FP64": "fp64_contents", "FP32": "fp32_contents", "INT64": "int64_contents"}[dtype]
            getattr(inp.contents, field).extend(xs.reshape(-1).tolist())
            resp = stub.ModelInfer(req, metadata=meta_auth)
            assert len(resp.raw_output_contents) == 0 and resp.id, resp.id
            by_name = {}
            for o in resp.outputs:
                shape = [int(d) for d in o.shape]
                if o.datatype == "INT64":
                    by_name[o.name] = np.array(o.contents.int64_contents, dtype=np.int64).reshape(shape)
                elif o.datatype == "FP32":
                    by_name[o.name] = np.array(o.contents.fp32_contents, dtype=np.float32).reshape(shape)
                else:
                    by_name[o.name] = np.array(o.contents.fp64_contents).reshape(shape)
            check(want, by_name.__getitem__)
            ok(f"gRPC ModelInfer {name} {dtype}: raw and typed contents == native REST predict")

    # Requested outputs only, in order.
    t = grpcclient.InferInput("input", [2, 4], "FP64")
    t.set_data_from_numpy(rows_of("iris", 2))
    res = client.infer("iris", [t], outputs=[grpcclient.InferRequestedOutput("probabilities")],
                       headers=AUTH)
    assert [o.name for o in res.get_response().outputs] == ["probabilities"]
    ok("gRPC requested outputs")

    # Feedback joins on the gRPC request id, and the metrics count the method.
    t = grpcclient.InferInput("input", [2, 4], "FP64")
    t.set_data_from_numpy(rows_of("iris", 2))
    labels = client.infer("iris", [t], request_id="grpc-feedback-1", headers=AUTH).as_numpy("label")
    fb = http("POST", "/v1/models/iris/feedback", {"request_id": "grpc-feedback-1", "actual": labels.tolist()})
    assert fb["recorded"] == 2, fb
    metrics = http("GET", "/metrics")
    assert 'route="/inference.GRPCInferenceService/ModelInfer"' in metrics
    ok("gRPC predictions are logged for feedback and counted in /metrics")

    def infer_req(name="iris", shape=(1, 4), raw=None, typed=None, version=""):
        req = service_pb2.ModelInferRequest(model_name=name, model_version=version)
        inp = req.inputs.add(name="input", datatype="FP64", shape=list(shape))
        if typed is not None:
            inp.contents.fp64_contents.extend(typed)
        if raw is not None:
            req.raw_input_contents.append(raw)
        return req

    one = np.ones(4).tobytes()
    cases = [
        ("unknown model", infer_req(name="nope", raw=one), grpc.StatusCode.NOT_FOUND, "nope"),
        ("version v10", infer_req(raw=one, version="v10"), grpc.StatusCode.NOT_FOUND, "v10"),
        ("bad shape", infer_req(shape=(1, 3), raw=np.ones(3).tobytes()),
         grpc.StatusCode.INVALID_ARGUMENT, "features"),
        ("raw length", infer_req(raw=np.ones(3).tobytes()), grpc.StatusCode.INVALID_ARGUMENT, "bytes"),
        ("typed and raw", infer_req(raw=one, typed=[1.0] * 4), grpc.StatusCode.INVALID_ARGUMENT, "not both"),
        ("typed count", infer_req(typed=[1.0] * 3), grpc.StatusCode.INVALID_ARGUMENT, "values"),
        ("huge shape", infer_req(shape=(1 << 40, 4), raw=one), grpc.StatusCode.INVALID_ARGUMENT, "limit"),
        ("over the limit", infer_req(shape=(LIMIT, 4), raw=b"\0" * (LIMIT + 1)),
         grpc.StatusCode.RESOURCE_EXHAUSTED, f"larger than the limit of {LIMIT} bytes"),
    ]
    for what, req, code, text in cases:
        got, details = code_of(lambda: stub.ModelInfer(req, metadata=meta_auth))
        assert got == code and text in details, (what, got, details)
        ok(f"gRPC {what}: {code.name} ({details[:70]})")
    got, details = code_of(lambda: stub.ModelInfer(infer_req(raw=one)))
    assert got == grpc.StatusCode.UNAUTHENTICATED and "API key" in details, (got, details)
    got, _ = code_of(lambda: stub.ServerLive(service_pb2.ServerLiveRequest(),
                                             metadata=[("authorization", "Bearer wrong-key-1")]))
    assert got == grpc.StatusCode.UNAUTHENTICATED
    ok("gRPC without or with a wrong key: UNAUTHENTICATED")
    # Still serving after the bad requests.
    assert stub.ModelInfer(infer_req(raw=one), metadata=meta_auth).model_name == "iris"
    ok("still serving after the refused requests")

    # The repository extension, as tritonclient calls it, agrees with REST's.
    index = client.get_model_repository_index(headers=AUTH, as_json=True)["models"]
    rest_index = http("POST", "/v2/repository/index", {})
    assert sorted((m["name"], m["version"], m["state"]) for m in index) == \
        sorted((m["name"], m["version"], m["state"]) for m in rest_index), (index, rest_index)
    assert ("iris", "1", "READY") in [(m["name"], m["version"], m["state"]) for m in index]
    client.unload_model("iris", headers=AUTH)
    # An unloaded model is not found, as on REST (404), rather than ready=false.
    try:
        client.is_model_ready("iris", headers=AUTH)
        raise AssertionError("an unloaded model answered ModelReady")
    except grpcclient.InferenceServerException as e:
        assert e.status() == "StatusCode.NOT_FOUND", e
    states = {m["name"]: m for m in client.get_model_repository_index(headers=AUTH, as_json=True)["models"]}
    assert states["iris"]["state"] == "UNAVAILABLE" and states["iris"]["reason"] == "unloaded", states
    got, _ = code_of(lambda: stub.ModelInfer(infer_req(raw=one), metadata=meta_auth))
    assert got == grpc.StatusCode.NOT_FOUND
    client.load_model("iris", headers=AUTH)
    assert client.is_model_ready("iris", headers=AUTH)
    assert stub.ModelInfer(infer_req(raw=one), metadata=meta_auth).model_name == "iris"
    try:
        client.load_model("nope", headers=AUTH)
        raise AssertionError("loading an unknown model succeeded")
    except grpcclient.InferenceServerException as e:
        assert e.status() == "StatusCode.NOT_FOUND" and "nope" in e.message(), e
    ok("gRPC repository index == REST's; unload stops serving, load serves again; unknown: NOT_FOUND")

    print(f"grpc interop suite passed: {M.checks} checks")


if __name__ == "__main__":
    main()
