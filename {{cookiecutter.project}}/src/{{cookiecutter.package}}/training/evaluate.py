"""`evaluate`: metrics on the test split, fairness by group, and every gate in params.yaml."""

import joblib

from ..config import MODEL_FILE, RUN_FILE, CliError, columns, load_params
from ..data.loading import labels, load_dataset, split
from ..reports import markdown_table, write_report
from .gates import all_gates, failure_message
from .task import for_params


def load_model(path=MODEL_FILE):
    if not path.exists():
        raise CliError(f"{path} does not exist: run `make pipeline` (dvc repro) to train it.")
    return joblib.load(path)


def held_out(params, spec):
    """(features of the test split, its labels, the training split's labels)."""
    train_set, test_set = split(load_dataset(params), params)
    frame = test_set.drop(columns=[spec.target])
    return frame, labels(test_set, spec), labels(train_set, spec)


def evaluate(args):
    del args
    params = load_params()
    spec = columns(params)
    task, model = for_params(params, spec), load_model()
    frame, y_true, y_train = held_out(params, spec)
    scores_metrics = task.metrics(model, frame, y_true, y_train)
    fairness = task.fairness(frame, y_true, task.predicted(model, frame))
    gates = all_gates(task, model, frame, scores_metrics, fairness, params["gates"])
    write_report("metrics", scores_metrics, _metrics_markdown(scores_metrics, len(frame)))
    write_report("fairness", fairness, _fairness_markdown(fairness))
    gate_rows = [gate.as_dict() for gate in gates]
    write_report("gates", {"passed": all(g.passed for g in gates), "gates": gate_rows},
                 gates_markdown(gate_rows))  # fmt: skip
    _log_metrics(scores_metrics)
    failed = [gate for gate in gates if not gate.passed]
    if failed:
        raise CliError(failure_message(failed))
    headline, value = next(iter(scores_metrics.items()))
    print(f"{headline} {value:.4f}; all {len(gates)} gates pass.")


def _log_metrics(values):
    """Add the test metrics to the training run, so MLflow shows them side by side."""
    import json

    import mlflow

    from ..registry import mlflow_name, use_tracking_store

    if RUN_FILE.exists():
        use_tracking_store(load_params())
        with mlflow.start_run(run_id=json.loads(RUN_FILE.read_text())["run_id"]):
            mlflow.log_metrics({mlflow_name(f"test_{name}"): v for name, v in values.items()})


def _metrics_markdown(values, rows):
    table = markdown_table(["metric", "value"], [(k, f"{v:.4f}") for k, v in values.items()])
    return f"## Test metrics ({rows} rows)\n\n{table}"


def _fairness_markdown(fairness):
    parts = ["## Fairness by group"]
    for feature, summary in fairness.items():
        gaps = {k: v for k, v in summary.items() if isinstance(v, float)}
        names = list(next(iter(summary["by_group"].values()), {}))
        rows = [(group, *(_cell(n, m.get(n)) for n in names))
                for group, m in summary["by_group"].items()]  # fmt: skip
        parts += [
            f"### {feature}",
            ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in gaps.items()) + ".",
            markdown_table(["group", *(n.replace("_", " ") for n in names)], rows),
        ]
    return "\n\n".join(parts)


def _cell(name, value):
    if value is None:  # e.g. recall in a group with no true rows of that class
        return "-"
    return str(int(value)) if name == "count" else f"{value:.3f}"


def gates_markdown(gates):
    rows = [
        (g["name"], f"{g['value']:.4f}", g["threshold"], "pass" if g["passed"] else "**FAIL**",
         g["detail"], f"`{g.get('key', '')}`")
        for g in gates
    ]  # fmt: skip
    headers = ["gate", "value", "limit", "result", "rule", "limit in params.yaml"]
    return "## Model gates\n\n" + markdown_table(headers, rows)


def add_arguments(parser):
    del parser


run = evaluate
