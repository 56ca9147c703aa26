"""The model-tests Action on a trained project, as the runner runs it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.conftest import project_env
from tests.support.action_helpers import (
    ACTIONS,
    PACKAGE,
    UsesRecorder,
    copy_project,
    set_param,
)
from tests.support.action_runner import run_action


def upload_checker(project):
    def upload(with_):
        assert (project / with_["path"]).is_file(), "the JUnit file to upload is missing"
        return {}

    return UsesRecorder({"actions/upload-artifact": upload})


@pytest.mark.slow
def test_model_tests_write_the_gate_table_and_junit(trained_project, tmp_path):
    project = copy_project(trained_project, tmp_path / "p")
    uses = upload_checker(project)
    result = run_action(ACTIONS / "model-tests", {"package": PACKAGE}, cwd=project,
                        env=project_env(project), uses=uses)  # fmt: skip
    assert not result.failed, result.log
    assert result.outputs == {"passed": "true", "junit": "reports/junit/model-tests.xml"}
    assert uses.called("actions/upload-artifact") == [
        {"name": "model-tests-junit", "path": "reports/junit/model-tests.xml",
         "if-no-files-found": "warn"}
    ]  # fmt: skip
    summary = result.summary
    assert summary.startswith("## Model tests passed")
    assert "## Model gates" in summary
    for gate in ("roc_auc", "demographic_parity_difference[gender]", "invariance[customer_id]",
                 "directional[tenure_months]"):  # fmt: skip
        assert f"| {gate} |" in summary
    cases = ET.parse(project / "reports/junit/model-tests.xml").getroot().iter("testcase")
    names = {case.get("name") for case in cases}
    assert {"test_performance", "test_fairness"} <= names


@pytest.mark.slow
def test_model_tests_fail_on_a_gate_and_still_upload_junit(trained_project, tmp_path):
    project = copy_project(trained_project, tmp_path / "p")
    set_param(project, "gates.min_roc_auc", 0.99)
    uses = upload_checker(project)
    result = run_action(ACTIONS / "model-tests", {"package": PACKAGE}, cwd=project,
                        env=project_env(project), uses=uses)  # fmt: skip
    assert result.failed
    assert result.outputs["passed"] == "false"
    assert result.summary.startswith("## Model tests FAILED")
    assert "- failed: `tests.model.test_gates::test_performance`" in result.summary
    assert len(uses.called("actions/upload-artifact")) == 1, "if: !cancelled() uploads anyway"
    junit = ET.parse(project / "reports/junit/model-tests.xml").getroot()
    assert any(case.find("failure") is not None for case in junit.iter("testcase"))
