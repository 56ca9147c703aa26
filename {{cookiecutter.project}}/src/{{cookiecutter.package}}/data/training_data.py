"""The training data of a registered version, found by its lineage tags (data_path, data_hash,
git_commit), and the version behind @production. Drift reads it as its reference; the
champion/challenger comparison splits it into the test rows both versions score."""

import hashlib
import re
from pathlib import Path

from ..config import CliError, tracking_uri
from .loading import data_hash

PRODUCTION_ALIAS = "production"
FETCHED_DIR = Path(".dvc/tmp/training-data")  # DVC's own scratch folder, ignored by git
# What a user can do instead when the data is nowhere: drift's words unless a caller says others.
INSTEAD = "set drift.reference to a file (or pass --reference)"


def production_version(name):
    """The registry version behind @production, or None when nothing is deployed yet."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return None  # no local registry yet: do not create an empty one
    from mlflow.exceptions import MlflowException

    from ..registry import client

    try:
        return client().get_model_version_by_alias(name, PRODUCTION_ALIAS)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise CliError(f"The model registry at {uri} did not answer: {error}") from error


def locate_training_data(path, wanted, commit, whose="the production model", instead=INSTEAD):
    """The file whose md5 is `wanted`: in the workspace, DVC's cache, or DVC at that commit.
    `whose` data it is and what to do `instead` go into the error when it is nowhere."""
    if Path(path).is_file() and data_hash(path) == wanted:
        return path, "workspace"
    cached = Path(".dvc/cache/files/md5") / wanted[:2] / wanted[2:]
    if cached.is_file():
        return cached, "dvc cache"
    fetched = FETCHED_DIR / wanted / Path(path).name
    if fetched.is_file():
        return fetched, "fetched earlier by dvc"
    if re.fullmatch(r"[0-9a-f]{40}", commit):
        found = _fetch_with_dvc(path, commit, wanted, fetched, whose, instead)
        return found, f"dvc at commit {commit[:12]}"
    raise CliError(
        f"{whose[0].upper()}{whose[1:]} was trained on {path} with md5 {wanted}, which is neither "
        f"in the workspace nor in the DVC cache, and its commit ({commit or 'unknown'}) is not a "
        f"clean commit DVC could fetch it from. Run `dvc pull`, or {instead}."
    )


def _fetch_with_dvc(path, commit, wanted, target, whose, instead):
    import dvc.api
    from dvc.exceptions import DvcException

    target.parent.mkdir(parents=True, exist_ok=True)
    partial, digest = target.with_suffix(".partial"), hashlib.md5()
    try:
        with (
            dvc.api.open(path, repo=".", rev=commit, mode="rb") as source,
            open(partial, "wb") as out,
        ):
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except (DvcException, OSError) as error:
        raise CliError(
            f"DVC could not fetch {path} as of commit {commit[:12]} ({whose}'s training "
            f"data): {error}. Check the DVC remote and the git history (CI needs "
            f"fetch-depth: 0), or {instead}."
        ) from error
    if digest.hexdigest() != wanted:
        partial.unlink()
        raise CliError(
            f"{path} at commit {commit[:12]} has md5 {digest.hexdigest()}, not the {wanted} "
            f"{whose} was trained on: {instead}."
        )
    return partial.replace(target)
