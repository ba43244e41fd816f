#!/usr/bin/env python3
"""The issue's tree bench models, on breast_cancer: RandomForestClassifier(n_estimators=100,
max_depth=8, random_state=0) exported with skl2onnx (zipmap=False), written to RF.onnx;
and, when XGB.onnx is given, xgboost.XGBClassifier(n_estimators=300, max_depth=6)
converted by onnxmltools. Usage: make_forest.py RF.onnx [XGB.onnx]"""
import sys

from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

X, y = load_breast_cancer(return_X_y=True)
rf = RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0).fit(X, y)
onx = convert_sklearn(rf, initial_types=[("input", FloatTensorType([None, X.shape[1]]))],
                      options={id(rf): {"zipmap": False}},
                      target_opset={"": 17, "ai.onnx.ml": 3})
with open(sys.argv[1], "wb") as f:
    f.write(onx.SerializeToString())

if len(sys.argv) > 2:
    import onnxmltools
    import xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType as MlFloat

    xgb = xgboost.XGBClassifier(n_estimators=300, max_depth=6, random_state=0).fit(X, y)
    onx = onnxmltools.convert_xgboost(xgb, initial_types=[("input", MlFloat([None, X.shape[1]]))],
                                      target_opset=15)
    with open(sys.argv[2], "wb") as f:
        f.write(onx.SerializeToString())
