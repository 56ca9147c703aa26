"""The dvc-repro Action on a trained project, as the runner runs it."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import project_env
from tests.support.action_helpers import (
    ACTIONS,
    PACKAGE,
    copy_project,
    git,
    set_param,
)
from tests.support.action_runner import run_action


@pytest.mark.slow
def test_dvc_repro_diffs_metrics_and_params_against_the_base_branch(trained_project, tmp_path):
    origin = copy_project(trained_project, tmp_path / "origin")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "trained on main")
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    shutil.copy(origin / "data/raw/dataset.csv", work / "data/raw/dataset.csv")  # `dvc pull`
    git(work, "checkout", "-q", "-b", "feature")
    set_param(work, "model.params.C", 0.05)

    # A pull_request run: GITHUB_BASE_REF=main, so the Action compares with origin/main.
    result = run_action(ACTIONS / "dvc-repro", {"package": PACKAGE}, cwd=work,
                        env=project_env(work),
                        github={"event_name": "pull_request", "base_ref": "main"})  # fmt: skip
    assert not result.failed, result.log
    assert result.outputs == {"diff-report": "reports/metrics_diff.md", "lock-changed": "true"}
    summary = result.summary
    assert "## Metrics and params against `origin/main`" in summary
    assert "| `params.yaml` | `model.params.C` | `1.0` | `0.05` |" in summary
    for metric in ("roc_auc", "accuracy", "f1"):
        assert f"| `reports/metrics.json` | {metric} |" in summary
    assert "`dvc.lock` changed" in summary
    diff = json.loads((work / "reports/metrics_diff.json").read_text())
    changed = diff["params"]["params.yaml"]["model.params.C"]
    assert changed == {"old": 1.0, "new": 0.05, "diff": pytest.approx(-0.95)}


@pytest.mark.slow
def test_dvc_repro_failing_gate_fails_with_the_gate_table(trained_project, tmp_path):
    project = copy_project(trained_project, tmp_path / "p")
    set_param(project, "gates.min_roc_auc", 0.99)
    result = run_action(ACTIONS / "dvc-repro", {"package": PACKAGE}, cwd=project,
                        env=project_env(project))  # fmt: skip
    assert result.failed
    assert "## dvc repro failed" in result.summary
    assert "| roc_auc |" in result.summary and "**FAIL**" in result.summary
    assert "The model fails roc_auc" in result.step("repro").stderr


@pytest.mark.slow
def test_dvc_repro_with_an_unknown_base_says_to_fetch_it(trained_project, tmp_path):
    project = copy_project(trained_project, tmp_path / "p")
    result = run_action(ACTIONS / "dvc-repro", {"package": PACKAGE, "base": "origin/main"},
                        cwd=project, env=project_env(project))  # fmt: skip
    assert result.failed
    assert "fetch-depth: 0" in result.step("repro").stderr
