"""Step scripts of the Actions run alone, with stand-ins for the commands they call, so what
the script itself decides is checked in seconds (the Actions run whole in test_action_<name>.py)."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import ROOT, bake, project_env

ACTIONS = ROOT / "actions"


def run_script(script, cwd, env, tmp_path):
    """(exit status, step outputs, stderr) of one step script, as the runner runs it."""
    output, summary = tmp_path / "output", tmp_path / "summary"
    output.write_text("")
    env = {**env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_ACTION_PATH": str(script.parent)}  # fmt: skip
    done = subprocess.run(["bash", str(script)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return done.returncode, outputs, done.stderr


def stand_in(tmp_path, name, body):
    """An executable `name` first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
    (bin_dir / name).chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def test_dvc_repro_fails_when_git_cannot_compare_the_lock(tmp_path):
    """Not a git checkout: the step fails saying so, instead of reporting a changed lock."""
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "PATH": stand_in(tmp_path, "dvc", "exit 0"),
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }
    status, outputs, stderr = run_script(ACTIONS / "dvc-repro/dvc_repro.sh", work, env, tmp_path)
    assert status == 1
    assert "lock-changed" not in outputs
    assert "git could not compare dvc.lock with the commit" in stderr


def test_pull_data_takes_the_source_from_the_verbs_report_not_its_wording(tmp_path):
    """A project release may reword its messages: the Action reads reports/pull-data.json."""
    package = tmp_path / "src/reworded"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        "import json, pathlib\n"
        "print('Data rebuilt from its generator; checksum OK.')\n"
        "pathlib.Path('reports').mkdir(exist_ok=True)\n"
        "pathlib.Path('reports/pull-data.json').write_text(json.dumps({'source': 'regenerated'}))\n"
    )
    env = {**os.environ, "PACKAGE": "reworded", "PYTHONPATH": str(tmp_path / "src")}
    status, outputs, _ = run_script(ACTIONS / "setup/pull_data.sh", tmp_path, env, tmp_path)
    assert (status, outputs) == (0, {"data-source": "regenerated"})


def test_pull_data_reports_regenerated_example_data(tmp_path):
    """The real verb on a fresh checkout of the default bake: no remote, the example rebuilt."""
    project = bake(tmp_path / "bake")
    (project / "data/raw/dataset.csv").unlink()
    env = {**project_env(project), "PACKAGE": "churn_model"}
    status, outputs, _ = run_script(ACTIONS / "setup/pull_data.sh", project, env, tmp_path)
    assert (status, outputs) == (0, {"data-source": "regenerated"})
    assert (project / "data/raw/dataset.csv").is_file()
