"""The one entry point: `{{ cookiecutter.project }} VERB` or `python -m {{ cookiecutter.package }} VERB`.

Each verb lives in a module of its name in a stage folder (data, training, serving, deploy,
monitoring), with `add_arguments(parser)` and `run(args)`; only the chosen module is imported,
so a quick verb does not pay for MLflow's import time.
"""

import argparse
import importlib
import sys

from .config import CliError

PROG = {{ cookiecutter.project | tojson }}

# verb -> (module, one-line help)
VERBS = {
    "validate-data": (
        "data.validate_data",
        "check the data set against the contract in schema.yaml",
    ),
    "infer-schema": (
        "data.infer_schema",
        "write schema.yaml and the params.yaml columns from your CSV",
    ),
    "train": ("training.train", "fit the pipeline on the training split and log it to MLflow"),
    "evaluate": ("training.evaluate", "test metrics, fairness by group and every model gate"),
    "card": ("training.model_card", "the model card: plots, importance, groups (reports/card/)"),
    "register": ("training.register", "register the evaluated model with its lineage tags"),
    "compare": (
        "training.compare",
        "the new model against the production one on the same test rows (exit 5 if worse)",
    ),
    "serve": ("serving.serve", "serve the model over HTTP (FastAPI), following its registry alias"),
    "load-test": (
        "serving.load_test",
        "Locust against a started server; fails over the p95 latency gate",
    ),
    "build-image": (
        "serving.build_image",
        "bake the registered model into the serving image and build it",
    ),
    "pull-data": (
        "data.pull_data",
        "dvc pull the tracked data{{ ' (regenerates the example data offline)' if cookiecutter.dataset == 'example' }}",
    ),
    "metrics-diff": (
        "training.metrics_diff",
        "metrics and params of this branch against a base branch",
    ),
    "model-tests": (
        "training.model_tests",
        "run tests/model with a JUnit report and the gate table",
    ),
    "deploy": ("deploy.deploy", "make an environment match deploy/ENV.yaml; smoke test; roll back"),
    "promote": ("deploy.promote", "pin another environment's version in deploy/ENV.yaml (PR body)"),
    "drift": (
        "monitoring.drift",
        "Evidently drift report of current data against the reference (exit 3)",
    ),
    "add-outcomes": (
        "monitoring.add_outcomes",
        "check a file of delayed outcomes and add it to the outcome store",
    ),
    "monitor": (
        "monitoring.monitor",
        "live performance: logged predictions joined to their outcomes (exit 4 on decay)",
    ),
    "shadow-report": (
        "monitoring.shadow_report",
        "the served version against its shadow on the same live requests",
    ),
    "retrain": (
        "monitoring.retrain",
        "on drift: branch with the new data appended, dvc repro, PR body",
    ),
    "notify": (
        "monitoring.notify",
        "send a notification to the NOTIFY_URLS destinations (nothing when unset)",
    ),
{%- if cookiecutter.deploy_target == "kubernetes" %}
    "alert-rules": (
        "monitoring.alert_rules",
        "write the kubernetes PrometheusRule from monitoring/prometheus/rules.yml",
    ),
{%- endif %}
}


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    return parser, {
        verb: verbs.add_parser(verb, help=text, description=text)
        for verb, (_, text) in VERBS.items()
    }


def main(argv=None):
    command = argv is None  # this process runs one command (not main(argv) from Python)
    argv = sys.argv[1:] if argv is None else list(argv)
    verb = next((word for word in argv if not word.startswith("-")), None)
    if verb == "drift" and command and "-h" not in argv and "--help" not in argv:
        from .monitoring import drift_report

        drift_report.start_early()  # Evidently's import (seconds) overlaps all that follows
        try:
            return _run(argv, verb)
        finally:
            drift_report.stop_early()  # when the verb did not use it
    return _run(argv, verb)


def _run(argv, verb):
    parser, subparsers = build_parser()
    module = None
    if verb in VERBS:
        module = importlib.import_module(f".{VERBS[verb][0]}", __package__)
        module.add_arguments(subparsers[verb])
    args = parser.parse_args(argv)
    try:
        code = module.run(args)  # a verb may return its own exit code (drift: 3 on drift)
    except CliError as error:
        print(f"{PROG} {args.verb}: {error}", file=sys.stderr)
        return 1
    return code or 0
