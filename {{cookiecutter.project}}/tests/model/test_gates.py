"""The model gates of params.yaml, each as its own test against the trained model."""

import pytest

from {{ cookiecutter.package }}.training.gates import directional_gate, invariance_gate

pytestmark = pytest.mark.model


def test_performance(task, model, test_frame, train_labels, params):
    frame, y_true = test_frame
    values = task.metrics(model, frame, y_true, train_labels)
    failed = [g.explain() for g in task.performance_gates(values, params["gates"]) if not g.passed]
    assert not failed, failed


def test_fairness(task, model, test_frame, params, spec):
    frame, y_true = test_frame
    summary = task.fairness(frame, y_true, task.predicted(model, frame))
    assert set(summary) == set(spec.sensitive)
    failed = [g.explain() for g in task.fairness_gates(summary, params["gates"]) if not g.passed]
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


def test_invariance(task, model, test_frame, invariance_check):
    if invariance_check is None:
        pytest.skip("params.yaml declares no invariance checks")
    index, check = invariance_check
    gate = invariance_gate(task, model, test_frame[0], check, index)
    assert gate.passed, gate.explain()


def test_directional(task, model, test_frame, directional_check):
    if directional_check is None:
        pytest.skip("params.yaml declares no directional expectations yet")
    index, check = directional_check
    gate = directional_gate(task, model, test_frame[0], check, index)
    assert gate.passed, gate.explain()
