"""The pre-gen hook rejects bad answers with a sentence saying what to type; answers stay data."""

import ast
import hashlib
import shutil
import tomllib

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from tests.conftest import ROOT

BAD_ANSWERS = [
    ({"project": "Churn Model"}, "project 'Churn Model' is not a valid repository slug: type"),
    ({"project": "churn--model"}, "is not a valid repository slug"),
    ({"package": "class"}, "package 'class' is not a Python import name: type"),
    ({"package": "2churn"}, "is not a Python import name"),
    ({"author_email": "nobody"}, "author_email 'nobody' is not an e-mail address: type one"),
    ({"dataset": "custom", "target_column": " "}, "target_column is empty: type the column"),
    ({"target_column": ""}, "target_column is empty"),
    ({"sensitive_features": "gender,churned"}, "sensitive_features includes the target 'churned'"),
    ({"sensitive_features": "gender,gender"}, "lists a column twice: type each column once"),
    (
        {"target_column": "left"},
        "is not the example data's target for task=binary_classification: type churned",
    ),
    ({"task": "regression", "target_column": "churned"}, "task=regression: type data_usage_gb"),
    (
        {"task": "regression", "positive_class": "yes"},
        "positive_class 'yes' applies only to binary_classification: leave it empty for "
        "task=regression",
    ),
    (
        {"task": "multiclass_classification", "dataset": "custom", "positive_class": "gold"},
        "applies only to binary_classification: leave it empty for task=multiclass_classification",
    ),
    (
        {"task": "binary_classification", "dataset": "custom", "positive_class": ""},
        "positive_class is empty: type the target value",
    ),
    ({"sensitive_features": "race"}, "race are not columns of the example data"),
    ({"positive_class": "1"}, "positive_class must be yes for the example data"),
    ({"actions_repo": "just-a-name"}, "is not owner/name: type it like"),
    ({"actions_ref": "-bad ref"}, "is not a git ref: type a tag such as v1"),
    ({"drift_schedule": "daily"}, "drift_schedule 'daily' is not a cron schedule: type five"),
    ({"drift_schedule": '0 6 * * *" x'}, "is not a cron schedule"),
]


@pytest.mark.parametrize("answers, message", BAD_ANSWERS, ids=[str(a) for a, _ in BAD_ANSWERS])
def test_bad_answer_is_rejected_with_advice(cookies, capfd, answers, message):
    result = cookies.bake(extra_context=answers)
    assert result.exit_code != 0
    assert result.project_path is None or not result.project_path.exists()
    assert message in capfd.readouterr().err


def test_choice_outside_the_list_is_refused_by_cookiecutter(cookies):
    # Cookiecutter checks choice answers itself, before the hook; the hook still checks
    # python_version for answers replayed from a file.
    result = cookies.bake(extra_context={"python_version": "3.9"})
    assert result.exit_code != 0
    assert "the choices are ['3.11', '3.12', '3.13']" in str(result.exception)


def test_custom_dataset_takes_any_column_names(cookies):
    result = cookies.bake(
        extra_context={"dataset": "custom", "target_column": "defaulted", "positive_class": "1",
                       "sensitive_features": "region"}
    )  # fmt: skip
    assert result.exit_code == 0, result.exception
    params = yaml.safe_load((result.project_path / "params.yaml").read_text())
    assert params["columns"]["target"] == "defaulted"
    assert params["columns"]["positive_class"] == "1"
    assert params["columns"]["sensitive"] == ["region"]


@pytest.mark.parametrize(
    "task, target, model, estimator",
    [("binary_classification", "churned", "linear", "LogisticRegression"),
     ("multiclass_classification", "next_plan", "random_forest", "RandomForestClassifier"),
     ("regression", "data_usage_gb", "gradient_boosting", "HistGradientBoostingRegressor")],
)  # fmt: skip
def test_each_task_bakes_its_example_target_and_gates(cookies, task, target, model, estimator):
    """The defaults follow the task: its example target, no positive class but for binary."""
    result = cookies.bake(extra_context={"task": task, "model": model})
    assert result.exit_code == 0, result.exception
    project = result.project_path
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["task"] == task and params["columns"]["target"] == target
    assert ("positive_class" in params["columns"]) == (task == "binary_classification")
    header = (project / "data/raw/dataset.csv").read_text().split("\n", 1)[0].split(",")
    assert header[-1] == target
    assert list((project / "data/raw").glob("dataset.*.csv")) == []  # the other tasks' CSVs
    contract = yaml.safe_load((project / "schema.yaml").read_text())
    assert target in contract["columns"]
    assert estimator in (project / "params.yaml").read_text()
    tracked = yaml.safe_load((project / "data/raw/dataset.csv.dvc").read_text())["outs"][0]
    data = (project / "data/raw/dataset.csv").read_bytes()
    assert tracked["md5"] == hashlib.md5(data).hexdigest() and tracked["size"] == len(data)


def test_quotes_and_backslashes_stay_data(cookies):
    tricky = 'Say "hi" \\ it\'s {not} code'
    result = cookies.bake(
        extra_context={"description": tricky, "author_name": 'O\'Brien "Team" \\'}
    )
    assert result.exit_code == 0, result.exception
    project = result.project_path
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == tricky
    assert pyproject["project"]["authors"][0]["name"] == 'O\'Brien "Team" \\'
    for path in project.rglob("*.py"):
        ast.parse(path.read_text())


def test_next_steps_are_printed(cookies, capfd):
    result = cookies.bake(extra_context={"dataset": "custom", "sensitive_features": "region"})
    assert result.exit_code == 0
    out = capfd.readouterr().out
    assert "make schema" in out and "make pipeline" in out


def test_sha_pins_need_a_git_checkout_of_the_template(tmp_path, capfd):
    """A template that is no git checkout has no commit to pin: the hook says what to type."""
    copy = tmp_path / "template"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv", "node_modules",
                                                              "build", "__pycache__"))  # fmt: skip
    with pytest.raises(FailedHookException):
        cookiecutter(str(copy), no_input=True, output_dir=str(tmp_path / "out"))
    err = capfd.readouterr().err
    assert "actions_pin sha pins the Actions to the template's commit" in err
    assert "type tag for actions_pin" in err
    project = cookiecutter(str(copy), no_input=True, output_dir=str(tmp_path / "out"),
                           extra_context={"actions_pin": "tag"})  # fmt: skip
    ci = (tmp_path / "out" / project / ".github/workflows/ci.yml").read_text()
    assert '/actions/setup@v1" # v1 (moving tag)' in ci
