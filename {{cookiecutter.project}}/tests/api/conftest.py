"""API tests: the FastAPI app on the trained model, driven in-process with TestClient."""

import time

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package }}.config import MODEL_FILE
from {{ cookiecutter.package }}.serving.load_test import sample_records
from {{ cookiecutter.package }}.serving.model_source import PathSource
from {{ cookiecutter.package }}.serving.prediction_log import SYNTHETIC
from {{ cookiecutter.package }}.serving.serve import create_app


@pytest.fixture
def serve_params(params, tmp_path):
    """params.yaml, with the prediction logs in tmp_path, every record logged, fast polling."""
    serve = dict(
        params["serve"],
        prediction_log=str(tmp_path / "logs" / "predictions-{environment}.jsonl"),
        prediction_ids_log=str(tmp_path / "logs" / "prediction-ids-{environment}.jsonl"),
        log_sample_rate=1.0,
        poll_seconds=0.05,
    )
    return {**params, "serve": serve}


def _wait_until(condition, timeout=30.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def wait_until():
    """wait_until(condition, timeout=30, what=...) polls until condition() is true."""
    return _wait_until


@pytest.fixture
def start_app(contract):
    """start_app(source, params, ready=True, synthetic=True, shadow=None) -> TestClient of a
    running app (lifespan on), with a shadow source if given. Its requests say they are
    synthetic traffic, as every test's should, unless synthetic is false (tests of the
    prediction log)."""
    running = []

    def start(source, params, ready=True, synthetic=True, shadow=None):
        app = create_app(source, params, contract, shadow_source=shadow)
        headers = SYNTHETIC if synthetic else None
        client = TestClient(app, headers=headers, raise_server_exceptions=False)
        client.__enter__()
        running.append(client)
        if ready:
            _wait_until(lambda: client.get("/ready").status_code == 200, what="/ready")
        return client

    yield start
    for client in running:
        client.__exit__(None, None, None)


@pytest.fixture
def client(model, serve_params, start_app):
    """The app serving models/model.joblib, the trained model (version `local`)."""
    del model  # fails first, with its reason, when there is no trained model
    return start_app(PathSource(MODEL_FILE, serve_params["registry"]["model_name"]), serve_params)


@pytest.fixture(scope="session")
def records():
    """Real rows of the data set as request bodies (features and sensitive columns)."""
    return sample_records(40)


@pytest.fixture
def expected_output(model, spec):
    """What the pipeline itself makes of these records, read straight from scikit-learn: the
    positive score (binary), every class's probability (multiclass) or the value (regression).
    The API must agree."""

    def output(rows):
        frame = pd.DataFrame(rows)[spec.features]
        frame = frame.where(frame.notna(), np.nan)
        if spec.task == "regression":
            return model.predict(frame)
        probabilities = model.predict_proba(frame)
        return probabilities[:, 1] if spec.task == "binary_classification" else probabilities

    return output


@pytest.fixture
def metric():
    """metric(client, name, **labels) -> one Prometheus sample from /metrics (0 if absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    def value(client, name, **labels):
        text = client.get("/metrics").text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return sample.value
        return 0.0

    return value
