"""Load the data set as the contract types it, and split it."""

import hashlib
from pathlib import Path

import pandas as pd
import yaml

from ..config import CliError, columns, load_schema


def read_csv(path, contract=None):
    """Read a CSV; text columns stay text even when they look like numbers or booleans."""
    if not Path(path).exists():
        raise CliError(f"{path} does not exist: put the data set there (see README.md, Data).")
    text_columns = {
        name: str
        for name, spec in (contract or {}).get("columns", {}).items()
        if spec["dtype"] == "str"
    }
    try:
        return pd.read_csv(path, dtype=text_columns, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CliError(f"{path} is not a readable CSV file: {error}") from error


def load_dataset(params):
    return read_csv(params["data"]["path"], load_schema())


def labels(frame, spec):
    """The target as the model learns it: 0/1 for a binary task (1 = the positive class), the
    class names as text for a multiclass one, numbers for a regression."""
    target = frame[spec.target]
    if spec.task == "regression":
        values = pd.to_numeric(target, errors="coerce")
        bad = target[values.isna() & target.notna()]
        if len(bad) or values.isna().any():
            shown = bad.head(3).tolist() or ["(empty)"]
            raise CliError(
                f"The regression target {spec.target!r} must be a number in every row; it holds "
                f"{', '.join(map(repr, shown))}: fix the data, or choose a classification task."
            )
        return values.astype(float)
    if spec.task == "multiclass_classification":
        return target.astype(str)
    return (target.astype(str) == spec.positive_class).astype(int)


def split(frame, params):
    from sklearn.model_selection import train_test_split

    spec = columns(params)
    return train_test_split(
        frame,
        test_size=params["data"]["test_size"],
        random_state=params["data"]["seed"],
        stratify=None if spec.task == "regression" else labels(frame, spec),
    )


def data_hash(path):
    """The data version: DVC's md5 from dvc.lock when it is there, else the file's own md5."""
    lock = Path("dvc.lock")
    if lock.exists():
        for stage in (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).values():
            for dep in stage.get("deps", []):
                if dep["path"] == str(path) and "md5" in dep:
                    return dep["md5"]
    return hashlib.md5(Path(path).read_bytes()).hexdigest()
