"""`make test` installs the system commands the tests need, or stops before any test with the
exact command to run (.ci/system-deps, shared with .ci/run)."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / ".ci" / "system-deps"
# What the script and make need to run at all; everything else it looks for is missing.
BASICS = ("bash", "make", "grep", "id", "env", "cat", "sh", "python3")
# As root, run as nobody (the case that must not install); a non-root runner is that already.
NOBODY = [shutil.which("setpriv") or "setpriv", "--reuid=65534", "--regid=65534",
          "--clear-groups"] if os.getuid() == 0 else []  # fmt: skip
DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
FEDORA = 'NAME="Fedora Linux"\nID=fedora\n'
ALL_PACKAGES = (
    "make git podman runc debootstrap shellcheck nodejs npm kubernetes-client "
    "prometheus prometheus-alertmanager chromium"
)


@pytest.fixture
def tmp_path():
    """A folder nobody can read too (pytest's own sit in a folder only root may enter)."""
    folder = Path(tempfile.mkdtemp(prefix="system-deps-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def bare_path(tmp_path):
    """A PATH holding only the basics: git, podman, node, kubectl and the rest are missing."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in BASICS:
        os.symlink(shutil.which(name), folder / name)
    return folder


def run(command, path, os_release, tmp_path, as_nobody=True):
    release = tmp_path / "os-release"
    release.write_text(os_release)
    env = {"PATH": str(path), "OS_RELEASE": str(release), "HOME": str(tmp_path)}
    return subprocess.run([*(NOBODY if as_nobody else []), *command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_make_test_stops_before_any_test_with_the_apt_command(bare_path, tmp_path):
    # `make` itself is present (we run it), so the rest is asked for.
    done = run(["make", "--no-print-directory", "test"], bare_path, DEBIAN, tmp_path)
    assert done.returncode != 0
    expected = ALL_PACKAGES.replace("make ", "")
    assert f"sudo apt-get update && sudo apt-get install -y {expected}\n" in done.stderr
    assert "git podman runc" in done.stderr  # the commands, named as the user types them
    assert "test session starts" not in done.stdout + done.stderr  # pytest never started
    assert "FileNotFoundError" not in done.stdout + done.stderr


def test_other_systems_get_the_commands_and_the_debian_line(bare_path, tmp_path):
    done = run(["bash", str(SCRIPT)], bare_path, FEDORA, tmp_path)
    assert done.returncode == 1
    assert "Install them with your system's package manager" in done.stderr
    assert "kubectl" in done.stderr and "apt-get install -y" in done.stderr


def test_debian_as_root_installs_what_is_missing(bare_path, tmp_path):
    log = tmp_path / "apt.log"
    fake_apt = bare_path / "apt-get"
    fake_apt.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    fake_apt.chmod(0o755)
    if os.getuid() != 0:
        pytest.skip("the install path is the root path")
    done = run(["bash", str(SCRIPT)], bare_path, DEBIAN, tmp_path, as_nobody=False)
    assert done.returncode == 0, done.stderr
    lines = log.read_text().splitlines()
    assert lines == ["update -qq", f"install -y {ALL_PACKAGES.replace('make ', '')} -qq"]


def test_nothing_missing_means_nothing_to_do(tmp_path):
    done = run(["bash", str(SCRIPT)], os.environ["PATH"], DEBIAN, tmp_path, as_nobody=False)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""


def test_ci_runs_the_same_script_and_make_test_calls_it_first():
    assert "bash .ci/system-deps" in (ROOT / ".ci/run").read_text()
    recipe = Path(ROOT / "Makefile").read_text().split("\ntest:")[1].split("\n\n")[0]
    assert recipe.splitlines()[1].strip() == "bash .ci/system-deps"
