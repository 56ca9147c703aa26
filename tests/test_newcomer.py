"""What a newcomer trips over first, each fixed and held here (issue 19, item 21)."""

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest
import yaml

from tests.conftest import ROOT, bake, make, project_env, run_in
from tests.support.mlflow_server import free_port


def description_columns(help_text):
    """The column where each target's description starts in `make help`."""
    found = {}
    for line in help_text.splitlines():
        match = re.match(r"^  ([a-z-]+) +\S", line)
        assert match, f"not a help line: {line!r}"
        found[match[1]] = match.end() - 1
    return found


def test_make_help_columns_align(tmp_path):
    project = bake(tmp_path)
    for folder in (ROOT, project):
        done = subprocess.run(["make", "--no-print-directory", "help"], cwd=folder,
                              capture_output=True, text=True, check=True)  # fmt: skip
        columns = description_columns(done.stdout)
        assert len(columns) > 5 and len(set(columns.values())) == 1, (folder, columns)


def test_next_steps_cd_to_where_the_project_was_written(tmp_path, monkeypatch, capfd):
    shell = tmp_path / "shell"
    shell.mkdir()
    monkeypatch.setenv("PWD", str(shell))  # the folder cookiecutter was started in
    below = bake(shell / "projects")
    assert "\n  cd projects/churn-model\n" in capfd.readouterr().out
    elsewhere = bake(tmp_path / "elsewhere")
    assert f"\n  cd {elsewhere}\n" in capfd.readouterr().out
    assert below.parent == shell / "projects"


def first_commands(readme, heading):
    """The commands of the first code block under a README heading."""
    section = readme.split(f"\n## {heading}\n", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_deploys_by_promoting_first(tmp_path):
    readme = (bake(tmp_path) / "README.md").read_text()
    commands = first_commands(readme, "Deploying")
    assert commands[:2] == ["make promote FROM=candidate TO=staging", "make deploy ENV=staging"]


@pytest.mark.slow
def test_deploy_of_a_fresh_project_names_the_command_that_pins(trained_project, tmp_path):
    project = shutil.copytree(trained_project, tmp_path / "copy", symlinks=True)
    failed = make(project, "deploy", "ENV=staging", check=False)
    assert failed.returncode != 0
    reason = next(line for line in failed.stderr.splitlines() if line.startswith("churn-model"))
    assert "by hand" not in reason
    command = re.search(r"`(make promote[^`]*)`", reason)[1]
    assert command == "make promote FROM=candidate TO=staging"
    make(project, *command.split()[1:])
    pinned = yaml.safe_load((project / "deploy/staging.yaml").read_text())["model"]["version"]
    assert pinned == 1
    production = make(project, "deploy", "ENV=production", check=False)
    assert "`make promote` pins the version staging runs" in production.stderr


# The record the server validates, from the project's own request model.
RECORD_SCHEMA = """
import json
from churn_model.config import columns, load_params, load_schema
from churn_model.serving.request_models import RequestSchema
params = load_params()
record = RequestSchema(load_schema(), columns(params), 10).openapi_schemas()["Record"]
print(json.dumps({"fields": sorted(record["properties"]), "required": record["required"]}))
"""


def backticked(text):
    return set(re.findall(r"`([^`]+)`", text))


def test_readme_lists_the_fields_predict_accepts(tmp_path):
    project = bake(tmp_path, sensitive_features="gender")
    record = json.loads(run_in(project, "python", "-c", RECORD_SCHEMA).stdout)
    readme = (project / "README.md").read_text().replace("\n", " ")
    listed = re.search(r"Here a record requires (.*?); may hold (.*?); and must not hold (.*?)\.",
                       readme)  # fmt: skip
    required, optional, refused = (backticked(group) for group in listed.groups())
    assert required == set(record["required"])
    assert required | optional == set(record["fields"])
    assert "customer_id" in optional  # the id: a row of the data minus the target is valid
    assert refused == {"churned"} and not refused & set(record["fields"])


def wait_ready(port, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"no /ready 200 on port {port} within {seconds} s")


@pytest.mark.slow
def test_serve_says_where_only_once_listening_and_logs_a_load_at_info(trained_project):
    port = free_port()
    command = ["python", "-m", "churn_model", "serve", "--port", str(port)]
    server = subprocess.Popen(
        command, cwd=trained_project, env=project_env(trained_project),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for line in server.stdout:
            if line.startswith("Serving "):
                break
        else:
            raise AssertionError("the server exited before saying where it serves")
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # listening already
        wait_ready(port)
        second = run_in(trained_project, *command, check=False, timeout=120)
        assert second.returncode == 1 and "Serving" not in second.stdout
        assert f"Cannot listen on 127.0.0.1:{port}" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        server.terminate()
        _, log = server.communicate(timeout=60)
    assert re.search(r" INFO serving churn-model version 1 from ", log), log
    assert "WARNING" not in log, log


@pytest.mark.slow
@pytest.mark.network  # the demo's venv installs the lock from the package index
def test_make_demo_registers_from_a_commit(tmp_path):
    """The root `make demo` as a newcomer runs it (its own venv from the lock, with uv), with
    the project written to a temporary folder; the shared test venv stands in for `make venv`."""
    demo = tmp_path / "build/churn-model"
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    done = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "demo", f"DEMO_DIR={demo}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    assert done.returncode == 0, f"make demo failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    help_text = run_in(demo, str(demo / ".venv/bin/churn-model"), "--help").stdout
    assert "validate-data" in help_text and "register" in help_text  # the venv from the lock
    head = run_in(demo, "git", "rev-parse", "HEAD").stdout.strip()
    assert "Registered churn-model version 1" in done.stdout
    lineage = json.loads((demo / "reports/register.json").read_text())["tags"]
    assert lineage["git_commit"] == head
