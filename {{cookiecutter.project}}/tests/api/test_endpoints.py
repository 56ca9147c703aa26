"""Operations endpoints: /health, /ready (503 until the model is in), /version, /metrics, /docs."""

import gc
import json
import threading

import joblib

from {{ cookiecutter.package }}.config import MODEL_FILE
from {{ cookiecutter.package }}.serving.model_source import PathSource


class HeldSource(PathSource):
    """A model file whose load waits until the test releases it."""

    def __init__(self):
        super().__init__(MODEL_FILE, "held")
        self.release = threading.Event()

    def load(self, version=None):
        assert self.release.wait(30), "the test never released the load"
        return super().load(version)


class BrokenSource(PathSource):
    def load(self, version=None):
        raise OSError("disk on fire")


def test_ready_is_503_until_the_model_is_loaded(model, serve_params, start_app, records,
                                                wait_until):  # fmt: skip
    del model
    source = HeldSource()
    client = start_app(source, serve_params, ready=False)
    assert client.get("/health").json() == {"status": "ok"}
    for method, path in (("get", "/ready"), ("get", "/version"), ("post", "/predict")):
        response = client.request(method, path, json=records[0] if method == "post" else None)
        assert response.status_code == 503, path
        assert "loading" in response.json()["detail"]
    source.release.set()
    wait_until(lambda: client.get("/ready").status_code == 200, what="/ready")
    assert client.get("/ready").json() == {"status": "ready", "model_version": "local"}
    assert client.post("/predict", json=records[0]).status_code == 200


def test_a_model_that_cannot_load_keeps_ready_503_with_the_reason(serve_params, start_app,
                                                                   metric, wait_until):  # fmt: skip
    client = start_app(BrokenSource(MODEL_FILE, "broken"), serve_params, ready=False)
    wait_until(lambda: "disk on fire" in client.get("/ready").text, what="the load error")
    assert client.get("/ready").status_code == 503
    assert client.get("/health").status_code == 200
    assert metric(client, "model_load_errors_total") >= 1


def test_version_reports_the_lineage_of_an_exported_model(model, tmp_path, serve_params,
                                                          start_app, records):  # fmt: skip
    exported = tmp_path / "model"
    exported.mkdir()
    joblib.dump(model, exported / "model.joblib")
    tags = {"git_commit": "abc123", "data_hash": "d41d8cd9", "params_hash": "p1"}
    info = {"name": "churn", "version": "7", "alias": "staging", "source": "models:/churn/7",
            "tags": tags}  # fmt: skip
    (exported / "model.json").write_text(json.dumps(info))
    client = start_app(PathSource(exported, "ignored"), serve_params)
    version = client.get("/version").json()
    assert {k: version[k] for k in ("name", "version", "alias", "git_commit", "data_hash")} == {
        "name": "churn", "version": "7", "alias": "staging", "git_commit": "abc123",
        "data_hash": "d41d8cd9",
    }  # fmt: skip
    assert client.post("/predict", json=records[0]).json()["model_version"] == "7"


def test_metrics_count_requests_latency_and_predictions(client, records, metric):
    singles = [client.post("/predict", json=record) for record in records[:3]]
    batch = client.post("/predict/batch", json={"records": records[:10]}).json()
    client.post("/predict", json={})
    assert metric(client, "http_requests_total", path="/predict", status="200") == 3
    assert metric(client, "http_requests_total", path="/predict", status="422") == 1
    assert metric(client, "http_requests_total", path="/predict/batch", status="200") == 1
    assert metric(client, "http_request_duration_seconds_count", path="/predict") == 4
    predicted = [answer.json()["prediction"] for answer in singles] + batch["predictions"]
    predicted = [p if isinstance(p, str) else "value" for p in predicted]  # regression: "value"
    for label in set(predicted):
        count = metric(client, "predictions_total", model_version="local", prediction=label)
        assert count == predicted.count(label), label
    assert metric(client, "model_info", version="local") == 1
    client.get("/no/such/path")
    assert metric(client, "http_requests_total", path="other", status="404") == 1


def test_docs_show_the_request_models_from_the_contract(client, spec):
    assert client.get("/docs").status_code == 200
    document = client.get("/openapi.json").json()
    record = document["components"]["schemas"]["Record"]
    assert set(spec.features) <= set(record["properties"])
    assert record["additionalProperties"] is False
    body = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Record"}
    batch = document["components"]["schemas"]["BatchRequest"]["properties"]["records"]
    assert batch["items"] == {"$ref": "#/components/schemas/Record"}


def test_a_served_model_is_frozen_out_of_the_collectors_way(model, serve_params, start_app,
                                                            records, monkeypatch):  # fmt: skip
    """Full collections walk every tracked object; the server freezes what is alive once its
    model is in (serving/collector.py), so none of the model's objects are walked again."""
    from sklearn.pipeline import Pipeline

    from {{ cookiecutter.package }}.serving import collector

    monkeypatch.setattr(collector, "_owned", True)  # as `serve` does for its process
    try:
        client = start_app(PathSource(MODEL_FILE, "m"), serve_params)
        tracked = [o for o in gc.get_objects() if isinstance(o, Pipeline)]
        assert gc.get_freeze_count() > 0 and not tracked, f"{len(tracked)} pipelines tracked"
        assert client.post("/predict", json=records[0]).status_code == 200
    finally:
        gc.unfreeze()  # leave the test process as it was
