"""The serving image of a baked project: hadolint-clean, built with podman, run and called.

No registry is reachable here, so the base image is made locally (tests/support/base_image.sh)
and passed as BASE_IMAGE; the build goes through the project's own `make image`.
"""

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.conftest import ROOT, bake, make, run_in

BASE_IMAGE = "localhost/python-base:3.11"
PODMAN_RUN = ["podman", "--runtime", "runc"]  # crun fails on cgroups on these machines


def test_dockerfile_is_hadolint_clean(tmp_path):
    project = bake(tmp_path)
    done = subprocess.run(["hadolint", "--failure-threshold", "warning", "Dockerfile"],
                          cwd=project, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _call(url, body=None):
    """(status, JSON) of a GET, or of a POST when body is given."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait_ready(url, container, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if _call(f"{url}/ready")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
            pass
        time.sleep(1)
    logs = subprocess.run(["podman", "logs", container], capture_output=True, text=True)
    pytest.fail(f"the container was not ready after {timeout} s:\n{logs.stdout}{logs.stderr}")


@pytest.fixture
def built_image(trained_project, tmp_path):
    """`make image` with podman on a copy of the trained project; yields (project, tag)."""
    subprocess.run(["bash", str(ROOT / "tests/support/base_image.sh")], check=True)
    project = tmp_path / trained_project.name
    shutil.copytree(trained_project, project, ignore=shutil.ignore_patterns("build", "logs"))
    tag = f"localhost/churn-model:test-{uuid.uuid4().hex[:8]}"
    flags = f"--tag={tag} --engine-flag=--isolation=chroot --engine-flag=--format=docker"
    make(project, "image", "CONTAINER=podman", f"BASE_IMAGE={BASE_IMAGE}", f"IMAGE_FLAGS={flags}")
    yield project, tag
    subprocess.run(["podman", "rmi", "--force", tag], capture_output=True)


@pytest.mark.slow
@pytest.mark.image
@pytest.mark.network  # the base image may need a Debian mirror; the build installs from PyPI
def test_image_builds_runs_and_serves_the_baked_model(built_image, record_property):
    project, tag = built_image
    report = json.loads((project / "reports/image.json").read_text())
    record_property("image_build_seconds", report["build_seconds"])
    print(f"image build: {report['build_seconds']} s")
    registered = json.loads((project / "reports/register.json").read_text())
    version = str(registered["version"])

    inspect = json.loads(subprocess.run(["podman", "image", "inspect", tag], check=True,
                                        capture_output=True, text=True).stdout)[0]  # fmt: skip
    labels = inspect["Config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == version
    assert labels["org.opencontainers.image.revision"] == registered["tags"]["git_commit"]
    assert "org.opencontainers.image.source" in labels
    assert inspect["Config"]["User"] == "10001:10001"  # not root
    healthcheck = inspect.get("Healthcheck") or inspect["Config"]["Healthcheck"]
    assert "/health" in " ".join(healthcheck["Test"])

    port = _free_port()
    container = subprocess.run(
        [*PODMAN_RUN, "run", "-d", "--init", "-p", f"127.0.0.1:{port}:8000", tag],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, container)
        status, served = _call(f"{url}/version")
        assert status == 200
        assert (served["name"], served["version"]) == ("churn-model", version)
        assert served["git_commit"] == registered["tags"]["git_commit"]
        assert served["data_hash"] == registered["tags"]["data_hash"]
        record = json.loads(run_in(project, "python", "-c", _ONE_RECORD).stdout)
        status, answer = _call(f"{url}/predict", record)
        assert status == 200, answer
        assert answer["model_version"] == version and 0 <= answer["score"] <= 1
        status, answer = _call(f"{url}/predict", {**record, "contract": "lifetime"})
        assert status == 422 and answer["detail"][0]["loc"] == ["body", "contract"]
        health = subprocess.run([*PODMAN_RUN, "healthcheck", "run", container],
                                capture_output=True, text=True)  # fmt: skip
        assert health.returncode == 0, health.stdout + health.stderr
    finally:
        subprocess.run([*PODMAN_RUN, "rm", "--force", "--time", "5", container],
                       capture_output=True)  # fmt: skip


_ONE_RECORD = (
    "import json; from churn_model.loadtest import sample_records; "
    "print(json.dumps(sample_records(1)[0]))"
)
