"""The data-check Action on baked projects, as the runner runs it."""

from __future__ import annotations

import pandas as pd

from tests.conftest import bake, break_example_data, project_env
from tests.support.action_helpers import (
    ACTIONS,
    PACKAGE,
)
from tests.support.action_runner import run_action


def test_data_check_passes_good_data_with_the_report_in_the_summary(tmp_path):
    project = bake(tmp_path)
    result = run_action(ACTIONS / "data-check", {"package": PACKAGE}, cwd=project,
                        env=project_env(project))  # fmt: skip
    assert not result.failed, result.log
    assert result.outputs == {"passed": "true", "report": "reports/data_check.md"}
    assert result.summary.startswith("## Data check passed")
    assert "`data/raw/dataset.csv`: 5000 rows." in result.summary


def test_data_check_fails_bad_data_and_shows_why_in_the_summary(tmp_path):
    project = bake(tmp_path)
    break_example_data(project)
    (project / "reports").mkdir()
    (project / "reports/data_check.md").write_text("## Data check passed\n")  # a stale report
    result = run_action(ACTIONS / "data-check", {"package": PACKAGE}, cwd=project,
                        env=project_env(project))  # fmt: skip
    assert result.failed
    assert result.outputs["passed"] == "false"
    assert result.summary.startswith("## Data check FAILED")
    assert "passed" not in result.summary.splitlines()[0]
    assert "`tenure_months`" in result.summary and "`contract`" in result.summary
    assert "lifetime" in result.summary
    assert "breaks the data contract" in result.step("check").stderr


def test_data_check_of_another_file(tmp_path):
    project = bake(tmp_path)
    other = tmp_path / "incoming.csv"
    pd.read_csv(project / "data/raw/dataset.csv").head(1500).to_csv(other, index=False)
    result = run_action(ACTIONS / "data-check", {"package": PACKAGE, "data": str(other)},
                        cwd=project, env=project_env(project))  # fmt: skip
    assert not result.failed, result.log
    assert "1500 rows" in result.summary
