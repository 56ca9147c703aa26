"""Where the server's model comes from: the MLflow registry by alias, or a local path.

Either source gives a ServedModel: the fitted scikit-learn pipeline, the identity that
`/version` reports (name, version, alias and the lineage tags of the registered version) and
the version's own serving contract (its columns and their rules, logged with it at training;
for an older version, the input signature MLflow inferred), so that each version is served by
the columns it was trained on.
A registry source can be followed: `latest_version()` says which version the alias points
to now. A path source is fixed: a container image bakes its model in (see README, Serving).

A model directory, as `export-model` writes it, holds `model.joblib` (the pipeline) and
`model.json` (name, version, alias, tags, contract). A bare `.joblib` file is served as version
`local`, with the project's contract (params.yaml and schema.yaml).
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import joblib

from ..config import CliError, tracking_uri
from ..data.contract import SERVING_CONTRACT

MODEL_JOBLIB = "model.joblib"
MODEL_INFO = "model.json"


@dataclass(frozen=True)
class ServedModel:
    pipeline: object
    name: str
    version: str
    alias: str | None
    source: str
    tags: dict = field(default_factory=dict)
    contract: dict | None = None  # None: the project's contract
    schema: object = None  # the request models; the server sets them from the contract
    labels: dict | None = None  # binary: score >= threshold -> label; set with the schema
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def describe(self):
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "git_commit": self.tags.get("git_commit"),
            "data_hash": self.tags.get("data_hash"),
            "params_hash": self.tags.get("params_hash"),
            "source": self.source,
            "loaded_at": self.loaded_at,
        }

    def info(self):
        """What `model.json` stores beside an exported pipeline."""
        return {"name": self.name, "version": self.version, "alias": self.alias,
                "source": self.source, "tags": self.tags, "contract": self.contract}  # fmt: skip


class RegistrySource:
    """`models:/<name>@<alias>` in the MLflow registry of MLFLOW_TRACKING_URI."""

    def __init__(self, name, alias):
        self.name, self.alias = name, alias

    def __str__(self):
        return f"models:/{self.name}@{self.alias} ({tracking_uri()})"

    def latest_version(self):
        """The version the alias points to now; CliError when there is none."""
        from mlflow.exceptions import MlflowException

        from ..registry import client

        try:
            return str(client().get_model_version_by_alias(self.name, self.alias).version)
        except MlflowException as error:
            raise CliError(
                f"No version of {self.name!r} has the alias {self.alias!r} in {tracking_uri()}: "
                "run `make pipeline` to register one, pick another alias with --alias, or "
                f"serve a local file with --model-path. (MLflow: {error.message})"
            ) from None

    def load(self, version=None):
        """The version's pipeline and contract; CliError naming the version and what is
        missing when it cannot be loaded."""
        import mlflow
        from mlflow.exceptions import MlflowException

        from ..registry import client

        version = version or self.latest_version()
        where = f"{self.name} version {version}"
        try:
            registered = client().get_model_version(self.name, version)
        except MlflowException as error:
            raise CliError(f"{where} is not in the registry ({error.message}).") from None
        mlflow.set_tracking_uri(tracking_uri())
        uri = f"models:/{self.name}/{version}"
        try:
            info = mlflow.models.get_model_info(uri)
            pipeline = mlflow.sklearn.load_model(uri)
        except (MlflowException, OSError) as error:
            raise CliError(
                f"{where}: its model artifacts ({registered.source}) are missing or "
                f"unreadable (MLflow: {getattr(error, 'message', error)})."
            ) from None
        contract = (info.metadata or {}).get(SERVING_CONTRACT) or _from_signature(info.signature)
        return ServedModel(pipeline, self.name, version, self.alias, uri,
                           dict(registered.tags), contract)  # fmt: skip


def _from_signature(signature):
    """The feature columns of a version logged without a serving contract, from its input
    signature: names and types only (no ranges or categories), any of them may be null."""
    if signature is None or signature.inputs is None:
        return None
    numeric, categorical, rules = [], [], {}
    for column in signature.inputs.inputs:
        kind = str(getattr(column.type, "name", column.type))
        if kind in ("double", "float", "long", "integer"):
            numeric.append(column.name)
            rules[column.name] = {"dtype": "float", "nullable": True}
        else:
            categorical.append(column.name)
            rules[column.name] = {"dtype": "str", "nullable": True}
    return {"numeric": numeric, "categorical": categorical, "rules": rules}


class PathSource:
    """A pipeline on disk: a model directory from `export-model`, or a `.joblib` file."""

    def __init__(self, path, name):
        self.path, self.name = Path(path), name

    def __str__(self):
        return str(self.path)

    def latest_version(self):
        if not self.path.exists():
            raise CliError(
                f"{self.path} does not exist: run `make pipeline` (models/model.joblib) or "
                "`make image`'s export step (build/model), or serve from the registry."
            )
        return None  # a file does not move: nothing to follow

    def load(self, version=None):
        del version
        self.latest_version()
        if self.path.is_dir():
            info = json.loads((self.path / MODEL_INFO).read_text())
            pipeline = joblib.load(self.path / MODEL_JOBLIB)
            source = info.get("source", str(self.path))
            return ServedModel(pipeline, info["name"], str(info["version"]), info.get("alias"),
                               source, info.get("tags", {}), info.get("contract"))  # fmt: skip
        return ServedModel(joblib.load(self.path), self.name, "local", None, str(self.path))
