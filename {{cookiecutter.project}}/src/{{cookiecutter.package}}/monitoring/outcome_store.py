"""The outcome store and the prediction ids log, as the outcome verbs read them.

The store (`outcomes.store`) is a folder of Parquet files, one per accepted outcome file,
each with the columns prediction_id, the id column(s), the target, outcome_ts and added_at.
The default, data/outcomes, is tracked by DVC (`dvc add`, like the data set); a URL
(s3://..., gs://..., a mounted share) is written and read with fsspec and left to its own
versioning.
"""

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..config import CliError
from .drift_inputs import log_files, read_log

ID_SEPARATOR = "/"  # several id columns make one prediction_id: "17/2026-01-04"


def prediction_id(frame, ids):
    """The prediction_id the server answers for these id values: str() of each JSON value,
    joined. 17 in a CSV read as a float is 17.0: written back as 17, as the client sent it."""

    def text(value):
        if value is None or pd.isna(value):
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    parts = [[text(value) for value in frame[name].tolist()] for name in ids]
    return pd.Series([ID_SEPARATOR.join(row) for row in zip(*parts, strict=True)],
                     index=frame.index, dtype=object)  # fmt: skip


def read_ids_log(path, since=None):
    """Every logged prediction of an environment (the file and its rotations, or the Parquet
    parts of a URL begun since `since`) as a frame with prediction_id, ts (UTC),
    model_version, prediction and, for classifiers, score."""
    files = log_files(path, since)
    if not files:
        raise CliError(
            f"The prediction ids log {path} does not exist: outcomes are joined to logged "
            "predictions (serve the model, or give --predictions)."
        )
    frames = []
    for file in files:
        try:
            frames.append(read_log(file))
        except Exception as error:  # pyarrow's ArrowInvalid names the line
            raise CliError(f"{file} is not a prediction ids log (JSON lines): {error}") from None
    frame = pd.concat(frames, ignore_index=True)
    missing = {"prediction_id", "ts", "model_version", "prediction"} - set(frame.columns)
    if missing:
        raise CliError(
            f"{path} is not a prediction ids log: it lacks {', '.join(sorted(missing))} "
            "(serve.prediction_ids_log in params.yaml names the file the server writes)."
        )
    frame["prediction_id"] = frame["prediction_id"].astype(str)
    frame["model_version"] = frame["model_version"].astype(str)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    return frame


def read_store(store):
    """Every outcome in the store, one frame (empty, with no columns, when there is none)."""
    files = store_files(store)
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(file) for file in files], ignore_index=True)


def store_files(store):
    import fsspec

    fs, root = fsspec.core.url_to_fs(str(store))
    return [fs.unstrip_protocol(p) for p in sorted(fs.glob(f"{root.rstrip('/')}/*.parquet"))]


def write(outcomes, store):
    """One new Parquet file in the store; a local store inside a DVC project is `dvc add`ed."""
    import fsspec

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    fs, root = fsspec.core.url_to_fs(str(store))
    fs.makedirs(root, exist_ok=True)
    target = f"{root.rstrip('/')}/outcomes-{stamp}.parquet"
    with fs.open(target, "wb") as out:
        outcomes.to_parquet(out, index=False)
    if _in_dvc_project(store):
        done = subprocess.run(["dvc", "add", "--quiet", str(store)], capture_output=True,
                              text=True)  # fmt: skip
        if done.returncode:
            fs.rm(target)
            raise CliError(
                f"`dvc add {store}` failed, so the outcomes were not kept: "
                f"{done.stderr.strip() or done.stdout.strip()}"
            )
    if "://" in str(store):
        return fs.unstrip_protocol(target)
    here = Path(target)
    return str(here.relative_to(Path.cwd()) if here.is_relative_to(Path.cwd()) else here)


def _in_dvc_project(store):
    """A local store inside this DVC project (the default, data/outcomes): DVC tracks it."""
    if "://" in str(store) or not Path(".dvc").is_dir():
        return False
    return Path(store).resolve().is_relative_to(Path.cwd().resolve())
