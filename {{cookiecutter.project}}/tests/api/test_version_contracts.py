"""Each version is served by its own columns: the contract logged with it at training. A
version that cannot be served (its columns and pipeline disagree, its artifacts are gone) is
not swapped in: the server keeps the one it has and says why in /version, /ready and its log."""

import dataclasses
import logging
import random
import shutil
import threading

import numpy as np
import pytest

from {{ cookiecutter.package }}.config import CliError
from {{ cookiecutter.package }}.data.contract import serving_contract
from {{ cookiecutter.package }}.data.loading import labels as target_labels
from {{ cookiecutter.package }}.serving.model_source import RegistrySource, ServedModel
from {{ cookiecutter.package }}.training.task import for_params
from {{ cookiecutter.package }}.training.train import build_pipeline

EXTRA = "extra_signal"  # the column version 2 adds


@pytest.fixture(scope="module")
def versions(params, spec, contract, dataset):
    """Real pipelines: 1 the project's columns, 2 one more column, 3 one column less, 4 the
    pipeline of 2 logged with the contract of 1 (a version this server cannot serve)."""
    frame = dataset.assign(**{EXTRA: np.random.default_rng(0).uniform(0, 1, len(dataset))})
    labels = target_labels(frame, spec)
    dropped = spec.numeric[-1]

    def with_numeric(numeric):
        return dataclasses.replace(spec, numeric=numeric)

    specs = {"1": spec, "2": with_numeric([*spec.numeric, EXTRA]),
             "3": with_numeric(spec.numeric[:-1])}  # fmt: skip
    rules = {**contract["columns"], EXTRA: {"dtype": "float", "nullable": False, "min": 0}}
    linear = {} if spec.task == "regression" else {"max_iter": 500}
    model = {"type": "linear", "params": linear}
    pipelines, contracts = {}, {}
    for version, columns in specs.items():
        pipeline = build_pipeline(for_params(params, columns), model)
        pipelines[version] = pipeline.fit(frame[columns.features], labels)
        contracts[version] = serving_contract(columns, {"columns": rules})
    pipelines["4"], contracts["4"] = pipelines["2"], contracts["1"]
    return pipelines, contracts, dropped


class Registry:
    """MLflow's registry as the server sees it: an alias the test moves, versions to load."""

    def __init__(self, versions, broken=()):
        self.pipelines, self.contracts, _ = versions
        self.alias_points_to, self.broken = "1", set(broken)

    def __str__(self):
        return "models:/churn@candidate"

    def latest_version(self):
        return self.alias_points_to

    def load(self, version=None):
        if version in self.broken:
            raise CliError(
                f"churn version {version}: its model artifacts (models:/m-{version})"
                " are missing or unreadable (MLflow: No such artifact: 'MLmodel')."
            )
        return ServedModel(self.pipelines[version], "churn", version, "candidate",
                           f"models:/churn/{version}", {}, self.contracts[version])  # fmt: skip


def test_a_swap_to_other_columns_answers_no_500(versions, serve_params, start_app, records,
                                                wait_until, spec):  # fmt: skip
    """v2 adds a column and v3 removes one, with clients sending all along: each request is
    answered by the columns of the version that takes it, 200 or a 422 naming the column."""
    _, _, dropped = versions
    registry = Registry(versions)
    client = start_app(registry, serve_params)
    shapes = {
        "1": lambda r: r,
        "2": lambda r: {**r, EXTRA: 0.5},
        "3": lambda r: {k: v for k, v in r.items() if k != dropped},
    }
    answers, stop = [], threading.Event()

    def keep_asking(seed):
        pick = random.Random(seed)
        while not stop.is_set():
            shape = pick.choice(sorted(shapes))
            record = shapes[shape](records[pick.randrange(len(records))])
            if pick.random() < 0.5:
                response = client.post("/predict", json=record)
            else:
                again = {k: v for k, v in record.items() if k not in spec.ids}  # ids differ
                response = client.post("/predict/batch", json={"records": [record, again]})
            is_json = response.headers.get("content-type") == "application/json"
            answers.append((shape, response.status_code,
                            response.json() if is_json else response.text))  # fmt: skip

    senders = [threading.Thread(target=keep_asking, args=(n,), daemon=True) for n in range(4)]
    for sender in senders:
        sender.start()
    try:
        # Version 1 answers some traffic first: on a busy machine the senders may not have sent
        # a request before the first swap, and version 1 would then have answered none.
        wait_until(lambda: len(answers) >= 40, what="traffic before the swaps")
        for version in ("2", "3"):
            count = len(answers)
            registry.alias_points_to = version
            wait_until(lambda v=version: client.get("/version").json()["version"] == v,
                       what=f"the swap to {version}")  # fmt: skip
            wait_until(lambda c=count: len(answers) >= c + 40, what="traffic after the swap")
    finally:
        stop.set()
        for sender in senders:
            sender.join(timeout=30)
    assert {status for _, status, _ in answers} <= {200, 422}, [a for a in answers if a[1] > 422]
    served = {(shape, _version(body)) for shape, status, body in answers if status == 200}
    assert {("1", "1"), ("2", "2"), ("3", "3")} <= served
    named = [{e["loc"][-1] for e in body["detail"]} for _, status, body in answers
             if status == 422]  # fmt: skip
    assert named and all(names and names <= {EXTRA, dropped} for names in named), named
    documented = client.get("/openapi.json").json()["components"]["schemas"]["Record"]
    assert dropped not in documented["properties"]  # /docs shows the served version's columns


def _version(body):
    return body["model_version"]


def test_a_version_that_cannot_be_served_is_not_swapped_in(
    versions, serve_params, start_app, records, wait_until, caplog
):
    caplog.set_level(logging.INFO)
    registry = Registry(versions, broken={"5"})
    client = start_app(registry, serve_params)
    for version, missing in (("4", EXTRA), ("5", "MLmodel")):
        registry.alias_points_to = version
        wait_until(lambda v=version: client.get("/version").json()["desired_version"] == v
                   and client.get("/version").json()["status"] == "degraded",
                   what=f"version {version} refused")  # fmt: skip
        answer = client.get("/version").json()
        assert (answer["version"], answer["desired_version"]) == ("1", version)
        assert f"version {version}" in answer["reason"] and missing in answer["reason"]
        ready = client.get("/ready")
        assert ready.status_code == 200
        assert ready.json() == {"status": "degraded", "model_version": "1",
                                "reason": answer["reason"]}  # fmt: skip
        assert client.post("/predict", json=records[0]).json()["model_version"] == "1"
        logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(f"version {version}" in m and missing in m for m in logged), logged
    registry.alias_points_to = "1"
    wait_until(lambda: client.get("/ready").json() == {"status": "ready", "model_version": "1"},
               what="the degraded status to clear")  # fmt: skip


def test_a_version_whose_artifacts_are_gone_is_named_with_what_is_missing(model, tmp_path,
                                                                         monkeypatch):  # fmt: skip
    """Real MLflow, on a copy of the project's registry (a fresh one takes a minute of
    migrations): a version whose artifacts are gone."""
    from {{ cookiecutter.package }}.registry import client

    del model  # make pipeline made the registry
    shutil.copy("mlflow.db", tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    registry = client()
    registry.create_registered_model("scratch")
    registry.create_model_version("scratch", str(tmp_path / "gone"))
    registry.set_registered_model_alias("scratch", "candidate", "1")
    with pytest.raises(CliError, match=r"scratch version 1: its model artifacts .* missing"):
        RegistrySource("scratch", "candidate").load()
