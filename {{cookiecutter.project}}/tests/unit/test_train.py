"""The training pipeline fits every supported model on mixed, partly missing data."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package }}.config import Columns
from {{ cookiecutter.package }}.training.train import MODELS, build_pipeline


@pytest.mark.parametrize("model_type", sorted(MODELS))
def test_pipeline_fits_and_scores(model_type):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=200),
            "kind": rng.choice(["a", "b", None], size=200),
            "ignored": range(200),
        }
    )
    y = (frame["x"] > 0).astype(int)
    spec = Columns("y", "1", ["x"], ["kind"], [], ["ignored"])
    pipeline = build_pipeline(spec, {"type": model_type, "params": {}}).fit(frame, y)
    scores = pipeline.predict_proba(frame.assign(kind="unseen"))[:, 1]
    assert scores.shape == (200,)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert ((scores >= 0.5) == y).mean() > 0.9
