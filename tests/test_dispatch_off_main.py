"""A manual run of cd.yml or promote.yml from a branch other than main (issue 19, item 1),
under act: the workflow file as GitHub's engine reads it (tests/support/act_runner.py).

Nothing is built, pinned or deployed: the release and deploy jobs are skipped by their
`if:`, the one job that runs fails saying why, and the remote main is unchanged.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import bake
from tests.support.act_runner import dispatch_event, run_workflow

REPOSITORY = "your-org/churn-model"
IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@example.com"]


def git(cwd, *args):
    done = subprocess.run(["git", *IDENTITY, *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A kubernetes bake on a feature branch, main pushed to a bare origin."""
    root = tmp_path_factory.mktemp("refs")
    project = bake(root, deploy_target="kubernetes")
    git(root, "init", "--quiet", "--bare", "--initial-branch", "main", "origin.git")
    git(project, "remote", "add", "origin", str(root / "origin.git"))
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "start")
    git(project, "push", "--quiet", "origin", "main")
    git(project, "switch", "--quiet", "-c", "feature")
    (project / "unreviewed.txt").write_text("not reviewed\n")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "unreviewed work")
    return project


@pytest.mark.parametrize("workflow, deploying", [("cd.yml", ["release", "staging"]),
                                                 ("promote.yml", ["production"])])  # fmt: skip
def test_a_dispatch_from_a_feature_branch_changes_nothing_and_says_why(
    project, fake_github, tmp_path, workflow, deploying
):
    main_before = git(project, "ls-remote", "origin", "refs/heads/main").split()[0]
    secrets = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "KUBECONFIG": "never-read"}
    run = run_workflow(project, workflow, dispatch_event(REPOSITORY, ref="refs/heads/feature"),
                       fake=fake_github, tmp=tmp_path, variables={"DEPLOY": "true"},
                       secrets=secrets)  # fmt: skip
    results = run.results()
    assert results["refuse-other-refs"] == "failure", run.log()
    assert all(results[job] == "skipped" for job in deploying), results
    summary = run.jobs["refuse-other-refs"].summary
    assert "only from main: this run is for refs/heads/feature" in summary, run.log()
    assert git(project, "ls-remote", "origin", "refs/heads/main").split()[0] == main_before
    assert run.calls == []  # no pull request, no deployment, nothing on GitHub


def test_on_main_the_refusal_does_not_run(project, fake_github, tmp_path):
    run = run_workflow(project, "cd.yml", dispatch_event(REPOSITORY, ref="refs/heads/main"),
                       fake=fake_github, tmp=tmp_path, job="refuse-other-refs")  # fmt: skip
    assert run.results()["refuse-other-refs"] == "skipped", run.log()
