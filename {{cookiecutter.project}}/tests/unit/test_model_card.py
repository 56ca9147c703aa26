"""The model card on small synthetic data, for every task: odd input gets a clear card, not a
crash (one class in the test split, a tiny sensitive group, hundreds of one-hot features)."""

import json

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package }}.config import Columns
from {{ cookiecutter.package }}.training import model_card
from {{ cookiecutter.package }}.training.task import BY_NAME
from {{ cookiecutter.package }}.training.train import build_pipeline

CHOSEN = {"importance_rows": 500, "importance_repeats": 2, "min_group_rows": 30}


def rows(count=400, kinds=3, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(size=count), "noise": rng.normal(size=count),
        "kind": rng.choice([f"k{i}" for i in range(kinds)], size=count),
        "group": np.where(np.arange(count) < 8, "rare", rng.choice(["a", "b"], size=count)),
    })  # fmt: skip


def labels(task_name, frame):
    signal = frame["x"] + (frame["kind"] == "k1")
    if task_name == "binary_classification":
        return (signal > 0.5).astype(int)
    if task_name == "multiclass_classification":
        return pd.Series(np.select([signal < 0, signal < 1], ["low", "mid"], "high"))
    return signal * 10 + 50


def fitted(task_name, frame, y):
    spec = Columns("y", "1" if task_name == "binary_classification" else None, ["x", "noise"],
                   ["kind"], ["group"], [], task_name)  # fmt: skip
    task = BY_NAME[task_name](spec, {"model": {"threshold": 0.5}, "data": {"seed": 0}})
    params = {"alpha": 0.1} if task_name == "regression" else {"max_iter": 500}
    return task, build_pipeline(task, {"type": "linear", "params": params}).fit(frame, y)


def card(task, model, frame, y, tmp_path, metrics=None):
    evaluated = {
        "metrics": metrics if metrics is not None else task.metrics(model, frame, y, y),
        "fairness": task.fairness(frame, y, task.predicted(model, frame)),
        "gates": {"passed": True, "gates": []},
    }
    content, plots = model_card.build(task, model, frame, y, evaluated, CHOSEN)
    folder = model_card.write(content, plots, tmp_path / "card")
    return content, folder


@pytest.mark.parametrize("task_name", sorted(BY_NAME))
def test_every_task_gets_a_card_with_its_plots(task_name, tmp_path):
    frame = rows()
    y = labels(task_name, frame)
    task, model = fitted(task_name, frame, y)
    content, folder = card(task, model, frame, y, tmp_path)
    assert set(task.card_plots) <= set(content["plots"]) and not content["notes"]
    for name in content["plots"]:
        assert (folder / f"{name}.png").stat().st_size > 5000  # a drawn plot, not an empty file
    page = (folder / "card.html").read_text()
    assert page.count("data:image/png;base64,") == len(content["plots"])  # embedded: offline
    assert "## Model card" in (folder / "card.md").read_text()
    saved = json.loads((folder / "card.json").read_text())
    assert next(iter(saved["importance"])) in ("x", "kind")  # what the labels are made of
    assert saved["weights"]["noise"] < 0.1 and abs(sum(saved["weights"].values()) - 1) < 1e-9


def test_a_single_class_test_split_says_the_curves_are_undefined(tmp_path):
    frame = rows()
    y = labels("binary_classification", frame)
    task, model = fitted("binary_classification", frame, y)
    only = frame[y == 0]
    content, folder = card(task, model, only, y[y == 0], tmp_path, metrics={"accuracy": 1.0})
    for curve in ("roc", "precision_recall", "calibration"):
        assert "only one class" in content["notes"][curve]
        assert curve not in content["plots"]
    assert "confusion" in content["plots"]  # still defined at the threshold
    assert next(iter(content["importance"].values()))["scoring"] == "accuracy"
    assert "Undefined: the test split holds only one class" in (folder / "card.html").read_text()


def test_a_tiny_sensitive_group_is_marked_too_small_to_judge(tmp_path):
    frame = rows()
    y = labels("binary_classification", frame)
    task, model = fitted("binary_classification", frame, y)
    content, folder = card(task, model, frame, y, tmp_path)
    assert content["groups"]["group"]["too_small"] == ["rare"]  # 8 rows, under 30
    assert "rare (too small to judge)" in (folder / "card.html").read_text()
    assert "Too small to judge (under 30 test rows): rare." in (folder / "card.md").read_text()


def test_hundreds_of_one_hot_features_count_as_their_one_column(tmp_path):
    frame = rows(count=1200, kinds=300)
    y = labels("binary_classification", frame)
    task, model = fitted("binary_classification", frame, y)
    assert len(model[:-1].get_feature_names_out()) > 250  # what the estimator sees
    content, _ = card(task, model, frame, y, tmp_path)
    assert set(content["importance"]) == {"x", "noise", "kind"}


@pytest.mark.parametrize("task_name", sorted(BY_NAME))
def test_the_production_version_is_drawn_beside_the_candidate(task_name, tmp_path):
    frame = rows()
    y = labels(task_name, frame)
    task, model = fitted(task_name, frame, y)
    _, older = fitted(task_name, frame.assign(x=0.0), y)  # a weaker model: it never saw x
    evaluated = {"metrics": {}, "fairness": {}, "gates": {"passed": True, "gates": []}}
    content, plots = model_card.build(task, model, frame, y, evaluated, CHOSEN,
                                      production=("production v1", older))  # fmt: skip
    assert set(content["production_importance"]) == set(content["importance"])
    assert content["production_importance"]["x"]["mean"] == 0  # the older model ignores x
    for name in task.card_plots:
        if name != "confusion":  # the candidate's alone
            labels_drawn = [t.get_text() for t in plots[name].axes[0].get_legend().get_texts()]
            assert any(t.startswith("production v1") for t in labels_drawn), name
