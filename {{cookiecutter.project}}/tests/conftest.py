"""Shared fixtures: the project's params, contract, data and trained model."""

import pytest

from {{ cookiecutter.package }}.config import MODEL_FILE, columns, load_params, load_schema
from {{ cookiecutter.package }}.data.loading import labels, load_dataset
from {{ cookiecutter.package }}.training.evaluate import load_model, test_split


@pytest.fixture(scope="session")
def params():
    return load_params()


@pytest.fixture(scope="session")
def spec(params):
    return columns(params)


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
def test_frame(params, spec):
    """The held-out split as the model sees it (target removed) and its 0/1 labels."""
    test_set = test_split(params)
    return test_set.drop(columns=[spec.target]), labels(test_set, spec)
