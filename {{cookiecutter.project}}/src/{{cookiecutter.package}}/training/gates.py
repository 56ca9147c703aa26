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

    def as_dict(self):
        return asdict(self)


def positive_scores(model, frame):
    return model.predict_proba(frame)[:, 1]


def performance_gate(model, frame, y_true, gates):
    value = float(roc_auc_score(y_true, positive_scores(model, frame)))
    minimum = gates["min_roc_auc"]
    return Gate("roc_auc", value, minimum, value >= minimum, "ROC AUC on the test split, at least")


def fairness_gates(fairness, gates):
    """One gate per sensitive feature and metric, from the differences `fairness` computed."""
    found = []
    for feature, summary in fairness.items():
        for metric in ("demographic_parity_difference", "equalized_odds_difference"):
            value, limit = summary[metric], gates[f"max_{metric}"]
            detail = f"largest gap between {feature} groups, at most"
            found.append(Gate(f"{metric}[{feature}]", value, limit, value <= limit, detail))
    return found


def invariance_gate(model, frame, check, seed=0):
    """Shuffling a column that must not matter moves predictions by at most `max_mean_change`."""
    column = check["column"]
    shuffled = frame.copy()
    shuffled[column] = np.random.default_rng(seed).permutation(frame[column].to_numpy())
    change = float(
        np.mean(np.abs(positive_scores(model, shuffled) - positive_scores(model, frame)))
    )
    limit = check["max_mean_change"]
    detail = f"mean |change| of the score when {column} is shuffled, at most"
    return Gate(f"invariance[{column}]", change, limit, change <= limit, detail)


def directional_gate(model, frame, check):
    """Raising `column` by `delta` moves the score the expected way for `min_share` of rows."""
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
    return Gate(f"directional[{column}]", share, minimum, share >= minimum and mean_ok, detail)


def all_gates(model, frame, y_true, fairness, gates):
    found = [performance_gate(model, frame, y_true, gates), *fairness_gates(fairness, gates)]
    found += [invariance_gate(model, frame, check) for check in gates.get("invariance") or []]
    found += [directional_gate(model, frame, check) for check in gates.get("directional") or []]
    return found
