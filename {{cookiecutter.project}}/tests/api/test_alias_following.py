"""The server follows its registry alias: a moved alias swaps the model, dropping no request."""

import threading

import numpy as np
import pytest

from {{ cookiecutter.package }}.data.contract import serving_contract
from {{ cookiecutter.package }}.serving.model_source import RegistrySource, ServedModel


class Constant:
    """A stand-in pipeline that answers every row the same, for any task."""

    classes_ = np.array(["no", "yes"])

    def __init__(self, score):
        self.score = score

    def predict_proba(self, frame):
        return np.tile([1 - self.score, self.score], (len(frame), 1))

    def predict(self, frame):
        return np.full(len(frame), self.score)


def output(answer):
    """The stand-in's number in the task's answer: the score, P(yes) or the value."""
    if "score" in answer:
        return answer["score"]
    return answer["probabilities"]["yes"] if "probabilities" in answer else answer["prediction"]


class FakeRegistry:
    """Versions 1 and 2 and an alias the test moves, as MLflow's registry would answer."""

    def __init__(self):
        self.alias_points_to = "1"
        self.pipelines = {"1": Constant(0.2), "2": Constant(0.9)}
        self.fail_next_check = False

    def latest_version(self):
        if self.fail_next_check:
            self.fail_next_check = False
            raise ConnectionError("registry unreachable")
        return self.alias_points_to

    def load(self, version=None):
        version = version or self.alias_points_to
        tags = {"git_commit": f"commit-{version}", "data_hash": f"data-{version}"}
        return ServedModel(self.pipelines[version], "churn", version, "candidate",
                           f"models:/churn/{version}", tags)  # fmt: skip


def test_moving_the_alias_swaps_the_model(serve_params, start_app, records, metric, wait_until):
    registry = FakeRegistry()
    client = start_app(registry, serve_params)
    assert client.get("/version").json()["git_commit"] == "commit-1"
    assert client.post("/predict", json=records[0]).json()["model_version"] == "1"
    registry.alias_points_to = "2"
    wait_until(lambda: client.get("/version").json()["version"] == "2", what="the swap")
    version = client.get("/version").json()
    assert (version["git_commit"], version["data_hash"]) == ("commit-2", "data-2")
    answer = client.post("/predict", json=records[0]).json()
    assert (answer["model_version"], output(answer)) == ("2", 0.9)
    assert metric(client, "model_swaps_total") == 2
    assert metric(client, "model_info", version="2") == 1
    assert metric(client, "model_info", version="1") == 0


def test_no_request_is_dropped_while_the_model_swaps(serve_params, start_app, records,
                                                     wait_until):  # fmt: skip
    registry = FakeRegistry()
    client = start_app(registry, serve_params)
    answers, stop = [], threading.Event()

    def keep_asking():
        while not stop.is_set():
            response = client.post("/predict", json=records[len(answers) % len(records)])
            answers.append((response.status_code, response.json().get("model_version")))

    senders = [threading.Thread(target=keep_asking, daemon=True) for _ in range(4)]
    for sender in senders:
        sender.start()
    try:
        wait_until(lambda: len(answers) >= 20, what="traffic")
        registry.alias_points_to = "2"
        wait_until(lambda: any(v == "2" for _, v in answers[-4:]), what="answers from version 2")
        count = len(answers)
        wait_until(lambda: len(answers) >= count + 20, what="more traffic")
    finally:
        stop.set()
        for sender in senders:
            sender.join(timeout=30)
    assert {status for status, _ in answers} == {200}
    assert {version for _, version in answers} == {"1", "2"}


def test_a_failed_check_keeps_serving_the_current_model(serve_params, start_app, records,
                                                        metric, wait_until):  # fmt: skip
    registry = FakeRegistry()
    client = start_app(registry, serve_params)
    registry.fail_next_check = True
    wait_until(lambda: metric(client, "model_load_errors_total") >= 1, what="the failed check")
    assert client.get("/ready").status_code == 200
    assert client.post("/predict", json=records[0]).json()["model_version"] == "1"


def test_serves_the_registered_alias_with_its_lineage(model, serve_params, start_app, records,
                                                     spec, contract):  # fmt: skip
    """The real MLflow registry of this project (make pipeline registered `candidate`)."""
    from mlflow.exceptions import MlflowException

    from {{ cookiecutter.package }}.registry import client as registry_client

    del model
    name, alias = serve_params["registry"]["model_name"], serve_params["serve"]["alias"]
    try:
        registered = registry_client().get_model_version_by_alias(name, alias)
    except MlflowException:
        pytest.fail(f"no {name}@{alias} in the registry: run `make pipeline` first")
    source = RegistrySource(name, alias)
    logged, now = source.load().contract, serving_contract(spec, contract)  # logged by train
    assert {k: logged[k] for k in ("target", "numeric", "categorical")} == {
        k: now[k] for k in ("target", "numeric", "categorical")
    }
    client = start_app(source, serve_params)
    version = client.get("/version").json()
    assert version["version"] == str(registered.version)
    assert version["git_commit"] == registered.tags["git_commit"]
    assert version["data_hash"] == registered.tags["data_hash"]
    assert client.post("/predict", json=records[0]).json()["model_version"] == version["version"]
