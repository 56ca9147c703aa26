"""The training pipeline fits every model family of every task on mixed, partly missing data."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package }}.config import Columns
from {{ cookiecutter.package }}.training.task import BY_NAME
from {{ cookiecutter.package }}.training.train import build_pipeline

FAMILIES = ("linear", "random_forest", "gradient_boosting")


def features(rows=300):
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "kind": rng.choice(["a", "b", None], size=rows),
            "ignored": range(rows),
        }
    )


def fitted(task_name, model_type, frame, y):
    spec = Columns("y", "1" if task_name == "binary_classification" else None, ["x"], ["kind"],
                   [], ["ignored"], task_name)  # fmt: skip
    task = BY_NAME[task_name](spec, {"model": {"threshold": 0.5}})
    params = {"alpha": 0.1} if model_type == "linear" and task_name == "regression" else {}
    return task, build_pipeline(task, {"type": model_type, "params": params}).fit(frame, y)


@pytest.mark.parametrize("model_type", FAMILIES)
def test_binary_scores_are_probabilities(model_type):
    frame = features()
    y = (frame["x"] > 0).astype(int)
    task, pipeline = fitted("binary_classification", model_type, frame, y)
    scores = task.output(pipeline, frame.assign(kind="unseen"))
    assert ((scores >= 0) & (scores <= 1)).all()
    assert ((scores >= 0.5) == y).mean() > 0.9


@pytest.mark.parametrize("model_type", FAMILIES)
def test_multiclass_answers_name_a_class_and_every_probability(model_type):
    frame = features()
    y = pd.Series(np.select([frame["x"] < -0.5, frame["x"] > 0.5], ["low", "high"], "mid"))
    task, pipeline = fitted("multiclass_classification", model_type, frame, y)
    answers = task.answers(pipeline, frame.assign(kind="unseen"), None)
    assert {a["prediction"] for a in answers} == {"low", "mid", "high"}
    assert all(abs(sum(a["probabilities"].values()) - 1) < 1e-6 for a in answers)
    assert np.mean([a["prediction"] for a in answers] == y) > 0.85
    assert task.output(pipeline, frame, {"class": "high"}).shape == (len(frame),)


@pytest.mark.parametrize("model_type", FAMILIES)
def test_regression_beats_the_mean(model_type):
    frame = features()
    y = 3 * frame["x"] + 10
    task, pipeline = fitted("regression", model_type, frame, y)
    values = task.metrics(pipeline, frame, y, y)
    assert values["rmse_vs_baseline"] < 0.5 and values["r2"] > 0.75
    assert [set(a) for a in task.answers(pipeline, frame.head(2), None)] == [{"prediction"}] * 2


def test_a_model_of_another_task_is_refused():
    from {{ cookiecutter.package }}.config import CliError

    task = BY_NAME["regression"](Columns("y", None, ["x"], [], [], []), {})
    with pytest.raises(CliError, match="is not a model of regression: type one of linear"):
        task.estimator({"type": "logistic_regression"})
