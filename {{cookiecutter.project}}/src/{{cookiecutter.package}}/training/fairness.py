"""Fairness by group with fairlearn: a MetricFrame per sensitive feature and the two gaps."""

from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

MISSING_GROUP = "missing"
GROUP_METRICS = {
    "count": count,
    "selection_rate": selection_rate,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
}


def sensitive_values(frame, feature):
    """fairlearn rejects missing values; people with an unknown group form a group of their own."""
    return frame[feature].astype("object").where(frame[feature].notna(), MISSING_GROUP).astype(str)


def fairness_summary(frame, y_true, y_pred, sensitive):
    summary = {}
    for feature in sensitive:
        groups = sensitive_values(frame, feature)
        by_group = MetricFrame(
            metrics=GROUP_METRICS, y_true=y_true, y_pred=y_pred, sensitive_features=groups
        ).by_group
        summary[feature] = {
            "demographic_parity_difference": float(
                demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
            ),
            "equalized_odds_difference": float(
                equalized_odds_difference(y_true, y_pred, sensitive_features=groups)
            ),
            "by_group": {
                str(group): {name: float(value) for name, value in row.items()}
                for group, row in by_group.iterrows()
            },
        }
    return summary
