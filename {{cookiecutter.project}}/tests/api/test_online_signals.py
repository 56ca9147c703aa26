"""The online signals the alert rules read (monitoring/prometheus/rules.yml): the score
histogram, the training-time baseline of the served version, the latency gate, and unexpected
values by version."""

import json

import joblib
import pytest

from {{ cookiecutter.package }}.serving.model_source import PathSource
from {{ cookiecutter.package }}.training.baseline import baseline_tags, from_tags


@pytest.fixture(scope="module")
def baseline(model, params):
    del model  # trained first
    return baseline_tags(params)


@pytest.fixture
def served(model, baseline, tmp_path, serve_params, start_app):
    """An exported version 5 whose tags carry the baseline `register` records."""
    exported = tmp_path / "model"
    exported.mkdir()
    joblib.dump(model, exported / "model.joblib")
    info = {"name": "m", "version": "5", "alias": "staging", "source": "models:/m/5",
            "tags": baseline}  # fmt: skip
    (exported / "model.json").write_text(json.dumps(info))
    return start_app(PathSource(exported, "ignored"), serve_params)


def test_the_baseline_is_the_models_answers_on_its_training_split(baseline, task, spec):
    shares, mean, sd = from_tags(baseline)
    assert mean is not None and sd is not None and sd > 0
    if spec.task == "regression":
        assert shares == {}
    else:
        assert shares and all(0 <= share <= 1 for share in shares.values())
    if spec.task == "binary_classification":
        assert list(shares) == [spec.positive_class]  # the one class an alert watches
        assert 0 <= mean <= 1


def test_the_served_versions_baseline_and_scores_are_exported(served, baseline, records,
                                                              task, metric, params):  # fmt: skip
    shares, mean, sd = from_tags(baseline)
    for label, share in shares.items():
        assert metric(served, "model_baseline_prediction_share", model_version="5",
                      prediction=label) == pytest.approx(share)  # fmt: skip
    assert metric(served, "model_baseline_score", model_version="5", stat="mean") == mean
    assert metric(served, "model_baseline_score", model_version="5", stat="sd") == sd
    gate = params["gates"]["max_p95_ms"] / 1000
    assert metric(served, "latency_p95_gate_seconds") == pytest.approx(gate)

    answers = served.post("/predict/batch", json={"records": records[:20]}).json()
    one = served.post("/predict", json=records[20]).json()
    singles = [{k: v[i] for k, v in _per_record(answers).items()} for i in range(20)] + [one]
    scores = [task.signal(answer)[1] for answer in singles]
    assert metric(served, "prediction_score_count", model_version="5") == 21
    assert metric(served, "prediction_score_sum", model_version="5") == pytest.approx(sum(scores))
    assert metric(served, "prediction_score_bucket", model_version="5", le="+Inf") == 21


def test_unexpected_values_are_counted_by_version(served, records, contract, spec, metric):
    seen = {name: (contract["columns"][name].get("observed") or {}).get("values")
            for name in spec.categorical}  # fmt: skip
    column = next((name for name, values in seen.items() if values), None)
    if column is None:
        pytest.skip("no categorical feature with observed values in schema.yaml")
    served.post("/predict", json=dict(records[0], **{column: "never-seen-before"}))
    assert metric(served, "unexpected_values_total", column=column, model_version="5") == 1


def _per_record(batch):
    """A batch answer's lists, by the single answer's field names."""
    names = {"predictions": "prediction", "scores": "score", "probabilities": "probabilities"}
    return {names[key]: value for key, value in batch.items() if key in names}
