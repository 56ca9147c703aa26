"""Alerts for real: the trained project's server, scraped by a real Prometheus that evaluates
the generated rules (monitoring/prometheus/rules.yml), whose alerts a real Alertmanager posts
to a webhook receiver in this test. Two bad states, each pushed through the server's real
metrics: a burst of requests that break the contract (422), then traffic the model answers
with one class only. The time from each bad state to its alert at the webhook is printed.

The rules run as shipped except their `for:` holds, set to 0s (they are 2 to 15 minutes):
the expressions, windows and thresholds are the ones a project deploys.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time

import httpx
import pandas as pd
import pytest
import yaml

from tests.conftest import project_env
from tests.support.mlflow_server import free_port
from tests.support.webhook import Webhook

pytestmark = pytest.mark.slow
SYNTHETIC = {"X-Synthetic-Traffic": "1"}  # answered and counted, kept out of the logs


def first_alert(webhook, name, since, timeout=90.0):
    """(seconds after `since`, alert) of the first firing `name` the webhook got after since."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with webhook.lock:
            for arrived, body in webhook.received:
                for alert in body["alerts"] if arrived >= since else []:
                    if alert["labels"]["alertname"] == name and alert["status"] == "firing":
                        return arrived - since, alert
        time.sleep(0.1)
    seen = sorted({a["labels"]["alertname"] for body in webhook.bodies() for a in body["alerts"]})
    raise AssertionError(f"no {name} alert reached the webhook in {timeout:.0f}s; got {seen}")


@contextlib.contextmanager
def started(command, cwd, env=None, ready_url=None, timeout=90.0):
    """Run a process until the block ends; wait until ready_url answers 200."""
    log = cwd / f"{command[0].rsplit('/', 1)[-1]}.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while ready_url:
            assert process.poll() is None, f"{command[0]} exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, (
                f"{command[0]} not ready:\n{log.read_text()[-3000:]}"
            )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rules_without_holds(project, into):
    rules = yaml.safe_load((project / "monitoring/prometheus/rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "0s"
    path = into / "rules.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


def prometheus_config(project, into, server_port, alertmanager_port):
    """The project's prometheus.yml, pointed at these ports, scraping and evaluating each second."""
    config = yaml.safe_load((project / "monitoring/prometheus/prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(rules_without_holds(project, into))]
    [job] = config["scrape_configs"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{server_port}"]}]
    config["alerting"]["alertmanagers"] = [
        {"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}
    ]
    path = into / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def alertmanager_config(project, into, webhook):
    """The project's alertmanager.yml, posting to this test's webhook, with no waiting."""
    config = yaml.safe_load((project / "monitoring/prometheus/alertmanager.yml").read_text())
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    config["receivers"][0]["webhook_configs"] = [{"url": webhook.url}]
    path = into / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def watched(trained_project, tmp_path_factory):
    """The served model (alias candidate) with its pipeline file as a shadow, Prometheus and
    Alertmanager, all running."""
    work = tmp_path_factory.mktemp("alerts")
    ports = {name: free_port() for name in ("server", "prometheus", "alertmanager")}
    server = [sys.executable, "-m", "churn_model", "serve", "--port", str(ports["server"]),
              "--shadow-model-path", "models/model.joblib"]  # fmt: skip
    base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    with contextlib.ExitStack() as stack:
        webhook = stack.enter_context(Webhook())
        stack.enter_context(started(server, trained_project, project_env(trained_project),
                                    f"{base['server']}/ready"))  # fmt: skip
        routes = alertmanager_config(trained_project, work, webhook)
        stack.enter_context(started(
            ["prometheus-alertmanager", f"--config.file={routes}",
             f"--storage.path={work / 'alertmanager'}",
             f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
             "--cluster.listen-address="],
            work, ready_url=f"{base['alertmanager']}/-/ready"))  # fmt: skip
        config = prometheus_config(trained_project, work, ports["server"], ports["alertmanager"])
        stack.enter_context(started(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={work / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{ports['prometheus']}"],
            work, ready_url=f"{base['prometheus']}/-/ready"))  # fmt: skip
        yield base, webhook


def wait_for_scrape(prometheus, query, timeout=30.0):
    """Until Prometheus holds a sample of `query` (the server is being scraped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}).json()
        if answer["data"]["result"]:
            return answer["data"]["result"]
        time.sleep(0.5)
    raise AssertionError(f"Prometheus has no {query} after {timeout:.0f}s")


def test_bad_states_reach_the_webhook_as_their_alerts(watched, trained_project):
    base, webhook = watched
    data = pd.read_csv(trained_project / "data/raw/dataset.csv").drop(columns=["churned"])
    rows = json.loads(data.head(300).to_json(orient="records"))
    with httpx.Client(base_url=base["server"], headers=SYNTHETIC, timeout=30) as server:
        wait_for_scrape(base["prometheus"], 'model_baseline_prediction_share{prediction="yes"}')
        normal = server.post("/predict/batch", json={"records": rows}).json()["predictions"]
        assert 0 < normal.count("yes") < len(normal)  # a healthy mix first
        wait_for_scrape(base["prometheus"], 'increase(predictions_total{prediction="yes"}[1m]) > 0')

        # Bad state 1: a client sends records that break the contract.
        started_at = time.monotonic()
        for _ in range(40):
            assert (
                server.post("/predict", json={**rows[0], "tenure_months": "many"}).status_code
                == 422
            )
        took, alert = first_alert(webhook, "RequestsRejected", started_at)
        assert alert["labels"] == {"alertname": "RequestsRejected", "job": "churn-model",
                                   "severity": "warning"}  # fmt: skip
        print(f"\nRequestsRejected: {took:.1f} s from the first of 40 bad requests to the webhook")

        # Bad state 2: every answer is one class. Long-standing customers on two-year
        # contracts who never call support: the real model says none of them churns.
        loyal = [{**row, "customer_id": f"loyal-{i}", "tenure_months": 72,
                  "contract": "two-year", "support_calls": 0}
                 for i, row in enumerate(rows * 4)]  # fmt: skip
        started_at = time.monotonic()
        answered = server.post("/predict/batch", json={"records": loyal})
        assert answered.status_code == 200, answered.text
        answers = answered.json()["predictions"]
        assert set(answers) == {"no"}, "the forcing rows did not force one class"
        took, alert = first_alert(webhook, "PredictionShareMoved", started_at)
        labels = alert["labels"]
        assert (labels["prediction"], labels["model_version"], labels["job"]) == (
            "yes",
            "1",
            "churn-model",
        )
        assert "from its training baseline (version 1)" in alert["annotations"]["summary"]
        print(
            f"PredictionShareMoved: {took:.1f} s from {len(loyal)} one-class answers to the "
            f"webhook ({alert['annotations']['summary']})"
        )


def test_every_dashboard_query_runs_on_the_real_prometheus(watched, trained_project):
    """The Grafana dashboard's queries (its variables filled in) parse and find series."""
    base, _ = watched
    board = json.loads((trained_project / "monitoring/grafana/dashboard.json").read_text())
    queries = [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]
    assert queries
    empty = []
    for query in queries:
        filled = query.replace("$job", "churn-model").replace("$__rate_interval", "1m")
        answer = httpx.get(f"{base['prometheus']}/api/v1/query", params={"query": filled}).json()
        assert answer["status"] == "success", (query, answer)
        if not answer["data"]["result"]:
            empty.append(query)
    # No 5xx and no unexpected value was served here (no such series yet); all else has data.
    assert all("5.." in query or "unexpected_values" in query for query in empty), empty
