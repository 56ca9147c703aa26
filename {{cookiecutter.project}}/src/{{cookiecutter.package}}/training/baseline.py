"""The training-time baseline of the server's online signals, recorded as registry tags by
`register`: the model's own answers on its training split, summarised as the share of each
predicted class (binary: of the positive class) and the mean and spread of the score (the
positive score, the predicted class's probability, or the predicted value). The server exports
the served version's baseline as gauges, so the alert rules compare live traffic with it.
"""

import json

import joblib
import numpy as np

from ..config import MODEL_FILE, columns
from ..data.loading import load_dataset, split
from .task import for_params

SHARES, SCORE_MEAN, SCORE_SD = "baseline.shares", "baseline.score_mean", "baseline.score_sd"


def baseline_tags(params):
    """{tag: text} of the trained model (models/model.joblib) on its training split."""
    spec = columns(params)
    task = for_params(params, spec)
    train_set, _ = split(load_dataset(params), params)
    positive = spec.positive_class
    labels = {True: positive, False: f"not {positive}"}  # binary; other tasks ignore them
    answers = task.answer_columns(joblib.load(MODEL_FILE), train_set[spec.features], labels)
    classes, scores = task.signal_columns(answers)
    scores = np.asarray(scores, dtype=float)
    tags = {SCORE_MEAN: f"{scores.mean():.6f}", SCORE_SD: f"{scores.std():.6f}"}
    if classes is not None:
        found, counts = np.unique(np.asarray(classes), return_counts=True)
        shares = {str(c): round(n / len(classes), 6) for c, n in zip(found, counts, strict=True)}
        tags[SHARES] = json.dumps(task.watched(shares), sort_keys=True)
    return tags


def from_tags(tags):
    """(class shares, score mean, score sd) of a version's tags; empty/None where absent."""
    try:
        shares = {str(k): float(v) for k, v in json.loads(tags.get(SHARES, "{}")).items()}
    except (ValueError, AttributeError):
        shares = {}
    return shares, _number(tags.get(SCORE_MEAN)), _number(tags.get(SCORE_SD))


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
