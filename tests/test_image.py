"""The serving image of a baked project: hadolint-clean, built with podman, run and called.

No registry is reachable here, so the base image is made locally (tests/support/base_image.sh)
and passed as BASE_IMAGE; the build goes through the project's own `make image`.
"""

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.conftest import ROOT, bake, make, project_env, run_in

BASE_IMAGE = "localhost/python-base:3.11"
PODMAN_RUN = ["podman", "--runtime", "runc"]  # crun fails on cgroups on these machines


def test_dockerfile_is_hadolint_clean(tmp_path):
    project = bake(tmp_path)
    done = subprocess.run(["hadolint", "--failure-threshold", "warning", "Dockerfile"],
                          cwd=project, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


ENGINE_CHOICE = """
import json
from churn_model.config import CliError
from churn_model.serving.build_image import build_command, choose_engine
try:
    engine = choose_engine()
except CliError as error:
    engine = f"error: {error}"
print(json.dumps({"engine": engine, "podman": build_command("podman", "t", {}, []),
                  "kept": build_command("podman", "t", {}, ["--format=oci"])}))
"""


def fake_engine(folder, name, answers):
    script = folder / name
    script.write_text("#!/bin/sh\n" + ("exit 0\n" if answers else
                      "echo 'Cannot connect to the Docker daemon' >&2; exit 1\n"))  # fmt: skip
    script.chmod(0o755)


@pytest.mark.parametrize("docker, podman, expected", [
    (False, True, "podman"),  # a docker binary with no daemon (this machine): podman
    (True, True, "docker"),
    (False, False, "error: no container engine answers: `docker info` failed (Cannot connect"),
])  # fmt: skip
def test_make_image_picks_the_engine_that_answers(tmp_path, docker, podman, expected):
    project = bake(tmp_path / "bake")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_engine(bin_dir, "docker", docker)
    fake_engine(bin_dir, "podman", podman)
    env = {**project_env(project), "PATH": f"{bin_dir}:{project_env(project)['PATH']}"}
    done = subprocess.run(["python", "-c", ENGINE_CHOICE], cwd=project, env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    chosen = json.loads(done.stdout)
    assert chosen["engine"].startswith(expected)
    assert "--format=docker" in chosen["podman"]  # podman keeps the HEALTHCHECK
    assert "--format=docker" not in chosen["kept"]  # unless the user chose a format


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
    # No --format flag, as a user following the README runs it: the build must keep the
    # HEALTHCHECK by itself (podman's default OCI format drops it).
    flags = f"--tag={tag} --engine-flag=--isolation=chroot"
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

    # `127.0.0.1::8000`: podman picks the host port itself, so no other process can take it
    # between a choice and its use; `podman port` says which it picked.
    container = subprocess.run(
        [*PODMAN_RUN, "run", "-d", "--init", "-p", "127.0.0.1::8000", tag],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    try:
        published = subprocess.run([*PODMAN_RUN, "port", container, "8000"], check=True,
                                   capture_output=True, text=True).stdout  # fmt: skip
        url = f"http://{published.split()[0]}"
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
        # A hard rule of schema.yaml (tenure_months: min 0) is a 422 naming the field; an
        # unseen category is only counted (`observed:`), so it is no test of the 422.
        status, answer = _call(f"{url}/predict", {**record, "tenure_months": -5})
        assert status == 422 and answer["detail"][0]["loc"] == ["body", "tenure_months"]
        health = subprocess.run([*PODMAN_RUN, "healthcheck", "run", container],
                                capture_output=True, text=True)  # fmt: skip
        assert health.returncode == 0, health.stdout + health.stderr
        # The image carries the SBOM of its own environment, next to the model.
        sbom = subprocess.run([*PODMAN_RUN, "exec", container, "cat", "/app/model/sbom.cdx.json"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert json.loads(sbom)["bomFormat"] == "CycloneDX"
    finally:
        subprocess.run([*PODMAN_RUN, "rm", "--force", "--time", "5", container],
                       capture_output=True)  # fmt: skip


_ONE_RECORD = (
    "import json; from churn_model.serving.load_test import sample_records; "
    "print(json.dumps(sample_records(1)[0]))"
)


def locked(lock_text):
    """(name, version) of every requirement of a pip lock file."""
    return set(re.findall(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", lock_text, flags=re.M))


@pytest.mark.slow
def test_every_image_build_writes_a_valid_sbom_of_the_image_environment(trained_project, tmp_path):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    project = tmp_path / trained_project.name
    shutil.copytree(trained_project, project, ignore=shutil.ignore_patterns("build", "logs"))
    run_in(project, "python", "-m", "churn_model", "build-image", "--no-build")
    report = json.loads((project / "reports/image.json").read_text())
    sbom_path = project / report["sbom"]
    assert sbom_path == project / "build/model/sbom.cdx.json"  # copied into the image
    text = sbom_path.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    sbom = json.loads(text)
    assert sbom["metadata"]["component"]["name"] == "churn-model"
    components = {(c["name"], c["version"]) for c in sbom["components"]}
    serving = locked((project / "requirements-serve.lock").read_text())
    assert components == serving and ("scikit-learn", serving_version(serving)) in components
    assert all(c["purl"].startswith("pkg:pypi/") for c in sbom["components"])


def serving_version(serving):
    return next(version for name, version in serving if name == "scikit-learn")


def test_locks_pin_every_requirement_with_a_hash():
    for name in ("requirements.lock", "requirements-serve.lock"):
        text = (ROOT / "{{cookiecutter.project}}" / name).read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("\n", 2)[2])
        assert len(blocks) > 10
        unhashed = [block.split()[0] for block in blocks if "--hash=sha256:" not in block]
        assert not unhashed, f"{name}: no hash for {unhashed}"
    dockerfile = (ROOT / "{{cookiecutter.project}}/Dockerfile").read_text()
    assert "--require-hashes --no-deps \\\n       -r /tmp/requirements-serve.lock" in dockerfile


@pytest.mark.network  # downloads uv's wheel from PyPI, as `make setup` does
def test_setup_installs_the_locked_uv_only_with_its_hashes(tmp_path):
    """`make setup`'s first install: uv, extracted from the lock with its hashes; a wrong
    hash stops it (pip's hash-checking mode)."""
    project = bake(tmp_path / "bake")
    makefile = (project / "Makefile").read_text()
    awk = re.search(r"awk '([^']+)'", makefile).group(1)
    pinned = subprocess.run(["awk", awk, "requirements.lock"], cwd=project, capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert re.match(r"uv==[\d.]+ \\\n", pinned) and pinned.count("--hash=sha256:") >= 5
    assert "--require-hashes --no-deps" in makefile and "sync --quiet --require-hashes" in makefile

    def download(requirement):
        path = tmp_path / "uv.txt"
        path.write_text(requirement)
        return subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                               "--require-hashes", "--only-binary=:all:", "-d",
                               str(tmp_path / "dl"), "-r", str(path)],
                              capture_output=True, text=True, timeout=600)  # fmt: skip

    assert download(pinned).returncode == 0
    flip = {"0": "1"}  # every hash's first digit changed: no file matches any more
    tampered = re.sub(r"sha256:([0-9a-f])", lambda m: "sha256:" + flip.get(m[1], "0"), pinned)
    refused = download(tampered)
    assert refused.returncode != 0 and "DO NOT MATCH THE HASHES" in refused.stderr
