"""`alert-rules`: write the kubernetes target's PrometheusRule (the Prometheus Operator's form)
from monitoring/prometheus/rules.yml, the one home of the alert rules. Commit the result; the
unit tests check it is up to date. Imports only PyYAML: the bake runs it too.
"""

from pathlib import Path

import yaml

NAME = {{ cookiecutter.project | tojson }}  # of the Service, which names the scrape job
RULES_FILE = Path("monitoring/prometheus/rules.yml")
MANIFEST = Path("deploy/k8s/monitoring/prometheus-rule.yaml")
HEADER = (
    "# Written by `make alert-rules` from monitoring/prometheus/rules.yml: edit that file, then\n"
    "# run it. For a cluster with the Prometheus Operator: kubectl apply -n NAMESPACE -f THIS.\n"
    "# Your Prometheus's ruleSelector may ask for a label (for example release: ...): add it.\n"
)


def manifest(name, rules_text):
    """The PrometheusRule document (text) of these rules."""
    document = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
        "spec": {"groups": yaml.safe_load(rules_text)["groups"]},
    }
    return HEADER + yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, width=100)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line PromQL as `|` blocks, as in rules.yml."""


def _text(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _text)


def write(name, root=Path(".")):
    """Write the manifest under root; returns its path."""
    path = root / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifest(name, (root / RULES_FILE).read_text()))
    return path


def alert_rules(args):
    del args
    print(f"Wrote {write(NAME)}.")


def add_arguments(parser):
    del parser


run = alert_rules
