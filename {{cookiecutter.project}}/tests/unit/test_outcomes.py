"""Delayed outcomes and live performance on this project's own model and test split.

The model's answers on the test split are logged as the server logs them (every prediction
compact, and the sampled feature rows); a registry holds the version with its test metrics.
Outcomes that are the data's own targets are healthy (exit 0); with 40% of them changed the
live window decays (exit 4) and the message names the metric and its drop. Bad files are
refused whole, with every problem named, and the store is left as it was.
"""

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package }}.cli import main
from {{ cookiecutter.package }}.config import MODEL_FILE
from {{ cookiecutter.package }}.data.loading import labels, split
from {{ cookiecutter.package }}.monitoring.monitor import EXIT_DECAY
from {{ cookiecutter.package }}.serving.scoring import _class_labels
from {{ cookiecutter.package }}.training.compare import compare_fairness, compare_metrics
from {{ cookiecutter.package }}.training.train import build_pipeline

VERSION = "1"


@pytest.fixture(scope="module")
def live(tmp_path_factory, params, spec, task, contract, dataset):
    """A folder with this project's params (an id column declared if it has none), its
    contract, a DVC repo, a model fitted as `train` fits it (a unit test needs no pipeline
    run), a registry with that version, and the logs of its answers on the test split."""
    folder = tmp_path_factory.mktemp("live")
    train_set, test_set = split(dataset, params)
    model = build_pipeline(task, params["model"])
    model.fit(train_set[spec.features], labels(train_set, spec))
    (folder / "models").mkdir()
    joblib.dump(model, folder / MODEL_FILE)  # the workspace's model, for `compare`
    frame, y_true = test_set.drop(columns=[spec.target]), labels(test_set, spec)
    train_labels = labels(train_set, spec)
    ids = list(spec.ids) or ["row_id"]
    rows = test_set.reset_index(drop=True)
    if not spec.ids:
        rows["row_id"] = [f"r{i}" for i in range(len(rows))]
    changed = {**params, "columns": {**params["columns"], "ids": ids}}
    changed["monitor"] = {**params["monitor"], "min_labelled": min(200, len(rows)),
                          "min_group_rows": 20}  # fmt: skip
    (folder / "params.yaml").write_text(yaml.safe_dump(changed))
    shutil.copy("schema.yaml", folder / "schema.yaml")
    subprocess.run(["dvc", "init", "--no-scm", "--quiet"], cwd=folder, check=True)
    registry = f"sqlite:///{folder / 'mlflow.db'}"
    metrics = task.metrics(model, frame, y_true, train_labels)
    _register(registry, params["registry"]["model_name"], folder, metrics)
    answers = _answers(task, model, frame, spec, contract)
    _write_logs(folder, rows, ids, answers, spec)
    return {"folder": folder, "rows": rows, "ids": ids, "registry": registry}


def _register(uri, name, folder, metrics):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(name)
    tags = {f"metric.{k}": f"{v:.6f}" for k, v in metrics.items()}
    client.create_model_version(name, source=folder.as_uri(), tags=tags)


def _answers(task, model, frame, spec, contract):
    labels = None
    if spec.positive_class is not None:
        labels = _class_labels({"positive_class": spec.positive_class, "target": spec.target,
                                "rules": contract["columns"]})  # fmt: skip
    return [task.kept(answer) for answer in task.answers(model, frame, labels)]


def _write_logs(folder, rows, ids, answers, spec):
    """Both logs as the server writes them, a day ago; every row sampled."""
    when = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    logs = folder / "logs"
    logs.mkdir()
    keys = rows[ids].astype(str).agg("/".join, axis=1)
    with open(logs / "prediction-ids-production.jsonl", "w") as out:
        for key, answer in zip(keys, answers, strict=True):
            line = {"prediction_id": key, "ts": when, "model_version": VERSION, **answer}
            out.write(json.dumps(line) + "\n")
    with open(logs / "predictions-production.jsonl", "w") as out:
        for key, (_, row) in zip(keys, rows.iterrows(), strict=True):
            line = {name: _plain(row[name]) for name in spec.sensitive}
            out.write(json.dumps({**line, "_prediction_id": key, "_ts": when}) + "\n")


def _plain(value):
    return None if pd.isna(value) else value


@pytest.fixture
def inside(live, monkeypatch):
    monkeypatch.chdir(live["folder"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live["registry"])
    return live


def _outcomes(live, spec, name, change=0.0):
    """The test split's own targets as an outcome file; `change` of them altered."""
    frame = live["rows"][[*live["ids"], spec.target]].copy()
    if change:
        picked = np.random.default_rng(0).random(len(frame)) < change
        frame.loc[picked, spec.target] = _altered(frame[spec.target], picked, spec)
    path = live["folder"] / name
    frame.to_csv(path, index=False)
    return path


def _altered(target, picked, spec):
    """Another class for each picked row (a classifier), or another row's value (regression)."""
    values = target[picked].to_numpy()
    if spec.task == "regression":
        return np.random.default_rng(1).permutation(target.to_numpy())[: len(values)]
    classes = sorted(target.astype(str).unique())
    return [classes[(classes.index(str(v)) + 1) % len(classes)] for v in values]


def test_true_outcomes_are_stored_and_the_window_is_healthy(inside, spec, capsys):
    path = _outcomes(inside, spec, "true.csv")
    assert main(["add-outcomes", str(path), "--store", "store-true"]) == 0
    stored = pd.concat(pd.read_parquet(p) for p in (inside["folder"] / "store-true").iterdir())
    assert len(stored) == len(inside["rows"])
    assert (inside["folder"] / "store-true.dvc").exists()  # DVC tracks the local store
    assert main(["monitor", "--outcomes", "store-true"]) == 0
    report = json.loads((inside["folder"] / "reports/monitor.json").read_text())
    assert report["decay"] is False and report["labelled"] == len(inside["rows"])
    assert report["coverage"] == 1.0 and report["version"] == VERSION
    assert 0.9 < report["label_delay_days"]["median"] < 1.1  # logged a day before the outcomes
    assert "Healthy" in capsys.readouterr().out
    assert "<img" in (inside["folder"] / "reports/monitor.html").read_text()


def test_outcomes_that_disagree_with_the_model_are_decay(inside, spec, capsys):
    path = _outcomes(inside, spec, "changed.csv", change=0.4)
    assert main(["add-outcomes", str(path), "--store", "store-changed"]) == 0
    assert main(["monitor", "--outcomes", "store-changed"]) == EXIT_DECAY
    out = capsys.readouterr().out
    report = json.loads((inside["folder"] / "reports/monitor.json").read_text())
    dropped = [row["metric"] for row in report["metrics"] if row["refuses"]]
    assert report["decay"] and dropped, report["metrics"]
    last = out.splitlines()[-1]
    assert last.startswith("Decay:") and f"{dropped[0]} " in last and "a drop of" in last


def test_a_bad_outcome_file_is_refused_whole(inside, spec, capsys):
    frame = inside["rows"][[*inside["ids"], spec.target]].head(6).astype(object)
    frame.loc[1, inside["ids"][0]] = "no-such-id"
    frame.loc[2] = frame.loc[3]  # the same id twice
    frame.loc[4, spec.target] = "not-a-label" if spec.task != "regression" else "abc"
    frame["outcome_ts"] = ["2026-01-02T00:00:00Z"] * 5 + ["someday"]
    path = inside["folder"] / "bad.csv"
    frame.to_csv(path, index=False)
    assert main(["add-outcomes", str(path), "--store", "store-bad"]) == 1
    error = capsys.readouterr().err
    for problem in ("id of no logged prediction (1 records)", "id repeated in the file",
                    f"{spec.target} outside the contract (1 records)",
                    "outcome_ts is not a time (1 records)", "Nothing was written"):  # fmt: skip
        assert problem in error, error
    assert not (inside["folder"] / "store-bad").exists()


def test_an_outcome_already_stored_is_refused(inside, spec, capsys):
    path = _outcomes(inside, spec, "again.csv")
    assert main(["add-outcomes", str(path), "--store", "store-again"]) == 0
    assert main(["add-outcomes", str(path), "--store", "store-again"]) == 1
    assert "id already in the outcome store" in capsys.readouterr().err
    assert len(list((inside["folder"] / "store-again").iterdir())) == 1


def test_too_few_labelled_predictions_is_an_error_with_both_counts(inside, spec, capsys):
    path = inside["folder"] / "few.csv"
    inside["rows"][[*inside["ids"], spec.target]].head(10).to_csv(path, index=False)
    assert main(["add-outcomes", str(path), "--store", "store-few"]) == 0
    assert main(["monitor", "--outcomes", "store-few"]) == 1
    error = capsys.readouterr().err
    need = min(200, len(inside["rows"]))
    assert f"Only 10 of the {len(inside['rows'])} predictions" in error
    assert f"monitor.min_labelled asks for {need}" in error


def test_a_log_of_another_model_is_refused(inside, spec, capsys, tmp_path):
    source = inside["folder"] / "logs/prediction-ids-production.jsonl"
    lines = [json.loads(line) for line in source.read_text().splitlines()]
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({**line, "model_version": "99"}) + "\n" for line in lines))
    path = _outcomes(inside, spec, "for-other.csv")
    assert main(["add-outcomes", str(path), "--store", "store-other"]) == 0
    assert main(["monitor", "--outcomes", "store-other", "--predictions", str(other)]) == 1
    assert "version 99, which is not a version of" in capsys.readouterr().err


def test_an_empty_window_is_an_error(inside, capsys, tmp_path):
    source = inside["folder"] / "logs/prediction-ids-production.jsonl"
    old = tmp_path / "old.jsonl"
    lines = [{**json.loads(line), "ts": "2020-01-01T00:00:00Z"} for line in source.open()]
    old.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["monitor", "--predictions", str(old)]) == 1
    assert "the window is empty" in capsys.readouterr().err


def test_a_regression_beyond_the_limit_refuses_and_a_lower_wins_metric_counts_right(task):
    metric = "rmse" if task.name == "regression" else "accuracy"
    sign = -1 if task.lower_wins(metric) else 1
    rows = compare_metrics(task, {metric: 0.5}, {metric: 0.5 - sign * 0.03}, {metric: 0.02})
    assert rows[0]["refuses"] and rows[0]["gain"] == pytest.approx(-0.03)
    rows = compare_metrics(task, {metric: 0.5}, {metric: 0.5 - sign * 0.01}, {metric: 0.02})
    assert not rows[0]["refuses"]
    unlimited = compare_metrics(task, {metric: 0.5}, {metric: 0.0}, {})
    assert not unlimited[0]["refuses"]


def test_a_fairness_gate_refuses_only_when_the_champion_passes_it(task, params):
    gap, feature = task.fairness_gaps[0], "group"
    limit = params["gates"][f"max_{gap}"]

    def summary(value):
        return {feature: {name: 0.0 for name in task.fairness_gaps} | {gap: value}}

    broken = compare_fairness(task, summary(limit / 2), summary(limit * 2), params["gates"])
    assert [row["gate"] for row in broken if row["refuses"]] == [f"{gap}[{feature}]"]
    both = compare_fairness(task, summary(limit * 3), summary(limit * 2), params["gates"])
    assert not any(row["refuses"] for row in both)


def test_a_champion_whose_artifacts_are_gone_is_a_clear_error(inside, params, capsys):
    """The registry's version 1 points at a folder holding no model: compare (the challenger
    is the workspace's model) says so, and writes no comparison."""
    assert main(["compare", "--champion", VERSION]) == 1
    error = capsys.readouterr().err
    name = params["registry"]["model_name"]
    assert f"The champion, {name} version {VERSION}, cannot be loaded" in error
    assert "Nothing was compared or promoted" in error
    assert not (inside["folder"] / "reports/compare.json").exists()
