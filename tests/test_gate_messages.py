"""A failing gate names the params.yaml key that holds its limit, next to value and limit."""

import json
import textwrap

from tests.conftest import bake, run_in

# Every gate kind of every task, each failing; the binary ones against a stub model whose
# score is the column `x` / 10.
FAILING_GATES = textwrap.dedent(
    """
    import json
    import numpy as np
    import pandas as pd
    from churn_model.config import Columns
    from churn_model.training import gates
    from churn_model.training.task import BY_NAME

    class Stub:
        def predict_proba(self, frame):
            score = frame["x"].to_numpy(float) / 10
            return np.column_stack([1 - score, score])

    def task(name):
        spec = Columns("y", "1", ["x"], [], ["gender"], [], name)
        return BY_NAME[name](spec, {"model": {"threshold": 0.5}})

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "id": [1, 2, 3, 4]})
    limits = {"min_roc_auc": 0.99, "max_demographic_parity_difference": 0.1,
              "max_equalized_odds_difference": 0.1, "min_macro_f1": 0.99, "max_log_loss": 0.01,
              "min_class_recall": 0.99, "max_selection_rate_difference": 0.1,
              "max_recall_difference": 0.1, "max_rmse_vs_baseline": 0.1, "min_r2": 0.99,
              "max_mae_difference": 0.01, "max_mean_prediction_difference": 0.01}
    binary = task("binary_classification")
    values = binary.metrics(Stub(), frame, pd.Series([1, 0, 1, 0]), None)
    found = [
        *binary.performance_gates(values, limits),
        *binary.fairness_gates({"gender": {"demographic_parity_difference": 0.5,
                                           "equalized_odds_difference": 0.5}}, limits),
        gates.invariance_gate(binary, Stub(), frame, {"column": "x", "max_mean_change": 0.0}, 1),
        gates.directional_gate(binary, Stub(), frame, {"column": "x", "delta": 1,
                                                       "expect": "decrease", "min_share": 0.9}, 2),
        *task("multiclass_classification").performance_gates(
            {"macro_f1": 0.5, "log_loss": 1.0, "baseline_log_loss": 1.1, "recall.a": 0.5}, limits),
        *task("multiclass_classification").fairness_gates(
            {"gender": {"selection_rate_difference": 0.5, "recall_difference": 0.5}}, limits),
        *task("regression").performance_gates(
            {"rmse_vs_baseline": 0.9, "baseline_rmse": 10.0, "r2": 0.1}, limits),
        *task("regression").fairness_gates(
            {"gender": {"mae_difference": 0.5, "mean_prediction_difference": 0.5}}, limits),
    ]
    assert not any(g.passed for g in found)
    print(json.dumps({"message": gates.failure_message(found),
                      "explained": [g.explain() for g in found]}))
    """
)

KEYS = [
    "gates.min_roc_auc",
    "gates.max_demographic_parity_difference",
    "gates.max_equalized_odds_difference",
    "gates.invariance[1].max_mean_change",
    "gates.directional[2].min_share",
    "gates.min_macro_f1",
    "gates.max_log_loss",
    "gates.min_class_recall",
    "gates.max_selection_rate_difference",
    "gates.max_recall_difference",
    "gates.max_rmse_vs_baseline",
    "gates.min_r2",
    "gates.max_mae_difference",
    "gates.max_mean_prediction_difference",
]


def test_failing_gate_names_its_params_key(tmp_path):
    project = bake(tmp_path)
    out = json.loads(run_in(project, "python", "-c", FAILING_GATES).stdout)
    assert "roc_auc = 0.2500 (limit 0.99, params.yaml `gates.min_roc_auc`)" in out["message"]
    for key, explained in zip(KEYS, out["explained"], strict=True):
        assert f"`{key}`" in out["message"]
        assert f"(params.yaml `{key}`)" in explained
