"""`evaluate`: metrics on the test split, fairness by group, and every gate in params.yaml."""

import joblib
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from ..config import MODEL_FILE, RUN_FILE, CliError, columns, load_params
from ..data.loading import labels, load_dataset, split
from ..reports import markdown_table, write_report
from .fairness import fairness_summary
from .gates import all_gates, failure_message, positive_scores


def load_model(path=MODEL_FILE):
    if not path.exists():
        raise CliError(f"{path} does not exist: run `make pipeline` (dvc repro) to train it.")
    return joblib.load(path)


def test_split(params):
    _, test_set = split(load_dataset(params), params)
    return test_set


def metrics(y_true, scores, threshold):
    y_pred = (scores >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y_true, scores)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
    }


def evaluate(args):
    del args
    params = load_params()
    spec = columns(params)
    model, test_set = load_model(), test_split(params)
    y_true, frame = labels(test_set, spec), test_set.drop(columns=[spec.target])
    scores = positive_scores(model, frame)
    threshold = params["model"]["threshold"]
    scores_metrics = metrics(y_true, scores, threshold)
    fairness = fairness_summary(frame, y_true, (scores >= threshold).astype(int), spec.sensitive)
    gates = all_gates(model, frame, y_true, fairness, params["gates"])
    write_report("metrics", scores_metrics, _metrics_markdown(scores_metrics, len(test_set)))
    write_report("fairness", fairness, _fairness_markdown(fairness))
    gate_rows = [gate.as_dict() for gate in gates]
    write_report("gates", {"passed": all(g.passed for g in gates), "gates": gate_rows},
                 gates_markdown(gate_rows))  # fmt: skip
    _log_metrics(scores_metrics)
    failed = [gate for gate in gates if not gate.passed]
    if failed:
        raise CliError(failure_message(failed))
    print(f"ROC AUC {scores_metrics['roc_auc']:.4f}; all {len(gates)} gates pass.")


def _log_metrics(values):
    """Add the test metrics to the training run, so MLflow shows them side by side."""
    import json

    import mlflow

    from ..registry import use_tracking_store

    if RUN_FILE.exists():
        use_tracking_store(load_params())
        with mlflow.start_run(run_id=json.loads(RUN_FILE.read_text())["run_id"]):
            mlflow.log_metrics({f"test_{name}": value for name, value in values.items()})


def _metrics_markdown(values, rows):
    table = markdown_table(["metric", "value"], [(k, f"{v:.4f}") for k, v in values.items()])
    return f"## Test metrics ({rows} rows)\n\n{table}"


def _fairness_markdown(fairness):
    parts = ["## Fairness by group"]
    for feature, summary in fairness.items():
        rows = [
            (group, int(m["count"]), f"{m['selection_rate']:.3f}",
             f"{m['true_positive_rate']:.3f}", f"{m['false_positive_rate']:.3f}")
            for group, m in summary["by_group"].items()
        ]  # fmt: skip
        parts += [
            f"### {feature}",
            f"Demographic parity difference {summary['demographic_parity_difference']:.4f}, "
            f"equalized odds difference {summary['equalized_odds_difference']:.4f}.",
            markdown_table(["group", "rows", "selection rate", "TPR", "FPR"], rows),
        ]
    return "\n\n".join(parts)


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
