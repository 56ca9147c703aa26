"""End to end in the shared environment: bake, `make pipeline`, the generated tests, failures."""

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request

import numpy as np
import pytest
import yaml

from tests.conftest import (
    VENV,
    bake,
    break_example_data,
    make,
    project_env,
    relax_latency_gates,
    run_in,
)
from tests.support.custom_data import make_deliveries, make_loans, make_tickets
from tests.support.mlflow_server import free_port

pytestmark = pytest.mark.slow


def registered_versions(project, name):
    from mlflow import MlflowClient

    uri = f"sqlite:///{project / 'mlflow.db'}"
    if not (project / "mlflow.db").exists():
        return []
    return MlflowClient(tracking_uri=uri, registry_uri=uri).search_model_versions(f"name='{name}'")


def test_registered_version_carries_its_lineage(trained_project):
    versions = registered_versions(trained_project, "churn-model")
    assert len(versions) == 1
    tags = versions[0].tags
    lock = yaml.safe_load((trained_project / "dvc.lock").read_text())
    data_md5 = next(
        d["md5"] for d in lock["stages"]["validate"]["deps"] if d["path"].endswith("csv")
    )
    assert tags["data_hash"] == data_md5
    assert tags["git_commit"] == "uncommitted"  # the fresh bake has no commit yet
    assert len(tags["params_hash"]) == 64
    assert float(tags["metric.roc_auc"]) >= 0.75
    assert {"fairness.gender.demographic_parity_difference",
            "fairness.age_group.equalized_odds_difference"} <= set(tags)  # fmt: skip
    assert tags["gates"] == "passed"
    assert tags["model_card"].startswith("runs:/") and tags["model_card"].endswith("card.html")


def test_the_model_card_is_logged_with_the_version_and_renders(trained_project, tmp_path):
    """The card's files, the copy MLflow keeps, and the HTML as headless Chromium draws it
    (offline: every plot embedded): a page of plots, not a blank one."""
    from mlflow import MlflowClient
    from PIL import Image

    card = trained_project / "reports/card"
    assert {"card.html", "card.md", "card.json", "roc.png", "importance.png"} <= {
        p.name for p in card.iterdir()}  # fmt: skip
    uri = f"sqlite:///{trained_project / 'mlflow.db'}"
    tag = registered_versions(trained_project, "churn-model")[0].tags["model_card"]
    run_id = tag.split("/")[1]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    logged = {f.path for f in client.list_artifacts(run_id, "card")}
    assert {"card/card.html", "card/card.json", "card/roc.png"} <= logged
    page = (card / "card.html").read_text()
    assert 'src="http' not in page and "src='http" not in page  # nothing fetched online
    shot = tmp_path / "card.png"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1300,2600", f"--screenshot={shot}", (card / "card.html").as_uri()],
        check=True, capture_output=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    print(f"card {len(page.encode()) // 1024} KiB; screenshot {shot} {pixels.shape}")
    inked = float((pixels.min(axis=2) < 250).mean())  # a blank page: 0; this card: about 11%
    assert inked > 0.05, f"the card renders almost blank ({inked:.1%} of the page inked)"
    coloured = float((np.ptp(pixels, axis=2) > 60).mean())  # text is grey; this card: about 2.5%
    assert coloured > 0.01, f"only {coloured:.2%} of the page in colour: no plots drawn"


def test_the_card_shows_the_production_version_beside_the_candidate(trained_project, tmp_path):
    """Once a version is behind @production, the card scores it on the same test rows (the
    champion/challenger code of compare.py) and draws it beside the candidate."""
    from mlflow import MlflowClient

    project = shutil.copytree(trained_project, tmp_path / "copy", symlinks=True)
    uri = f"sqlite:///{project / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(
        "churn-model", "production", 1)  # fmt: skip
    assert "Model card" in run_in(project, "python", "-m", "churn_model", "card").stdout
    card = json.loads((project / "reports/card/card.json").read_text())
    assert card["versus_label"] == "production v1"
    assert [r["gain"] for r in card["versus_rows"]] == [0.0] * len(card["versus_rows"])  # itself
    assert set(card["production_importance"]) == set(card["importance"])
    assert "### Versus production v1 (the same 1000 test rows)" in (
        project / "reports/card/card.md").read_text()  # fmt: skip
    assert "<h2>Versus production</h2>" in (project / "reports/card/card.html").read_text()


def candidate_version(project, name):
    from mlflow import MlflowClient

    uri = f"sqlite:///{project / 'mlflow.db'}"
    registry = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return registry.get_model_version_by_alias(name, "candidate").version


def test_register_is_idempotent_on_lineage(trained_project, tmp_path):
    """`make pipeline` twice registers one version; a commit is new lineage; a retrain at
    the same clean commit, data and params is not."""
    project = shutil.copytree(trained_project, tmp_path / "copy", symlinks=True)
    again = make(project, "pipeline")
    assert "churn-model version 1 already has this lineage (git_commit uncommitted" in again.stdout
    assert "no new version. Alias candidate stays on version 1." in again.stdout
    assert len(registered_versions(project, "churn-model")) == 1
    assert candidate_version(project, "churn-model") == 1

    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    run_in(project, "git", "add", "-A")
    run_in(project, "git", *identity, "commit", "--quiet", "-m", "Start")
    assert "Registered churn-model version 2" in make(project, "register").stdout
    run_in(project, "python", "-m", "churn_model", "train")  # a new run, same lineage
    again = make(project, "register")
    assert "churn-model version 2 already has this lineage" in again.stdout
    assert len(registered_versions(project, "churn-model")) == 2
    assert candidate_version(project, "churn-model") == 2


def test_generated_tests_and_lint_pass(trained_project):
    tests = make(trained_project, "test")
    assert " passed" in tests.stdout and "failed" not in tests.stdout
    logged = {p.name: p.read_text().count("\n") for p in trained_project.glob("logs/*")}
    assert not any(logged.values()), f"the tests' traffic reached a prediction log: {logged}"
    make(trained_project, "lint")


def test_pipeline_is_reproducible_without_rework(trained_project):
    again = run_in(trained_project, "dvc", "repro")
    assert "didn't change, skipping" in again.stdout
    assert "Running stage" not in again.stdout


# The full pipeline once per task and once per model family (binary + linear is the default
# bake of `trained_project`), not for every combination: each run takes minutes.
OTHER_TASKS = {
    "multiclass_classification": ("random_forest", {"macro_f1", "log_loss", "min_class_recall"}),
    "regression": ("gradient_boosting", {"rmse", "r2", "rmse_vs_baseline"}),
}
MODEL_TESTS = ("tests/unit", "tests/data", "tests/model")


class TestOtherTasks:
    """A multiclass and a regression bake through the whole loop."""

    @pytest.mark.parametrize("task", OTHER_TASKS)
    def test_other_tasks_and_models_pass_their_gates(self, tmp_path, task):
        model, metrics = OTHER_TASKS[task]
        project = bake(tmp_path, task=task, model=model, deploy_target="kubernetes",
                       license="Proprietary")  # fmt: skip
        relax_latency_gates(project)
        make(project, "pipeline")
        tags = registered_versions(project, "churn-model")[0].tags
        assert tags["model_type"] == model and tags["task"] == task
        assert {f"metric.{name}" for name in metrics} <= set(tags)
        gates = yaml.safe_load((project / "reports/gates.json").read_text())
        assert gates["passed"] and len(gates["gates"]) >= 10
        card = json.loads((project / "reports/card/card.json").read_text())
        assert card["task"] == task and not card["notes"] and "importance" in card["plots"]
        assert "model_card" in tags
        make(project, "test", "lint")
        answer = served_answer(project)
        if task == "regression":
            assert set(answer) == {"prediction_id", "prediction", "model_version"}
            assert 200 <= answer["prediction"] <= 380  # the smoke case of a heavy data user
        else:
            assert set(answer) == {"prediction_id", "prediction", "probabilities",
                                   "model_version"}  # fmt: skip
            assert set(answer["probabilities"]) == {"basic", "standard", "premium"}
            assert answer["prediction"] == "premium"


def served_answer(project):
    """`make serve` on a free port, then /predict of the first smoke case: the answer."""
    port = free_port()
    record = yaml.safe_load((project / "deploy/smoke-cases.yaml").read_text())["cases"][0]
    server = subprocess.Popen(
        ["make", "--no-print-directory", "serve", f"VENV={VENV}"],
        cwd=project, env={**project_env(project), "PORT": str(port)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "no /ready"
                time.sleep(0.5)
        request = urllib.request.Request(url + "/predict", json.dumps(record["record"]).encode(),
                                         {"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


class TestCustomBinaryData:
    """A custom binary data set from the bake to its own lint and tests."""

    def test_custom_dataset_end_to_end(self, tmp_path):
        project = bake(tmp_path, project="loan-default", dataset="custom",
                       target_column="defaulted", positive_class="1",
                       sensitive_features="region", deploy_target="kubernetes")  # fmt: skip
        make_loans(project / "data/raw/dataset.csv")
        make(project, "schema")
        params = yaml.safe_load((project / "params.yaml").read_text())
        assert params["columns"]["numeric"] == ["income", "loan_amount", "employment_years"]
        assert params["columns"]["categorical"] == ["purpose"]
        assert params["columns"]["ids"] == ["application"]
        assert params["columns"]["ignore"] == ["notes"]
        contract = yaml.safe_load((project / "schema.yaml").read_text())
        assert contract["columns"]["income"]["nullable"] is True
        make(relax_latency_gates(project), "pipeline")
        assert registered_versions(project, "loan-default")
        make(project, "lint", "test")


class TestCustomMulticlassAndRegressionData:
    """Custom multiclass and regression data sets from the schema to the model tests."""

    def test_custom_multiclass_and_regression_end_to_end(self, tmp_path):
        tickets = bake(tmp_path / "m", project="ticket-routing", task="multiclass_classification",
                       dataset="custom", target_column="team", positive_class="",
                       sensitive_features="country")  # fmt: skip
        make_tickets(tickets / "data/raw/dataset.csv")
        make(tickets, "schema")
        contract = yaml.safe_load((tickets / "schema.yaml").read_text())
        assert contract["columns"]["team"]["allowed"] == ["billing", "hardware", "software"]
        assert (
            "positive_class" not in yaml.safe_load((tickets / "params.yaml").read_text())["columns"]
        )
        make(relax_latency_gates(tickets), "pipeline")
        assert registered_versions(tickets, "ticket-routing")
        run_in(tickets, "python", "-m", "pytest", *MODEL_TESTS)

        deliveries = bake(tmp_path / "r", project="delivery-time", task="regression",
                          dataset="custom", target_column="minutes", positive_class="",
                          sensitive_features="driver_gender")  # fmt: skip
        frame = make_deliveries(deliveries / "data/raw/dataset.csv")
        frame.assign(minutes="late").to_csv(deliveries / "data/raw/dataset.csv", index=False)
        refused = make(deliveries, "schema", check=False)
        assert refused.returncode != 0
        assert "The regression target 'minutes' must be a number in every row" in refused.stderr
        frame.to_csv(deliveries / "data/raw/dataset.csv", index=False)
        make(deliveries, "schema")
        assert yaml.safe_load((deliveries / "schema.yaml").read_text())["columns"]["minutes"][
            "dtype"] == "float"  # fmt: skip
        make(relax_latency_gates(deliveries), "pipeline")
        assert registered_versions(deliveries, "delivery-time")
        run_in(deliveries, "python", "-m", "pytest", *MODEL_TESTS)


class TestFailingPipelines:
    """Bad data and a broken gate stop the pipeline, and nothing is registered."""

    def test_corrupted_data_fails_with_a_report_and_registers_nothing(self, tmp_path):
        project = bake(tmp_path)
        break_example_data(project)
        failed = make(project, "pipeline", check=False)
        assert failed.returncode != 0
        assert "tenure_months: greater_than_or_equal_to(0) failed on 1 row(s)" in failed.stderr
        report = (project / "reports/data_check.md").read_text()
        assert "line 12: `-5`" in report and "line 22: `lifetime`" in report
        assert not (project / "models/model.joblib").exists()
        assert registered_versions(project, "churn-model") == []

    def test_model_breaking_a_gate_fails_pipeline_and_tests(self, tmp_path):
        project = bake(tmp_path)
        params_file = project / "params.yaml"
        params_file.write_text(
            params_file.read_text().replace("min_roc_auc: 0.75", "min_roc_auc: 0.99")
        )
        failed = make(project, "pipeline", check=False)
        assert failed.returncode != 0
        assert "The model fails roc_auc = 0." in failed.stderr
        assert "(limit 0.99, params.yaml `gates.min_roc_auc`)" in failed.stderr
        assert registered_versions(project, "churn-model") == []
        tests = run_in(project, "python", "-m", "pytest", "tests/model", check=False)
        assert tests.returncode == 1
        assert "test_performance" in tests.stdout
        assert "limit 0.99 (params.yaml `gates.min_roc_auc`)" in tests.stdout


def test_local_dvc_remote_round_trips_the_data(trained_project, tmp_path):
    project = shutil.copytree(trained_project, tmp_path / "copy", symlinks=True)
    data = project / "data/raw/dataset.csv"
    original = data.read_bytes()
    assert "pushed" in run_in(project, "dvc", "push").stdout
    data.unlink()
    shutil.rmtree(project / ".dvc/cache")
    run_in(project, "dvc", "pull")
    assert data.read_bytes() == original
