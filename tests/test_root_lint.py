"""The template repository passes the same linters it gives generated repos."""

import subprocess

from tests.conftest import ROOT


def run(*command):
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def test_ruff_check_and_format_are_clean():
    for command in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        done = run(*command)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"


def test_ci_script_is_shellcheck_clean():
    done = run("shellcheck", ".ci/run", ".ci/system-deps")
    assert done.returncode == 0, done.stdout
