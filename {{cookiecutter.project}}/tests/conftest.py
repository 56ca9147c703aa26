"""Shared fixtures: the project's params, contract, data and trained model."""

import pytest

from {{ cookiecutter.package }}.config import MODEL_FILE, columns, load_params, load_schema
from {{ cookiecutter.package }}.data.loading import load_dataset
from {{ cookiecutter.package }}.training.evaluate import held_out, load_model
from {{ cookiecutter.package }}.training.task import for_params


@pytest.fixture(scope="session")
def params():
    return load_params()


@pytest.fixture(scope="session")
def spec(params):
    return columns(params)


@pytest.fixture(scope="session")
def task(params, spec):
    """What the task decides: metrics, gates, fairness gaps, model output (training/task.py)."""
    return for_params(params, spec)


@pytest.fixture(scope="session")
def contract():
    return load_schema()


@pytest.fixture(scope="session")
def dataset(params):
    return load_dataset(params)


@pytest.fixture(scope="session")
def model():
    if not MODEL_FILE.exists():
        pytest.fail(f"{MODEL_FILE} is missing: run `make pipeline` before the model tests.")
    return load_model()


@pytest.fixture(scope="session")
def _held_out(params, spec):
    return held_out(params, spec)


@pytest.fixture(scope="session")
def test_frame(_held_out):
    """The held-out split as the model sees it (target removed) and its labels."""
    return _held_out[0], _held_out[1]


@pytest.fixture(scope="session")
def train_labels(_held_out):
    """The training split's labels (the baselines of multiclass and regression use them)."""
    return _held_out[2]
