"""Every combination of the choices in cookiecutter.json bakes the exact files, fully rendered."""

import ast
import hashlib
import itertools
import json
import subprocess
import tomllib

import pytest
import yaml

from tests.conftest import ROOT

CHOICES = {
    name: values
    for name, values in json.loads((ROOT / "cookiecutter.json").read_text()).items()
    if isinstance(values, list) and not name.startswith("_")
}


def pairs_of(answers: dict) -> set:
    items = sorted(answers.items())
    return {(a, b) for i, a in enumerate(items) for b in items[i + 1 :]}


def pairwise(choices: dict) -> list[dict]:
    """Bakes in which every value of every choice meets every value of every other choice.

    The full product grows with each new prompt (1,152 bakes, ~30 minutes); interactions
    between two choices are what a template's `{% if %}`s mostly hold, and every pair of them
    is baked. Greedy and deterministic: each bake is the one covering most pairs still unbaked.
    """
    everything = [dict(zip(choices, combo, strict=True))
                  for combo in itertools.product(*choices.values())]  # fmt: skip
    uncovered = set().union(*(pairs_of(answers) for answers in everything))
    matrix = []
    while uncovered:
        best = max(everything, key=lambda answers: len(pairs_of(answers) & uncovered))
        matrix.append(best)
        uncovered -= pairs_of(best)
    return matrix


MATRIX = pairwise(CHOICES)

# Files every bake has (package folder written as PKG).
COMMON = {
    ".cruft.json", ".github/workflows/template-sync.yml",
    ".github/workflows/ci.yml", ".github/dependabot.yml", ".github/zizmor.yml",
    ".dvc/.gitignore", ".dvc/config", ".dvcignore", ".gitignore", ".pre-commit-config.yaml",
    "Makefile", "README.md", "data/raw/.gitignore", "dvc.yaml", "params.yaml", "pyproject.toml",
    "requirements.lock",
    "src/PKG/__init__.py", "src/PKG/__main__.py", "src/PKG/cli.py", "src/PKG/config.py",
    "src/PKG/registry.py", "src/PKG/reports.py",
    "src/PKG/data/__init__.py", "src/PKG/data/contract.py", "src/PKG/data/infer_schema.py",
    "src/PKG/data/loading.py", "src/PKG/data/pull_data.py", "src/PKG/data/validate_data.py",
    "src/PKG/data/training_data.py", "src/PKG/training/compare.py",
    "src/PKG/training/__init__.py", "src/PKG/training/evaluate.py",
    "src/PKG/training/fairness.py", "src/PKG/training/gates.py",
    "src/PKG/training/metrics_diff.py", "src/PKG/training/model_tests.py",
    "src/PKG/training/register.py", "src/PKG/training/task.py", "src/PKG/training/train.py",
    "src/PKG/serving/__init__.py", "src/PKG/serving/batching.py",
    "src/PKG/serving/build_image.py", "src/PKG/serving/load_test.py", "src/PKG/serving/probe.py",
    "src/PKG/serving/metrics.py", "src/PKG/serving/model_source.py",
    "src/PKG/serving/prediction_log.py", "src/PKG/serving/request_models.py",
    "src/PKG/serving/request_body.py", "src/PKG/serving/collector.py",
    "src/PKG/serving/columnar.py", "src/PKG/serving/column_rules.py", "tests/api/test_columnar.py",
    "src/PKG/serving/scoring.py", "src/PKG/serving/serve.py", "src/PKG/serving/answers.py",
    "src/PKG/deploy/__init__.py", "src/PKG/deploy/deploy.py",
    "src/PKG/deploy/desired_state.py", "src/PKG/deploy/kubernetes_target.py",
    "src/PKG/deploy/local_target.py", "src/PKG/deploy/promote.py", "src/PKG/deploy/smoke.py",
    "src/PKG/monitoring/__init__.py", "src/PKG/monitoring/drift.py",
    "src/PKG/monitoring/drift_inputs.py", "src/PKG/monitoring/drift_stream.py",
    "src/PKG/monitoring/drift_report.py",
    "src/PKG/monitoring/retrain.py",
    "src/PKG/monitoring/thresholds.py", "src/PKG/monitoring/add_outcomes.py",
    "src/PKG/monitoring/monitor.py", "src/PKG/monitoring/monitor_plots.py",
    "src/PKG/monitoring/outcome_store.py", "tests/unit/test_outcomes.py",
    "src/PKG/serving/shadow.py", "src/PKG/monitoring/shadow_report.py", "tests/api/test_shadow.py",
    "Dockerfile", ".dockerignore", "requirements-serve.txt", "requirements-serve.lock",
    "tests/load/locustfile.py", "tests/model/test_latency.py", "tests/unit/test_load_test.py",
    "tests/api/conftest.py", "tests/api/test_alias_following.py", "tests/api/test_endpoints.py",
    "tests/api/test_predict.py", "tests/api/test_prediction_log.py", "tests/api/test_validation.py",
    "tests/api/test_prediction_ids.py",
    "tests/api/test_request_bodies.py", "tests/api/test_version_contracts.py",
    "tests/conftest.py", "tests/data/test_contract.py", "tests/model/test_gates.py",
    "tests/unit/test_cli.py", "tests/unit/test_schema.py", "tests/unit/test_train.py",
    "tests/unit/test_layout.py",
    "deploy/staging.yaml", "deploy/production.yaml", "deploy/smoke-cases.yaml",
    "tests/unit/test_deploy_files.py", ".github/workflows/cd.yml", ".github/workflows/promote.yml",
    ".github/workflows/drift.yml", "tests/unit/test_drift.py",
    "src/PKG/training/baseline.py", "tests/api/test_online_signals.py",
    "src/PKG/monitoring/notify.py", "tests/unit/test_notify.py",
    "monitoring/prometheus/rules.yml", "monitoring/prometheus/rules.test.yml",
    "monitoring/prometheus/prometheus.yml", "monitoring/prometheus/alertmanager.yml",
    "monitoring/grafana/dashboard.json",
    "src/PKG/training/model_card.py", "src/PKG/training/card_plots.py",
    "src/PKG/monitoring/importance.py", "tests/unit/test_model_card.py",
}  # fmt: skip
# Files that only some answers keep: option -> value -> files.
ONLY_WITH = {
    "dataset": {
        "example": {
            "data/raw/dataset.csv", "data/raw/dataset.csv.dvc", "schema.yaml",
            "src/PKG/data/example.py", "tests/unit/test_example_data.py",
        },
    },
    "deploy_target": {
        "kubernetes": {
            f"deploy/k8s/{name}" for name in (
                "base/kustomization.yaml", "base/deployment.yaml", "base/canary.yaml",
                "base/service.yaml", "base/hpa.yaml", "base/pdb.yaml", "base/prediction-logs.yaml",
                *(f"overlays/{env}/{file}" for env in ("staging", "production")
                  for file in ("kustomization.yaml", "namespace.yaml", "server.yaml")),
                "monitoring/prometheus-rule.yaml", "monitoring/service-monitor.yaml",
            )
        } | {"src/PKG/monitoring/alert_rules.py", "tests/unit/test_alert_rules.py"},
    },
    "license": {"MIT": {"LICENSE"}, "Apache-2.0": {"LICENSE"}, "BSD-3-Clause": {"LICENSE"}},
}  # fmt: skip
LEFTOVERS = ("{{", "{%", "cookiecutter.")


def expected_files(answers, package):
    files = set(COMMON)
    for option, by_value in ONLY_WITH.items():
        files |= by_value.get(answers[option], set())
    return {name.replace("PKG", package) for name in files}


def baked_files(project):
    return {
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts[:1]
    }


def test_matrix_covers_every_pair_of_choices():
    for (name, values), (other, other_values) in itertools.combinations(CHOICES.items(), 2):
        baked = {(answers[name], answers[other]) for answers in MATRIX}
        assert baked == set(itertools.product(values, other_values)), (name, other)
    assert len(MATRIX) <= 30  # the bake runtime stays in hand as prompts grow


# A choice that only matters with another answer: baked with that answer.
ACTIVE_WITH = {"cloud": {"deploy_target": "kubernetes"}}


@pytest.mark.parametrize("name", CHOICES)
def test_every_value_of_a_choice_bakes_a_different_project(cookies, name):
    """No answer is ignored: each value of a choice changes what is baked (beyond the
    answers .cruft.json records)."""
    digests = {}
    for value in CHOICES[name]:
        result = cookies.bake(extra_context={**ACTIVE_WITH.get(name, {}), name: value})
        assert result.exit_code == 0, result.exception
        digests[value] = content_digest(result.project_path)
    alike = [v for v in digests if list(digests.values()).count(digests[v]) > 1]
    assert not alike, f"the values {alike} of {name} bake the same project"


def content_digest(project):
    digest = hashlib.sha256()
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if path.is_file() and relative.parts[0] != ".git" and str(relative) != ".cruft.json":
            digest.update(str(relative).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize(
    "answers", MATRIX, ids=["-".join(str(v) for v in a.values()) for a in MATRIX]
)
def test_bake(cookies, answers):
    result = cookies.bake(extra_context=answers)
    assert result.exit_code == 0, result.exception
    project = result.project_path
    assert baked_files(project) == expected_files(answers, "churn_model")
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.relative_to(project).parts[:1]:
            # A GitHub expression `${{ ... }}` is meant to be there, and so are Prometheus's
            # alert templates `{{ $labels.x }}` and Grafana's legends (the dashboard JSON is
            # copied unrendered); a bare `{{` is not.
            if path.suffix == ".json" and path.parent.name == "grafana":
                continue
            text = path.read_text(errors="replace").replace("${{", "").replace("{{ $", "")
            left = [marker for marker in LEFTOVERS if marker in text]
            assert not left, f"{path.relative_to(project)} holds unrendered {left}"
    assert_files_parse(project)
    assert_lint_clean(project)


def assert_lint_clean(project):
    """The generated repo passes its own `make lint` (ruff check and ruff format)."""
    for command in (["check", "--quiet", "."], ["format", "--check", "--quiet", "."]):
        done = subprocess.run(["ruff", *command], cwd=project, capture_output=True, text=True)
        assert done.returncode == 0, f"ruff {command[0]}:\n{done.stdout}{done.stderr}"


def assert_files_parse(project):
    for path in project.rglob("*.py"):
        ast.parse(path.read_text(), filename=str(path))
    for path in [*project.rglob("*.yaml"), *project.rglob("*.yml"), project / ".dvc/config"]:
        if path.suffix in (".yaml", ".yml"):
            list(yaml.safe_load_all(path.read_text()))  # kustomize patches hold several
    tomllib.loads((project / "pyproject.toml").read_text())
