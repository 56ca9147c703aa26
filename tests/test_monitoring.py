"""The generated monitoring files: alert rules that pass their promtool unit tests, the
kubernetes PrometheusRule written from them, the Grafana dashboard built in code, and the
`notify` verb delivering to a webhook on this machine."""

import importlib.util
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT, bake, project_env
from tests.support.webhook import Webhook


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


def test_the_service_monitor_scrapes_the_job_the_rules_watch(kubernetes_bake):
    """The Operator names the job after the Service it scrapes through; the rules select
    job="<project>", so the ServiceMonitor must pick that Service and a port it has."""
    k8s = kubernetes_bake / "deploy/k8s"
    monitor = yaml.safe_load((k8s / "monitoring/service-monitor.yaml").read_text())
    service = yaml.safe_load((k8s / "base/service.yaml").read_text())
    assert (monitor["apiVersion"], monitor["kind"]) == ("monitoring.coreos.com/v1",
                                                        "ServiceMonitor")  # fmt: skip
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {
        p["name"] for p in service["spec"]["ports"]}  # fmt: skip
    rules = (kubernetes_bake / "monitoring/prometheus/rules.yml").read_text()
    assert f'job="{service["metadata"]["name"]}"' in rules


def test_the_committed_dashboard_is_what_the_builder_writes(kubernetes_bake):
    spec = importlib.util.spec_from_file_location("dashboard", ROOT / "tools/dashboard.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    committed = builder.OUT.read_text()
    assert committed == builder.render(), "run `make dashboard` and commit the JSON"
    baked = (kubernetes_bake / "monitoring/grafana/dashboard.json").read_text()
    assert baked == committed  # copied unrendered: Grafana's {{label}} legends survive
    assert "{{prediction}}" in baked


@pytest.fixture
def webhook():
    with Webhook() as hook:
        yield hook


def notify(project, urls, *arguments):
    env = project_env(project)
    env.pop("NOTIFY_URLS", None)
    if urls is not None:
        env["NOTIFY_URLS"] = urls
    command = [sys.executable, "-m", "churn_model", "notify", *arguments]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)


def test_notify_tells_the_webhook_what_happened_to_which_version(kubernetes_bake, webhook):
    pr = "https://github.example/org/churn-model/pull/12"
    done = notify(kubernetes_bake, webhook.apprise_url, "--event", "promotion", "--version", "4",
                  "--link", pr)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    [message] = webhook.bodies()
    assert message["title"] == "churn-model: Promotion PR opened: version 4 to production"
    assert "Version: 4" in message["message"] and pr in message["message"]


def test_notify_without_urls_sends_nothing_and_succeeds(kubernetes_bake, webhook):
    for urls in (None, " "):
        done = notify(kubernetes_bake, urls, "--event", "drift", "--version", "4")
        assert done.returncode == 0, done.stderr
        assert "NOTIFY_URLS is not set: no notification sent" in done.stdout
    assert webhook.bodies() == []


def test_a_malformed_notification_url_is_one_clear_sentence(kubernetes_bake, webhook):
    done = notify(kubernetes_bake, f"{webhook.apprise_url} hooks.example.com/x", "--event", "drift",
                  "--version", "4")  # fmt: skip
    assert done.returncode == 1
    assert "Entry 2 of NOTIFY_URLS (starting 'hooks.exampl') is not a notification URL" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    assert webhook.bodies() == []  # nothing goes out while the list is wrong
