"""What the tests of the project Actions share (tests/test_action_*.py).

tests/support/action_runner.py runs each composite Action's `run:` steps with the runner's
files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ENV, GITHUB_PATH) and inputs passed
through `env:`. Third-party `uses:` steps (setup-python, setup-uv, cache, upload-artifact,
setup-buildx, login) cannot run here; each test hands them to a UsesRecorder callback that
checks the step's effect is already present (Python of that version, uv on PATH, the file
to upload) and returns the outputs the real Action would, or records what it was asked to do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import ROOT

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
