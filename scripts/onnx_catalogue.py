#!/usr/bin/env python3
"""The ONNX catalogue: the models tabular users bring, exported the way they export them.

Trains every model below on scikit-learn's bundled datasets (iris, breast_cancer,
diabetes: BSD-3-Clause, shipped inside scikit-learn, no download), converts it with
skl2onnx or onnxmltools, runs onnxruntime on 50 rows and writes

  tests/fixtures/catalogue/<name>.onnx       the converted graph
  tests/fixtures/catalogue/catalogue.json    per model: family, estimator, converter,
                                             input type, rows, onnxruntime's outputs

so tests/onnx_catalogue.rs can compare modeld with onnxruntime on every model without
any of these libraries. A model the converter cannot convert stays in the catalogue with
the converter's message, so the support matrix shows it.

Usage: python3 scripts/onnx_catalogue.py   (needs scikit-learn, skl2onnx, onnxmltools,
xgboost, lightgbm, onnx, onnxruntime; the versions used are recorded in catalogue.json)
"""
import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import sklearn
import skl2onnx
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
from sklearn import datasets, ensemble, linear_model, naive_bayes, neighbors, neural_network
from sklearn import svm, tree
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, PolynomialFeatures, StandardScaler

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "catalogue"
OPSET = {"": 17, "ai.onnx.ml": 3}
# onnxmltools 1.16 converts up to opset 15.
ONNXMLTOOLS_OPSET = 15
ROWS = 50
SEED = 0

warnings.filterwarnings("ignore")


def dataset(name, names=False):
    """X, y; with `names`, a classifier's y is its class names ("setosa", "benign")."""
    b = getattr(datasets, f"load_{name}")()
    return b.data, (np.asarray(b.target_names)[b.target] if names else b.target)


TASKS = {
    "binary": ("classification", "breast_cancer"),
    "multiclass": ("classification", "iris"),
    "regression": ("regression", "diabetes"),
}


def models():
    """(name, family, task, estimator factory, converter, options) for every entry."""
    rs = SEED
    e = []

    def add(name, family, task, make, converter="skl2onnx", dtype="float", zipmap=False,
            names=False):
        e.append(dict(name=name, family=family, task=task, make=make, converter=converter,
                      dtype=dtype, zipmap=zipmap, names=names))

    add("linear_regression", "linear", "regression", linear_model.LinearRegression)
    add("ridge", "linear", "regression", lambda: linear_model.Ridge(alpha=0.5))
    add("lasso", "linear", "regression", lambda: linear_model.Lasso(alpha=0.1))
    add("logistic_binary", "linear", "binary",
        lambda: make_pipeline(StandardScaler(), linear_model.LogisticRegression()))
    add("logistic_multiclass", "linear", "multiclass",
        lambda: linear_model.LogisticRegression(max_iter=1000))
    add("sgd_classifier_binary", "linear", "binary",
        lambda: make_pipeline(StandardScaler(),
                              linear_model.SGDClassifier(loss="log_loss", random_state=rs)))
    add("linear_regression_f64", "linear", "regression", linear_model.LinearRegression,
        dtype="double")
    add("logistic_binary_f64", "linear", "binary",
        lambda: make_pipeline(StandardScaler(), linear_model.LogisticRegression()),
        dtype="double")
    add("logistic_multiclass_zipmap", "linear", "multiclass",
        lambda: linear_model.LogisticRegression(max_iter=1000), zipmap=True)

    add("svc_rbf_binary", "svm", "binary",
        lambda: make_pipeline(StandardScaler(), svm.SVC(probability=True, random_state=rs)))
    add("svc_rbf_multiclass", "svm", "multiclass",
        lambda: svm.SVC(probability=True, random_state=rs))
    add("svc_linear_multiclass", "svm", "multiclass",
        lambda: svm.SVC(kernel="linear", probability=True, random_state=rs))
    add("svc_poly_binary", "svm", "binary",
        lambda: make_pipeline(StandardScaler(),
                              svm.SVC(kernel="poly", degree=2, probability=True,
                                      random_state=rs)))
    add("minmax_svc_multiclass", "svm", "multiclass",
        lambda: make_pipeline(MinMaxScaler(), svm.SVC(probability=True, random_state=rs)))
    add("svr_rbf", "svm", "regression", lambda: svm.SVR(C=50.0))
    # skl2onnx 1.20 cannot convert a LinearSVC inside a Pipeline (it asks the
    # classifier for a zipmap option it does not have), so this one stands alone.
    add("linear_svc_multiclass", "svm", "multiclass", lambda: svm.LinearSVC(random_state=rs))

    trees = [
        ("decision_tree", "tree", lambda c: (tree.DecisionTreeClassifier if c else
                                             tree.DecisionTreeRegressor)(max_depth=5,
                                                                         random_state=rs)),
        ("random_forest", "forest", lambda c: (ensemble.RandomForestClassifier if c else
                                               ensemble.RandomForestRegressor)(
            n_estimators=20, max_depth=6, random_state=rs)),
        ("extra_trees", "forest", lambda c: (ensemble.ExtraTreesClassifier if c else
                                             ensemble.ExtraTreesRegressor)(
            n_estimators=20, max_depth=6, random_state=rs)),
        ("gradient_boosting", "boosting", lambda c: (ensemble.GradientBoostingClassifier if c
                                                     else ensemble.GradientBoostingRegressor)(
            n_estimators=20, max_depth=3, random_state=rs)),
        ("hist_gradient_boosting", "boosting",
         lambda c: (ensemble.HistGradientBoostingClassifier if c else
                    ensemble.HistGradientBoostingRegressor)(max_iter=20, random_state=rs)),
    ]
    for stem, family, make in trees:
        for task in ("binary", "multiclass", "regression"):
            add(f"{stem}_{task}", family, task,
                (lambda make=make, c=(task != "regression"): make(c)))
    add("random_forest_binary_zipmap", "forest", "binary",
        lambda: ensemble.RandomForestClassifier(n_estimators=10, max_depth=5, random_state=rs),
        zipmap=True)

    import lightgbm
    import xgboost
    for task in ("binary", "multiclass", "regression"):
        cls = task != "regression"
        add(f"xgboost_{task}", "boosting", task,
            (lambda cls=cls: (xgboost.XGBClassifier if cls else xgboost.XGBRegressor)(
                n_estimators=20, max_depth=3, random_state=rs)), converter="onnxmltools")
        add(f"lightgbm_{task}", "boosting", task,
            (lambda cls=cls: (lightgbm.LGBMClassifier if cls else lightgbm.LGBMRegressor)(
                n_estimators=20, num_leaves=15, random_state=rs, verbose=-1)),
            converter="onnxmltools")

    add("knn_classifier", "neighbors", "multiclass",
        lambda: neighbors.KNeighborsClassifier(n_neighbors=5))
    add("knn_regressor", "neighbors", "regression",
        lambda: neighbors.KNeighborsRegressor(n_neighbors=5))
    add("gaussian_nb", "naive_bayes", "multiclass", naive_bayes.GaussianNB)
    add("mlp_classifier", "mlp", "multiclass",
        lambda: make_pipeline(StandardScaler(), neural_network.MLPClassifier(
            hidden_layer_sizes=(16,), max_iter=2000, random_state=rs)))
    add("mlp_regressor", "mlp", "regression",
        lambda: make_pipeline(StandardScaler(), neural_network.MLPRegressor(
            hidden_layer_sizes=(16,), max_iter=3000, random_state=rs)))
    add("mlp_regressor_f64", "mlp", "regression",
        lambda: make_pipeline(StandardScaler(), neural_network.MLPRegressor(
            hidden_layer_sizes=(16,), max_iter=3000, random_state=rs)), dtype="double")
    add("logistic_multiclass_f64", "linear", "multiclass",
        lambda: linear_model.LogisticRegression(max_iter=1000), dtype="double")
    add("scaler_pca_logistic", "pipeline", "multiclass",
        lambda: make_pipeline(StandardScaler(), PCA(n_components=3),
                              linear_model.LogisticRegression(max_iter=1000)))
    add("polynomial_ridge", "pipeline", "regression",
        lambda: make_pipeline(PolynomialFeatures(degree=2), linear_model.Ridge(alpha=1.0)))
    # Trained on class names, as scikit-learn users often do: the export carries string
    # labels (classlabels_strings, or a string class table the labels are looked up in).
    add("logistic_multiclass_names", "linear", "multiclass",
        lambda: linear_model.LogisticRegression(max_iter=1000), names=True)
    add("random_forest_binary_names", "forest", "binary",
        lambda: ensemble.RandomForestClassifier(n_estimators=10, max_depth=5, random_state=rs),
        names=True)
    add("svc_rbf_multiclass_names", "svm", "multiclass",
        lambda: svm.SVC(probability=True, random_state=rs), names=True)
    add("mlp_classifier_names", "mlp", "multiclass",
        lambda: make_pipeline(StandardScaler(), neural_network.MLPClassifier(
            hidden_layer_sizes=(16,), max_iter=2000, random_state=rs)), names=True)
    add("gaussian_nb_names", "naive_bayes", "multiclass", naive_bayes.GaussianNB, names=True)
    add("knn_classifier_names", "neighbors", "multiclass",
        lambda: neighbors.KNeighborsClassifier(n_neighbors=5), names=True)
    add("decision_tree_multiclass_names_zipmap", "tree", "multiclass",
        lambda: tree.DecisionTreeClassifier(max_depth=5, random_state=rs), zipmap=True,
        names=True)
    return e


def convert(entry, model, d):
    tensor = DoubleTensorType if entry["dtype"] == "double" else FloatTensorType
    types = [("input", tensor([None, d]))]
    if entry["converter"] == "onnxmltools":
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType as MlFloat
        ml_types = [("input", MlFloat([None, d]))]
        if entry["name"].startswith("xgboost"):
            return onnxmltools.convert_xgboost(model, initial_types=ml_types,
                                               target_opset=ONNXMLTOOLS_OPSET)
        return onnxmltools.convert_lightgbm(model, initial_types=ml_types,
                                            target_opset=ONNXMLTOOLS_OPSET, zipmap=False)
    options = None
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    # ZipMap only follows probabilities; LinearSVC's second output is decision scores.
    if entry["task"] != "regression" and not entry["zipmap"] and hasattr(final, "predict_proba"):
        options = {id(model): {"zipmap": False}}
    return convert_sklearn(model, initial_types=types, target_opset=OPSET, options=options)


def sample_rows(X):
    """ROWS rows spread over the dataset, so every class shows up."""
    idx = np.linspace(0, len(X) - 1, ROWS).round().astype(int)
    return X[idx]


def run_ort(path, rows, entry):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outs = sess.run(None, {sess.get_inputs()[0].name: rows})
    if entry["task"] == "regression":
        return {"values": np.asarray(outs[0], dtype=np.float64).reshape(len(rows)).tolist()}
    labels, probs = outs[0], outs[1]
    if isinstance(probs, list):  # ZipMap: a list of {class: probability} maps
        keys = sorted(probs[0])
        probs = np.array([[m[k] for k in keys] for m in probs])
    labels = np.asarray(labels)
    labels = labels.astype(str) if labels.dtype.kind in "OSU" else labels.astype(np.int64)
    return {"labels": labels.tolist(),
            "probabilities": np.asarray(probs, dtype=np.float64).tolist()}


def main():
    import lightgbm
    import onnxmltools
    import xgboost
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.onnx"):
        old.unlink()
    catalogue = {
        "generated_by": "scripts/onnx_catalogue.py",
        "licence": "Models trained on scikit-learn's bundled datasets (BSD-3-Clause); "
                   "the files are generated and carry no third-party code.",
        "versions": {"scikit-learn": sklearn.__version__, "skl2onnx": skl2onnx.__version__,
                     "onnxmltools": onnxmltools.__version__, "xgboost": xgboost.__version__,
                     "lightgbm": lightgbm.__version__, "onnx": onnx.__version__,
                     "onnxruntime": ort.__version__},
        "models": [],
    }
    for entry in models():
        kind, data = TASKS[entry["task"]]
        X, y = dataset(data, entry["names"])
        model = entry["make"]()
        model.fit(X, y)
        rows = sample_rows(X)
        rows = rows.astype(np.float64 if entry["dtype"] == "double" else np.float32)
        estimator = model.steps[-1][1] if hasattr(model, "steps") else model
        record = {
            "name": entry["name"], "family": entry["family"], "task": entry["task"],
            "dataset": data, "estimator": type(estimator).__name__,
            "pipeline": [type(s).__name__ for _, s in model.steps] if hasattr(model, "steps")
            else [type(model).__name__],
            "converter": entry["converter"], "input": entry["dtype"], "zipmap": entry["zipmap"],
            "labels": "names" if entry["names"] else "integers",
        }
        try:
            onx = convert(entry, model, X.shape[1])
        except Exception as err:  # the converter's own refusal is a catalogue result
            # skl2onnx wraps the real reason (the exception it caught) in a long message.
            cause = err.__cause__ or err.__context__ or err
            record["conversion_error"] = f"{type(cause).__name__}: {str(cause).splitlines()[0][:160]}"
            catalogue["models"].append(record)
            print(f"{entry['name']:34s} conversion failed: {record['conversion_error']}")
            continue
        path = OUT / f"{entry['name']}.onnx"
        path.write_bytes(onx.SerializeToString())
        record["file"] = path.name
        record["ops"] = sorted({(n.domain or "ai.onnx") + "." + n.op_type for n in onx.graph.node})
        if kind == "classification":
            record["classes"] = [c if entry["names"] else int(c) for c in np.unique(y).tolist()]
        record["rows"] = rows.astype(np.float64).tolist()
        try:
            record["expected"] = run_ort(path, rows, entry)
        except Exception as err:
            record["onnxruntime_error"] = f"{type(err).__name__}: {str(err).splitlines()[0]}"
        catalogue["models"].append(record)
        print(f"{entry['name']:34s} {', '.join(record['ops'])}")
    (OUT / "catalogue.json").write_text(json.dumps(catalogue, indent=1) + "\n")
    print(f"{len(catalogue['models'])} models in {OUT / 'catalogue.json'}")


if __name__ == "__main__":
    main()
