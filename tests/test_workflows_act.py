"""The generated workflows, run end to end by a real Actions engine (act), as the events happen.

One default bake is committed with a bare git remote as `origin`; each test checks out the
event's commit, then tests/support/act_runner.py runs the workflow file for that event: job
graph, `needs:` outputs, `if:` conditions, every step of this template's Actions from the
working tree. GitHub's REST API is the local fake; third-party Actions are the stand-ins in
tests/support/standins/ (artifacts in a folder, actions/cache always a miss while
cache/restore and cache/save keep entries, the machine's Python and uv, docker as podman).
What they do not cover is listed in README.md, "Run the workflows locally".
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

from tests import test_template_sync as sync
from tests.conftest import ROOT, bake, relax_latency_gates
from tests.support.act_runner import (
    dispatch_event,
    pull_request_event,
    push_event,
    run_workflow,
    schedule_event,
)
from tests.support.fake_github import FakeGitHub
from tests.support.mlflow_server import MlflowServer, free_port
from tests.support.webhook import Webhook
from tests.test_drift import window
from tests.test_template_sync import template, user_repo  # noqa: F401 (fixtures)

# Jobs install the lock with uv (from its cache, or the package index) and pip-install tools.
pytestmark = [pytest.mark.slow, pytest.mark.network]
# Each class is one unit of work for pytest-xdist (`--dist loadscope`): its tests share a
# bake and a workflow run, so they run in one worker, and the four classes run side by side.

REPOSITORY = "your-org/churn-model"
IMAGE = "ghcr.io/your-org/churn-model"
GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
          "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip


def bake_for_act(output_dir: Path) -> Path:
    """The default bake; its jobs' load and smoke tests measure a busy shared machine."""
    return relax_latency_gates(bake(output_dir))


class Checkout:
    """The baked project as a developer's clone: `origin` is a bare repository."""

    def __init__(self, path: Path):
        self.path = path

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", *args], cwd=self.path, env={**os.environ, **GIT_ID},
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
        return done.stdout.strip()

    def branch(self, name: str, edit, message: str, base: str = "main") -> str:
        """Commit `edit(path)` on a new branch from `base`, push it; returns the commit."""
        self.git("switch", "--quiet", "-C", name, base)
        edit(self.path)
        self.git("commit", "--quiet", "-am", message)
        if self.git("remote"):
            self.git("push", "--quiet", "--force", "origin", name)
        return self.git("rev-parse", "HEAD")


def first_commit_pushed(repo, root):
    """Commit the bake and push it to a bare `origin` (act's jobs need an absolute remote)."""
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "Start from cookiecutter-mlops-gitops")
    repo.git("init", "--quiet", "--bare", str(root / "origin.git"))
    repo.git("remote", "add", "origin", str(root / "origin.git"))
    repo.git("push", "--quiet", "origin", "main")
    return repo


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    root = tmp_path_factory.mktemp("act-repo")
    repo = Checkout(bake_for_act(root / "bake"))
    return first_commit_pushed(repo, root)


@pytest.fixture(scope="module")
def github():
    with FakeGitHub() as fake:
        yield fake


@pytest.fixture(scope="module")
def slim_base_image():
    with slim_base_tagged() as slim:
        yield slim


@contextlib.contextmanager
def slim_base_tagged():
    """The Dockerfile's default base, python:3.11-slim, as a local image: no registry here.
    Also for bench/ci_path.py, which builds the image as the tests do."""
    done = subprocess.run(["bash", str(ROOT / "tests/support/base_image.sh")],
                          capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stderr
    slim = "docker.io/library/python:3.11-slim"
    # Two workers may build on it at once: each holds a shared lock while it does, and the
    # last one out (the only one to get the exclusive lock) removes the tag.
    with open(base_image_lock(), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        subprocess.run(["podman", "tag", "localhost/python-base:3.11", slim], check=True)
        try:
            yield slim
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            with contextlib.suppress(BlockingIOError):
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                subprocess.run(["podman", "untag", "localhost/python-base:3.11", slim],
                               capture_output=True)  # fmt: skip


def base_image_lock() -> Path:
    """base_image.sh's cache folder: shared by every test run on this machine."""
    default = Path.home() / ".cache/cookiecutter-mlops-gitops"
    cache = Path(os.environ.get("MLOPS_CACHE_DIR", default))
    cache.mkdir(parents=True, exist_ok=True)
    return cache / ".python-slim-tag.lock"


def set_param(path: Path, old: str, new: str) -> None:
    params = path / "params.yaml"
    text = params.read_text()
    assert old in text, f"{old!r} not in params.yaml"
    params.write_text(text.replace(old, new, 1))


def pulls_from(github, branch: str) -> list[dict]:
    return [p for p in github.pulls.get(REPOSITORY, {}).values() if p["head"]["ref"] == branch]


def report_comments(github):
    return [c for c in github.comments_on(REPOSITORY, 7) if "mlops-ci" in c["body"]]


@pytest.fixture(scope="module")
def ci_cache(tmp_path_factory):
    """The Actions cache of the pull request's runs: the next run finds what one saved."""
    return tmp_path_factory.mktemp("act-ci-cache")


@pytest.fixture(scope="module")
def ci_pull_request(checkout, github, slim_base_image, ci_cache, tmp_path_factory):
    """ci.yml on pull request #7 (a hyper-parameter change), every job."""
    head = checkout.branch("tune", lambda p: set_param(p, "C: 1.0", "C: 0.5"), "Tune C")
    event = pull_request_event(REPOSITORY, 7, "tune", head_sha=head)
    run = run_workflow(checkout.path, "ci.yml", event, fake=github, cache=ci_cache,
                       tmp=tmp_path_factory.mktemp("act-ci"))  # fmt: skip
    yield run
    subprocess.run(["podman", "rmi", "-f", f"{IMAGE}:{head}"], capture_output=True)


def stored_keys(cache: Path) -> list[str]:
    """The keys the cache stand-in holds (tests/support/standins/actions/cache/store.py)."""
    return [json.loads(meta.read_text())["key"] for meta in cache.glob("*.json")]


def ci_head(run) -> str:
    return json.loads(run.raw.with_name("event.json").read_text())["pull_request"]["head"]["sha"]


class TestCiWorkflow:
    """One bake pushed to a bare origin: ci.yml on a pull request and on main, and cd.yml
    dispatched from a feature branch."""

    def test_ci_pull_request_runs_every_job_green_and_comments_once(self, ci_pull_request, github,
                                                                    ci_cache):  # fmt: skip
        run = ci_pull_request
        assert run.results() == {"lint-test": "success", "model": "success", "image": "success",
                                 "publish": "skipped", "comment": "success"}, run.log()  # fmt: skip
        (comment,) = report_comments(github)
        assert "## Fairness" in comment["body"] and "roc_auc" in comment["body"], comment["body"]
        lint = run.jobs["lint-test"]  # the alert rules' promtool tests ran, and passed
        assert lint.steps["alerts"] == "success", run.log("lint-test")
        assert "Unit Testing:  monitoring/prometheus/rules.test.yml" in lint.log, lint.log[-3000:]
        # Who the token writes as, then the PR's comments, then the one new comment.
        assert [(c.method, c.path.rsplit("/", 1)[-1]) for c in run.calls] == [
            ("GET", "user"),
            ("GET", "comments"),
            ("POST", "comments"),
        ]
        model = run.jobs["model"]
        assert model.step_outputs["1"]["data-source"] == "regenerated"  # setup: no DVC remote here
        assert "## Environment" in model.summary
        venvs = [key for key in stored_keys(ci_cache) if key.startswith("venv-Linux-")]
        assert len(venvs) == 1, "the first job to install the environment saved it"
        assert "## Metrics and params against `origin/main`" in model.summary
        assert "| `params.yaml` | `model.params.C` | `1.0` | `0.5` |" in model.summary
        assert "## Model tests passed" in model.summary
        for gate in ("roc_auc", "demographic_parity_difference[gender]", "invariance[customer_id]",
                     "directional[tenure_months]"):  # fmt: skip
            assert f"| {gate} |" in model.summary and f"| {gate} |" in comment["body"]
        # The model card: its summary and Mermaid charts on the run page and in the comment,
        # the whole card as its own artifact.
        assert "## Model card (binary classification)" in model.summary
        assert "```mermaid\nxychart-beta" in model.summary
        assert "## Model card (binary classification)" in comment["body"]
        assert (run.artifacts / "model-card/card.html").stat().st_size > 100_000
        junit = ET.parse(run.artifacts / "model-tests-junit/model-tests.xml").getroot()
        assert {"test_performance", "test_fairness"} <= {
            c.get("name") for c in junit.iter("testcase")
        }
        # The image job built the project's Dockerfile with the model the model job exported.
        built = run.jobs["image"].step_outputs["build"]
        inspect = subprocess.run(["podman", "image", "inspect", built["tags"]], capture_output=True,
                                 text=True, check=True)  # fmt: skip
        (info,) = json.loads(inspect.stdout)
        labels = info["Config"]["Labels"] if "Config" in info else info["Labels"]
        assert info["Id"] == built["image-id"].removeprefix("sha256:")
        assert not built.get("digest") and not built.get("image"), "a local build is no reference"
        assert labels["org.opencontainers.image.revision"] == ci_head(run)
        assert labels["ai.mlops.model.name"] == "churn-model"
        assert labels["ai.mlops.model.version"] == labels["org.opencontainers.image.version"] == "1"

    def test_ci_rerun_after_a_broken_gate_fails_and_the_one_comment_says_why(
        self, ci_pull_request, checkout, github, ci_cache, tmp_path
    ):
        """A new commit on the pull request breaks a gate: the model job fails, the comment job
        still runs (`!cancelled()`) and edits the same comment with the failing gate's row.
        Its environment comes from the cache the first run filled: nothing is installed."""
        (before,) = report_comments(github)

        def strict(path):
            set_param(path, "min_roc_auc: 0.75", "min_roc_auc: 0.999")

        head = checkout.branch("tune", strict, "Strict gate", base="tune")
        event = pull_request_event(REPOSITORY, 7, "tune", head_sha=head)
        run = run_workflow(checkout.path, "ci.yml", event, fake=github, tmp=tmp_path, job="comment",
                           cache=ci_cache)  # fmt: skip
        assert run.jobs["model"].result == "failure", run.log("model")
        assert run.jobs["model"].step_outputs["1"]["venv-cache-hit"] == "true", run.log("model")
        assert "`.venv` restored from the cache" in run.jobs["model"].summary
        assert run.jobs["comment"].result == "success", run.log("comment")
        (after,) = report_comments(github)
        assert after["id"] == before["id"] and after["body"] != before["body"]
        assert [(c.method, c.path.rsplit("/", 1)[-1]) for c in run.calls] == [
            ("GET", "user"),
            ("GET", "comments"),
            ("PATCH", str(before["id"])),
        ]
        (row,) = [line for line in after["body"].splitlines() if line.startswith("| roc_auc |")]
        assert "0.999" in row and "**FAIL**" in row and "`gates.min_roc_auc`" in row, after["body"]
        summary = run.jobs["model"].summary
        assert "## dvc repro failed" in summary and "## Model tests FAILED" in summary
        assert "- failed: `tests.model.test_gates::test_performance`" in summary
        assert (run.artifacts / "model-tests-junit/model-tests.xml").is_file(), "uploaded anyway"

    def test_ci_push_to_main_without_deploy_publishes_the_image(
        self, checkout, github, slim_base_image, tmp_path
    ):
        """With cd.yml off (no DEPLOY variable), ci.yml's `publish` job pushes main's image."""
        checkout.git("switch", "--quiet", "main")
        head = checkout.git("rev-parse", "HEAD")
        event = push_event(REPOSITORY, after=head)
        run = run_workflow(checkout.path, "ci.yml", event, fake=github, tmp=tmp_path / "act",
                           job="publish")  # fmt: skip
        assert run.results()["publish"] == "success", run.log()
        assert run.results()["image"] == run.results()["comment"] == "skipped", run.log()
        built = run.jobs["publish"].step_outputs["build"]
        pushed = tmp_path / "act/registry" / f"{IMAGE}:{head}".replace("/", "_").replace(":", "_")
        assert built["digest"].startswith("sha256:") and (pushed / "manifest.json").is_file()
        assert built["image"] == f"{IMAGE}@{built['digest']}"  # what a deploy file would pin
        assert run.calls == []  # a push to main comments on nothing
        subprocess.run(["podman", "rmi", "-f", f"{IMAGE}:{head}"], capture_output=True)

    def test_cd_dispatched_from_another_branch_builds_nothing(self, checkout, github, tmp_path):
        checkout.git("switch", "--quiet", "-C", "feature", "main")
        event = dispatch_event(REPOSITORY, ref="refs/heads/feature")
        run = run_workflow(checkout.path, "cd.yml", event, fake=github, tmp=tmp_path,
                           variables={"DEPLOY": "true"})  # fmt: skip
        assert run.results() == {"refuse-other-refs": "failure", "release": "skipped",
                                 "staging": "skipped"}, run.log()  # fmt: skip
        assert "nothing was built, pinned or deployed" in run.jobs["refuse-other-refs"].summary
        assert run.calls == []


# -- drift.yml -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drift_checkout(tmp_path_factory):
    """A bake whose DVC remote is shared (an absolute folder, as a bucket would be) and whose
    params.yaml names the day's window, data/current/window.csv, committed to main per test."""
    root = tmp_path_factory.mktemp("act-drift")
    repo = Checkout(bake_for_act(root / "bake"))
    config = repo.path / ".dvc/config"
    config.write_text(config.read_text().replace("../dvc-storage", str(root / "dvc-storage")))
    set_param(repo.path, "current: null", "current: data/current/window.csv")
    (repo.path / "data/current").mkdir()
    window(repo.path, seed=11, shifted=False).to_csv(repo.path / "data/current/window.csv",
                                                     index=False)  # fmt: skip
    return first_commit_pushed(repo, root)


def run_drift(repo: Checkout, frame, message: str, github, tmp: Path, **settings):
    """Commit the day's window on main, then run drift.yml as the schedule does."""
    repo.git("switch", "--quiet", "main")
    frame.to_csv(repo.path / "data/current/window.csv", index=False)
    repo.git("commit", "--quiet", "-am", message)
    repo.git("push", "--quiet", "origin", "main")
    event = schedule_event(REPOSITORY, "17 6 * * *")
    return run_workflow(repo.path, "drift.yml", event, fake=github, tmp=tmp, **settings)


def remote_branches(repo: Checkout) -> list[str]:
    origin = repo.git("remote", "get-url", "origin")
    return repo.git("--git-dir", origin, "for-each-ref", "--format=%(refname:short)").split()


class TestDriftWorkflow:
    """drift.yml on schedule: one bake with a shared DVC remote."""

    def test_drift_without_drift_skips_retraining(self, drift_checkout, github, tmp_path):
        same = window(drift_checkout.path, seed=12, shifted=False)
        run = run_drift(drift_checkout, same, "Window: same distribution", github, tmp_path)
        assert run.results() == {"drift": "success", "retrain": "skipped"}, run.log()
        assert run.jobs["drift"].outputs["drift-detected"] == "false"
        assert run.calls == []
        assert remote_branches(drift_checkout) == ["main"]

    def test_drift_with_broken_window_fails_and_opens_nothing(
        self, drift_checkout, github, tmp_path
    ):
        broken = window(drift_checkout.path, seed=13, shifted=False).drop(columns=["contract"])
        run = run_drift(drift_checkout, broken, "Window: a column missing", github, tmp_path)
        assert run.results() == {"drift": "failure", "retrain": "skipped"}, run.log()
        assert "contract" in run.jobs["drift"].log, run.log("drift")
        assert run.calls == []

    def test_drift_on_schedule_opens_one_retraining_pull_request(
        self, drift_checkout, github, tmp_path
    ):
        """With a GitHub App configured, its token (not the workflow's) pushes and opens the PR."""
        shifted = window(drift_checkout.path, seed=14, shifted=True)
        app = {"variables": {"RETRAIN_APP_ID": "12345"},
               "secrets": {"RETRAIN_APP_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----"}}  # fmt: skip
        run = run_drift(drift_checkout, shifted, "Window: shifted", github, tmp_path, **app)
        assert run.results() == {"drift": "success", "retrain": "success"}, run.log()
        assert run.jobs["drift"].outputs["drift-detected"] == "true"
        assert "retraining/drift" in remote_branches(drift_checkout)
        (pull,) = [
            p for p in github.pulls[REPOSITORY].values() if p["head"]["ref"] == "retraining/drift"
        ]
        assert pull["base"]["ref"] == "main" and pull["state"] == "open"
        assert [label["name"] for label in pull["labels"]] == ["retraining"]
        tokens = {c.headers["authorization"].split()[-1] for c in run.calls}
        assert len(tokens) == 1 and tokens.pop().startswith("ghs_standin_"), "the App's token"
        assert [(c.method, c.path.split(REPOSITORY)[-1]) for c in run.calls] == [
            ("GET", "/pulls"),
            ("POST", "/pulls"),
            ("POST", f"/issues/{pull['number']}/labels"),
        ]


# -- cd.yml and promote.yml ------------------------------------------------------------------


def listening_pid(port: int) -> int | None:
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return conn.pid
    return None


def served_version(url: str) -> str:
    return str(httpx.get(f"{url}/version", timeout=10).json()["version"])


@pytest.fixture(scope="module")
def delivery(tmp_path_factory, slim_base_image):
    """A bake with DEPLOY on: a shared registry (a real `mlflow server`), the local target on
    free ports, a bare remote. Stops the servers the deploys left running."""
    root = tmp_path_factory.mktemp("act-cd")
    repo = Checkout(bake_for_act(root / "bake"))
    urls = {}
    for env in ("staging", "production"):
        path = repo.path / f"deploy/{env}.yaml"
        urls[env] = f"http://127.0.0.1:{free_port()}"
        path.write_text(re.sub(r"http://127\.0\.0\.1:\d+", urls[env], path.read_text()))
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "Start from cookiecutter-mlops-gitops")
    repo.git("init", "--quiet", "--bare", str(root / "origin.git"))
    repo.git("remote", "add", "origin", str(root / "origin.git"))
    repo.git("push", "--quiet", "origin", "main")
    with MlflowServer(root / "mlflow") as registry:
        settings = {"variables": {"DEPLOY": "true"},
                    "secrets": {"MLFLOW_TRACKING_URI": registry.url}}  # fmt: skip
        try:
            yield repo, urls, settings
        finally:
            for url in urls.values():
                pid = listening_pid(int(url.rsplit(":", 1)[1]))
                if pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(os.getpgid(pid), signal.SIGTERM)


@pytest.fixture(scope="module")
def notified():
    """Where cd.yml's notifications go (the secret NOTIFY_URLS): a webhook in this test."""
    with Webhook() as hook:
        yield hook


@pytest.fixture(scope="module")
def cd_push(delivery, github, notified, tmp_path_factory):
    repo, _, settings = delivery
    repo.git("switch", "--quiet", "main")
    event = push_event(REPOSITORY, after=repo.git("rev-parse", "HEAD"))
    tmp = tmp_path_factory.mktemp("act-cd-run")
    secrets = {**settings["secrets"], "NOTIFY_URLS": notified.apprise_url}
    return run_workflow(repo.path, "cd.yml", event, fake=github, tmp=tmp,
                        **{**settings, "secrets": secrets})  # fmt: skip


class TestDeliveryWorkflows:
    """cd.yml and promote.yml: one bake, one registry server, one release."""

    def test_cd_push_to_main_releases_and_deploys_staging(self, cd_push, delivery, github,
                                                          notified):  # fmt: skip
        repo, urls, _ = delivery
        run = cd_push
        assert run.results() == {"refuse-other-refs": "skipped", "release": "success",
                                 "staging": "success"}, run.log()  # fmt: skip
        digest = run.jobs["release"].outputs["digest"]
        assert digest.startswith("sha256:"), run.log("release")
        repo.git("fetch", "--quiet", "origin")
        pin = repo.git("log", "-1", "--format=%an %s", "origin/main")
        assert pin == "github-actions[bot] deploy: pin staging to churn-model version 1 [skip ci]"
        staging = yaml.safe_load(repo.git("show", "origin/main:deploy/staging.yaml"))
        assert staging["model"]["version"] == 1 and staging["image"]["digest"] == digest
        assert served_version(urls["staging"]) == "1"
        (pull,) = pulls_from(github, "promote/production")
        assert pull["state"] == "open" and pull["base"]["ref"] == "main"
        [message] = notified.bodies()  # the promotion PR, through `notify` and apprise
        assert message["title"] == "churn-model: Promotion PR opened: version 1 to production"
        assert pull["html_url"] in message["message"], message
        assert [(c.method, c.path.split(REPOSITORY)[-1]) for c in run.calls] == [
            ("GET", "/pulls"),
            ("POST", "/pulls"),
            ("POST", f"/issues/{pull['number']}/labels"),
        ]

    def test_cd_without_deploy_variable_does_nothing(self, delivery, github, tmp_path):
        repo, _, _ = delivery
        repo.git("switch", "--quiet", "main")
        run = run_workflow(repo.path, "cd.yml", push_event(REPOSITORY), fake=github, tmp=tmp_path)
        assert set(run.results().values()) == {"skipped"}, run.log()
        assert run.calls == []

    def test_promote_merged_promotion_deploys_production(self, cd_push, delivery, github, tmp_path):
        repo, urls, settings = delivery
        # GitHub merges the promotion pull request: main gets deploy/production.yaml's new pin.
        repo.git("fetch", "--quiet", "origin")
        repo.git("switch", "--quiet", "-C", "main", "origin/main")
        repo.git(
            "merge",
            "--quiet",
            "--no-ff",
            "-m",
            "Merge promote/production",
            "origin/promote/production",
        )
        repo.git("push", "--quiet", "origin", "main")
        run = run_workflow(repo.path, "promote.yml", push_event(REPOSITORY), fake=github,
                           tmp=tmp_path, **settings)  # fmt: skip
        assert run.results() == {"refuse-other-refs": "skipped", "production": "success"}, run.log()
        assert served_version(urls["production"]) == "1"

    def test_promote_dispatched_from_another_branch_deploys_nothing(
        self, delivery, github, tmp_path
    ):
        repo, _, settings = delivery
        repo.git("switch", "--quiet", "-C", "rogue", "main")
        production = repo.path / "deploy/production.yaml"
        production.write_text(production.read_text().replace("smoke:", "smoke: # rogue\n", 1))
        repo.git("commit", "--quiet", "-am", "Deploy from a branch")
        event = dispatch_event(REPOSITORY, ref="refs/heads/rogue")
        run = run_workflow(repo.path, "promote.yml", event, fake=github, tmp=tmp_path, **settings)
        assert run.results() == {"refuse-other-refs": "failure", "production": "skipped"}, run.log()
        assert "nothing was deployed" in run.jobs["refuse-other-refs"].summary, run.log()
        assert run.calls == []


# -- template-sync.yml -----------------------------------------------------------------------

# The fixtures `template` (a git copy of this template at v1.0.0) and `user_repo` (baked from
# it, pushed to a bare origin) are test_template_sync.py's, imported for pytest to find.


class TestTemplateWorkflows:
    """template-sync.yml and the template's own ci.yml."""

    def test_template_sync_on_schedule_opens_one_pull_request(self, request, github, tmp_path):
        """A new template release (v1.1.0) since the bake (v1.0.0): the weekly run opens one PR."""
        copy, baked = request.getfixturevalue("template"), request.getfixturevalue("user_repo")
        (copy / sync.PROJECT / "UPGRADING.md").write_text(
            "# Upgrading {{ cookiecutter.project }}\n"
        )
        sync.commit_all(copy, "template B", tag="v1.1.0")
        event = schedule_event(REPOSITORY, "23 5 * * 1")
        run = run_workflow(baked, "template-sync.yml", event, fake=github, tmp=tmp_path / "act")
        assert run.results() == {"bake": "success", "publish": "success"}, run.log()
        assert (run.artifacts / "template-sync-bundle/bundle.tar").is_file(), (
            "bake hands publish it"
        )
        (pull,) = pulls_from(github, "template-sync")
        assert pull["title"] == "Template update: v1.0.0 → v1.1.0"
        origin = baked.parent.parent / "origin.git"
        assert sync.on_branch(origin, "template-sync", "UPGRADING.md") == "# Upgrading churn-model"
        assert [(c.method, c.path.split(REPOSITORY)[-1]) for c in run.calls] == [
            ("GET", "/pulls"),
            ("POST", "/pulls"),
            ("POST", f"/issues/{pull['number']}/labels"),
        ]
        assert {c.headers["authorization"] for c in run.calls} == {"Bearer ghs_fake_actions_token"}

    def test_template_sync_to_a_missing_release_fails(self, request, github, tmp_path):
        baked = request.getfixturevalue("user_repo")
        event = dispatch_event(REPOSITORY, "refs/heads/main", inputs={"ref": "v9.9.9"})
        run = run_workflow(baked, "template-sync.yml", event, fake=github, tmp=tmp_path / "act",
                           inputs={"ref": "v9.9.9"})  # fmt: skip
        assert run.results() == {"bake": "failure", "publish": "skipped"}, run.log()
        assert "v9.9.9" in run.jobs["bake"].log, run.log()
        assert run.calls == []

    @pytest.mark.parametrize("job", ["lint", "zizmor"])
    def test_template_ci_jobs_run_green(self, template_clone, job, github, tmp_path):
        """`fast` repeats this suite's fast tests and `e2e` is .ci/run itself: not run here."""
        template_clone.git("switch", "--quiet", "main")
        run = template_ci(template_clone, job, github, tmp_path)
        assert run.jobs[job].result == "success", run.log(job)

    def test_template_ci_zizmor_fails_on_an_unpinned_action(self, template_clone, github, tmp_path):
        def unpin(path):
            workflow = path / ".github/workflows/ci.yml"
            text = workflow.read_text()
            workflow.write_text(
                re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v5", text)
            )

        template_clone.branch("unpinned", unpin, "Unpin checkout")
        run = template_ci(template_clone, "zizmor", github, tmp_path)
        assert run.jobs["zizmor"].result == "failure", run.log("zizmor")
        assert "unpinned-uses" in run.jobs["zizmor"].log, run.log("zizmor")


# -- the template repository's own workflows -------------------------------------------------

TEMPLATE_REPOSITORY = "your-org/cookiecutter-mlops-gitops"


@pytest.fixture(scope="module")
def template_clone(tmp_path_factory):
    """This template as a fresh clone has it: the working tree's files (not its .venv or other
    ignored files), committed."""
    copy = tmp_path_factory.mktemp("template-ci") / "template"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    repo = Checkout(copy)
    repo.git("init", "--quiet", "--initial-branch", "main")
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "template")
    return repo


def template_ci(repo: Checkout, job: str, github, tmp: Path):
    event = pull_request_event(TEMPLATE_REPOSITORY, 3, repo.git("branch", "--show-current"))
    return run_workflow(repo.path, "ci.yml", event, fake=github, tmp=tmp, job=job,
                        repository=TEMPLATE_REPOSITORY)  # fmt: skip
