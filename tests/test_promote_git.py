"""Where the promote Action's commits go, and who may write to main (issue 19, item 1).

The project's `promote` verb is replaced by a stand-in package that only writes the pin file
and its reports (the verb itself is tested in test_deploy_local.py): what is checked here is
git, against a bare `origin`, through the Action as the runner runs it.
"""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from tests.conftest import ROOT, bake
from tests.support.action_runner import evaluate, run_action

PROMOTE = ROOT / "actions" / "promote"
IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
# Stand-in for `python -m PACKAGE promote --from X --to Y`: pins version 7.
STAND_IN = """
import json, pathlib, sys
to = sys.argv[sys.argv.index("--to") + 1]
pathlib.Path(f"deploy/{to}.yaml").write_text("model: demo\\nversion: 7\\n")
pathlib.Path("reports").mkdir(exist_ok=True)
pathlib.Path(f"reports/promote-{to}.json").write_text(json.dumps({"model": "demo", "version": 7}))
pathlib.Path(f"reports/promote-{to}.md").write_text("## Promote\\n")
"""


def git(cwd, *args) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY})  # fmt: skip
    assert done.returncode == 0, f"git {args}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    """A clone of `origin` whose main moved on after the checkout, holding one local commit
    that is on no branch of origin (what a run dispatched from a feature branch checks out)."""
    (tmp_path / "pkg/fakeproject").mkdir(parents=True)
    (tmp_path / "pkg/fakeproject/__main__.py").write_text(STAND_IN)
    origin, work, other = tmp_path / "origin.git", tmp_path / "work", tmp_path / "other"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch", "main", str(origin))
    git(tmp_path, "clone", "--quiet", str(origin), str(work))
    (work / "deploy").mkdir()
    for env in ("staging", "production"):
        (work / f"deploy/{env}.yaml").write_text("model: demo\nversion: 1\n")
    (work / ".gitignore").write_text("reports/\n")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "start")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    git(tmp_path, "clone", "--quiet", str(origin), str(other))  # someone merges meanwhile
    (other / "README.md").write_text("merged meanwhile\n")
    git(other, "add", "-A")
    git(other, "commit", "--quiet", "-m", "merged meanwhile")
    git(other, "push", "--quiet", "origin", "HEAD:main")
    (work / "unreviewed.txt").write_text("not on main\n")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "unreviewed work")
    return work


def promote(checkout, ref, **inputs):
    env = {**os.environ, **IDENTITY, "PYTHONPATH": str(checkout.parent / "pkg")}
    inputs = {"package": "fakeproject", "from": "candidate", "to": "staging", **inputs}
    return run_action(PROMOTE, inputs, cwd=checkout, env=env, github={"ref": ref})


def origin_main(checkout) -> str:
    return git(checkout, "ls-remote", "origin", "refs/heads/main").split()[0]


def test_a_run_off_main_leaves_main_unchanged_and_says_why(checkout):
    before = origin_main(checkout)
    result = promote(checkout, "refs/heads/feature", mode="commit")
    assert result.failed
    assert origin_main(checkout) == before
    assert "only from a run on main; this run is on refs/heads/feature" in result.log
    assert "nothing was pinned or pushed" in result.log


def test_the_pin_goes_on_top_of_origin_main_never_the_checkout(checkout):
    before = origin_main(checkout)
    result = promote(checkout, "refs/heads/main", mode="commit")
    assert not result.failed, result.log
    after = origin_main(checkout)
    git(checkout, "fetch", "--quiet", "origin")
    assert git(checkout, "rev-parse", f"{after}^") == before  # one commit on top of main
    assert git(checkout, "diff", "--name-only", before, after) == "deploy/staging.yaml"
    assert "unreviewed.txt" not in git(checkout, "ls-tree", "-r", "--name-only", after)
    assert result.outputs["commit"] == after


def test_the_promotion_branch_starts_from_origin_main(checkout, fake_github):
    github = {"ref": "refs/heads/main", "api_url": fake_github.url}
    env = {**os.environ, **IDENTITY, "PYTHONPATH": str(checkout.parent / "pkg")}
    inputs = {"package": "fakeproject", "from": "staging", "to": "production"}
    result = run_action(PROMOTE, inputs, cwd=checkout, env=env, github=github)
    assert not result.failed, result.log
    head = git(checkout, "ls-remote", "origin", "refs/heads/promote/production").split()[0]
    git(checkout, "fetch", "--quiet", "origin")
    assert git(checkout, "rev-parse", f"{head}^") == origin_main(checkout)
    assert git(checkout, "diff", "--name-only", f"{head}^", head) == "deploy/production.yaml"


# -- the workflows: what writes to main or deploys runs for refs/heads/main only -------------


@pytest.fixture(scope="module")
def workflows(tmp_path_factory):
    project = bake(tmp_path_factory.mktemp("guard"), deploy_target="kubernetes")
    return {name: yaml.safe_load((project / f".github/workflows/{name}.yml").read_text())
            for name in ("cd", "promote")}  # fmt: skip


def runs_for(job, ref) -> bool:
    condition = str(job.get("if", "true")).strip()
    condition = condition.removeprefix("${{").removesuffix("}}")
    context = {"github": {"ref": ref, "event_name": "workflow_dispatch"},
               "vars": {"DEPLOY": "true"}}  # fmt: skip
    return bool(evaluate(condition, context))


def writes_or_deploys(job) -> bool:
    permissions = job.get("permissions") or {}
    uses = " ".join(step.get("uses", "") for step in job.get("steps", []))
    return ("write" in permissions.values() or "environment" in job
            or "/actions/deploy@" in uses or "/actions/promote@" in uses)  # fmt: skip


@pytest.mark.parametrize("name", ["cd", "promote"])
def test_jobs_that_write_or_deploy_run_only_on_main(workflows, name):
    jobs = workflows[name]["jobs"]
    guarded = [job_name for job_name, job in jobs.items() if writes_or_deploys(job)]
    assert guarded
    for job_name in guarded:
        job = jobs[job_name]
        assert runs_for(job, "refs/heads/main"), job_name
        assert not runs_for(job, "refs/heads/feature"), f"{name}.yml {job_name} runs off main"


@pytest.mark.parametrize("name", ["cd", "promote"])
def test_a_dispatch_off_main_fails_saying_why(workflows, name, tmp_path):
    jobs = workflows[name]["jobs"]
    (refusal,) = [job for job in jobs.values() if runs_for(job, "refs/heads/feature")]
    assert not runs_for(refusal, "refs/heads/main")
    assert refusal["permissions"] == {}
    (step,) = refusal["steps"]
    env = {**os.environ, **{k: "refs/heads/feature" for k in step["env"]}}
    done = subprocess.run(["bash", "-c", step["run"]], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "refs/heads/feature" in done.stdout and "from main" in done.stdout
