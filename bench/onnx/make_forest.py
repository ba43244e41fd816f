#!/usr/bin/env python3
"""The issue's tree bench model: RandomForestClassifier(n_estimators=100, max_depth=8,
random_state=0) on breast_cancer, exported with skl2onnx (zipmap=False), written to
the path given. Usage: make_forest.py OUT.onnx"""
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
