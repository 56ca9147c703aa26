"""A failing gate names the params.yaml key that holds its limit, next to value and limit."""

import json
import textwrap

from tests.conftest import bake, run_in

# Every gate kind, each failing, against a stub model whose score is the column `x` / 10.
FAILING_GATES = textwrap.dedent(
    """
    import json
    import numpy as np
    import pandas as pd
    from churn_model.training import gates

    class Stub:
        def predict_proba(self, frame):
            score = frame["x"].to_numpy(float) / 10
            return np.column_stack([1 - score, score])

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "id": [1, 2, 3, 4]})
    limits = {"min_roc_auc": 0.99, "max_demographic_parity_difference": 0.1,
              "max_equalized_odds_difference": 0.1}
    fairness = {"gender": {"demographic_parity_difference": 0.5,
                           "equalized_odds_difference": 0.5}}
    found = [
        gates.performance_gate(Stub(), frame, [1, 0, 1, 0], limits),
        *gates.fairness_gates(fairness, limits),
        gates.invariance_gate(Stub(), frame, {"column": "x", "max_mean_change": 0.0}, 1),
        gates.directional_gate(Stub(), frame, {"column": "x", "delta": 1, "expect": "decrease",
                                               "min_share": 0.9}, 2),
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
]


def test_failing_gate_names_its_params_key(tmp_path):
    project = bake(tmp_path)
    out = json.loads(run_in(project, "python", "-c", FAILING_GATES).stdout)
    assert "roc_auc = 0.2500 (limit 0.99, params.yaml `gates.min_roc_auc`)" in out["message"]
    for key, explained in zip(KEYS, out["explained"], strict=True):
        assert f"`{key}`" in out["message"]
        assert f"(params.yaml `{key}`)" in explained
