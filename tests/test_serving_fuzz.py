"""schemathesis against the generated server's own OpenAPI document: over 1,000 generated
cases on each scoring endpoint (valid and invalid bodies, coverage then fuzzing phases), every
check schemathesis has. Prints the figures; fails on any failure."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, VENV, project_env, wait_until_ready
from tests.support.mlflow_server import free_port

pytestmark = pytest.mark.slow

CASES_PER_ENDPOINT = 1000
HOOKS = ROOT / "tests/support/schemathesis_hooks.py"


@pytest.fixture
def served(trained_project):
    """http://127.0.0.1:PORT of `serve --model-path models/model.joblib` in the trained bake."""
    port = free_port()
    command = [sys.executable, "-m", "churn_model", "serve", "--port", str(port),
               "--model-path", "models/model.joblib"]  # fmt: skip
    server = subprocess.Popen(command, cwd=trained_project, env=project_env(trained_project),
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(server, url)
    yield url
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_schemathesis_finds_no_failure(served, path, tmp_path):
    report = tmp_path / "schemathesis.json"
    command = [
        str(VENV / "bin" / "schemathesis"), "run", f"{served}/openapi.json",
        "--include-path", path, "--max-examples", str(CASES_PER_ENDPOINT), "--checks", "all",
        "--seed", "1", "--no-color", "--generation-database", "none",
        "--header", "X-Synthetic-Traffic: 1",  # keeps the bake's prediction log clean
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    hooks = {"SCHEMATHESIS_HOOKS": str(HOOKS)}  # forgives only a batch's repeated ids
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=tmp_path,
                          env={**os.environ, **hooks})  # fmt: skip
    result = json.loads(report.read_text())
    cases = result["test_cases"]
    print(f"schemathesis {path}: {cases['generated']} cases, {cases['with_failures']} with "
          f"failures ({cases['unique_failures']} unique), {cases['errored']} errored, "
          f"{result.get('filtered', 0)} repeated-id refusals forgiven")  # fmt: skip
    assert cases["generated"] >= CASES_PER_ENDPOINT, done.stdout[-3000:]
    assert (cases["with_failures"], cases["errored"]) == (0, 0), done.stdout[-6000:]
    assert done.returncode == 0, done.stdout[-6000:]
