"""The test set-up itself: `make test-fast` runs offline, and podman's settings are ours."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import ROOT
from tests.support.mlflow_server import MlflowServer

OFFLINE = ROOT / "tests/support/offline.sh"
PROBE = """
import http.server, socket, threading, urllib.request
server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
try:
    urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/", timeout=5)
except urllib.error.HTTPError as answered:  # any HTTP answer: loopback works
    print("loopback", answered.code)
try:
    socket.create_connection(("1.1.1.1", 443), timeout=5)
    print("outside: reached")
except OSError as error:
    print("outside:", type(error).__name__)
"""


def test_the_offline_wrapper_keeps_loopback_and_nothing_else():
    done = subprocess.run(["bash", str(OFFLINE), sys.executable, "-c", PROBE],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "no network namespace here" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "loopback 501"
    assert lines[1].startswith("outside:") and lines[1] != "outside: reached"


def test_make_test_fast_runs_offline_without_network_tests():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest-fast:", 1)[1].split("\n\n", 1)[0]
    assert "bash tests/support/offline.sh python -m pytest" in recipe
    assert "not network" in recipe


def test_podman_reads_the_tests_settings_and_the_machine_keeps_its_own(tmp_path):
    """base_image.sh points podman at tests/support/containers.conf; /etc stays as it was."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "seen"
    # A podman that has the image already and says which settings it was given.
    (bin_dir / "podman").write_text(f'#!/bin/sh\necho "$CONTAINERS_CONF" >> "{seen}"\nexit 0\n')
    (bin_dir / "podman").chmod(0o755)
    machine = "/etc/containers/containers.conf"
    before = _stat(machine)
    env = {k: v for k, v in os.environ.items() if k != "CONTAINERS_CONF"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    done = subprocess.run(["bash", str(ROOT / "tests/support/base_image.sh")], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert set(seen.read_text().split()) == {str(ROOT / "tests/support/containers.conf")}
    assert _stat(machine) == before, f"{machine} was written"
    assert os.environ["CONTAINERS_CONF"] == str(ROOT / "tests/support/containers.conf")


def _stat(path):
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


@pytest.mark.slow
def test_the_mlflow_server_picks_another_port_when_its_port_was_taken(tmp_path):
    """free_port() races: another process may bind the port before the server does."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = MlflowServer(tmp_path)
        server.port = taken.getsockname()[1]  # as if someone took it right after the pick
        server.url = f"http://127.0.0.1:{server.port}"
        with server:
            assert server.port != taken.getsockname()[1]
            with urllib.request.urlopen(f"{server.url}/health", timeout=10) as answer:
                assert answer.status == 200
