"""`serve`: a FastAPI server of the registered model, following its alias.

POST /predict (one record), POST /predict/batch ({"records": [...]}), GET /health, /ready,
/version, /metrics (Prometheus) and /docs. The model loads in the background at startup
(/ready answers 503 until it is in), never per request; a registry model is then re-checked
every `serve.poll_seconds` and swapped in when its alias moves. Settings: `serve:` in
params.yaml.
"""

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic_core import to_json

from .batching import MicroBatcher
from .config import PARAMS_FILE, columns, load_params, load_schema
from .metrics import Metrics, MetricsMiddleware
from .model_source import PathSource, RegistrySource
from .predlog import PredictionLog
from .schemas import RequestSchema

log = logging.getLogger(__name__)
PATHS = ("/predict", "/predict/batch", "/health", "/ready", "/version", "/metrics")


@dataclass
class ServerState:
    """What the server is serving; `model` is replaced whole, so a swap is one assignment."""

    model: object = None
    problem: str = "the model is loading"


def create_app(source, params, contract):
    """The app for one model source; params and contract give settings and request models."""
    settings, spec = params["serve"], columns(params)
    schema = RequestSchema(contract, spec, settings["max_batch_records"])
    labels = _class_labels(contract, spec)
    threshold = params["model"]["threshold"]
    state, metrics = ServerState(), Metrics()
    predlog = PredictionLog(
        settings["prediction_log"], settings["log_sample_rate"], settings["log_max_bytes"],
        settings["log_backups"], on_write=metrics.log_written.inc, on_drop=metrics.log_dropped.inc,
    )  # fmt: skip

    def score(records):
        """Runs on the predict thread: one predict call for all these records."""
        model = state.model  # the batch keeps this model even if a swap lands meanwhile
        scores = model.positive_scores(schema.frame(records)).tolist()
        predicted = [labels[score >= threshold] for score in scores]
        metrics.batch_rows.observe(len(records))
        for label in set(predicted):
            metrics.predictions.labels(model.version, label).inc(predicted.count(label))
        predlog.add(records, model.version, scores, predicted)
        return model.version, scores, predicted

    def score_each(records):
        version, scores, predicted = score(records)
        return [(version, s, p) for s, p in zip(scores, predicted, strict=True)]

    batcher = MicroBatcher(
        score_each,
        settings["batch_window_ms"],
        settings["batch_max_rows"],
        thread_setup=lambda: _limit_threads(settings["predict_threads"]),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app):
        predlog.start()
        tasks = [asyncio.create_task(batcher.run()),
                 asyncio.create_task(keep_model_current(source, state, metrics,
                                                        settings["poll_seconds"]))]  # fmt: skip
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        batcher.close()
        predlog.close()

    app = FastAPI(title=f"{params['registry']['model_name']} server", lifespan=lifespan)
    app.add_middleware(MetricsMiddleware, metrics=metrics, paths=PATHS)
    app.state.server = state

    def not_ready():
        return _json({"detail": f"Not ready: {state.problem}."}, status_code=503)

    @app.post("/predict", openapi_extra=_body("Record"), responses=_ok("Prediction"))
    async def predict(request: Request):
        """Score one record: a flat JSON object of feature name to value."""
        record = schema.record(await request.body())
        if state.model is None:
            return not_ready()
        version, score_, label = await batcher.submit(record)
        return _json({"prediction": label, "score": score_, "model_version": version})

    @app.post("/predict/batch", openapi_extra=_body("BatchRequest"), responses=_ok("Batch"))
    async def predict_batch(request: Request):
        """Score many records in one call; answers in the order of `records`."""
        body = await request.body()
        records = await asyncio.to_thread(schema.batch, body)  # 10k records: ~15 ms off the loop
        if state.model is None:
            return not_ready()
        version, scores, predicted = await batcher.run_on_thread(score, records)
        return _json({"model_version": version, "predictions": predicted, "scores": scores})

    @app.get("/health")
    async def health():
        """The process is up (it may still be loading the model: see /ready)."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready():
        """200 once a model is loaded and requests can be scored; 503 until then."""
        if state.model is None:
            return not_ready()
        return {"status": "ready", "model_version": state.model.version}

    @app.get("/version")
    async def version():
        """The served model: name, version, alias and lineage (git commit, data hash)."""
        return not_ready() if state.model is None else state.model.describe()

    @app.get("/metrics")
    async def prometheus_metrics():
        return Response(metrics.render(), media_type=metrics.content_type)

    _add_request_schemas(app, schema)
    return app


def _limit_threads(count):
    """Cap the OpenMP/BLAS threads of the predict thread. One predict call at a time is the
    design; a model's own thread pool (HistGradientBoosting uses OpenMP) spinning against the
    event loop made one-row predictions 5x slower here, and 10k-row ones 20x."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(count)  # not as a context manager: it stays on for this thread


def _json(payload, status_code=200):
    # pydantic-core's serializer is several times faster than json.dumps on 10k scores.
    return Response(to_json(payload), status_code=status_code, media_type="application/json")


async def keep_model_current(source, state, metrics, poll_seconds):
    """Load the model, then follow the alias: swap when it points to another version."""
    while True:
        try:
            wanted = await asyncio.to_thread(source.latest_version)
            if state.model is None or (wanted is not None and wanted != state.model.version):
                model = await asyncio.to_thread(source.load, wanted)
                state.model = model  # atomic: requests in flight finish on the old one
                metrics.serving(model)
                log.warning("serving %s version %s from %s", model.name, model.version, source)
            if wanted is None:
                return  # a fixed file: nothing more to follow
        except Exception as error:  # keep serving what we have; try again next poll
            metrics.model_load_errors.inc()
            state.problem = f"loading {source} failed: {error}"
            log.warning("%s", state.problem)
        await asyncio.sleep(poll_seconds)


def _class_labels(contract, spec):
    """score >= threshold -> the positive class; below -> the other class of a binary target."""
    allowed = [str(v) for v in (contract["columns"].get(spec.target) or {}).get("allowed", [])]
    others = [value for value in allowed if value != spec.positive_class]
    return {True: spec.positive_class,
            False: others[0] if len(others) == 1 else f"not {spec.positive_class}"}  # fmt: skip


def _body(model):
    schema = {"$ref": f"#/components/schemas/{model}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


RESPONSES = {
    "Prediction": {
        "type": "object",
        "properties": {
            "prediction": {"type": "string"},
            "score": {"type": "number"},
            "model_version": {"type": "string"},
        },
    },
    "Batch": {
        "type": "object",
        "properties": {
            "model_version": {"type": "string"},
            "predictions": {"type": "array", "items": {"type": "string"}},
            "scores": {"type": "array", "items": {"type": "number"}},
        },
    },
}


def _ok(name):
    content = {"application/json": {"schema": RESPONSES[name]}}
    return {200: {"description": "Scored", "content": content}}


def _add_request_schemas(app, schema):
    """Handlers validate the raw body themselves (fast path); show the models in /docs."""
    build = app.openapi

    def openapi():
        if app.openapi_schema is None:
            document = build()
            document.setdefault("components", {}).setdefault("schemas", {})
            document["components"]["schemas"].update(schema.openapi_schemas())
        return app.openapi_schema

    app.openapi = openapi


def source_from(args, params):
    if args.model_path:
        return PathSource(args.model_path, params["registry"]["model_name"])
    return RegistrySource(params["registry"]["model_name"], args.alias)


def serve(args):
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    params = load_params()
    source = source_from(args, params)
    source.latest_version()  # fail now, with a reason, when there is no such model
    app = create_app(source, params, load_schema())
    print(f"Serving {source} on http://{args.host}:{args.port} (docs at /docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")


def add_arguments(parser):
    alias = load_params()["serve"]["alias"] if PARAMS_FILE.exists() else "candidate"
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; the image uses 0.0.0.0)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8000")),
        help="port (default $PORT or 8000)",
    )
    parser.add_argument(
        "--alias",
        default=os.environ.get("MODEL_ALIAS", alias),
        help=f"registry alias to serve and follow (default $MODEL_ALIAS or {alias!r}, "
        "serve.alias in params.yaml)",
    )
    parser.add_argument(
        "--model-path",
        default=os.environ.get("MODEL_PATH"),
        help="serve this model directory or .joblib file instead of the registry "
        "(default $MODEL_PATH)",
    )


run = serve
