"""The drift verb on small synthetic data: verdicts, exit codes, the three reports, and the
readable errors a broken current file gets. Each test runs in its own folder with its own
params.yaml, so it does not depend on this project's data or on a trained model."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package }}.cli import main
from {{ cookiecutter.package }}.config import CliError
from {{ cookiecutter.package }}.monitoring import drift_inputs, drift_report, drift_stream
from {{ cookiecutter.package }}.monitoring.drift import (
    DRIFT_EXIT,
    MIN_WINDOW,
    Settings,
    bin_edges,
    quantile_bins,
    run_evidently,
)
from {{ cookiecutter.package }}.monitoring.drift_inputs import Monitored
from {{ cookiecutter.package }}.monitoring.retrain import append_rows, labelled_rows
from {{ cookiecutter.package }}.monitoring.thresholds import counts, distance

PARAMS = {
    "data": {"path": "data/reference.csv", "seed": 7},
    "columns": {
        "target": "label",
        "positive_class": "yes",
        "numeric": ["amount", "visits"],
        "categorical": ["plan"],
        "sensitive": [],
        "ignore": [],
    },
    "registry": {"model_name": "demo"},
    "serve": {"prediction_log": "logs/predictions-{environment}.jsonl"},
    "drift": {"min_rows": 200},
}
PLANS = ["basic", "plus", "pro"]


def table(rows, seed, amount_shift=0.0, plans=(0.5, 0.3, 0.2)):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(50 + amount_shift, 10, rows).round(2),
            "visits": rng.poisson(3, rows),
            "plan": rng.choice(PLANS, rows, p=plans),
            "label": rng.choice(["yes", "no"], rows),
        }
    )


def set_drift(**settings):
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["drift"].update(settings)
    Path("params.yaml").write_text(yaml.safe_dump(params))


def drift(capsys, *args):
    code = main(["drift", *map(str, args)])
    return code, capsys.readouterr()


def report():
    return json.loads(Path("reports/drift.json").read_text())


@pytest.fixture(autouse=True)
def project(tmp_path, monkeypatch):
    """params.yaml and a 2000-row reference; no registry, so the reference is data.path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    Path("data").mkdir()
    Path("params.yaml").write_text(yaml.safe_dump(PARAMS))
    table(2000, seed=1).to_csv("data/reference.csv", index=False)
    return tmp_path


def test_same_distribution_is_no_drift(capsys):
    table(1000, seed=2).to_csv("current.csv", index=False)
    code, out = drift(capsys, "--current", "current.csv")
    assert code == 0, out.err
    result = report()
    assert result["drift_detected"] is False and result["drifted_columns"] == []
    assert set(result["columns"]) == {"amount", "visits", "plan"}
    assert result["reference"]["source"] == "data/reference.csv"
    assert "no model version has the production alias" in result["reference"]["chosen_by"]
    assert result["sampling"]["used"] is False
    assert Path("reports/drift.html").stat().st_size > 10_000  # Evidently's report
    assert "## Data drift: no drift" in Path("reports/drift.md").read_text()
    assert not (Path("mlflow.db")).exists()  # looking for @production created no registry


def test_an_empty_tracking_uri_means_the_local_registry(capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # how CI passes a secret nobody set
    table(1000, seed=2).to_csv("current.csv", index=False)
    code, out = drift(capsys, "--current", "current.csv")
    assert code == 0, out.err
    assert "no model version has the production alias" in report()["reference"]["chosen_by"]
    assert not Path("mlflow.db").exists()  # "" read as a URI would make MLflow create one


def test_shifted_columns_are_flagged_and_exit_3(capsys):
    table(1000, seed=2, amount_shift=8, plans=(0.1, 0.2, 0.7)).to_csv("current.csv", index=False)
    code, out = drift(capsys, "--current", "current.csv")
    assert code == DRIFT_EXIT == 3
    assert "DRIFT detected: 2 of 3 columns drifted" in out.out
    result = report()
    assert result["drift_detected"] is True and result["exit_code"] == 3
    assert sorted(result["drifted_columns"]) == ["amount", "plan"]
    assert result["dataset"]["share"] == pytest.approx(2 / 3)
    amount = result["columns"]["amount"]
    assert amount["method"] == "jensenshannon" and amount["threshold"] == 0.1
    assert amount["score"] >= 0.1 and amount["compared_as"] == "20 quantile bins of the reference"
    assert result["columns"]["visits"]["drifted"] is False
    markdown = Path("reports/drift.md").read_text()
    assert "| `amount` | jensenshannon |" in markdown and "| `visits`" not in markdown
    assert re.search(r"- `plan`: pro: (19|20|21)\.\d% -> (69|70|71)\.\d% of rows", markdown)
    assert "[drift.html](drift.html)" in markdown


# A model card's importance (training/model_card.py writes card.json): amount drives the model,
# visits it ignores.
CARD = {"weights": {"amount": 0.85, "visits": 0.0, "plan": 0.15}}


def weighted_by_card(**settings):
    Path("card.json").write_text(json.dumps(CARD))
    set_drift(importance="card.json", **settings)


@pytest.mark.parametrize("weighting", ["importance", "equal"])
def test_a_shift_in_the_top_column_alone_is_drift_when_weighted(capsys, weighting):
    weighted_by_card(drift_share=0.5, weighting=weighting)
    table(1000, seed=2, amount_shift=30).to_csv("current.csv", index=False)  # 3 sd
    code, out = drift(capsys, "--current", "current.csv")
    result = report()
    assert result["drifted_columns"] == ["amount"]  # 1 of 3 columns, under the share 0.5
    if weighting == "equal":
        assert code == 0 and result["dataset"]["weighting"] == "equal"
        return
    assert code == DRIFT_EXIT, out.out
    assert result["dataset"]["weighted_share"] == pytest.approx(0.85)
    assert result["dataset"]["weights_from"] == "card.json"
    assert result["columns"]["amount"]["weight"] == pytest.approx(0.85)
    assert "85% of the model's importance" in out.out
    assert "| `amount` | jensenshannon |" in Path("reports/drift.md").read_text()
    assert "| 85.0% |" in Path("reports/drift.md").read_text()


@pytest.mark.parametrize("weighting", ["importance", "equal"])
def test_a_shift_in_an_ignored_column_is_no_drift_when_weighted(capsys, weighting):
    weighted_by_card(weighting=weighting)
    current = table(1000, seed=2)
    current["visits"] = current["visits"] + 6  # a large shift in what the model ignores
    current.to_csv("current.csv", index=False)
    code, _ = drift(capsys, "--current", "current.csv")
    result = report()
    assert result["drifted_columns"] == ["visits"]  # 1 of 3: above the default share 0.25
    if weighting == "equal":
        assert code == DRIFT_EXIT
        return
    assert code == 0 and result["dataset"]["weighted_share"] == 0
    assert result["columns"]["visits"]["weight"] == 0


def test_without_a_production_card_the_columns_count_equally(capsys):
    table(1000, seed=2, amount_shift=30).to_csv("current.csv", index=False)
    code, _ = drift(capsys, "--current", "current.csv")  # weighting: importance, the default
    dataset = report()["dataset"]
    assert code == DRIFT_EXIT and dataset["weighting"] == "equal"
    assert "production alias" in dataset["weights_from"]


def write_log(environment, suffix="", seed=3, rows=400, **shift):
    Path("logs").mkdir(exist_ok=True)
    frame = table(rows, seed=seed, **shift).drop(columns="label")
    frame["_ts"], frame["_model_version"], frame["_score"] = "2026-11-25T10:00:00Z", "1", 0.4
    frame["_prediction"] = "no"
    frame.to_json(f"logs/predictions-{environment}.jsonl{suffix}", orient="records", lines=True)


def test_production_log_with_rotations_is_the_default_current(capsys):
    write_log("production", ".1", seed=3)
    write_log("production", "", seed=4)
    write_log("staging", seed=5, amount_shift=30)  # another environment's traffic: not read
    code, out = drift(capsys)
    assert code == 0, out.err
    current = report()["current"]
    assert current["files"] == [
        "logs/predictions-production.jsonl.1",
        "logs/predictions-production.jsonl",
    ]
    assert current["rows"] == 800
    set_drift(environment="staging")
    code, out = drift(capsys)
    assert code == DRIFT_EXIT and report()["current"]["files"] == ["logs/predictions-staging.jsonl"]


def test_parquet_current_and_a_raw_numeric_column(capsys):
    set_drift(columns={"amount": {"bins": None, "method": "wasserstein"}})
    table(1000, seed=2, amount_shift=8).to_parquet("current.parquet")
    code, out = drift(capsys, "--current", "current.parquet")
    amount = report()["columns"]["amount"]
    assert amount["compared_as"] == "raw values" and amount["method"] == "wasserstein"
    assert amount["drifted"] is True
    assert code == DRIFT_EXIT  # 1 of 3 columns reaches the default share 0.25


def test_per_column_threshold_and_drift_share(capsys):
    set_drift(drift_share=0.5, columns={"amount": {"threshold": 0.9}})
    table(1000, seed=2, amount_shift=8, plans=(0.1, 0.2, 0.7)).to_csv("current.csv", index=False)
    code, _ = drift(capsys, "--current", "current.csv")
    result = report()
    assert result["columns"]["amount"]["threshold"] == 0.9
    assert result["drifted_columns"] == ["plan"]
    assert code == 0  # 1 of 3 is below the share 0.5


def test_sampling_only_when_asked_and_reported(capsys):
    table(1000, seed=2).to_csv("current.csv", index=False)
    code, _ = drift(capsys, "--current", "current.csv", "--sample-rows", 500)
    assert code == 0
    assert report()["sampling"] == {"used": True, "sample_rows": 500, "seed": 7}
    assert "500 random rows per side (seed 7)" in Path("reports/drift.md").read_text()


def mixed(rows, seed, shift):
    """The table with missing values in a number and a category, and a sensitive column."""
    frame = table(rows, seed, amount_shift=shift, plans=(0.5 - shift / 40, 0.3, 0.2 + shift / 40))
    rng = np.random.default_rng(seed)
    frame.loc[rng.random(rows) < 0.05, "amount"] = np.nan
    frame["plan"] = frame["plan"].astype(object)
    frame.loc[rng.random(rows) < 0.03, "plan"] = None
    frame["group"] = rng.choice(["x", "y", "z"], rows, p=[0.5, 0.3, 0.2])
    return frame.drop(columns="label")


def write_current(how, shift):
    """The current window as the server's JSON-lines log with a rotation, or as Parquet parts
    at a URL (file:// here; s3:// or gs:// in production)."""
    first, second = mixed(700, seed=3, shift=shift), mixed(600, seed=4, shift=shift)
    if how == "url parts":
        Path("log").mkdir()
        first.to_parquet("log/part-20261125T100000-a.parquet")
        second.drop(columns="group").to_parquet("log/part-20261125T110000-b.parquet")
        return ["--current", f"file://{Path('log').resolve()}"]
    write_log_frame(first, ".1")
    write_log_frame(second, "")
    return []


def write_log_frame(frame, suffix):
    Path("logs").mkdir(exist_ok=True)
    frame.assign(_ts="2026-11-25T10:00:00Z", _score=0.4).to_json(
        f"logs/predictions-production.jsonl{suffix}", orient="records", lines=True
    )


def same(ours, theirs):
    """Equal mappings, numbers to 9 digits (Evidently sums the shares in another order)."""
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        number = isinstance(value, float) and not isinstance(ours[key], bool)
        assert ours[key] == (pytest.approx(value, rel=1e-9) if number else value), key
    return True


def run_engine(capsys, engine, args):
    set_drift(engine=engine)
    code, out = drift(capsys, *args)
    assert code in (0, DRIFT_EXIT), out.err
    return code, report(), Path("reports/drift.md").read_text()


@pytest.mark.parametrize("how", ["log files", "url parts", "sampled", "report from a sample"])
@pytest.mark.parametrize("shift", [0, 4])
def test_streamed_and_in_memory_drift_give_the_same_verdicts(capsys, monkeypatch, how, shift):
    """drift.engine: stream (column at a time) against memory (every row through Evidently), on
    the same files: the same verdicts, scores, thresholds, shifts and contract counts."""
    monkeypatch.setattr(drift_inputs, "CSV_SPLIT", 1000)  # the reference CSV read in ranges
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["columns"]["sensitive"] = ["group"]
    Path("params.yaml").write_text(yaml.safe_dump(params))
    set_drift(columns={"visits": {"bins": None, "method": "ks"}, "plan": {"method": "psi"}})
    Path("schema.yaml").write_text(yaml.safe_dump({"columns": {
        "amount": {"dtype": "float", "nullable": False, "max": 60},
        "plan": {"dtype": "str", "allowed": ["basic", "plus"]},
    }}))  # fmt: skip
    mixed(2500, seed=1, shift=0).to_csv("data/reference.csv", index=False)
    args = write_current("url parts" if how == "url parts" else "log files", shift)
    if how == "sampled":
        args += ["--sample-rows", 900]
    if how == "report from a sample":
        monkeypatch.setattr(drift_stream, "REPORT_ROWS", 500)
    code, streamed, streamed_md = run_engine(capsys, "stream", args)
    memory_code, memory, _ = run_engine(capsys, "memory", args)
    assert code == memory_code
    for key in ("drift_detected", "drifted_columns", "sensitive", "contract", "window"):
        assert streamed[key] == memory[key], key
    assert same(streamed["dataset"], memory["dataset"])
    assert streamed["contract"]  # the counts are compared, not two empty dicts
    assert list(streamed["columns"]) == list(memory["columns"])
    for name, found in memory["columns"].items():
        assert same(streamed["columns"][name], found), name
    if shift:
        assert {"amount", "plan"} <= set(streamed["drifted_columns"])
        assert streamed["sensitive"]["compared"] == ["group"]
    sample = how == "report from a sample"
    assert streamed["report"]["evidently"] == ("sample" if sample else "all rows")
    assert ("drawn from a seeded sample of 500 rows per side" in streamed_md) is sample


def test_a_large_window_has_its_report_made_by_a_child_process(capsys):
    """From drift_report.CHILD_ROWS current rows, Evidently is imported and its report made by
    a child process, on another core while `drift` reads: the same verdicts and an Evidently
    report, and the `drift` process itself never imports Evidently."""
    table(1000, seed=2, amount_shift=8).to_csv("current.csv", index=False)
    code, _ = drift(capsys, "--current", "current.csv")  # a small window: the report made here
    here = report()
    Path("reports/drift.html").unlink()
    package = drift_report.__name__.split(".")[0]
    child = subprocess.run(
        [sys.executable, "-c",
         f"import sys; from {package}.monitoring import drift_report; "
         "drift_report.CHILD_ROWS = 1000; "
         f"from {package}.cli import main; code = main(['drift', '--current', 'current.csv']); "
         "assert 'evidently' not in sys.modules, 'imported by drift'; sys.exit(code)"],
        env=dict(os.environ, PYTHONPATH=str(Path(drift_report.__file__).parents[2])),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert child.returncode == code == DRIFT_EXIT, child.stderr
    assert report()["columns"] == here["columns"] and report()["drifted_columns"] == ["amount"]
    assert Path("reports/drift.html").stat().st_size > 10_000  # Evidently's report


def as_command(*args, before=""):
    """`drift` run as the command itself (main() reading sys.argv) in a fresh process, after
    `before`; every drift_report.Child it starts is kept in `children`, with whether the verb's
    module was still unimported then."""
    package = drift_report.__name__.split(".")[0]
    script = "\n".join([
        "import sys",
        f"from {package}.monitoring import drift_report",
        "children, Child = [], drift_report.Child",
        "class Kept(Child):",
        "    def __init__(self):",
        "        super().__init__()",
        f"        children.append((self, '{package}.monitoring.drift' not in sys.modules))",
        "drift_report.Child = Kept",
        before,
        f"from {package}.cli import main",
        f"sys.argv = ['drift', 'drift', *{[str(arg) for arg in args]!r}]",
        "code = main()",
        "sys.exit(code)",
    ])  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", script],
        env=dict(os.environ, PYTHONPATH=str(Path(drift_report.__file__).parents[2])),
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_command_starts_the_report_process_before_its_imports_and_uses_it_at_any_size(
    capsys,
):
    """Run as a command, `drift` starts the child that imports Evidently before it imports the
    verb or reads anything, and that child makes the report of a small window too: the verdicts
    are the in-process ones, and the `drift` process itself never imports Evidently."""
    table(1000, seed=2, amount_shift=8).to_csv("current.csv", index=False)
    code, _ = drift(capsys, "--current", "current.csv")  # in-process, a small window: here
    here = report()
    Path("reports/drift.html").unlink()
    checks = "\n".join([
        "import atexit, os",
        "def check():",
        "    assert len(children) == 1 and children[0][1], 'not one child before the imports'",
        "    assert children[0][0].process.returncode == 0, 'the child did not finish'",
        "    assert 'evidently' not in sys.modules, 'imported by drift'",
        "    print('checked')",
        "atexit.register(check)",
    ])  # fmt: skip
    child = as_command("--current", "current.csv", before=checks)
    assert child.returncode == code == DRIFT_EXIT, child.stderr
    assert "checked" in child.stdout and "Error" not in child.stderr, child.stderr
    assert report()["columns"] == here["columns"] and report()["drifted_columns"] == ["amount"]
    assert Path("reports/drift.html").stat().st_size > 10_000  # Evidently's report


@pytest.mark.parametrize("case", ["memory engine", "Evidently scores a column", "a bad file"])
def test_a_report_process_the_command_does_not_use_is_stopped_and_leaves_no_process(case):
    """The child started early is stopped, and reaped, when the report is made here (the
    memory engine, a column Evidently scores) or the verb fails before the report."""
    table(1000, seed=2).to_csv("current.csv", index=False)
    if case == "memory engine":
        set_drift(engine="memory")
    if case == "Evidently scores a column":
        set_drift(numeric_bins=None)  # raw values: Evidently computes their distance
    current = "missing.csv" if case == "a bad file" else "current.csv"
    checks = "\n".join([
        "import atexit, os",
        "def check():",
        "    assert len(children) == 1, 'not one child'",
        "    assert children[0][0].process.returncode is not None, 'the child is still running'",
        "    try:",
        "        os.kill(children[0][0].process.pid, 0)",
        "        raise AssertionError('the child process is left behind')",
        "    except ProcessLookupError:",
        "        print('checked')",
        "atexit.register(check)",
    ])  # fmt: skip
    child = as_command("--current", current, before=checks)
    assert child.returncode == (1 if case == "a bad file" else 0), child.stderr
    assert "checked" in child.stdout and "AssertionError" not in child.stderr, child.stderr
    if case == "a bad file":
        assert "missing.csv" in child.stderr.strip().splitlines()[-1]
    else:
        assert Path("reports/drift.html").stat().st_size > 10_000  # made in the process


def test_an_error_in_the_report_process_is_one_clear_sentence():
    """Evidently refusing the settings in the child is the same CliError as here."""
    frame = pd.DataFrame({"plan": pd.Categorical(["basic", "plus", "basic"])})
    job = (frame, frame, Settings(), {"plan": "no-such-test"}, {"plan": 0.1}, [])
    with pytest.raises(CliError, match=r"^Evidently rejected the drift settings .*no-such-test"):
        drift_report.Child().report(*job).save_html("drift.html")


def bad_current(kind):
    frame = table(1000, seed=2)
    if kind == "missing column":
        frame.drop(columns="plan").to_csv("current.csv", index=False)
    elif kind == "wrong type":
        frame["amount"] = frame["amount"].astype(object)
        frame.loc[6, "amount"] = "lots"
        frame.to_csv("current.csv", index=False)
    elif kind == "wrong type in a log":
        frame["amount"] = frame["amount"].astype(object)
        frame.loc[2, "amount"] = "n/a"
        frame.to_json("current.jsonl", orient="records", lines=True)
        return "current.jsonl"
    elif kind == "empty file":
        Path("current.csv").write_text("")
    elif kind == "header only":
        frame.head(0).to_csv("current.csv", index=False)
    elif kind == "too few rows":
        frame.head(50).to_csv("current.csv", index=False)
    elif kind == "empty column":
        frame.assign(visits=np.nan).to_parquet("current.parquet")  # NaN, not null, in Parquet
        return "current.parquet"
    return "current.csv"


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing column", "lacks the column(s) plan the model uses"),
        (
            "wrong type",
            "Column 'amount' of the current data current.csv must hold numbers "
            "(schema.yaml) but 1 value(s) are not: line 8: 'lots'",
        ),
        ("wrong type in a log", "must hold numbers (schema.yaml) but 1 value(s) are not: line 3"),
        ("empty file", "The current data current.csv is empty: no header, no rows."),
        ("header only", "The current data current.csv has no rows."),
        ("too few rows", "has 50 rows, fewer than drift.min_rows (200)"),
        ("empty column", "Column 'visits' of the current data current.parquet is empty in every"),
        ("no file", "The current data nowhere.csv does not exist."),
    ],
)
def test_broken_current_data_is_an_error_with_the_reason(capsys, monkeypatch, kind, reason):
    monkeypatch.setattr(drift_inputs, "CSV_SPLIT", 1000)  # CSVs read in ranges, as large ones
    table(1000, seed=2, amount_shift=8).to_csv("old.csv", index=False)
    assert drift(capsys, "--current", "old.csv")[0] == DRIFT_EXIT  # leaves a drift verdict
    path = "nowhere.csv" if kind == "no file" else bad_current(kind)
    code, out = drift(capsys, "--current", path)
    assert code == 1
    assert " drift: " in out.err and reason in out.err
    assert not Path("reports/drift.json").exists()  # the old verdict is gone: no retraining


def unreadable(kind):
    """Files that are not what their name says, and sample sizes that are no sizes."""
    if kind == "not parquet":
        Path("current.parquet").write_text("amount,visits,plan\n1,2,basic\n")
        return ["--current", "current.parquet"]
    table(1000, seed=2).to_csv("current.csv", index=False)
    if kind == "binary csv":
        noise = bytes(b for b in range(256) if b not in b"\r\n")
        Path("binary.csv").write_bytes(noise * 70)  # 17 KB, no line break: all of it a 'header'
        return ["--current", "binary.csv"]
    return ["--current", "current.csv", "--sample-rows", {"zero rows": 0, "minus 5": -5}[kind]]


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("not parquet", "The current data current.parquet is not a readable Parquet file"),
        ("binary csv", "The current data binary.csv is not UTF-8 text, so it is no .csv file"),
        ("zero rows", "--sample-rows (drift.sample_rows) must be a whole number of rows, at "
         "least 1, or null in params.yaml to compare every row; got 0."),
        ("minus 5", "must be a whole number of rows, at least 1, or null in params.yaml to "
         "compare every row; got -5."),
    ],
)  # fmt: skip
def test_unreadable_input_or_sample_size_is_one_clear_sentence(capsys, kind, reason):
    code, out = drift(capsys, *unreadable(kind))
    assert code == 1 and reason in out.err
    message = out.err.strip()
    assert "\n" not in message and len(message) < 300, message  # one sentence, no bytes, no trace
    assert not Path("reports/drift.json").exists()


@pytest.mark.parametrize(
    "settings, reason",
    [
        ({"columns": {"nope": {"threshold": 0.2}}}, "drift.columns.nope: give a monitored column"),
        ({"columns": {"plan": {"treshold": 0.2}}}, "drift.columns.plan: only ['bins', 'method'"),
        ({"numeric_bins": 1}, "the bins of amount must be null or at least 2"),
        ({"drift_share": 0}, "drift.drift_share must be above 0 and at most 1"),
        ({"min_rows": 50}, "drift.min_rows must be a whole number, at least 100"),
        ({"false_alarm_rate": 0}, "drift.false_alarm_rate must be between 0.001 and 0.2"),
        ({"colour": "red"}, "drift: unknown setting(s) colour"),
    ],
)
def test_bad_settings_are_an_error(capsys, settings, reason):
    set_drift(**settings)
    table(1000, seed=2).to_csv("current.csv", index=False)
    code, out = drift(capsys, "--current", "current.csv")
    assert code == 1 and reason in out.err


def test_values_outside_the_contract_are_counted_not_rejected(capsys):
    contract = {
        "amount": {"dtype": "float", "nullable": False, "min": 0, "max": 60.45},
        "visits": {"dtype": "int", "nullable": False},
        "plan": {"dtype": "str", "nullable": False, "allowed": ["basic", "plus"]},
    }
    Path("schema.yaml").write_text(yaml.safe_dump({"columns": contract}))
    current = table(1000, seed=2)
    current["amount"] = current["amount"].clip(0, 60)
    current.loc[0, "amount"] = 60.45  # on the bound, though float32 stores 60.4500008
    current.loc[1, "amount"] = 99.5
    current["visits"] = current["visits"].astype(float)
    current.loc[:2, "visits"] = None
    current.to_csv("current.csv", index=False)
    code, out = drift(capsys, "--current", "current.csv")
    assert code in (0, DRIFT_EXIT), out.err
    assert report()["contract"] == {
        "amount": {"above_max": 1},
        "visits": {"null": 3},
        "plan": {"not_allowed": int((current["plan"] == "pro").sum())},
    }
    assert (
        "Outside the data contract (schema.yaml): `amount` 1 above_max"
        in Path("reports/drift.md").read_text()
    )


def churn_like(rows, seed, shifted=False):
    """Eight columns like the example data's; shifted as the drift drill shifts them."""
    rng = np.random.default_rng(seed)
    contract = [0.85, 0.1, 0.05] if shifted else [0.5, 0.3, 0.2]
    return pd.DataFrame(
        {
            "tenure": (rng.integers(0, 73, rows) + (18 if shifted else 0)).clip(max=72),
            "charges": rng.normal(70, 20, rows).round(2),
            "calls": rng.poisson(2, rows),
            "total": rng.gamma(2, 800, rows).round(2),
            "contract": rng.choice(["monthly", "one-year", "two-year"], rows, p=contract),
            "internet": rng.choice(["dsl", "fiber", "none"], rows, p=[0.4, 0.4, 0.2]),
            "payment": rng.choice(["bank", "card", "check", "mail"], rows),
            "paperless": rng.choice(["yes", "no"], rows, p=[0.6, 0.4]),
        }
    )


class NoReport:
    """A drift_report reporter that draws nothing: the verdicts come from the counts before
    the report is drawn, and 40 Evidently reports would cost a minute."""

    def report(self, *job):
        del job


def spooled(frame, monitored, path, role):
    frame.to_csv(path, index=False)
    return drift_inputs.spool_table(path, monitored, role, folder=path.with_suffix(""))


def test_the_smallest_window_raises_no_false_alarm_and_still_catches_the_drill_shift(tmp_path):
    """20 windows of MIN_WINDOW rows from the reference's distribution, and 20 shifted as in
    the drift drill: the verdicts the verb would give (its stream engine), default settings."""
    monitored = Monitored(["tenure", "charges", "calls", "total"],
                          ["contract", "internet", "payment", "paperless"])  # fmt: skip
    settings = Settings()
    reference = spooled(churn_like(5000, seed=0), monitored, tmp_path / "ref.csv", "reference")
    alarms, flagged, caught = [], 0, []
    for seed in range(1, 21):
        for shifted in (False, True):
            window = spooled(churn_like(MIN_WINDOW, seed, shifted), monitored,
                             tmp_path / f"cur-{seed}-{shifted}.csv", "current")  # fmt: skip
            found = drift_stream.compare_streamed(reference, window, monitored, settings, seed,
                                                  NoReport())  # fmt: skip
            drifted = {name for name, result in found.per_column.items() if result["drifted"]}
            if shifted:
                caught += [found.dataset["drift_detected"] and {"tenure", "contract"} <= drifted]
            else:
                alarms += [seed] if found.dataset["drift_detected"] else []
                flagged += len(drifted)
    print(f"false alarms {len(alarms)} of 20, columns flagged {flagged} of 160, shift caught "
          f"{sum(caught)} of 20")  # fmt: skip
    assert len(alarms) <= 1, f"same-distribution windows flagged as drift: seeds {alarms}"
    assert flagged <= 8  # 160 column comparisons at a 1% false-alarm rate: about 2
    assert all(caught)


def test_the_calibrated_distances_are_evidentlys():
    """thresholds.py simulates Evidently's distances: they must be the same numbers."""
    rng = np.random.default_rng(3)
    levels = ["a", "b", "c", "d", "rare"]
    ref = pd.Series(rng.choice(levels, 3000, p=[0.4, 0.3, 0.2, 0.0999, 0.0001]), dtype="category")
    cur = pd.Series(rng.choice(levels[:4], 200, p=[0.25, 0.25, 0.25, 0.25]), dtype="category")
    cur[cur.index[:7]] = None  # missing values count in Evidently's shares
    methods = {"jensenshannon": 0.5, "psi": 5.0, "kl_div": 5.0, "hellinger": 0.9}
    ref_frame = pd.DataFrame({m: ref for m in methods})
    cur_frame = pd.DataFrame({m: cur.cat.set_categories(ref.cat.categories) for m in methods})
    snapshot = run_evidently(ref_frame, cur_frame, Settings(), {m: m for m in methods}, methods,
                             [])  # fmt: skip
    scores = {m["config"]["column"]: m["value"] for m in snapshot.dict()["metrics"]
              if m["config"]["type"].endswith(":ValueDrift")}  # fmt: skip
    for method in methods:
        ours = distance(method, ref_frame[method], cur_frame[method])
        assert ours == pytest.approx(scores[method], rel=1e-9), method


def test_sensitive_columns_are_compared_and_labelled_but_not_in_the_verdict(capsys):
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["columns"]["sensitive"] = ["group"]
    Path("params.yaml").write_text(yaml.safe_dump(params))
    reference = table(2000, seed=1)
    reference["group"] = np.random.default_rng(1).choice(["x", "y"], 2000, p=[0.5, 0.5])
    reference.to_csv("data/reference.csv", index=False)
    current = table(1000, seed=2)
    current["group"] = np.random.default_rng(2).choice(["x", "y"], 1000, p=[0.9, 0.1])
    current.to_csv("current.csv", index=False)
    code, out = drift(capsys, "--current", "current.csv")
    result = report()
    assert code == 0 and result["drifted_columns"] == []  # the features did not move
    assert result["columns"]["group"]["drifted"] is True
    assert result["columns"]["group"]["sensitive"] is True
    assert result["sensitive"] == {"compared": ["group"], "drifted": ["group"], "not_compared": []}
    assert result["dataset"]["columns"] == 3
    assert "sensitive column(s) drifted: group" in out.out
    markdown = Path("reports/drift.md").read_text()
    assert "| `group` (sensitive) | jensenshannon |" in markdown
    assert "Sensitive columns (fairness; not counted in the verdict): `group` DRIFTED" in markdown

    current.drop(columns="group").to_csv("current.csv", index=False)  # requests may omit it
    code, out = drift(capsys, "--current", "current.csv")
    assert code == 0, out.err
    assert report()["sensitive"] == {"compared": [], "drifted": [], "not_compared": ["group"]}
    assert "Sensitive column(s) group not compared" in Path("reports/drift.md").read_text()


def test_quantile_bins_keep_outliers_and_missing_values():
    reference = pd.Series(np.arange(100, dtype=float))
    current = pd.Series([-5.0, 50.0, 1e9, np.nan])
    ref_bins, cur_bins = quantile_bins(reference, current, 4)
    assert len(ref_bins.categories) == 4  # 3 inner cut points, open-ended outer bins
    assert list(ref_bins.categories) == sorted(ref_bins.categories)  # numbered in order
    assert cur_bins[0] == ref_bins.categories[0] and cur_bins[2] == ref_bins.categories[-1]
    assert pd.isna(cur_bins[3])
    assert pd.Series(ref_bins).value_counts().tolist() == [25, 25, 25, 25]


def test_the_streamed_bin_counts_are_the_counts_of_the_bins():
    """drift_stream counts bins by comparing float32 values with each cut: the same counts as
    the in-memory codes (searchsorted in float64), on ties, cuts themselves and their
    neighbours, infinities and missing values."""
    rng = np.random.default_rng(5)
    reference = pd.Series(np.r_[rng.integers(0, 5, 500), rng.normal(0, 1, 500) / 3, np.nan],
                          dtype="float32")  # fmt: skip
    for bins in (4, 20):
        edges = bin_edges(reference.to_numpy(), bins)
        near = edges.astype(np.float32)
        current = pd.Series(np.r_[near, np.nextafter(near, np.float32(-np.inf)),
                                  np.nextafter(near, np.float32(np.inf)), -np.inf, np.inf,
                                  np.nan, rng.normal(0, 2, 300)], dtype="float32")  # fmt: skip
        binned = quantile_bins(reference, current, bins)
        for side, codes in zip((reference, current), map(pd.Series, binned), strict=True):
            assert drift_stream.bin_counts(side, edges).tolist() == counts(codes).tolist()


def test_a_streamed_text_column_lists_its_categories_in_the_order_they_first_appear(
    monkeypatch,
):
    """The spool keeps text as dictionaries (a code per row). Read back, a column holds only
    the values present, in the order they first appear across the parts, as dictionary-encoding
    the strings gives them: that order is the order of the window thresholds' random draws.
    Parquet written from a pandas categorical stores its categories sorted, unused ones too;
    each range of a CSV read in ranges gets a dictionary of its own."""
    monkeypatch.setattr(drift_inputs, "CSV_SPLIT", 100)
    columns = Monitored(["amount"], ["plan"])
    Path("log").mkdir()
    stored = pd.Categorical(["pro", None, "basic"], categories=["basic", "enterprise", "pro"])
    pd.DataFrame({"amount": [1.0, 2.0, 3.0], "plan": stored}).to_parquet(
        "log/part-20261125T100000-a.parquet"
    )
    pd.DataFrame({"amount": [4.0, 5.0], "plan": ["plus", "pro"]}).to_parquet(
        "log/part-20261125T110000-b.parquet"
    )
    logged = drift_inputs.spool_table(f"file://{Path('log').resolve()}", columns, "current")
    plan = logged.column("plan")
    assert list(plan.cat.categories) == ["pro", "basic", "plus"]
    assert plan.astype(object).where(plan.notna(), None).tolist() == [
        "pro", None, "basic", "plus", "pro"
    ]  # fmt: skip
    values = ["plus", "basic"] * 10 + [None] + ["pro", "basic", "plus"] * 10
    pd.DataFrame({"amount": 1.0, "plan": values}).to_csv("ranges.csv", index=False)
    plan = drift_inputs.spool_table("ranges.csv", columns, "reference").column("plan")
    assert len(plan) == len(values) and list(plan.cat.categories) == ["plus", "basic", "pro"]
    assert plan.astype(object).where(plan.notna(), None).tolist() == values


def test_retraining_needs_labelled_rows():
    contract = {
        "columns": {
            "amount": {"dtype": "float"},
            "plan": {"dtype": "str"},
            "label": {"dtype": "str"},
        }
    }
    table(10, seed=1).drop(columns="label").to_csv("log.csv", index=False)
    with pytest.raises(CliError, match="has no labels \\(column 'label'\\)"):
        labelled_rows(["log.csv"], contract, "label")
    table(10, seed=1).to_csv("labelled.csv", index=False)
    assert list(labelled_rows(["labelled.csv"], contract, "label").columns) == [
        "amount",
        "plan",
        "label",
    ]


def test_new_rows_are_appended_in_the_files_column_order():
    Path("train.csv").write_bytes(b"plan,amount,label\nbasic,1.5,no")  # no final newline
    before = Path("train.csv").read_bytes()
    append_rows("train.csv", pd.DataFrame({"label": ["yes"], "amount": [2.0], "plan": ["pro"]}))
    assert Path("train.csv").read_bytes() == before + b"\npro,2.0,yes\n"
