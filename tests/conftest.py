"""Fixtures for the template's tests: bake projects and drive them in the shared environment."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from cookiecutter.main import cookiecutter

pytest_plugins = ["tests.support.fixtures"]

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)  # the environment running pytest holds the generated project's stack
# Every podman the tests start (directly, through `make image` or a shim) reads this file
# instead of the machine's configuration.
os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "tests/support/containers.conf"))


def bake(output_dir, **answers):
    """Bake the template with these answers; returns the project path."""
    return Path(
        cookiecutter(str(ROOT), no_input=True, extra_context=answers, output_dir=str(output_dir))
    )


def project_env(project):
    """The environment `make` gives a project's commands, pointed at the shared venv."""
    env = dict(os.environ, VENV=str(VENV), PYTHONPATH=str(project / "src"))
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env['PATH']}"
    return env


def run_in(project, *command, check=True, timeout=900):
    """Run a command in a baked project; on failure the assertion shows its output."""
    done = subprocess.run(
        command, cwd=project, env=project_env(project), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def make(project, *targets, check=True):
    return run_in(project, "make", "--no-print-directory", *targets, f"VENV={VENV}", check=check)


def break_example_data(project):
    """Two contract violations in the example CSV: a negative tenure (CSV line 12) and an
    unknown contract (line 22)."""
    data = project / "data/raw/dataset.csv"
    frame = pd.read_csv(data, dtype=str)
    frame.loc[10, "tenure_months"] = "-5"
    frame.loc[20, "contract"] = "lifetime"
    frame.to_csv(data, index=False)


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory):
    """The default bake, trained and registered once for every test that reads it."""
    project = bake(tmp_path_factory.mktemp("default"))
    make(project, "pipeline")
    return project
