"""Times one scikit-learn fit (Pipeline(StandardScaler, model)) on a CSV and
prints {"seconds", "metric", "value"} as JSON; used by bench/train_speed.sh.

usage: sklearn_speed.py <csv> <case>
"""
import json
import sys
import time

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier, SGDRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

CASES = {
    "ols": lambda: LinearRegression(),
    "sgd_reg": lambda: SGDRegressor(max_iter=5, tol=None, alpha=1e-4, random_state=0),
    "logistic": lambda: LogisticRegression(max_iter=1000),
    "sgd_cls": lambda: SGDClassifier(loss="log_loss", max_iter=5, tol=None, alpha=1e-4, random_state=0),
    "mlp_cls": lambda: MLPClassifier(hidden_layer_sizes=(32,), batch_size=200, learning_rate_init=0.001,
                                     max_iter=10, tol=0, n_iter_no_change=10**9, alpha=0.0, random_state=0),
    "mlp_reg": lambda: MLPRegressor(hidden_layer_sizes=(32,), batch_size=200, learning_rate_init=0.001,
                                    max_iter=10, tol=0, n_iter_no_change=10**9, alpha=0.0, random_state=0),
}

path, case = sys.argv[1], sys.argv[2]
data = np.loadtxt(path, delimiter=",", skiprows=1)
x, y = data[:, :-1], data[:, -1]
model = make_pipeline(StandardScaler(), CASES[case]())
import warnings
warnings.filterwarnings("ignore")
t = time.perf_counter()
model.fit(x, y)
score = model.score(x, y)  # r2 for regressors, accuracy for classifiers
secs = time.perf_counter() - t
print(json.dumps({"seconds": secs, "value": score}))
