"""The drift verdict's column weights: each feature's share of the permutation importance in
the model card of the production version (or of a card.json named by `drift.importance`).

A shift in a column the model leans on then counts for much, one in a column it ignores for
nothing. With `drift.weighting: equal`, or when no card is found (nothing deployed yet, a
version registered before cards), every feature counts the same and the report says why.
"""

import json
from pathlib import Path

from ..config import CliError
from ..data.training_data import production_version

WEIGHTINGS = ("importance", "equal")


def column_weights(settings, params, features):
    """({feature: weight}, summing to 1, and where they came from), or (None, why equal)."""
    if settings.weighting == "equal":
        return None, "drift.weighting is equal"
    card, source = _card(settings.importance, params)
    if card is None:
        return None, source
    found = {name: max(float(card.get("weights", {}).get(name, 0.0)), 0.0) for name in features}
    total = sum(found.values())
    if not total:
        return None, f"the card ({source}) gives no weight to any compared column"
    return {name: value / total for name, value in found.items()}, source


def _card(setting, params):
    """(card.json content, where it came from), or (None, why there is none)."""
    if setting != "production":
        path = Path(setting)
        if not path.is_file():
            raise CliError(
                f"params.yaml drift.importance: {path} is not a file; give a "
                "model card's card.json (reports/card/card.json) or `production`."
            )
        return json.loads(path.read_text()), str(path)
    name = params["registry"]["model_name"]
    version = production_version(name)
    if version is None:
        return None, f"no version of {name} has the production alias yet"
    from ..training.register import CARD_TAG  # brings scikit-learn: only once a version is live

    where = version.tags.get(CARD_TAG)
    if not where:
        return None, f"{name} version {version.version} (@production) has no model card"
    return _download(where.rsplit("/", 1)[0] + "/card.json"), (
        f"the card of {name} version {version.version} (@production)"
    )


def _download(uri):
    import mlflow
    from mlflow.exceptions import MlflowException

    from ..config import tracking_uri

    mlflow.set_tracking_uri(tracking_uri())
    try:
        return json.loads(Path(mlflow.artifacts.download_artifacts(artifact_uri=uri)).read_text())
    except (MlflowException, OSError) as error:
        raise CliError(
            f"The production version's model card {uri} cannot be read ({error}): restore the "
            "run's artifacts, or set drift.weighting: equal in params.yaml."
        ) from None
