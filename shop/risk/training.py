"""Nightly training: a model from labelled history, validated on time, promoted only if better.

The split is by time (Le Borgne et al., Fraud Detection Handbook, ch. 5): labels need time to
mature (a chargeback comes weeks later), so the last RISK_LEGIT_AFTER_DAYS are left out, the
VALIDATION_DAYS before them validate, and everything older trains. A random split
would let the model learn from the future of the very fraud rings it is tested on.

Two candidates are fitted, a regularised logistic regression and gradient-boosted trees; the one
with the higher area under the precision-recall curve (average precision) on the validation
weeks is compared with the model in use (or, with none, the rules) on the same weeks, and
promoted only if it beats it. The result is stored as plain parameters (shop/risk/model.py), never
as a pickle.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shop.core import audit

from . import model, rules, scoring
from .features import FEATURES, vector

VALIDATION_DAYS = 14


@dataclass
class Example:
    features: dict
    scored_at: datetime
    is_fraud: bool


def labelled_examples(*, now: datetime | None = None) -> list[Example]:
    """One example per order: fraud if any source said fraud; legitimate if a reviewer approved it,
    or if it was scored more than RISK_LEGIT_AFTER_DAYS ago, not blocked, and nobody has reported
    it since (chargebacks arrive within weeks: until then an order's truth is unknown)."""
    from .models import Label, RiskAssessment

    now = now or timezone.now()
    by_order: dict[int, Example] = {}
    for label in Label.objects.order_by("scored_at").iterator():
        seen = by_order.get(label.order_id)
        if seen is None:
            by_order[label.order_id] = Example(label.features, label.scored_at, label.is_fraud)
        elif label.is_fraud:
            seen.is_fraud = True
    quiet = (
        RiskAssessment.objects.filter(
            order_id__isnull=False, created_at__lt=now - timedelta(days=settings.RISK_LEGIT_AFTER_DAYS)
        )
        .exclude(action="block")
        .order_by("order_id", "-created_at")
        .values_list("order_id", "features", "created_at")
    )
    for order_id, features, created_at in quiet.iterator():
        if order_id not in by_order:  # the latest assessment of the order (ordered newest first)
            by_order[order_id] = Example(features, created_at, False)
    return list(by_order.values())


def _matrix(examples: list[Example]):
    import numpy as np

    rows = [model.prepare(FEATURES, vector(example.features, FEATURES)) for example in examples]
    return np.array(rows, dtype=float), np.array([int(example.is_fraud) for example in examples])


def _fit_logistic(x, y) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    scale = [float(s) if s > 0 else 1.0 for s in scaler.scale_]
    fitted = LogisticRegression(C=0.5, max_iter=2000).fit((x - scaler.mean_) / scale, y)
    return {
        "mean": [float(m) for m in scaler.mean_],
        "scale": scale,
        "coef": [float(c) for c in fitted.coef_[0]],
        "intercept": float(fitted.intercept_[0]),
    }


def _fit_gbt(x, y) -> dict:
    from sklearn.ensemble import GradientBoostingClassifier

    fitted = GradientBoostingClassifier(
        n_estimators=80, max_depth=3, learning_rate=0.1, subsample=0.8, init="zero", random_state=7
    ).fit(x, y)
    trees = []
    for (estimator,) in fitted.estimators_:
        tree = estimator.tree_
        trees.append(
            {
                "feature": [int(f) for f in tree.feature],
                "threshold": [float(t) for t in tree.threshold],
                "left": [int(n) for n in tree.children_left],
                "right": [int(n) for n in tree.children_right],
                "value": [float(v[0][0]) for v in tree.value],
            }
        )
    return {"learning_rate": float(fitted.learning_rate), "trees": trees}


def evaluate(probabilities, y) -> dict:
    """Average precision (PR-AUC), recall at a false-positive rate of at most 1 %, and counts."""
    import numpy as np
    from sklearn.metrics import average_precision_score

    probabilities, y = np.asarray(probabilities, dtype=float), np.asarray(y)
    legit = np.sort(probabilities[y == 0])[::-1]
    cut = legit[int(len(legit) * 0.01)] if len(legit) else 1.0
    fraud = probabilities[y == 1]
    return {
        "pr_auc": round(float(average_precision_score(y, probabilities)), 4) if y.any() else 0.0,
        "recall_at_1pct_fpr": round(float((fraud > cut).mean()), 4) if len(fraud) else 0.0,
        "validation_orders": int(len(y)),
        "validation_fraud": int(y.sum()),
    }


def _probabilities(kind: str, parameters: dict, x) -> list[float]:
    return [model.probability(kind, parameters, list(row)) for row in x]


def train(
    *, now: datetime | None = None, examples: list[Example] | None = None, store: bool = True, current=None
) -> dict:
    """Fit, validate on time, compare, and (if better) promote. Returns what happened.
    `store=False` (the simulator) keeps everything in memory and compares with `current`."""
    from .models import ModelVersion

    now = now or timezone.now()
    examples = labelled_examples(now=now) if examples is None else examples
    fraud = sum(example.is_fraud for example in examples)
    if len(examples) < settings.RISK_MIN_LABELS or fraud < settings.RISK_MIN_FRAUD_LABELS:
        return {"trained": False, "why": f"{len(examples)} labels ({fraud} fraud): not enough yet"}
    # Labels mature: a chargeback arrives weeks after the order, so the latest RISK_LEGIT_AFTER_DAYS
    # are left out (their truth is still unknown), and the validation weeks are the latest mature ones.
    mature_until = now - timedelta(days=settings.RISK_LEGIT_AFTER_DAYS)
    split = mature_until - timedelta(days=VALIDATION_DAYS)
    older = [example for example in examples if example.scored_at < split]
    recent = [example for example in examples if split <= example.scored_at < mature_until]
    if not recent or not older or len({e.is_fraud for e in older}) < 2 or not any(e.is_fraud for e in recent):
        return {"trained": False, "why": "the training or validation weeks lack fraud or legitimate orders"}
    x_train, y_train = _matrix(older)
    x_valid, y_valid = _matrix(recent)
    candidates = {"logistic": _fit_logistic(x_train, y_train), "gbt": _fit_gbt(x_train, y_train)}
    results = {kind: evaluate(_probabilities(kind, params, x_valid), y_valid) for kind, params in candidates.items()}
    best = max(results, key=lambda kind: results[kind]["pr_auc"])
    rules_result = evaluate([rules.evaluate(example.features)[0] / 100 for example in recent], y_valid)
    active = scoring.active_model() if store else current
    baseline = (
        evaluate(_probabilities(active.kind, active.parameters, _matrix_for(recent, active.features)), y_valid)
        if active is not None
        else rules_result
    )
    promoted = results[best]["pr_auc"] > baseline["pr_auc"]
    metrics = {
        **results[best],
        "candidates": results,
        "rules": rules_result,
        "baseline": f"model #{active.id}" if active is not None else "rules",
        "baseline_pr_auc": baseline["pr_auc"],
        "training_orders": len(older),
        "training_fraud": int(y_train.sum()),
    }
    outcome = {"trained": True, "kind": best, "promoted": promoted, "metrics": metrics, "parameters": candidates[best]}
    if not store:
        return outcome
    with transaction.atomic():
        if promoted:
            ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).update(status=ModelVersion.Status.RETIRED)
        version = ModelVersion.objects.create(
            kind=best,
            status=ModelVersion.Status.ACTIVE if promoted else ModelVersion.Status.REJECTED,
            features=FEATURES,
            parameters=candidates[best],
            metrics=metrics,
            trained_from=min(example.scored_at for example in older),
            validated_from=split,
            validated_until=mature_until,
            label_count=len(examples),
        )
        audit.record(
            "risk.model_trained",
            subject=version,
            data={"kind": best, "promoted": promoted, "pr_auc": results[best]["pr_auc"]},
        )
    scoring.forget_model()
    outcome["version_id"] = version.pk
    return outcome


def _matrix_for(examples: list[Example], names: list[str]):
    import numpy as np

    return np.array([model.prepare(names, vector(example.features, names)) for example in examples], dtype=float)
