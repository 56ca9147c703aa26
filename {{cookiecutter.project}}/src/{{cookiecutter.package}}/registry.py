"""The MLflow registry as every stage reaches it: the client, the tracking store, lineage tags."""

import re
import subprocess

from .config import params_hash, tracking_uri
from .data.loading import data_hash


def use_tracking_store(params):
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(params["registry"]["model_name"])


def client():
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri(), registry_uri=tracking_uri())


def git_commit():
    """The commit the model was built from; `uncommitted` in a repo with no commit yet."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return "uncommitted"
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True)
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def lineage_tags(params, metrics, fairness):
    tags = {
        "git_commit": git_commit(),
        "data_path": params["data"]["path"],
        "data_hash": data_hash(params["data"]["path"]),
        "params_hash": params_hash(params),
        "model_type": params["model"]["type"],
        "task": params.get("task", "binary_classification"),
        "gates": "passed",
    }
    tags.update({mlflow_name(f"metric.{k}"): f"{v:.6f}" for k, v in metrics.items()})
    for feature, summary in fairness.items():
        for name, gap in summary.items():  # the task's gaps (training/task.py, fairness_gaps)
            if isinstance(gap, float):
                tags[mlflow_name(f"fairness.{feature}.{name}")] = f"{gap:.6f}"
    return tags


def mlflow_name(name):
    """MLflow keys take letters, digits, _ - . / : and spaces; class names may hold others."""
    return re.sub(r"[^\w\-./: ]", "_", name)
