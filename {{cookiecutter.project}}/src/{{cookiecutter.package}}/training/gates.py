"""The model gates: performance, fairness, invariance and directional expectations.

`evaluate` runs them all and writes the table; the generated tests call the same
functions one by one, so a broken gate fails both the pipeline and `make test`. Which
metrics and gaps a task gates, and which model output the checks move, is in task.py.
"""

from dataclasses import asdict, dataclass

import numpy as np


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


def _what(task, check):
    """What the check moves, in words: the score, a class's probability, or the value."""
    if task.name == "regression":
        return "predicted value"
    if task.name == "multiclass_classification":
        named = check.get("class")
        return f"probability of {named}" if named is not None else "class probabilities"
    return "score"


def invariance_gate(task, model, frame, check, index=0, seed=0):
    """Shuffling a column that must not matter moves the output by at most `max_mean_change`.

    `index` is the check's place in `gates.invariance`, for the key the message names."""
    column = check["column"]
    shuffled = frame.copy()
    shuffled[column] = np.random.default_rng(seed).permutation(frame[column].to_numpy())
    change = float(
        np.mean(np.abs(task.output(model, shuffled, check) - task.output(model, frame, check)))
    )
    limit = check["max_mean_change"]
    detail = f"mean |change| of the {_what(task, check)} when {column} is shuffled, at most"
    key = f"gates.invariance[{index}].max_mean_change"
    return Gate(f"invariance[{column}]", change, limit, change <= limit, detail, key)


def directional_gate(task, model, frame, check, index=0):
    """Raising `column` by `delta` moves the output the expected way for `min_share` of rows;
    `index` is the check's place in `gates.directional`."""
    column, delta, expect = check["column"], check["delta"], check["expect"]
    moved = frame.copy()
    moved[column] = frame[column] + delta
    change = task.output(model, moved, check) - task.output(model, frame, check)
    sign = 1 if expect == "increase" else -1
    share = float(np.mean(sign * change >= 0))
    mean_ok = sign * float(np.mean(change)) > 0
    minimum = check["min_share"]
    against = "fall" if sign > 0 else "rise"
    detail = (f"share of rows whose {_what(task, check)} does not {against} when "
              f"{column} += {delta}, at least")  # fmt: skip
    key = f"gates.directional[{index}].min_share"
    name = f"directional[{column}" + (f"->{check['class']}]" if "class" in check else "]")
    return Gate(name, share, minimum, share >= minimum and mean_ok, detail, key)


def all_gates(task, model, frame, values, fairness, gates):
    """Every gate of params.yaml: `values` are the task's metrics, `fairness` its gaps."""
    found = [*task.performance_gates(values, gates), *task.fairness_gates(fairness, gates)]
    for index, check in enumerate(gates.get("invariance") or []):
        found.append(invariance_gate(task, model, frame, check, index))
    for index, check in enumerate(gates.get("directional") or []):
        found.append(directional_gate(task, model, frame, check, index))
    return found


def failure_message(failed):
    """Why the model fails: each gate's value, limit and the params.yaml key of the limit."""
    reasons = [f"{g.name} = {g.value:.4f} (limit {g.threshold}, params.yaml `{g.key}`)"
               for g in failed]  # fmt: skip
    return (
        f"The model fails {'; '.join(reasons)}. See reports/gates.md; nothing will be "
        "registered until every gate passes."
    )
