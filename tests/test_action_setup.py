"""The setup Action on baked projects: the environment from the lock, the DVC cache, the data."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
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


def setup_uses(restore=None, workspace=None, venvs=None):
    """Stand-ins of the setup-python, setup-uv and cache steps. `restore`: a saved .dvc/cache
    the cache step puts back into `workspace` (its effect on a hit); none: a miss. `venvs`:
    a folder of saved environments, one per key, that cache/save fills and cache/restore
    puts back into `workspace`; none: a miss, and nothing saved."""
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

    def restore_venv(with_):
        saved = venvs / with_["key"] if venvs else None
        if saved is None or not saved.is_dir():
            return {"cache-hit": "false", "cache-primary-key": with_["key"]}
        shutil.copytree(saved, workspace / with_["path"], symlinks=True)
        return {"cache-hit": "true", "cache-primary-key": with_["key"]}

    def save_venv(with_):
        if venvs:
            shutil.copytree(workspace / with_["path"], venvs / with_["key"], symlinks=True)
        return {}

    return UsesRecorder({"actions/setup-python": python, "astral-sh/setup-uv": uv,
                         "actions/cache": cache, "actions/cache/restore": restore_venv,
                         "actions/cache/save": save_venv})  # fmt: skip


def run_setup(project, uses=None, env=None, **inputs):
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    given = {"package": PACKAGE, "python-version": version, **inputs}
    return run_action(ACTIONS / "setup", given, cwd=project, env={**setup_env(), **(env or {})},
                      uses=uses or setup_uses())  # fmt: skip


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
    assert "`.venv` installed from `requirements.lock`" in result.summary
    # By default no code comes from a cache (jobs that publish or deploy use the default).
    assert result.outputs["venv-cache-hit"] == "false"
    assert uses.called("actions/cache/restore") == uses.called("actions/cache/save") == []
    # The environment really holds the project: the next Action runs from it alone.
    env = {**setup_env(), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    check = run_action(ACTIONS / "data-check", {"package": PACKAGE}, cwd=project, env=env)
    assert not check.failed, check.log


@pytest.mark.slow
@pytest.mark.network  # installs the lock from the package index (the first job)
def test_setup_restores_the_environment_from_the_cache_instead_of_installing(tmp_path):
    """The second job of a run (or a re-run) gets .venv from the cache: no package index and
    no uv cache needed, and it works where the first job's workspace never was."""
    venvs = tmp_path / "cache"
    venvs.mkdir()
    inputs = {"pull-data": "false", "cache-venv": "true"}
    first = bake(tmp_path / "first")
    uses = setup_uses(workspace=first, venvs=venvs)
    result = run_setup(first, uses, **inputs)
    assert not result.failed, result.log
    assert result.outputs["venv-cache-hit"] == "false"
    # The environment, keyed on runner, exact Python and lock, is saved for the next job.
    (restore,) = uses.called("actions/cache/restore")
    assert restore["path"] == ".venv"
    assert re.fullmatch(r"venv-Linux-X64-python3\.\d+(\.\d+)?-[0-9a-f]{64}", restore["key"])
    assert uses.called("actions/cache/save") == [restore]
    assert len(list(venvs.iterdir())) == 1, "the first job saved its environment"
    shutil.rmtree(first)  # the first job's runner is gone
    second = bake(tmp_path / "second")
    uses = setup_uses(workspace=second, venvs=venvs)
    offline = {"UV_OFFLINE": "1", "UV_CACHE_DIR": str(tmp_path / "empty-uv-cache")}
    result = run_setup(second, uses, env=offline, **inputs)
    assert not result.failed, result.log
    assert result.outputs["venv-cache-hit"] == "true"
    assert uses.called("actions/cache/save") == [], "a hit is not saved again"
    assert "`.venv` restored from the cache, for `requirements.lock`" in result.summary
    # Its scripts and the project (installed into it again, editable) run from the new place.
    venv = second / ".venv/bin"
    env = {**setup_env(), "PATH": f"{venv}{os.pathsep}{os.environ['PATH']}"}
    for command in (["dvc", "version"], ["pytest", "--version"],
                    ["python", "-m", PACKAGE, "--help"]):  # fmt: skip
        done = subprocess.run(command, cwd=second, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{command}: {done.stderr}"
    assert shutil.which("dvc", path=env["PATH"]) == str(venv / "dvc")


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
