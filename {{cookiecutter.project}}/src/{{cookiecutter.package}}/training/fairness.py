"""Fairness by group with fairlearn: a MetricFrame per sensitive feature, and its gaps.

- binary: selection rate, TPR and FPR per group; demographic parity and equalized odds
  differences;
- multiclass: per class (one against the rest), selection rate and recall per group; the
  largest gap over the classes in each;
- regression: MAE and mean prediction per group; their gaps in standard deviations of the
  target, so one limit fits any unit.
"""

import numpy as np
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import mean_absolute_error, recall_score

MISSING_GROUP = "missing"
BINARY_METRICS = {
    "count": count,
    "selection_rate": selection_rate,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
}


def sensitive_values(frame, feature):
    """fairlearn rejects missing values; people with an unknown group form a group of their own."""
    return frame[feature].astype("object").where(frame[feature].notna(), MISSING_GROUP).astype(str)


def binary_fairness(frame, y_true, y_pred, sensitive):
    summary = {}
    for feature in sensitive:
        groups = sensitive_values(frame, feature)
        by_group = MetricFrame(
            metrics=BINARY_METRICS, y_true=y_true, y_pred=y_pred, sensitive_features=groups
        ).by_group
        summary[feature] = {
            "demographic_parity_difference": float(
                demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
            ),
            "equalized_odds_difference": float(
                equalized_odds_difference(y_true, y_pred, sensitive_features=groups)
            ),
            "by_group": _rows(by_group),
        }
    return summary


def _recall(y_true, y_pred):
    """NaN for a group with no true rows of the class: no recall to compare, not a zero."""
    return recall_score(y_true, y_pred, zero_division=np.nan)


def multiclass_fairness(frame, y_true, y_pred, sensitive):
    y_true, y_pred = np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)
    classes = sorted(set(y_true) | set(y_pred))
    summary = {}
    for feature in sensitive:
        groups = sensitive_values(frame, feature)
        by_class, by_group = {}, {}
        for label in classes:
            per_group = MetricFrame(
                metrics={"count": count, "selection_rate": selection_rate, "recall": _recall},
                y_true=(y_true == label).astype(int), y_pred=(y_pred == label).astype(int),
                sensitive_features=groups,
            )  # fmt: skip
            gaps = per_group.difference()
            by_class[label] = {"selection_rate_difference": _plain(gaps["selection_rate"]),
                               "recall_difference": _plain(gaps["recall"])}  # fmt: skip
            for group, row in _rows(per_group.by_group).items():
                by_group.setdefault(group, {"count": row["count"]})
                by_group[group][f"selection_rate.{label}"] = row["selection_rate"]
                by_group[group][f"recall.{label}"] = row["recall"]
        summary[feature] = {
            "selection_rate_difference": _largest(by_class, "selection_rate_difference"),
            "recall_difference": _largest(by_class, "recall_difference"),
            "by_class": by_class,
            "by_group": by_group,
        }
    return summary


def regression_fairness(frame, y_true, y_pred, sensitive):
    spread = float(np.std(y_true)) or 1.0
    summary = {}
    for feature in sensitive:
        per_group = MetricFrame(
            metrics={"count": count, "mae": mean_absolute_error,
                     "mean_prediction": lambda _, y_pred: float(np.mean(y_pred))},
            y_true=y_true, y_pred=y_pred, sensitive_features=sensitive_values(frame, feature),
        )  # fmt: skip
        gaps = per_group.difference()
        summary[feature] = {
            "mae_difference": float(gaps["mae"]) / spread,
            "mean_prediction_difference": float(gaps["mean_prediction"]) / spread,
            "scale": {"target_sd": spread},
            "by_group": _rows(per_group.by_group),
        }
    return summary


def _rows(by_group):
    return {str(group): {name: _plain(value) for name, value in row.items()}
            for group, row in by_group.iterrows()}  # fmt: skip


def _plain(value):
    return None if value is None or np.isnan(value) else float(value)


def _largest(by_class, gap):
    values = [row[gap] for row in by_class.values() if row[gap] is not None]
    return max(values, default=0.0)
