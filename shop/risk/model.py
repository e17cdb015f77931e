"""Evaluating a stored model: plain parameters in JSON, read by this code, never unpickled.

Two kinds, whichever validated better at training (shop/risk/training.py):
- "logistic": standardise, then the logistic function of coef · x + intercept;
- "gbt": gradient-boosted regression trees (sklearn's GradientBoostingClassifier with init="zero"),
  stored as arrays per tree (feature, threshold, left, right, value) and walked here.
Both see the same prepared vector (`prepare`): amounts on a log scale.
"""

import math

LOG_FEATURES = {"total_minor"}


def prepare(names: list[str], values: list[float]) -> list[float]:
    return [
        math.log1p(max(value, 0.0)) if name in LOG_FEATURES else value
        for name, value in zip(names, values, strict=True)
    ]


def _sigmoid(x: float) -> float:
    if x < -60:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


def _tree_value(tree: dict, x: list[float]) -> float:
    node = 0
    left, right = tree["left"], tree["right"]
    feature, threshold = tree["feature"], tree["threshold"]
    while left[node] != -1:
        node = left[node] if x[feature[node]] <= threshold[node] else right[node]
    return tree["value"][node]


def probability(kind: str, parameters: dict, x: list[float]) -> float:
    """P(fraud) for one prepared vector."""
    if kind == "logistic":
        z = parameters["intercept"]
        for value, mean, scale, coef in zip(
            x, parameters["mean"], parameters["scale"], parameters["coef"], strict=True
        ):
            z += coef * (value - mean) / scale
        return _sigmoid(z)
    if kind == "gbt":
        rate = parameters["learning_rate"]
        raw = sum(_tree_value(tree, x) for tree in parameters["trees"]) * rate
        return _sigmoid(raw)
    raise ValueError(f"unknown model kind {kind!r}")


def score(kind: str, parameters: dict, names: list[str], features: dict) -> int:
    x = prepare(names, [float(features.get(name, 0.0)) for name in names])
    return round(100 * probability(kind, parameters, x))
