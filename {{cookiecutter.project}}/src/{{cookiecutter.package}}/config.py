"""Project settings: `params.yaml` (every number a user tunes) and the contract `schema.yaml`."""

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

# The import name of this package, for `python -m PACKAGE VERB` from any of its stage folders.
PACKAGE = __package__
PARAMS_FILE = Path("params.yaml")
SCHEMA_FILE = Path("schema.yaml")
REPORTS_DIR = Path("reports")
MODEL_FILE = Path("models/model.joblib")
RUN_FILE = Path("models/run.json")
PREPARED_DIR = Path("data/prepared")
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


class CliError(Exception):
    """A failure the user can fix; its text is the one-paragraph reason the CLI prints."""


@dataclass(frozen=True)
class Columns:
    target: str
    positive_class: str | None  # binary_classification only
    numeric: list
    categorical: list
    sensitive: list
    ignore: list
    task: str = "binary_classification"  # params.yaml `task`; training/task.py holds what follows
    ids: tuple = ()  # columns naming a record: sent back as prediction_id, never scored

    @property
    def features(self):
        return [*self.numeric, *self.categorical]

    @property
    def request(self):
        """What a request record may carry: the features, then `logged_only`, then the ids."""
        return [*self.features, *self.logged_only, *self.ids]

    @property
    def logged_only(self):
        """Sensitive columns that are not features: carried, logged, watched for drift and
        fairness, never scored."""
        return [name for name in self.sensitive if name not in self.features]


def load_params(path=PARAMS_FILE):
    if not Path(path).exists():
        raise CliError(f"{path} is missing: run the command from the project root.")
    with open(path) as handle:
        return yaml.safe_load(handle)


def columns(params):
    spec = params["columns"]
    if not spec.get("numeric") and not spec.get("categorical"):
        raise CliError(
            "params.yaml lists no feature columns: put your CSV at data/raw/dataset.csv and "
            "run `make schema` to write the columns and the data contract."
        )
    ids = tuple(spec.get("ids") or [])
    scored = [spec["target"], *(spec.get("numeric") or []), *(spec.get("categorical") or []),
              *(spec.get("sensitive") or [])]  # fmt: skip
    if clash := [name for name in ids if name in scored]:
        raise CliError(
            f"params.yaml columns.ids lists {', '.join(clash)}, which is also the target, a "
            "feature or a sensitive column: an id names a record and is never scored; list it "
            "only under ids."
        )
    return Columns(
        target=spec["target"],
        positive_class=None if spec.get("positive_class") is None else str(spec["positive_class"]),
        numeric=list(spec.get("numeric") or []),
        categorical=list(spec.get("categorical") or []),
        sensitive=list(spec.get("sensitive") or []),
        ignore=list(spec.get("ignore") or []),
        task=params.get("task", "binary_classification"),
        ids=ids,
    )


def load_schema(path=SCHEMA_FILE):
    if not Path(path).exists():
        raise CliError(
            f"{path} is missing: run `make schema` to infer the data contract from "
            "data/raw/dataset.csv, review it and commit it."
        )
    with open(path) as handle:
        return yaml.safe_load(handle)


def params_hash(params):
    """Stable hash of the parameters, stored as a lineage tag on every model version."""
    canonical = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def tracking_uri():
    # Empty counts as unset: a workflow passes a secret nobody set as an empty string.
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
