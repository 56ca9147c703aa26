"""The deploy files: valid, naming this project's model, and smoke cases the server accepts."""

import difflib
import json
import shutil
import socket

import pytest

from {{ cookiecutter.package }}.config import CliError
from {{ cookiecutter.package }}.deploy.desired_state import (
    DEPLOY_DIR,
    ENVIRONMENTS,
    load_deploy,
    load_smoke_cases,
    pin,
    pinned_version,
)
from {{ cookiecutter.package }}.deploy.smoke import percentile, smoke_test
from {{ cookiecutter.package }}.serving.request_models import RequestSchema


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deploy_file_is_valid_and_names_this_model(env, params):
    settings = load_deploy(env)
    assert settings["model"]["name"] == params["registry"]["model_name"]
    assert settings["smoke"]["requests"] > 0 and settings["smoke"]["max_p95_ms"] > 0


def test_the_smoke_test_waits_as_long_as_params_yaml_says():
    """A server that never answers fails the ready check after `timeouts.deployed_ready`,
    and the check names that setting."""
    with socket.socket() as closed:  # bound, never listening: every connection is refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        timeouts = {"deployed_ready": 0.3, "smoke_request": 1}
        result = smoke_test(url, "1", [], {"requests": 1, "max_p95_ms": 100}, timeouts)
    (ready,) = result["checks"]
    assert not result["passed"] and ready["name"] == "ready"
    assert "waited 0.3 s: params.yaml `timeouts.deployed_ready`" in ready["detail"]


def test_smoke_cases_are_requests_the_server_accepts(contract, spec, params):
    schema = RequestSchema(contract, spec, params["serve"]["max_batch_records"])
    allowed = {str(value) for value in contract["columns"][spec.target].get("allowed", [])}
    for case in load_smoke_cases():
        schema.record(json.dumps(case["record"]).encode())  # a bad field raises, naming it
        assert not allowed or str(case["expect"]) in allowed, case


def test_pin_changes_the_pinned_lines_and_nothing_else(tmp_path, monkeypatch):
    shutil.copytree(DEPLOY_DIR, tmp_path / DEPLOY_DIR)
    monkeypatch.chdir(tmp_path)
    before = (DEPLOY_DIR / "production.yaml").read_text().splitlines()
    pin("production", 7, "sha256:" + "0" * 64)
    after = (DEPLOY_DIR / "production.yaml").read_text().splitlines()
    changed = [line for line in difflib.ndiff(before, after) if line[:1] in "+-"]
    assert len(changed) == 4, changed  # two lines out, two in, comments kept
    assert pinned_version(load_deploy("production")) == "7"
    assert load_deploy("production")["image"]["digest"] == "sha256:" + "0" * 64


def test_pin_refuses_a_file_without_the_line(tmp_path, monkeypatch):
    (tmp_path / DEPLOY_DIR).mkdir()
    (tmp_path / DEPLOY_DIR / "staging.yaml").write_text("environment: staging\nmodel: {}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CliError, match="no `version:` line under `model:`"):
        pin("staging", 3)


def test_p95_is_the_nearest_rank():
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([5.0], 95) == 5.0
    assert percentile([1, 2, 3, 100], 95) == 100


def test_the_deploy_files_shadow_alias_reaches_the_server(monkeypatch):
    """deploy/<env>.yaml shadow.alias: the local target's server gets --shadow-alias, a
    kubernetes pod SHADOW_ALIAS (beside MODEL_VERSION); with none, neither."""
    from {{ cookiecutter.package }}.deploy.kubernetes_target import set_image
    from {{ cookiecutter.package }}.deploy.local_target import LocalTarget

    settings = {**load_deploy("production"), "server": {"url": "http://127.0.0.1:8002"}}
    assert "--shadow-alias" not in LocalTarget("production", settings).command()
    shadowed = {**settings, "shadow": {"alias": "staging"}}
    assert LocalTarget("production", shadowed).command()[-2:] == ["--shadow-alias", "staging"]
    pod = {"spec": {"template": {"spec": {"containers": [{"name": "server", "env": []}]}}}}
    set_image(pod, "image@sha256:1", "7", "staging")
    set_image(pod, "image@sha256:2", "8", "staging")  # a redeploy replaces, never appends
    (container,) = pod["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [{"name": "MODEL_VERSION", "value": "8"},
                                {"name": "SHADOW_ALIAS", "value": "staging"}]  # fmt: skip


def test_the_promotion_body_carries_the_shadow_report_of_the_version_promoted(
    tmp_path, monkeypatch
):
    from {{ cookiecutter.package }}.deploy.promote import shadow_section

    monkeypatch.chdir(tmp_path)
    assert shadow_section("production", "3") == []  # no report: nothing to add
    (tmp_path / "reports").mkdir()
    report = {"versions": {"served": {"2": 900}, "shadow": {"3": 900}}}
    (tmp_path / "reports/shadow-production.json").write_text(json.dumps(report))
    (tmp_path / "reports/shadow-production.md").write_text("## Shadow: version 3 beside 2\n")
    assert shadow_section("production", "3") == ["## Shadow: version 3 beside 2"]
    assert shadow_section("production", "4") == []  # another version's shadow: not this PR's
