"""Staged deploys on the local target, end to end, with real processes.

A real `mlflow server` (SQLite + local artifacts) is the shared registry. Versions come
from the generated pipeline. The steps are the ones cd.yml and promote.yml take, run
through the same Actions (tests/support/action_runner.py): `promote` pins a deploy file and
pushes (to a bare git remote) or opens the promotion pull request (on the fake GitHub API),
`deploy` reconciles an environment. The `serve` processes it starts stay up between steps,
so "the same pid" proves a version switch without a restart.

    v1 -> staging and production; v2 -> staging; promotion PR; merge -> production serves v2
    (a client loop meanwhile: no failed request); revert the merge -> production serves v1;
    v3 (inverted labels, tagged as passing) -> staging smoke test fails -> v2 keeps serving.

The stages share one module-scoped project (training a version takes a minute), and each
stage is its own test, so the first failure does not hide the others: the promotion PR, the
merge, the revert and the failed smoke test are checked one by one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, bake, project_env
from tests.support.action_runner import run_action
from tests.support.fake_github import FakeGitHub
from tests.support.mlflow_server import MlflowServer, free_port

PACKAGE = "churn_model"
NAME = "churn-model"
REPOSITORY = "octo-org/churn-model"
ACTIONS = ROOT / "actions"

# Trained on inverted labels, registered with the lineage tags of a good version: a model
# whose gates look passed but whose answers are wrong, as a bad merge could produce.
BAD_MODEL = f"""
import mlflow
from {PACKAGE}.config import columns, load_params, load_schema
from {PACKAGE}.data.contract import serving_contract
from {PACKAGE}.data.loading import labels, load_dataset, split
from {PACKAGE}.registry import client
from {PACKAGE}.training.task import for_params
from {PACKAGE}.training.train import build_pipeline, log_to_mlflow

params = load_params()
spec = columns(params)
train_set, _ = split(load_dataset(params), params)
features = train_set[spec.features]
pipeline = build_pipeline(for_params(params, spec), params["model"])
pipeline.fit(features, 1 - labels(train_set, spec))
run = log_to_mlflow(pipeline, params, features.head(5), serving_contract(spec, load_schema()))
name = params["registry"]["model_name"]
good = client().get_model_version_by_alias(name, "candidate")
version = mlflow.register_model(run["model_uri"], name, tags=dict(good.tags)).version
mlflow.MlflowClient().set_registered_model_alias(name, "candidate", version)
print(version)
"""


class Repo:
    """The baked project with an `origin` remote, driven like CD's jobs drive a checkout."""

    def __init__(self, project: Path, env: dict, fake):
        self.path, self.env, self.fake = project, env, fake

    def run(self, *command, check=True, timeout=900):
        done = subprocess.run(
            command, cwd=self.path, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def git(self, *args):
        return self.run("git", *args).stdout.strip()

    def register_from_pipeline(self, message):
        """Train and register, then land the result on main as a merged pull request does."""
        self.run("dvc", "repro")
        self.run(sys.executable, "-m", PACKAGE, "register")
        self.publish(message)
        return json.loads((self.path / "reports/register.json").read_text())["version"]

    def publish(self, message):
        """Commit the workspace and push it to origin's main."""
        self.git("add", "-A")
        self.git("commit", "--quiet", "-m", message)
        self.git("pull", "--quiet", "--rebase", "origin", "main")
        self.git("push", "--quiet", "origin", "HEAD:refs/heads/main")

    def fresh_checkout(self):
        """What the next job of a workflow sees: origin's main. A promote step pins deploy/
        files in its own workspace only; its commit went to origin."""
        self.git("checkout", "--quiet", "--", "deploy")
        self.git("pull", "--quiet", "--rebase", "origin", "main")

    def action(self, name, **inputs):
        github = {"api_url": self.fake.url, "repository": REPOSITORY}
        return run_action(
            ACTIONS / name,
            {"package": PACKAGE, **inputs},
            cwd=self.path,
            env=self.env,
            github=github,
        )

    def served(self, env):
        """The version the environment's server reports, and its pid."""
        state = json.loads((self.path / f".deploy/{env}.json").read_text())
        version = httpx.get(f"{state['url']}/version", timeout=10).json()["version"]
        return version, state["pid"]

    def stop_servers(self):
        for state_file in (self.path / ".deploy").glob("*.json"):
            pid = json.loads(state_file.read_text())["pid"]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)


def set_port(project: Path, env: str) -> None:
    path = project / f"deploy/{env}.yaml"
    text = re.sub(r"http://127\.0\.0\.1:\d+", f"http://127.0.0.1:{free_port()}", path.read_text())
    path.write_text(text)


@pytest.fixture(scope="module")
def fake_github():
    with FakeGitHub() as fake:
        yield fake


@pytest.fixture(scope="module")
def repo(tmp_path_factory, fake_github):
    tmp_path = tmp_path_factory.mktemp("deploy-local")
    project = bake(tmp_path / "bake")
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("poll_seconds: 30", "poll_seconds: 1"))
    for env in ("staging", "production"):
        set_port(project, env)
    with MlflowServer(tmp_path / "mlflow") as server:
        env = {**project_env(project), "MLFLOW_TRACKING_URI": server.url}
        env |= {
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        }
        repo = Repo(project, env, fake_github)
        repo.git("add", "-A")
        repo.git("commit", "--quiet", "-m", "Start from cookiecutter-mlops-gitops")
        repo.run("git", "init", "--quiet", "--bare", str(tmp_path / "origin.git"))
        repo.git("remote", "add", "origin", str(tmp_path / "origin.git"))
        repo.git("push", "--quiet", "origin", "main")
        try:
            yield repo
        finally:
            repo.stop_servers()


class ClientLoop:
    """Scores one record again and again on one keep-alive connection, in a thread."""

    def __init__(self, url, record):
        self.url, self.record = url, record
        self.sent, self.failed, self.versions = 0, [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                self.sent += 1
                try:
                    answer = client.post("/predict", json=self.record)
                    if answer.status_code != 200:
                        self.failed.append(f"{answer.status_code}: {answer.text[:200]}")
                    else:
                        self.versions.append(answer.json()["model_version"])
                except httpx.HTTPError as error:
                    self.failed.append(repr(error))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)


def wait_until(condition, what, seconds=120):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)


def pin_staging(repo, **override):
    """cd.yml's pin job: the bot commits the pin to main; the deploy job checks it out."""
    pinned = repo.action("promote", **{"from": "candidate", "to": "staging", "mode": "commit"},
                         **override)  # fmt: skip
    assert not pinned.failed, pinned.log
    repo.fresh_checkout()
    return pinned


@pytest.fixture(scope="module")
def staged(repo):
    """v1 in staging and production (the way cd.yml, then a direct pin, put it there), then v2
    in staging. Returns what each step's Action answered."""
    steps = {}
    assert repo.register_from_pipeline("Train version 1") == 1
    steps["pin v1"] = pin_staging(repo)
    steps["deploy v1 to staging"] = repo.action("deploy", environment="staging")
    assert not steps["deploy v1 to staging"].failed, steps["deploy v1 to staging"].log
    production = repo.path / "deploy/production.yaml"
    production.write_text(production.read_text().replace("  version: null", "  version: 1", 1))
    repo.publish("Pin production to version 1")
    assert not repo.action("deploy", environment="production").failed
    logs = (repo.path / "logs").glob("*")
    steps["logged after v1"] = {path.name: path.read_text().count("\n") for path in logs}
    steps["production pid"] = repo.served("production")[1]
    params = repo.path / "params.yaml"
    params.write_text(params.read_text().replace("    C: 1.0", "    C: 0.3"))
    assert repo.register_from_pipeline("Train with C=0.3") == 2
    pin_staging(repo)
    assert not repo.action("deploy", environment="staging").failed
    return steps


@pytest.mark.slow
def test_each_merge_pins_staging_by_a_bot_commit_and_deploys_it(repo, staged):
    pinned, deployed = staged["pin v1"], staged["deploy v1 to staging"]
    assert pinned.outputs["changed"] == "true" and pinned.outputs["version"] == "1"
    assert (deployed.outputs["version"], deployed.outputs["outcome"]) == ("1", "succeeded")
    assert "Deploy churn-model version 1 to staging: succeeded" in deployed.summary
    assert "[skip ci]" in repo.git("log", "-1", "--format=%s", "origin/main")
    assert repo.served("staging")[0] == "2" and repo.served("production")[0] == "1"
    logged = staged["logged after v1"]
    assert not any(logged.values()), f"smoke tests' requests reached a prediction log: {logged}"


@pytest.fixture(scope="module")
def promotion(repo, staged, fake_github):
    """The promotion PR opened by cd.yml's promote step, and a re-run of it."""
    opened = repo.action("promote", **{"from": "staging", "to": "production"})
    repo.fresh_checkout()
    again = repo.action("promote", **{"from": "staging", "to": "production"})  # a re-run of cd
    repo.fresh_checkout()
    return opened, again


@pytest.mark.slow
def test_one_promotion_pull_request_shows_what_changes(repo, promotion, fake_github):
    opened, again = promotion
    assert not opened.failed, opened.log
    assert (opened.outputs["number"], opened.outputs["created"]) == ("1", "true")
    assert (again.outputs["number"], again.outputs["created"]) == ("1", "false")
    pulls = fake_github.pulls[REPOSITORY]
    assert list(pulls) == [1]  # ONE promotion pull request
    pull = pulls[1]
    assert pull["title"] == "Promote churn-model version 2 to production"
    assert pull["head"]["ref"] == "promote/production"
    assert [label["name"] for label in fake_github.labels[REPOSITORY, 1]] == ["promotion"]
    body = pull["body"]
    assert "| `roc_auc` |" in body and "production now (v1)" in body and "staging (v2)" in body
    assert "`gender.demographic_parity_difference`" in body
    assert "reverting the merge commit deploys version 1 again" in body
    branch_file = repo.git("show", "origin/promote/production:deploy/production.yaml")
    assert re.search(r"(?m)^  version: 2 ", branch_file)


@pytest.fixture(scope="module")
def merged(repo, promotion, fake_github):
    """The PR merged (as GitHub's merge button does) and production deployed as promote.yml
    does, while a client scores records: (deploy result, client loop, merge commit)."""
    repo.git("merge", "--quiet", "--no-ff", "-m",
             "Merge pull request #1 from octo-org/promote/production",
             "origin/promote/production")  # fmt: skip
    repo.git("push", "--quiet", "origin", "HEAD:refs/heads/main")
    fake_github.pulls[REPOSITORY][1].update(state="closed", merged=True)
    record = next(iter(_smoke_cases(repo.path)))["record"]
    production_url = json.loads((repo.path / ".deploy/production.json").read_text())["url"]
    with ClientLoop(production_url, record) as loop:
        wait_until(lambda: loop.versions.count("1") >= 5, "answers of version 1 first")
        promoted = repo.action("deploy", environment="production")
        wait_until(lambda: loop.versions.count("2") >= 5, "answers of version 2 after it")
    return promoted, loop, repo.git("rev-parse", "HEAD")


@pytest.mark.slow
def test_merging_the_promotion_deploys_production_without_a_failed_request(repo, staged, merged):
    promoted, loop, _ = merged
    assert not promoted.failed, promoted.log
    assert (promoted.outputs["version"], promoted.outputs["previous-version"]) == ("2", "1")
    assert loop.failed == [], (
        f"{len(loop.failed)} of {loop.sent} requests failed: {loop.failed[:3]}"
    )
    switched = loop.versions.index("2")
    assert set(loop.versions[:switched]) == {"1"} and set(loop.versions[switched:]) == {"2"}
    by_version = {v: loop.versions.count(v) for v in ("1", "2")}
    print(f"\nclient loop during the promotion: {loop.sent} requests, answers by version "
          f"{by_version}")  # fmt: skip
    assert repo.served("production") == ("2", staged["production pid"])  # no restart


@pytest.mark.slow
def test_reverting_the_merge_rolls_production_back(repo, staged, merged):
    repo.git("revert", "--no-edit", "-m", "1", merged[2])
    repo.git("push", "--quiet", "origin", "HEAD:refs/heads/main")
    production = repo.path / "deploy/production.yaml"
    assert re.search(r"(?m)^  version: 1 ", production.read_text())
    rolled = repo.action("deploy", environment="production")
    assert not rolled.failed, rolled.log
    assert repo.served("production") == ("1", staged["production pid"])


@pytest.mark.slow
def test_a_version_failing_its_smoke_test_is_rolled_back_and_never_promoted(
    repo, staged, promotion, fake_github
):
    """v3 gets every known answer wrong, though its tags say it passed its gates."""
    staging_pid = repo.served("staging")[1]
    script = repo.path.parent / "bad_model.py"  # outside the repository
    script.write_text(BAD_MODEL)
    assert repo.run(sys.executable, str(script)).stdout.strip().splitlines()[-1] == "3"
    # The champion/challenger check refuses it first (a worse model than production's v1);
    # to reach the smoke test, a person overrides, and the reason is kept.
    refused = repo.action("promote", **{"from": "candidate", "to": "staging", "mode": "commit"})
    assert refused.failed and "The challenger v3 is refused against the champion" in refused.log
    pin_staging(repo, **{"override-reason": "test the smoke test's rollback"})
    assert _tags(repo, 3)["promotion_override.staging"] == "test the smoke test's rollback"
    failed = repo.action("deploy", environment="staging")
    assert failed.failed
    assert (failed.outputs["version"], failed.outputs["outcome"]) == ("3", "rolled_back")
    log = failed.log
    assert (
        "Deploying churn-model version 3 to staging failed: the smoke test of server failed" in log
    )
    assert "predicted 'no', expected 'yes'" in log
    assert "alias staging points to version 2 again" in log and "serves version 2 again" in log
    assert repo.served("staging") == ("2", staging_pid)
    tags = _tags(repo, 3)
    assert tags["deploy.staging.outcome"] == "rolled_back"
    assert tags["deploy.staging.previous_version"] == "2"
    assert "known answer" in tags["deploy.staging.reason"]
    # And it cannot be promoted: staging never accepted it.
    refused = repo.action("promote", **{"from": "staging", "to": "production"})
    assert refused.failed
    assert "has not deployed successfully to staging (last outcome: rolled_back)" in refused.log
    assert list(fake_github.pulls[REPOSITORY]) == [1]


def _smoke_cases(project):
    import yaml

    return yaml.safe_load((project / "deploy/smoke-cases.yaml").read_text())["cases"]


def _tags(repo, version):
    script = (
        "import json\nfrom mlflow import MlflowClient\n"
        f"print(json.dumps(MlflowClient().get_model_version({NAME!r}, '{version}').tags))"
    )
    return json.loads(repo.run(sys.executable, "-c", script).stdout.strip().splitlines()[-1])


def test_deploy_refuses_an_environment_that_pins_nothing(tmp_path):
    project = bake(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", PACKAGE, "deploy", "--env", "staging"],
        cwd=project,
        env=project_env(project),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "churn-model deploy: deploy/staging.yaml pins no model version yet" in done.stderr
