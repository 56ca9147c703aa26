"""Scoring through the API: one record, a batch, null and optional columns, micro-batching."""

import asyncio

import httpx
import numpy as np
import pytest

from {{ cookiecutter.package }}.config import MODEL_FILE
from {{ cookiecutter.package }}.serving.model_source import PathSource
from {{ cookiecutter.package }}.serving.prediction_log import SYNTHETIC
from {{ cookiecutter.package }}.serving.serve import create_app


def test_predict_answers_one_record_and_names_the_model_version(client, records, expected_output,
                                                                spec, params, model):  # fmt: skip
    response = client.post("/predict", json=records[0])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "local"
    expected = expected_output(records[:1])[0]
    if spec.task == "binary_classification":
        assert set(body) == {"prediction_id", "prediction", "score", "model_version"}
        assert body["score"] == pytest.approx(expected, rel=1e-9)
        positive = body["score"] >= params["model"]["threshold"]
        assert (body["prediction"] == spec.positive_class) is positive
    elif spec.task == "multiclass_classification":
        assert set(body) == {"prediction_id", "prediction", "probabilities", "model_version"}
        classes = [str(c) for c in model.classes_]
        assert list(body["probabilities"]) == classes
        np.testing.assert_allclose(list(body["probabilities"].values()), expected, rtol=1e-9)
        assert body["prediction"] == classes[int(np.argmax(expected))]
    else:
        assert set(body) == {"prediction_id", "prediction", "model_version"}
        assert body["prediction"] == pytest.approx(expected, rel=1e-9)


def test_batch_answers_every_record_in_order(client, records, expected_output, spec, params):
    response = client.post("/predict/batch", json={"records": records})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "local"
    expected = expected_output(records)
    if spec.task == "binary_classification":
        np.testing.assert_allclose(body["scores"], expected, rtol=1e-9)
        threshold = params["model"]["threshold"]
        assert [p == spec.positive_class for p in body["predictions"]] == [
            s >= threshold for s in body["scores"]
        ]
    elif spec.task == "multiclass_classification":
        rows = [list(p.values()) for p in body["probabilities"]]
        np.testing.assert_allclose(rows, expected, rtol=1e-9)
        assert [list(p)[int(np.argmax(r))] for p, r in zip(body["probabilities"], rows,
                strict=True)] == body["predictions"]  # fmt: skip
    else:
        np.testing.assert_allclose(body["predictions"], expected, rtol=1e-9)
    assert len(body["predictions"]) == len(body["prediction_ids"]) == len(records)


def test_docs_show_the_answer_of_the_task(client, spec):
    document = client.get("/openapi.json").json()
    answer = document["paths"]["/predict"]["post"]["responses"]["200"]["content"]
    fields = set(answer["application/json"]["schema"]["properties"])
    extra = {"binary_classification": {"score"}, "multiclass_classification": {"probabilities"},
             "regression": set()}[spec.task]  # fmt: skip
    assert fields == {"prediction_id", "prediction", "model_version", *extra}


def _nullable_features(spec, contract):
    return [n for n in spec.features if (contract["columns"].get(n) or {}).get("nullable")]


def test_a_nullable_column_may_be_null_or_left_out(client, records, spec, contract):
    nullable = _nullable_features(spec, contract)
    if not nullable:
        pytest.skip("schema.yaml declares no nullable feature column")
    as_null = {**records[0], nullable[0]: None}
    left_out = {k: v for k, v in records[0].items() if k != nullable[0]}
    for record in (as_null, left_out):
        response = client.post("/predict", json=record)
        assert response.status_code == 200, response.text
        assert response.json() == client.post("/predict", json=as_null).json()


def test_sensitive_columns_are_accepted_but_optional(client, records, spec):
    optional = [c for c in spec.sensitive if c not in spec.features]
    if not optional:
        pytest.skip("no sensitive column outside the features")
    without = {k: v for k, v in records[0].items() if k not in optional}
    answers = [client.post("/predict", json=r).json() for r in (records[0], without)]
    assert answers[0] == answers[1]  # the model does not read them


def test_concurrent_requests_share_predict_calls(model, serve_params, contract, records, metric):
    """32 requests at once are scored in one predict call (micro-batching). The batch closes
    when it is full (batch_max_rows), not on a clock: the 10 s window only bounds the wait, so
    a slow machine spreading the requests out over seconds changes nothing."""
    del model
    batching = {"batch_window_ms": 10_000, "batch_max_rows": 32}
    params = {**serve_params, "serve": {**serve_params["serve"], **batching}}
    app = create_app(PathSource(MODEL_FILE, "m"), params, contract)

    async def send_all():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api",
                                         headers=SYNTHETIC) as client:  # fmt: skip
                while (await client.get("/ready")).status_code != 200:
                    await asyncio.sleep(0.02)
                posts = [client.post("/predict", json=records[i % len(records)]) for i in range(32)]
                answers = await asyncio.gather(*posts)
                return answers, (await client.get("/metrics")).text

    answers, metrics_text = asyncio.run(send_all())
    assert [a.status_code for a in answers] == [200] * 32
    calls = _sample(metrics_text, "predict_batch_rows_count")
    assert _sample(metrics_text, "predict_batch_rows_sum") == 32
    assert calls == 1, f"32 concurrent requests took {calls} predict calls"


def _sample(text, name):
    lines = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(lines[0].split()[1])
