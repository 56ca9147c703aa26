"""The setup Action on baked projects: the environment from the lock, the DVC cache, the data."""

from __future__ import annotations

import os
import re
import shutil
import sys

import pytest

from tests.conftest import ROOT, VENV, bake, run_in
from tests.support.action_helpers import (
    ACTIONS,
    PACKAGE,
    UsesRecorder,
    md5,
    recorded_md5,
)
from tests.support.action_runner import run_action
from tests.support.custom_data import make_loans

LOCKED_UV = re.search(r"^uv==([\d.]+)", (ROOT / "{{cookiecutter.project}}/requirements.lock")
                      .read_text(), re.M).group(1)  # fmt: skip


def setup_env():
    """A job's environment before setup: no project on PYTHONPATH; uv comes from PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env['PATH']}"
    return env


def setup_uses(restore=None, workspace=None):
    """Stand-ins of the setup-python, setup-uv and cache steps. `restore`: a saved .dvc/cache
    the cache step puts back into `workspace` (its effect on a hit); none: a miss."""
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

    def cache(with_):
        if restore is None:
            return {"cache-hit": "false"}
        shutil.copytree(restore, workspace / with_["path"], dirs_exist_ok=True)
        return {"cache-hit": "true"}

    return UsesRecorder({"actions/setup-python": python, "astral-sh/setup-uv": uv,
                         "actions/cache": cache})  # fmt: skip


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
    assert result.outputs["data-source"] == "regenerated"  # no cache, no remote
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
def test_setup_takes_the_data_from_a_restored_dvc_cache_without_a_remote(tmp_path):
    """What the cache step decides: with the cache restored, `dvc pull` needs no remote."""
    project = bake(tmp_path / "bake")
    run_in(project, "dvc", "commit", "--force", "--quiet", "data/raw/dataset.csv.dvc")
    saved = tmp_path / "saved-cache"
    shutil.move(project / ".dvc/cache", saved)  # what actions/cache stored in an earlier run
    data = project / "data/raw/dataset.csv"
    data.unlink()
    assert not (project / "dvc-storage").exists(), "no remote: only the cache can give the data"
    result = run_setup(project, setup_uses(restore=saved, workspace=project))
    assert not result.failed, result.log
    # `pulled`, not `regenerated`: the verb's report says the data came through DVC.
    assert (result.outputs["dvc-cache-hit"], result.outputs["data-source"]) == ("true", "pulled")
    assert md5(data) == recorded_md5(project / "data/raw/dataset.csv.dvc")


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
