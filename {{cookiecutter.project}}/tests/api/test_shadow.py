"""Shadow serving: a second version scores every request off the response path. Answers
never depend on it, a shadow failure fails no request, a shadow that reads other columns is
refused while the server goes on, and `shadow-report` compares the two logs."""

import argparse
import copy
import dataclasses
import gc
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package }}.config import CliError, columns
from {{ cookiecutter.package }}.data.contract import serving_contract
from {{ cookiecutter.package }}.data.loading import labels as target_labels
from {{ cookiecutter.package }}.monitoring import shadow_report
from {{ cookiecutter.package }}.serving.model_source import PathSource, RegistrySource, ServedModel
from {{ cookiecutter.package }}.serving.serve import shadow_source_from
from {{ cookiecutter.package }}.training.task import for_params
from {{ cookiecutter.package }}.training.train import build_pipeline


class OneVersion:
    """A source of one fitted pipeline, as the registry gives a version."""

    def __init__(self, pipeline, version, contract):
        self.pipeline, self.version, self.contract = pipeline, version, contract

    def __str__(self):
        return f"models:/churn@staging (v{self.version})"

    def latest_version(self):
        return self.version

    def load(self, version=None):
        return ServedModel(self.pipeline, "churn", self.version, "staging",
                           f"models:/churn/{self.version}", {}, self.contract)  # fmt: skip


class FailsAfterLoading:
    """A pipeline that scores the server's load-time check, then fails every call."""

    def __init__(self, pipeline):
        self.pipeline, self.calls = pipeline, 0

    def __getattr__(self, name):
        if name not in ("predict", "predict_proba"):
            return getattr(self.pipeline, name)
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("the shadow's artifacts were half written")
        return getattr(self.pipeline, name)


@pytest.fixture(scope="module")
def shadows(params, spec, contract, dataset):
    """Real pipelines: `other` learned from turned-around labels (it disagrees with the
    served model on most records), `narrow` one numeric column less (it reads other
    requests)."""
    labels = target_labels(dataset, spec)
    narrow = dataclasses.replace(spec, numeric=spec.numeric[:-1])
    model = {"type": "linear", "params": {} if spec.task == "regression" else {"max_iter": 500}}

    def fitted(columns, y):
        pipeline = build_pipeline(for_params(params, columns), model)
        return pipeline.fit(dataset[columns.features], y), serving_contract(columns, contract)

    return {"other": fitted(spec, _turned(labels, spec.task)), "narrow": fitted(narrow, labels),
            "dropped": spec.numeric[-1]}  # fmt: skip


def _turned(labels, task):
    """The other class (binary), the next class (multiclass), the negated value."""
    if task == "regression":
        return -labels
    if task == "binary_classification":
        return 1 - labels
    classes = sorted(labels.unique())
    return labels.map(dict(zip(classes, classes[1:] + classes[:1], strict=True)))


@pytest.fixture
def served(model, serve_params):
    del model
    return PathSource("models/model.joblib", serve_params["registry"]["model_name"])


def _log(serve_params, environment):
    path = serve_params["serve"]["prediction_ids_log"].replace("{environment}", environment)
    with open(path) as lines:
        return [json.loads(line) for line in lines]


def _answers(client, records):
    singles = [client.post("/predict", json=r).json() for r in records[:10]]
    batch = client.post("/predict/batch", json={"records": records[10:]}).json()
    keep = ("prediction", "score", "probabilities", "predictions", "scores", "model_version")
    return [{k: v for k, v in a.items() if k in keep} for a in [*singles, batch]]


def test_the_shadow_scores_every_request_and_changes_no_answer(
    shadows, served, serve_params, start_app, records, wait_until, metric, task
):
    pipeline, contract = shadows["other"]
    plain = _answers(start_app(served, serve_params), records)
    client = _with_shadow(start_app, served, serve_params, pipeline, contract, wait_until)
    assert _answers(client, records) == plain  # the same answers as without a shadow
    wait_until(lambda: _shadowed(client, metric) == len(records), what="every record shadowed")
    wait_until(lambda: len(_log(serve_params, "local-shadow")) == len(records), what="its log")
    shadowed, logged = _log(serve_params, "local-shadow"), _log(serve_params, "local")
    assert [row["prediction_id"] for row in shadowed] == [row["prediction_id"] for row in logged]
    assert {row["model_version"] for row in shadowed} == {"2"}
    frame = pd.DataFrame(records)[task.spec.features]
    expected = task.answers(pipeline, frame, _labels(logged, shadowed, task))
    # approx: a regression model's sums depend on how many rows share a predict call
    got = [row["prediction"] for row in shadowed]
    assert got == pytest.approx([a["prediction"] for a in expected])
    assert all(row["predict_ms"] > 0 and row["served_predict_ms"] > 0 for row in shadowed)
    different = metric(client, "shadow_answers_total", agreement="different")
    assert different > 0  # a model of shuffled labels: the counts come from real answers


def _labels(logged, shadowed, task):
    """The binary labels the server names its classes by (score >= threshold)."""
    if task.name != "binary_classification":
        return None
    positive = task.spec.positive_class
    others = {row["prediction"] for row in [*logged, *shadowed]} - {positive}
    return {True: positive, False: next(iter(others), f"not {positive}")}


def _with_shadow(start_app, served, serve_params, pipeline, contract, wait_until, version="2"):
    client = start_app(served, serve_params, synthetic=False,
                       shadow=OneVersion(pipeline, version, contract))  # fmt: skip
    wait_until(lambda: _settled(client.get("/version").json()["shadow"]),
               what="the shadow to load or be refused")  # fmt: skip
    return client


def _settled(shadow):
    return shadow["status"] == "scoring" or "refused" in shadow.get("reason", "")


def _shadowed(client, metric):
    return sum(metric(client, "shadow_answers_total", agreement=a) for a in ("same", "different"))


def test_a_failing_shadow_fails_no_request(shadows, served, serve_params, start_app, records,
                                           wait_until, metric):  # fmt: skip
    pipeline, contract = shadows["other"]
    client = _with_shadow(start_app, served, serve_params, FailsAfterLoading(pipeline),
                          contract, wait_until)  # fmt: skip
    assert client.get("/version").json()["shadow"]["status"] == "scoring"
    statuses = [client.post("/predict", json=r).status_code for r in records[:5]]
    assert statuses == [200] * 5
    wait_until(lambda: metric(client, "shadow_errors_total") >= 1, what="the counted failure")
    # every row of a failed call counts as not shadowed (the ShadowNotScoring alert reads it)
    wait_until(lambda: metric(client, "shadow_rows_dropped_total") == 5, what="rows not scored")
    assert client.get("/ready").json()["status"] == "ready"
    assert _log(serve_params, "local-shadow") == []  # nothing logged for it


def test_a_shadow_that_reads_other_columns_is_refused_and_serving_goes_on(
    shadows, served, serve_params, start_app, records, wait_until, metric
):
    pipeline, contract = shadows["narrow"]
    client = _with_shadow(start_app, served, serve_params, pipeline, contract, wait_until, "3")
    shadow = client.get("/version").json()["shadow"]
    assert shadow["status"] == "off"
    assert (f"shadow version 3 of models:/churn@staging (v3) is refused: it reads other "
            f"requests than the served version local (it lacks {shadows['dropped']})"
            ) in shadow["reason"]  # fmt: skip
    assert client.post("/predict", json=records[0]).status_code == 200
    assert metric(client, "shadow_rows_dropped_total") == 1  # served, and counted unshadowed
    assert client.get("/ready").json()["status"] == "ready"  # the served model is unharmed
    assert _log(serve_params, "local-shadow") == []


def _path(serve_params, environment):
    return serve_params["serve"]["prediction_ids_log"].replace("{environment}", environment)


def _log(serve_params, environment):
    path = Path(_path(serve_params, environment))
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _args(**given):
    return argparse.Namespace(**{"shadow_alias": None, "shadow_model_path": None, **given})


def test_a_shadow_of_the_served_alias_or_a_missing_one_is_a_clear_error(params, tmp_path):
    with pytest.raises(CliError, match="The shadow alias 'production' is the alias this "
                       "server serves: a shadow scores another version"):  # fmt: skip
        shadow_source_from(_args(shadow_alias="production"), params,
                           RegistrySource("churn", "production"))  # fmt: skip
    with pytest.raises(CliError, match=r"Shadow: .*gone does not exist"):
        shadow_source_from(_args(shadow_model_path=str(tmp_path / "gone")), params, None)
    assert shadow_source_from(_args(), params, None) is None  # none asked for: no shadow


def test_shadow_report_compares_both_versions_on_the_same_requests(
    shadows, served, serve_params, start_app, records, wait_until, metric, tmp_path, monkeypatch
):
    """Outcomes here are the served answers themselves: the served version then scores
    perfectly, and the shadow's accuracy (or fit) on those requests is its agreement."""
    pipeline, contract = shadows["other"]
    client = _with_shadow(start_app, served, serve_params, pipeline, contract, wait_until)
    _answers(client, records)
    wait_until(lambda: len(_log(serve_params, "local-shadow")) == len(records), what="its log")
    logged = pd.DataFrame(_log(serve_params, "local"))
    store = tmp_path / "outcomes"
    store.mkdir()
    target = columns(serve_params).target
    outcomes = logged[["prediction_id"]].assign(**{target: logged["prediction"]},
                                                outcome_ts=datetime.now(UTC))  # fmt: skip
    outcomes.to_parquet(store / "outcomes-1.parquet", index=False)
    shutil.copy("params.yaml", tmp_path / "params.yaml")
    monkeypatch.setenv("PREDICTION_IDS_LOG", serve_params["serve"]["prediction_ids_log"])
    monkeypatch.chdir(tmp_path)
    shadow_report.shadow_report(argparse.Namespace(environment="local", days=None,
                                                   outcomes=str(store)))  # fmt: skip
    result = json.loads((tmp_path / "reports/shadow-local.json").read_text())
    assert result["requests"] == len(records)
    assert result["versions"] == {"served": {"local": len(records)}, "shadow": {"2": len(records)}}
    assert 0 <= result["agreement"] < 1
    served_metrics, shadow_metrics = result["outcomes"]["metrics"].values()
    if "accuracy" in served_metrics:  # a classifier: right wherever it agrees
        assert served_metrics["accuracy"] == 1.0
        assert shadow_metrics["accuracy"] == pytest.approx(result["agreement"])
    else:
        assert served_metrics["rmse"] == 0.0 < shadow_metrics["rmse"]
    table = (tmp_path / "reports/shadow-local.md").read_text()
    assert "| on the same requests | served vlocal | shadow v2 |" in table
    assert f"### Metrics on the {len(records)} requests with an outcome" in table


class CopyingVersion(OneVersion):
    """A version whose pipeline is a new object at every load, as a registry load makes."""

    def load(self, version=None):
        return dataclasses.replace(super().load(version), pipeline=copy.deepcopy(self.pipeline))


def test_the_shadow_model_is_frozen_out_of_the_collectors_way(
    shadows, served, serve_params, start_app, wait_until, monkeypatch
):
    """As the served model (serving/collector.py): the shadow loads after it, and is frozen
    too, or every full collection would walk it."""
    from sklearn.pipeline import Pipeline

    from {{ cookiecutter.package }}.serving import collector

    pipeline, contract = shadows["other"]
    monkeypatch.setattr(collector, "_owned", True)  # as `serve` does for its process
    try:
        client = start_app(served, serve_params, shadow=CopyingVersion(pipeline, "2", contract))
        wait_until(lambda: _settled(client.get("/version").json()["shadow"]), what="the shadow")
        tracked = [o for o in gc.get_objects() if isinstance(o, Pipeline)]
        assert not tracked, f"{len(tracked)} pipelines are still walked by the collector"
    finally:
        gc.unfreeze()  # leave the test process as it was
