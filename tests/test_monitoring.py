"""The generated monitoring files: alert rules that pass their promtool unit tests, the
kubernetes PrometheusRule written from them, and the Grafana dashboard built in code."""

import importlib.util
import subprocess

import pytest
import yaml

from tests.conftest import ROOT, bake


@pytest.fixture(scope="module")
def kubernetes_bake(tmp_path_factory):
    return bake(tmp_path_factory.mktemp("k8s"), deploy_target="kubernetes")


def test_the_alert_rules_pass_their_promtool_tests(kubernetes_bake):
    rules = kubernetes_bake / "monitoring/prometheus"
    for command in (["check", "rules", "rules.yml"], ["test", "rules", "rules.test.yml"]):
        done = subprocess.run(["promtool", *command], cwd=rules, capture_output=True, text=True)
        assert done.returncode == 0, f"promtool {' '.join(command)}:\n{done.stdout}{done.stderr}"
    checked = yaml.safe_load((rules / "rules.test.yml").read_text())
    tested = {case["alertname"] for test in checked["tests"] for case in test["alert_rule_test"]}
    alerts = {rule["alert"] for group in yaml.safe_load((rules / "rules.yml").read_text())["groups"]
              for rule in group["rules"] if "alert" in rule}  # fmt: skip
    assert alerts == tested, f"alerts with no promtool test: {sorted(alerts - tested)}"


def test_the_prometheus_rule_carries_the_same_rules(kubernetes_bake):
    rules = yaml.safe_load((kubernetes_bake / "monitoring/prometheus/rules.yml").read_text())
    manifest = kubernetes_bake / "deploy/k8s/monitoring/prometheus-rule.yaml"
    document = yaml.safe_load(manifest.read_text())
    assert (document["apiVersion"], document["kind"]) == ("monitoring.coreos.com/v1",
                                                          "PrometheusRule")  # fmt: skip
    assert document["spec"]["groups"] == rules["groups"]
    assert not list(kubernetes_bake.rglob("__pycache__")), "the bake's hook left bytecode"


def test_the_committed_dashboard_is_what_the_builder_writes(kubernetes_bake):
    spec = importlib.util.spec_from_file_location("dashboard", ROOT / "tools/dashboard.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    committed = builder.OUT.read_text()
    assert committed == builder.render(), "run `make dashboard` and commit the JSON"
    baked = (kubernetes_bake / "monitoring/grafana/dashboard.json").read_text()
    assert baked == committed  # copied unrendered: Grafana's {{label}} legends survive
    assert "{{prediction}}" in baked
