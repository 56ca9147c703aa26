"""The drift drill: a trained project, a production version, and three kinds of current data.

What drift.yml does, step by step on this machine: the `drift-report` Action (run by the
composite-action harness), then, only when it says `drift-detected: true`, the `retrain` verb
with `--push` (to a bare git remote and the project's local DVC remote) and the `open-pr`
Action against the local fake GitHub API.

- a known shift in two columns (tenure_months moved up, contract mix moved to month-to-month):
  exactly those two are flagged, the HTML report is uploaded, the pushed branch's commit
  changes the data pointer and dvc.lock, and one pull request is opened; the next run
  updates that pull request instead of opening another;
- the same distribution: no drift, no branch, no pull request;
- broken current data (a missing column, text in a numeric column, an empty file): the step
  fails with the reason in the job summary, and no branch, no pull request.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, bake, project_env, run_in
from tests.support.action_runner import run_action

PACKAGE = "churn_model"
REPOSITORY = "octo-org/churn-model"
BRANCH = "retraining/drift"
SHIFTED = ["tenure_months", "contract"]
GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
          "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ID},
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def window(project: Path, seed: int, shifted: bool):
    """2000 new labelled customers from the project's own generator, optionally shifted."""
    spec = importlib.util.spec_from_file_location(
        "example_data", project / "src" / PACKAGE / "data" / "example.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frame = module.make_churn_data(rows=2000, seed=seed)
    frame["customer_id"] = [f"W{seed}-{i:05d}" for i in range(len(frame))]  # ids stay unique
    if shifted:
        rng = np.random.default_rng(seed)
        frame["tenure_months"] = (frame["tenure_months"] + 18).clip(upper=72)
        frame["contract"] = rng.choice(
            ["month-to-month", "one-year", "two-year"], len(frame), p=[0.85, 0.1, 0.05]
        )
    return frame


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    """A default bake, committed, trained, registered from a clean commit and put in
    production (as a deploy would), with its data in the DVC remote and a bare git remote."""
    root = tmp_path_factory.mktemp("drill")
    project = bake(root)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "start")
    run_in(project, "dvc", "repro")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "train")
    run_in(project, "python", "-m", PACKAGE, "register")
    run_in(project, "python", "-c", (
        "from mlflow import MlflowClient; c = MlflowClient('sqlite:///mlflow.db', "
        "'sqlite:///mlflow.db'); c.set_registered_model_alias('churn-model', 'production', 1)"
    ))  # fmt: skip
    run_in(project, "dvc", "commit", "--force", "--quiet", "data/raw/dataset.csv.dvc")
    run_in(project, "dvc", "push", "--quiet")
    git(root, "init", "-q", "--bare", "remote.git")
    git(project, "remote", "add", "origin", str(root / "remote.git"))
    git(project, "push", "-q", "origin", "main")
    inputs = root / "inputs"
    inputs.mkdir()
    window(project, seed=11, shifted=False).to_csv(inputs / "same.csv", index=False)
    window(project, seed=12, shifted=True).to_csv(inputs / "shifted.csv", index=False)
    window(project, seed=13, shifted=True).to_csv(inputs / "shifted-next-day.csv", index=False)
    return project, inputs


class Uploads:
    """Stands in for actions/upload-artifact: records what it was asked to upload."""

    def __init__(self, project: Path):
        self.project, self.calls = project, []

    def __call__(self, step, with_):
        assert step["uses"].startswith("actions/upload-artifact@"), step["uses"]
        files = [self.project / line.strip() for line in with_["path"].splitlines() if line]
        self.calls.append((with_["name"], {f.name: f.exists() for f in files}))
        return {"artifact-id": "1", "artifact-url": "https://github.com/artifact/1"}


def drift_workflow(project: Path, current: Path, fake_github):
    """drift.yml's steps: drift-report; on drift, `retrain --push` and open-pr."""
    env = project_env(project)
    uploads = Uploads(project)
    report = run_action(ROOT / "actions/drift-report", {"package": PACKAGE,
                        "current": str(current)}, cwd=project, env=env, uses=uploads)  # fmt: skip
    if report.outputs.get("drift-detected") != "true":
        return report, uploads, None, None
    retrain = run_in(project, "python", "-m", PACKAGE, "retrain", "--push")
    pull = run_action(
        ROOT / "actions/open-pr",
        {"head": BRANCH, "base": "main", "title": "Retrain churn-model: the data drifted",
         "body-file": "reports/retrain.md", "labels": "retraining", "repository": REPOSITORY,
         "token": "fake-token", "api-url": fake_github.url},
        cwd=project, env=env,
    )  # fmt: skip
    assert not pull.failed, pull.log
    return report, uploads, retrain, pull


def refs(project: Path) -> str:
    """Every branch, local and in the remote: a run that makes no branch leaves this alone."""
    remote = Path(git(project, "remote", "get-url", "origin"))
    return git(project, "for-each-ref", "--format=%(refname) %(objectname)") + git(
        remote, "for-each-ref", "--format=%(refname) %(objectname)"
    )


def back_to_main(project: Path):
    git(project, "checkout", "-q", "main")
    run_in(project, "dvc", "pull", "--quiet")  # data and model of main, from cache or remote


def requests(fake_github, method, suffix):
    return [r for r in fake_github.requests if r.method == method and r.path.endswith(suffix)]


@pytest.mark.slow
def test_same_distribution_no_drift_no_branch_no_pull_request(drill, fake_github):
    project, inputs = drill
    before = refs(project)
    report, uploads, retrain, _ = drift_workflow(project, inputs / "same.csv", fake_github)
    assert not report.failed, report.log
    assert report.outputs["drift-detected"] == "false"
    assert "## Data drift: no drift" in report.summary
    assert "0 of 8 columns drifted" in report.summary
    assert "Sensitive columns (fairness; not counted in the verdict): `gender` no drift" \
        in report.summary and "`age_group` no drift" in report.summary  # fmt: skip
    assert uploads.calls == [("drift-report", {"drift.html": True, "drift.json": True,
                                               "drift.md": True})]  # fmt: skip
    assert retrain is None
    assert refs(project) == before
    assert fake_github.requests == []


def broken(inputs: Path, kind: str) -> Path:
    good = pd.read_csv(inputs / "same.csv", dtype=str)
    path = inputs / f"broken-{kind.replace(' ', '-')}.csv"
    if kind == "missing column":
        good.drop(columns=["monthly_charges"]).to_csv(path, index=False)
    elif kind == "wrong type":
        good.loc[4, "support_calls"] = "several"
        good.to_csv(path, index=False)
    else:
        path.write_text("")
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing column", "lacks the column(s) monthly_charges the model uses"),
        ("wrong type", "Column 'support_calls' of the current data"),
        ("empty file", "is empty: no header, no rows."),
    ],
)
def test_broken_current_data_is_a_clear_error_no_branch_no_pull_request(
    drill, fake_github, kind, reason
):
    project, inputs = drill
    before = refs(project)
    report, uploads, retrain, _ = drift_workflow(project, broken(inputs, kind), fake_github)
    assert report.failed
    step = report.step("drift")
    assert step.returncode == 1 and reason in step.stderr
    assert report.summary.startswith("## Data drift: the job could not run")
    assert reason in report.summary
    assert "drift-detected" not in report.outputs or report.outputs["drift-detected"] == ""
    if kind == "wrong type":
        assert "line 6: 'several'" in report.summary
    assert uploads.calls == [("drift-report", {"drift.html": False, "drift.json": False,
                                               "drift.md": False})]  # fmt: skip
    assert retrain is None
    assert refs(project) == before
    assert fake_github.requests == []


@pytest.mark.slow
def test_known_shift_flags_those_columns_and_opens_then_updates_one_pull_request(
    drill, fake_github
):
    project, inputs = drill
    back_to_main(project)
    main_head = git(project, "rev-parse", "main")
    report, uploads, retrain, pull = drift_workflow(project, inputs / "shifted.csv", fake_github)

    # The verdict: exactly the two shifted columns, the HTML report uploaded.
    assert report.outputs["drift-detected"] == "true", report.log
    result = yaml.safe_load((project / "reports/drift.json").read_text())
    assert sorted(result["drifted_columns"]) == sorted(SHIFTED)
    assert result["dataset"]["drifted_columns"] == 2 and result["dataset"]["columns"] == 8
    assert result["reference"]["version"] == 1 and result["reference"]["found_in"] == "workspace"
    assert uploads.calls == [("drift-report", {"drift.html": True, "drift.json": True,
                                               "drift.md": True})]  # fmt: skip
    assert (project / "reports/drift.html").stat().st_size > 100_000
    assert "| `tenure_months` |" in report.summary and "| `contract` |" in report.summary
    assert "actions/runs/1" in report.summary  # the link to the run's artifacts

    md5 = result["reference"]["data_hash"]

    # The branch: one commit on main that changes the data pointer and dvc.lock, pushed.
    remote = Path(git(project, "remote", "get-url", "origin"))
    pushed = git(remote, "rev-parse", BRANCH)
    assert git(project, "rev-parse", f"{pushed}^") == main_head
    changed = git(project, "diff", "--name-only", main_head, pushed).splitlines()
    assert {"data/raw/dataset.csv.dvc", "dvc.lock", "reports/metrics.json"} <= set(changed)
    assert "Retrain on drifted data: 2000 new rows" in git(project, "log", "-1", "--format=%s",
                                                           pushed)  # fmt: skip
    # retrain leaves the user where they started: on main, its data checked out, nothing changed.
    assert git(project, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(project, "status", "--porcelain") == ""
    assert "up to date" in run_in(project, "dvc", "status", "data/raw/dataset.csv.dvc").stdout
    assert len(pd.read_csv(project / "data/raw/dataset.csv")) == 5000

    # One pull request, labelled, with the drift summary, metrics and fairness.
    assert len(requests(fake_github, "POST", "/pulls")) == 1
    assert requests(fake_github, "PATCH", "/pulls/1") == []
    assert pull.outputs["created"] == "true" and pull.outputs["number"] == "1"
    opened = fake_github.pulls[REPOSITORY][1]
    assert opened["head"]["ref"] == BRANCH and opened["base"]["ref"] == "main"
    assert [label["name"] for label in opened["labels"]] == ["retraining"]
    body = opened["body"]
    assert "### Data drift: drift detected" in body and "`tenure_months`" in body
    assert "### Metrics" in body and "| production (v1) | retrained |" in body
    assert "| `roc_auc` | 0.8" in body
    assert "### Fairness gaps (lower is fairer)" in body
    assert "| `gender.demographic_parity_difference` | 0.0" in body
    assert f"| data hash | `{md5}` |" in body  # production's data next to the new data

    # On the branch the workspace holds the new data, yet the reference stays the
    # production model's: from DVC's cache, or fetched by DVC at its commit.
    git(project, "checkout", "-q", BRANCH)
    run_in(project, "dvc", "checkout", "--quiet", "data/raw/dataset.csv.dvc")
    assert len(pd.read_csv(project / "data/raw/dataset.csv")) == 5000 + 2000
    again = run_in(project, "python", "-m", PACKAGE, "drift", "--current",
                   str(inputs / "shifted.csv"), check=False)  # fmt: skip
    assert again.returncode == 3, again.stderr
    reference = yaml.safe_load((project / "reports/drift.json").read_text())["reference"]
    assert reference["found_in"] == "dvc cache" and reference["rows"] == 5000
    (project / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).unlink()
    again = run_in(project, "python", "-m", PACKAGE, "drift", "--current",
                   str(inputs / "shifted.csv"), check=False)  # fmt: skip
    assert again.returncode == 3, again.stderr
    reference = yaml.safe_load((project / "reports/drift.json").read_text())["reference"]
    assert reference["found_in"].startswith("dvc at commit ") and reference["rows"] == 5000

    # The next day: drift again, from main. The same branch is re-made and force-pushed,
    # and the open pull request is updated, not duplicated.
    back_to_main(project)
    report, _, retrain, pull = drift_workflow(project, inputs / "shifted-next-day.csv",
                                              fake_github)  # fmt: skip
    assert report.outputs["drift-detected"] == "true"
    repushed = git(remote, "rev-parse", BRANCH)
    assert repushed != pushed and git(project, "rev-parse", f"{repushed}^") == main_head
    assert len(requests(fake_github, "POST", "/pulls")) == 1
    assert len(requests(fake_github, "PATCH", "/pulls/1")) == 1
    assert pull.outputs["created"] == "false" and pull.outputs["number"] == "1"
    assert list(fake_github.pulls[REPOSITORY]) == [1]
    assert fake_github.pulls[REPOSITORY][1]["body"] != body  # the new window's numbers
    back_to_main(project)


def test_drift_report_action_without_a_trained_model(tmp_path):
    """Before any deploy the reference is data.path; no prediction log yet is an error."""
    project = bake(tmp_path)
    shifted = window(project, seed=21, shifted=True)
    shifted.to_csv(tmp_path / "window.csv", index=False)
    uploads = Uploads(project)
    env = project_env(project)
    report = run_action(ROOT / "actions/drift-report", {"package": PACKAGE,
                        "current": str(tmp_path / "window.csv")}, cwd=project, env=env,
                        uses=uploads)  # fmt: skip
    assert not report.failed, report.log
    assert report.outputs == {"drift-detected": "true", "report": "reports/drift.json"}
    assert "`data/raw/dataset.csv`, 5000 rows (data.path: no model version" in report.summary
    missing_log = run_action(ROOT / "actions/drift-report", {"package": PACKAGE}, cwd=project,
                             env=env, uses=uploads)  # fmt: skip
    assert missing_log.failed
    assert "The current data logs/predictions-production.jsonl does not exist. The server " \
        "writes this prediction log while it serves" in missing_log.summary  # fmt: skip


def test_schedule_is_chosen_at_bake_time(tmp_path):
    default = bake(tmp_path / "default")
    weekly = bake(tmp_path / "weekly", drift_schedule="30 4 * * 1")
    for project, cron in ((default, "17 6 * * *"), (weekly, "30 4 * * 1")):
        workflow = yaml.safe_load((project / ".github/workflows/drift.yml").read_text())
        assert workflow[True]["schedule"] == [{"cron": cron}]  # YAML reads `on:` as True
        assert "workflow_dispatch" in workflow[True]
