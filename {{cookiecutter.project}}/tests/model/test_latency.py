"""The latency gate: a short `load-test` run (Locust against a started server) must pass.

It serves models/model.joblib (the model the other model tests check) to 5 users for a few
seconds; `make load-test` runs the same gate with the `load_test:` settings, against the
registry alias.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from {{ cookiecutter.package }}.config import MODEL_FILE

pytestmark = pytest.mark.model


def _log_sizes():
    return {path: path.stat().st_size for path in Path("logs").glob("predictions*")}


def test_server_meets_the_latency_gate(model, params):
    del model  # only to fail early, with the fixture's reason, when there is no trained model
    logs_before = _log_sizes()
    command = [sys.executable, "-m", "{{ cookiecutter.package }}", "load-test",
               "--model-path", str(MODEL_FILE), "--seconds", "6", "--users", "5"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    report = json.loads(Path("reports/load.json").read_text())
    assert report["passed"] and report["failures"] == 0
    assert report["requests"] > 100  # it really sent load
    assert report["p95_ms"] <= params["gates"]["max_p95_ms"]
    assert set(report["by_endpoint"]) == {"/predict", "/predict/batch"}
    grown = {path for path, size in _log_sizes().items() if size != logs_before.get(path, 0)}
    assert not grown, f"the load test's synthetic traffic reached prediction logs: {grown}"
