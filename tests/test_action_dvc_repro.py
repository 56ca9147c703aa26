"""The dvc-repro Action on a trained project, as the runner runs it."""

from __future__ import annotations

import pytest

from tests.conftest import project_env
from tests.support.action_helpers import (
    ACTIONS,
    PACKAGE,
    copy_project,
)
from tests.support.action_runner import run_action


@pytest.mark.slow
def test_dvc_repro_with_an_unknown_base_says_to_fetch_it(trained_project, tmp_path):
    project = copy_project(trained_project, tmp_path / "p")
    result = run_action(ACTIONS / "dvc-repro", {"package": PACKAGE, "base": "origin/main"},
                        cwd=project, env=project_env(project))  # fmt: skip
    assert result.failed
    assert "fetch-depth: 0" in result.step("repro").stderr
