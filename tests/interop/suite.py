"""Interop suite: real clients against a live modeld.

Usage: python suite.py BASE_URL FIXTURES_DIR  (FIXTURES_DIR: tests/fixtures)

* tritonclient[http]: server/model metadata, readiness and infer with numpy arrays
  (binary tensor extension both ways, and plain JSON) return what the native API
  returns, binary outputs bit for bit what the JSON ones are;
* onnxruntime: every model exported with ?format=onnx gives modeld's own predictions
  within 1e-6 relative (labels exact).

Sets up its own models through the native API (train + ONNX upload). Exits non-zero on
the first failure; prints one line per check.
"""
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tritonclient.http as httpclient
from modeld_http import Modeld

BASE, FIXTURES = sys.argv[1].rstrip("/"), Path(sys.argv[2])
M = Modeld(BASE, FIXTURES)
ok, http, train, rows_of = M.ok, M.http, M.train, M.rows_of


def native_predict(name, x, version=None):
    q = f"?version={version}" if version else ""
    return http("POST", f"/v1/models/{name}/predict{q}", {"instances": x.tolist()})


def main():
    host = BASE.split("://", 1)[-1]
    client = httpclient.InferenceServerClient(url=host)
    assert client.is_server_live()
    for _ in range(500):  # the store loads in the background after the bind
        if client.is_server_ready():
            break
        time.sleep(0.02)
    assert client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta["name"] == "modeld" and "model_repository" in meta["extensions"], meta
    ok(f"server live, ready, metadata {meta['name']} {meta['version']}")

    native = {
        "iris": ("softmax_regression", "iris"),
        "cancer": ("logistic_regression", "breast_cancer"),
        "diabetes": ("linear_regression", "diabetes"),
        "mlp_iris": ("mlp_classifier", "iris"),
        "mlp_diabetes": ("mlp_regressor", "diabetes"),
    }
    for name, (algo, dataset) in native.items():
        train(name, algo, dataset)
    for stem in ["logreg_breast_cancer", "mlp_classifier_iris", "mlp_regressor_diabetes"]:
        out = http("POST", f"/v1/models/{stem}/versions",
                   (FIXTURES / "models" / f"{stem}.onnx").read_bytes(), "application/octet-stream")
        assert out == {"version": 1}, out
    ok(f"trained {len(native)} native models, uploaded 3 ONNX files")

    datasets = {name: dataset for name, (_, dataset) in native.items()}
    datasets.update({
                     "logreg_breast_cancer": "breast_cancer", "mlp_classifier_iris": "iris",
                "mlp_regressor_diabetes": "diabetes"})
    for name, dataset in datasets.items():
        assert client.is_model_ready(name)
        md = client.get_model_metadata(name)
        inp = md["inputs"][0]
        x = rows_of(dataset)
        assert inp["shape"] == [-1, x.shape[1]], md
        dtype = np.float32 if inp["datatype"] == "FP32" else np.float64
        x = x.astype(dtype)
        want = native_predict(name, x.astype(np.float64))
        answers = {}
        for binary in (True, False):
            t = httpclient.InferInput(inp["name"], list(x.shape), inp["datatype"])
            t.set_data_from_numpy(x, binary_data=binary)
            outs = [httpclient.InferRequestedOutput(o["name"], binary_data=binary) for o in md["outputs"]]
            res = client.infer(name, [t], outputs=outs, request_id="interop-1")
            assert res.get_response()["id"] == "interop-1"
            # Binary outputs travel after the JSON header, sized in their parameters.
            for o in res.get_response()["outputs"]:
                assert ("data" not in o) == binary, o
                assert (o.get("parameters", {}).get("binary_data_size", 0) > 0) == binary, o
            answers[binary] = [res.as_numpy(o["name"]) for o in md["outputs"]]
            if "probabilities" in want:
                label = res.as_numpy(md["outputs"][0]["name"])
                probs = res.as_numpy(md["outputs"][1]["name"])
                assert label.dtype == np.int64 and label.tolist() == want["predictions"], (label, want)
                np.testing.assert_allclose(probs, np.array(want["probabilities"]), rtol=1e-6, atol=1e-12)
            else:
                values = res.as_numpy(md["outputs"][0]["name"])
                assert values.shape == (len(x), 1), values.shape
                np.testing.assert_allclose(values[:, 0], want["predictions"], rtol=1e-6)
        for got, plain in zip(answers[True], answers[False]):
            assert got.dtype == plain.dtype and np.array_equal(got, plain), (got, plain)
        ok(f"tritonclient {name}: metadata {inp['datatype']}{inp['shape']}, infer (binary and JSON, "
           "both ways) == native predict")

    for name, (_, dataset) in native.items():
        onnx_bytes = http("GET", f"/v1/models/{name}/versions/1/export?format=onnx")
        sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
        x = rows_of(dataset, 40)
        want = native_predict(name, x)
        got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {sess.get_inputs()[0].name: x})))
        if "probabilities" in want:
            assert got["label"].tolist() == want["predictions"], (got["label"], want["predictions"])
            np.testing.assert_allclose(got["probabilities"], np.array(want["probabilities"]), rtol=1e-6, atol=1e-15)
        else:
            np.testing.assert_allclose(got["variable"][:, 0], want["predictions"], rtol=1e-6)
        ok(f"onnxruntime {ort.__version__} runs exported {name} == modeld within 1e-6")

    # Imported tree ensembles, ZipMap exports and a double export against onnxruntime running the very file, on every row of
    # the dataset: labels exactly, both APIs.
    # The *_zipmap files are skl2onnx's default exports, whose probabilities onnxruntime
    # answers as a sequence of {class: probability} maps.
    trees = {"rf_binary_breast_cancer": "breast_cancer", "dt_binary_breast_cancer": "breast_cancer",
             "rf_multiclass_iris": "iris", "rf_binary_breast_cancer_zipmap": "breast_cancer",
             "logreg_iris_zipmap": "iris", "logreg_breast_cancer_f64": "breast_cancer",
             "gbc_binary_breast_cancer": "breast_cancer", "gbc_multiclass_iris": "iris",
             "xgb_classifier_iris": "iris", "lgbm_classifier_breast_cancer": "breast_cancer",
             "svc_rbf_iris": "iris", "svc_rbf_breast_cancer": "breast_cancer",
             "svc_minmax_iris": "iris"}
    for stem, dataset in trees.items():
        data = (FIXTURES / "models" / f"{stem}.onnx").read_bytes()
        out = http("POST", f"/v1/models/{stem}/versions", data, "application/octet-stream")
        assert out == {"version": 1}, out
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        double = sess.get_inputs()[0].type == "tensor(double)"
        x = rows_of(dataset, 10_000).astype(np.float64 if double else np.float32)
        label, probs = sess.run(None, {"input": x})
        if isinstance(probs, list):
            probs = np.array([[m[c] for c in sorted(m)] for m in probs], dtype=np.float32)
        want = native_predict(stem, x.astype(np.float64))
        assert want["predictions"] == label.tolist(), stem
        # An SVM's kernel sums run in another order than onnxruntime's GEMM; in f32 a
        # degree-3 poly kernel (svc_minmax_iris) moves Platt probabilities by up to 3e-5.
        atol = 1e-12 if double else 1e-4 if stem.startswith("svc") else 1e-6
        np.testing.assert_allclose(np.array(want["probabilities"]), probs, rtol=0, atol=atol)
        t = httpclient.InferInput("input", list(x.shape), "FP64" if double else "FP32")
        t.set_data_from_numpy(x, binary_data=True)
        res = client.infer(stem, [t])
        label_name = client.get_model_metadata(stem)["outputs"][0]["name"]
        assert res.as_numpy(label_name).tolist() == label.tolist(), stem
        ok(f"onnxruntime {ort.__version__} and modeld (native, V2) agree on {stem}: "
           f"{len(x)} rows, {int(np.sum(label == 1))} labelled 1")

    # Tree-ensemble and SVM regressors (modeld's own ops).
    for stem in ["dt_regressor_diabetes", "rf_regressor_diabetes", "gbr_diabetes",
                 "et_regressor_diabetes", "xgb_regressor_diabetes", "lgbm_regressor_diabetes",
                 "svr_rbf_diabetes"]:
        data = (FIXTURES / "models" / f"{stem}.onnx").read_bytes()
        out = http("POST", f"/v1/models/{stem}/versions", data, "application/octet-stream")
        assert out == {"version": 1}, out
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        x = rows_of("diabetes", 10_000).astype(np.float32)
        (want,) = sess.run(None, {"input": x})
        got = native_predict(stem, x.astype(np.float64))["predictions"]
        np.testing.assert_allclose(got, want[:, 0], rtol=1e-5, atol=1e-3)
        t = httpclient.InferInput("input", list(x.shape), "FP32")
        t.set_data_from_numpy(x, binary_data=True)
        v2 = client.infer(stem, [t]).as_numpy("variable")
        np.testing.assert_allclose(v2[:, 0], want[:, 0], rtol=1e-5, atol=1e-3)
        ok(f"onnxruntime {ort.__version__} and modeld (native, V2) agree on {stem}: {len(x)} rows")

    check_compressed_exports()
    print(f"interop suite passed: {M.checks} checks")


def check_compressed_exports():
    """Each native model quantised to int8 and pruned (a new version each), exported with
    ?format=onnx: onnxruntime runs the file (int8 layers as DequantizeLinear → Cast →
    MatMul) and gives the compressed version's own predictions within 1e-9, and the file
    imported back into modeld (tract) predicts the same."""
    models = {"mlp_iris": "iris", "mlp_diabetes": "diabetes", "cancer": "breast_cancer",
              "diabetes": "diabetes", "iris": "iris"}
    for name, dataset in models.items():
        csv = (FIXTURES / "data" / f"{dataset}.csv").read_text()
        for method, params in (("quantize", {"bits": 8}), ("prune", {"sparsity": 0.5})):
            job = http("POST", f"/v1/models/{name}/versions/1/compress",
                       {"method": method, "params": params, "data": {"csv": csv, "target": "target"}})
            for _ in range(3000):
                j = http("GET", f"/v1/jobs/{job['job_id']}")
                if j["state"] in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(0.02)
            assert j["state"] == "succeeded" and j.get("version"), j
            v = j["version"]
            onnx_bytes = http("GET", f"/v1/models/{name}/versions/{v}/export?format=onnx")
            sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
            x = rows_of(dataset, 40)
            want = native_predict(name, x, version=v)
            got = dict(zip([o.name for o in sess.get_outputs()],
                           sess.run(None, {sess.get_inputs()[0].name: x})))
            back = f"{name}-{method}-onnx"
            out = http("POST", f"/v1/models/{back}/versions", onnx_bytes, "application/octet-stream")
            reimported = native_predict(back, x, version=out["version"])
            if "probabilities" in want:
                assert reimported["predictions"] == want["predictions"], (name, method)
                assert got["label"].tolist() == want["predictions"], (name, method, got["label"], want)
                for answer in (got["probabilities"], reimported["probabilities"]):
                    np.testing.assert_allclose(np.array(answer), np.array(want["probabilities"]),
                                               rtol=1e-9, atol=1e-12)
            else:
                np.testing.assert_allclose(got["variable"][:, 0], want["predictions"], rtol=1e-9)
                np.testing.assert_allclose(reimported["predictions"], want["predictions"], rtol=1e-9)
            ok(f"onnxruntime {ort.__version__} and modeld's import run {method}d {name} v{v} "
               f"({len(onnx_bytes)} bytes) == modeld within 1e-9")


if __name__ == "__main__":
    main()
