"""The model gates: performance, fairness, invariance and directional expectations.

`evaluate` runs them all and writes the table; the generated tests call the same
functions one by one, so a broken gate fails both the pipeline and `make test`.
"""

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import roc_auc_score


@dataclass
class Gate:
    name: str
    value: float
    threshold: float
    passed: bool
    detail: str = ""
    key: str = ""  # where params.yaml holds the limit, e.g. gates.min_roc_auc

    def as_dict(self):
        return asdict(self)

    def explain(self):
        """One line naming the value, the limit and the params.yaml key to change it."""
        return (
            f"{self.name} = {self.value:.4f}, limit {self.threshold} "
            f"(params.yaml `{self.key}`): {self.detail}"
        )


def positive_scores(model, frame):
    return model.predict_proba(frame)[:, 1]


def performance_gate(model, frame, y_true, gates):
    value = float(roc_auc_score(y_true, positive_scores(model, frame)))
    minimum = gates["min_roc_auc"]
    detail = "ROC AUC on the test split, at least"
    return Gate("roc_auc", value, minimum, value >= minimum, detail, "gates.min_roc_auc")


def fairness_gates(fairness, gates):
    """One gate per sensitive feature and metric, from the differences `fairness` computed."""
    found = []
    for feature, summary in fairness.items():
        for metric in ("demographic_parity_difference", "equalized_odds_difference"):
            key = f"max_{metric}"
            value, limit = summary[metric], gates[key]
            detail = f"largest gap between {feature} groups, at most"
            found.append(
                Gate(f"{metric}[{feature}]", value, limit, value <= limit, detail, f"gates.{key}")
            )
    return found


def invariance_gate(model, frame, check, index=0, seed=0):
    """Shuffling a column that must not matter moves predictions by at most `max_mean_change`.

    `index` is the check's place in `gates.invariance`, for the key the message names."""
    column = check["column"]
    shuffled = frame.copy()
    shuffled[column] = np.random.default_rng(seed).permutation(frame[column].to_numpy())
    change = float(
        np.mean(np.abs(positive_scores(model, shuffled) - positive_scores(model, frame)))
    )
    limit = check["max_mean_change"]
    detail = f"mean |change| of the score when {column} is shuffled, at most"
    key = f"gates.invariance[{index}].max_mean_change"
    return Gate(f"invariance[{column}]", change, limit, change <= limit, detail, key)


def directional_gate(model, frame, check, index=0):
    """Raising `column` by `delta` moves the score the expected way for `min_share` of rows;
    `index` is the check's place in `gates.directional`."""
    column, delta, expect = check["column"], check["delta"], check["expect"]
    moved = frame.copy()
    moved[column] = frame[column] + delta
    change = positive_scores(model, moved) - positive_scores(model, frame)
    sign = 1 if expect == "increase" else -1
    share = float(np.mean(sign * change >= 0))
    mean_ok = sign * float(np.mean(change)) > 0
    minimum = check["min_share"]
    against = "fall" if sign > 0 else "rise"
    detail = f"share of rows whose score does not {against} when {column} += {delta}, at least"
    key = f"gates.directional[{index}].min_share"
    passed = share >= minimum and mean_ok
    return Gate(f"directional[{column}]", share, minimum, passed, detail, key)


def all_gates(model, frame, y_true, fairness, gates):
    found = [performance_gate(model, frame, y_true, gates), *fairness_gates(fairness, gates)]
    for index, check in enumerate(gates.get("invariance") or []):
        found.append(invariance_gate(model, frame, check, index))
    for index, check in enumerate(gates.get("directional") or []):
        found.append(directional_gate(model, frame, check, index))
    return found


def failure_message(failed):
    """Why the model fails: each gate's value, limit and the params.yaml key of the limit."""
    reasons = [f"{g.name} = {g.value:.4f} (limit {g.threshold}, params.yaml `{g.key}`)"
               for g in failed]  # fmt: skip
    return (
        f"The model fails {'; '.join(reasons)}. See reports/gates.md; nothing will be "
        "registered until every gate passes."
    )
