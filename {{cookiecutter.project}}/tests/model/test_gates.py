"""The model gates of params.yaml, each as its own test against the trained model."""

import pytest

from {{ cookiecutter.package }}.training.fairness import fairness_summary
from {{ cookiecutter.package }}.training.gates import (
    directional_gate,
    fairness_gates,
    invariance_gate,
    performance_gate,
    positive_scores,
)

pytestmark = pytest.mark.model


def test_performance(model, test_frame, params):
    frame, y_true = test_frame
    gate = performance_gate(model, frame, y_true, params["gates"])
    assert gate.passed, gate.explain()


def test_fairness(model, test_frame, params, spec):
    frame, y_true = test_frame
    y_pred = (positive_scores(model, frame) >= params["model"]["threshold"]).astype(int)
    summary = fairness_summary(frame, y_true, y_pred, spec.sensitive)
    assert set(summary) == set(spec.sensitive)
    failed = [g.explain() for g in fairness_gates(summary, params["gates"]) if not g.passed]
    assert not failed, failed


def _checks(params, kind):
    """(index, check) of each entry of gates.KIND: the index names the entry in messages."""
    checks = params["gates"].get(kind) or []
    return [pytest.param((index, c), id=c["column"]) for index, c in enumerate(checks)]


def pytest_generate_tests(metafunc):
    from {{ cookiecutter.package }}.config import load_params

    for kind in ("invariance", "directional"):
        if f"{kind}_check" in metafunc.fixturenames:
            checks = _checks(load_params(), kind)
            metafunc.parametrize(f"{kind}_check", checks or [pytest.param(None, id="none")])


def test_invariance(model, test_frame, invariance_check):
    if invariance_check is None:
        pytest.skip("params.yaml declares no invariance checks")
    gate = invariance_gate(model, test_frame[0], invariance_check[1], invariance_check[0])
    assert gate.passed, gate.explain()


def test_directional(model, test_frame, directional_check):
    if directional_check is None:
        pytest.skip("params.yaml declares no directional expectations yet")
    gate = directional_gate(model, test_frame[0], directional_check[1], directional_check[0])
    assert gate.passed, gate.explain()
