"""The PrometheusRule of the kubernetes target says what monitoring/prometheus/rules.yml says."""

from pathlib import Path

import yaml

from {{ cookiecutter.package }}.monitoring.alert_rules import MANIFEST, NAME, RULES_FILE, manifest

ROOT = Path(__file__).resolve().parents[2]


def test_the_prometheus_rule_is_written_from_rules_yml():
    written = (ROOT / MANIFEST).read_text()
    assert written == manifest(NAME, (ROOT / RULES_FILE).read_text()), (
        f"{MANIFEST} is older than {RULES_FILE}: run `make alert-rules` and commit it."
    )
    document = yaml.safe_load(written)
    rules = yaml.safe_load((ROOT / RULES_FILE).read_text())
    assert document["kind"] == "PrometheusRule"
    assert document["spec"]["groups"] == rules["groups"]
