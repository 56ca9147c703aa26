"""The project Actions run on baked repos, step by step as the runner runs them.

tests/support/action_runner.py runs each composite Action's `run:` steps with the runner's
files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ENV, GITHUB_PATH) and inputs passed
through `env:`. Third-party `uses:` steps (setup-python, setup-uv, cache, upload-artifact,
setup-buildx, login) cannot run here; each test hands them to a callback that checks the
step's effect is already present (Python of that version, uv on PATH, the file to upload)
and returns the outputs the real Action would, or records what it was asked to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, VENV, bake, break_example_data, project_env, run_in
from tests.support.action_runner import run_action
from tests.support.custom_data import make_loans

ACTIONS = ROOT / "actions"
PACKAGE = "churn_model"


def copy_project(source: Path, target: Path) -> Path:
    """A private copy of a (read-only, shared) baked project."""
    shutil.copytree(source, target, symlinks=True)
    return target


def git(project: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    done = subprocess.run(["git", *args], cwd=project, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def set_param(project: Path, path: str, value) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[last] = value
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def recorded_md5(dvc_file: Path) -> str:
    return yaml.safe_load(dvc_file.read_text())["outs"][0]["md5"]


class UsesRecorder:
    """Stands in for the `uses:` steps: checks their effect is present, records the call."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def __call__(self, step, with_):
        action = step["uses"].split("@")[0]
        self.calls.append((action, with_))
        answer = self.answers.get(action)
        if answer is None:
            raise AssertionError(f"unexpected uses: {action}")
        return answer(with_) if callable(answer) else answer

    def called(self, action):
        return [with_ for name, with_ in self.calls if name == action]


# -- data-check --------------------------------------------------------------------------------


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


# -- dvc-repro ---------------------------------------------------------------------------------


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


# -- model-tests -------------------------------------------------------------------------------


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


# -- setup ---------------------------------------------------------------------------------------


LOCKED_UV = re.search(r"^uv==([\d.]+)", (ROOT / "{{cookiecutter.project}}/requirements.lock")
                      .read_text(), re.M).group(1)  # fmt: skip


def setup_env():
    """A job's environment before setup: no project on PYTHONPATH; uv comes from PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env['PATH']}"
    return env


def setup_uses():
    version = f"{sys.version_info.major}.{sys.version_info.minor}"

    def python(with_):
        # setup-python's effect: an interpreter of the asked version. The shared one is it.
        assert with_["python-version"] == version
        return {"python-path": str(VENV / "bin/python"), "python-version": version}

    def uv(with_):
        assert shutil.which("uv", path=setup_env()["PATH"]), "setup-uv's effect: uv on PATH"
        assert with_ == {"enable-cache": "true", "cache-dependency-glob": "requirements.lock",
                         "version": LOCKED_UV}  # the uv the lock pins, nothing newer  # fmt: skip
        return {}

    # actions/cache: nothing is restored here, as on a cache miss.
    return UsesRecorder({"actions/setup-python": python, "astral-sh/setup-uv": uv,
                         "actions/cache": {"cache-hit": "false"}})  # fmt: skip


def run_setup(project, uses=None, **inputs):
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    given = {"package": PACKAGE, "python-version": version, **inputs}
    return run_action(
        ACTIONS / "setup", given, cwd=project, env=setup_env(), uses=uses or setup_uses()
    )


@pytest.mark.slow
@pytest.mark.network  # installs the lock from the package index
def test_setup_installs_the_lock_and_regenerates_the_example_data(tmp_path):
    project = bake(tmp_path)
    data = project / "data/raw/dataset.csv"
    data.unlink()  # a CI checkout: git ignores the data, DVC tracks it
    uses = setup_uses()
    result = run_setup(project, uses)
    assert not result.failed, result.log
    venv = project / ".venv"
    assert result.outputs["python"] == str(venv / "bin/python")
    assert result.outputs["data-source"] == "regenerated"
    assert result.outputs["dvc-cache-hit"] == "false"
    assert result.path == [str(venv / "bin")]
    assert result.env == {"VIRTUAL_ENV": str(venv)}
    cache = uses.called("actions/cache")
    assert cache[0]["path"] == ".dvc/cache"
    key_hash = cache[0]["key"].removeprefix("dvc-Linux-")
    assert len(key_hash) == 64, "the key carries hashFiles('dvc.lock', '**/*.dvc')"
    assert md5(data) == recorded_md5(project / "data/raw/dataset.csv.dvc")
    assert "## Environment" in result.summary
    # The environment really holds the project: the next Action runs from it alone.
    env = {**setup_env(), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    check = run_action(ACTIONS / "data-check", {"package": PACKAGE}, cwd=project, env=env)
    assert not check.failed, check.log


@pytest.mark.slow
@pytest.mark.network  # installs the lock from the package index
def test_setup_pulls_from_a_reachable_remote(tmp_path):
    project = bake(tmp_path)
    run_in(project, "dvc", "commit", "--force", "--quiet", "data/raw/dataset.csv.dvc")
    run_in(project, "dvc", "push", "--quiet")  # the default remote: the folder dvc-storage/
    (project / "data/raw/dataset.csv").unlink()
    shutil.rmtree(project / ".dvc/cache")
    result = run_setup(project)
    assert not result.failed, result.log
    assert result.outputs["data-source"] == "pulled"
    assert (project / "data/raw/dataset.csv").is_file()


@pytest.mark.slow
@pytest.mark.network  # installs the lock from the package index
def test_setup_without_a_reachable_remote_says_to_configure_one(tmp_path):
    project = bake(tmp_path, project="loan-default", dataset="custom", target_column="defaulted",
                   positive_class="1", sensitive_features="region")  # fmt: skip
    make_loans(project / "data/raw/dataset.csv")
    run_in(project, "dvc", "add", "--quiet", "data/raw/dataset.csv")
    (project / "data/raw/dataset.csv").unlink()
    shutil.rmtree(project / ".dvc/cache")
    result = run_setup(project, package="loan_default")
    assert result.failed
    assert result.step("data").outcome == "failure"
    message = result.step("data").stdout
    assert "loan-default pull-data: dvc pull failed" in message
    assert "Configure a shared remote" in message and "dvc push" in message
    assert "Configure a shared remote" in result.summary


def test_pull_data_refuses_example_data_that_no_longer_matches(tmp_path):
    """Regenerated data is accepted only when it is the version DVC recorded."""
    project = bake(tmp_path)
    (project / "data/raw/dataset.csv").unlink()
    dvc_file = project / "data/raw/dataset.csv.dvc"
    dvc_file.write_text(dvc_file.read_text().replace(recorded_md5(dvc_file), "0" * 32))
    done = run_in(project, "python", "-m", PACKAGE, "pull-data", check=False)
    assert done.returncode == 1
    assert "no longer reproduces the version in data/raw/dataset.csv.dvc" in done.stderr
    assert not (project / "data/raw/dataset.csv").exists(), "a wrong file must not stay"


@pytest.mark.network  # installs the lock from the package index
def test_setup_skips_the_data_when_asked(tmp_path):
    project = bake(tmp_path)
    uses = setup_uses()
    result = run_setup(project, uses, **{"pull-data": "false"})
    assert not result.failed, result.log
    assert result.step("data").outcome == "skipped"
    assert uses.called("actions/cache") == []


# -- build-image ---------------------------------------------------------------------------------

FAKE_DOCKER = """#!{python}
# Records the call, then answers like buildx: a metadata file with the image digest.
import hashlib, json, sys
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(args) + "\\n")
digest = "sha256:" + hashlib.sha256(" ".join(args).encode()).hexdigest()
with open(args[args.index("--metadata-file") + 1], "w") as meta:
    json.dump({{"containerimage.digest": digest}}, meta)
"""


def fake_docker(tmp_path):
    """A recorded `docker` on PATH: returns (env, log file)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "docker-calls.jsonl"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER.format(python=sys.executable, log=str(log)))
    (bin_dir / "docker").chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, log


def build_uses():
    def upload(with_):  # relative to the workspace; the tests check the file is there
        assert with_["name"] == "sbom" and with_["path"].endswith("sbom.cdx.json")
        return {}

    return UsesRecorder({"docker/setup-buildx-action": {}, "docker/login-action": {},
                         "actions/upload-artifact": upload})  # fmt: skip


GITHUB = {"repository": "Octo-Org/Churn-Model", "sha": "c0ffee" + "0" * 34, "actor": "octocat",
          "token": "ghs_fake"}  # fmt: skip


def test_build_image_builds_labels_and_loads_without_pushing(tmp_path):
    env, log = fake_docker(tmp_path)
    uses = build_uses()
    result = run_action(ACTIONS / "build-image", {"model-version": "7", "tags": "pr-12, latest"},
                        cwd=tmp_path, env=env, github=GITHUB, uses=uses)  # fmt: skip
    assert not result.failed, result.log
    (args,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert args[:2] == ["buildx", "build"] and args[-1] == "."
    assert "--load" in args and "--push" not in args
    labels = {args[i + 1] for i, arg in enumerate(args) if arg == "--label"}
    assert f"org.opencontainers.image.revision={GITHUB['sha']}" in labels
    assert "org.opencontainers.image.version=7" in labels
    assert "ai.mlops.model.version=7" in labels
    assert "org.opencontainers.image.source=https://github.com/Octo-Org/Churn-Model" in labels
    tags = [args[i + 1] for i, arg in enumerate(args) if arg == "--tag"]
    assert tags == ["ghcr.io/octo-org/churn-model:pr-12", "ghcr.io/octo-org/churn-model:latest"]
    digest = result.outputs["digest"]
    assert digest.startswith("sha256:") and len(digest) == 71
    assert result.outputs["image"] == f"ghcr.io/octo-org/churn-model@{digest}"
    assert uses.called("docker/login-action") == [], "no login when not pushing"
    assert f"| digest | `{digest}` |" in result.summary
    assert "| pushed | false |" in result.summary


def test_build_image_pushes_only_when_asked(tmp_path):
    env, log = fake_docker(tmp_path)
    uses = build_uses()
    result = run_action(ACTIONS / "build-image", {"push": "true"}, cwd=tmp_path, env=env,
                        github=GITHUB, uses=uses)  # fmt: skip
    assert not result.failed, result.log
    args = json.loads(log.read_text())
    assert "--push" in args and "--load" not in args
    assert f"ghcr.io/octo-org/churn-model:{GITHUB['sha']}" in args  # default tag: the commit
    assert "org.opencontainers.image.version=unregistered" in args
    assert uses.called("docker/login-action") == [
        {"registry": "ghcr.io", "username": "octocat", "password": "ghs_fake"}
    ]


def test_build_image_takes_the_build_args_the_project_exported(tmp_path):
    """`build-image --no-build` (the project's verb) wrote reports/image.json: use it."""
    env, log = fake_docker(tmp_path)
    (tmp_path / "reports").mkdir()
    report = {"build_args": {"MODEL_NAME": "churn-model", "MODEL_VERSION": "4",
                             "REVISION": "abc123-dirty", "SOURCE": ""},
              "sbom": "build/model/sbom.cdx.json"}  # fmt: skip
    (tmp_path / "reports/image.json").write_text(json.dumps(report))
    (tmp_path / "build/model").mkdir(parents=True)
    (tmp_path / "build/model/sbom.cdx.json").write_text("{}")
    uses = build_uses()
    result = run_action(ACTIONS / "build-image", {}, cwd=tmp_path, env=env, github=GITHUB,
                        uses=uses)  # fmt: skip
    assert not result.failed, result.log
    # The SBOM the verb wrote is the Action's output and is attached to the run.
    assert result.outputs["sbom"] == "build/model/sbom.cdx.json"
    assert uses.called("actions/upload-artifact")[0]["path"] == "build/model/sbom.cdx.json"
    args = json.loads(log.read_text())
    build_args = [args[i + 1] for i, arg in enumerate(args) if arg == "--build-arg"]
    assert "MODEL_NAME=churn-model" in build_args
    # The commit of the workflow run wins over the (dirty) one the export saw: last one counts.
    revisions = [a for a in build_args if a.startswith("REVISION=")]
    assert revisions[-1] == f"REVISION={GITHUB['sha']}"
    assert "org.opencontainers.image.version=4" in args
    assert "| model version | 4 |" in result.summary


def test_build_image_failure_fails_the_step(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text("#!/bin/sh\necho 'ERROR: failed to solve' >&2\nexit 1\n")
    (bin_dir / "docker").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = run_action(ACTIONS / "build-image", {}, cwd=tmp_path, env=env, github=GITHUB,
                        uses=build_uses())  # fmt: skip
    assert result.failed
    assert "failed to solve" in result.step("build").stderr
    assert "digest" not in result.step("build").outputs


@pytest.fixture(scope="module")
def base_image():
    done = subprocess.run(["bash", str(ROOT / "tests/support/base_image.sh")],
                          capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return "localhost/python-base:3.11"


def inspect_image(reference):
    """podman's description of a local image, and its labels (docker and OCI layouts differ)."""
    inspect = subprocess.run(["podman", "image", "inspect", reference],
                             capture_output=True, text=True, check=True)  # fmt: skip
    (info,) = json.loads(inspect.stdout)
    return info, info["Config"]["Labels"] if "Config" in info else info["Labels"]


@pytest.mark.image
@pytest.mark.network  # the base image may need a Debian mirror
def test_build_image_with_a_real_builder(tmp_path, base_image):
    """`docker` is tests/support/docker_podman.sh: the same buildx flags, built by podman."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to(ROOT / "tests/support/docker_podman.sh")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nRUN python3 --version > /version\n"
    )
    image = "localhost/build-image-test"
    inputs = {"image": image, "tags": "t1", "context": "context", "file": "context/Dockerfile",
              "build-args": f"BASE_IMAGE={base_image}", "model-version": "3"}  # fmt: skip
    result = run_action(ACTIONS / "build-image", inputs, cwd=tmp_path, env=env, github=GITHUB,
                        uses=build_uses())  # fmt: skip
    try:
        assert not result.failed, result.log
        info, labels = inspect_image(f"{image}:t1")
        assert labels["org.opencontainers.image.revision"] == GITHUB["sha"]
        assert labels["ai.mlops.model.version"] == "3"
        digest = result.outputs["digest"]
        assert digest.removeprefix("sha256:") == info["Id"]
    finally:
        subprocess.run(["podman", "rmi", "-f", f"{image}:t1"], capture_output=True)


@pytest.mark.slow
@pytest.mark.image
@pytest.mark.network  # the base image may need a Debian mirror
def test_build_image_bakes_the_projects_model_as_ci_does(trained_project, tmp_path, base_image):
    """The generated ci.yml's path: export with the project's verb, then this Action builds
    the project's own Dockerfile (`docker` shimmed to podman, as above)."""
    project = tmp_path / "p"
    shutil.copytree(trained_project, project, ignore=shutil.ignore_patterns("build", "logs"))
    run_in(project, "python", "-m", PACKAGE, "build-image", "--no-build", "--alias", "candidate")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to(ROOT / "tests/support/docker_podman.sh")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    image = "localhost/churn-model-ci"
    inputs = {"image": image, "tags": "ci", "build-args": f"BASE_IMAGE={base_image}"}
    uses = build_uses()
    result = run_action(ACTIONS / "build-image", inputs, cwd=project, env=env, github=GITHUB,
                        uses=uses)  # fmt: skip
    try:
        assert not result.failed, result.log
        (upload,) = uses.called("actions/upload-artifact")  # the verb's SBOM, attached
        assert (project / upload["path"]).is_file()
        info, labels = inspect_image(f"{image}:ci")
        assert labels["ai.mlops.model.name"] == "churn-model"
        assert labels["ai.mlops.model.version"] == labels["org.opencontainers.image.version"] == "1"
        assert labels["org.opencontainers.image.revision"] == GITHUB["sha"]
        assert result.outputs["digest"].removeprefix("sha256:") == info["Id"]
        assert "| model version | 1 |" in result.summary
    finally:
        subprocess.run(["podman", "rmi", "-f", f"{image}:ci"], capture_output=True)
