"""`serve`: a FastAPI server of the registered model, following its alias.

POST /predict (one record), POST /predict/batch ({"records": [...]}), GET /health, /ready,
/version, /metrics (Prometheus) and /docs. The model loads in the background at startup
(/ready answers 503 until it is in), never per request; a registry model is then re-checked
every `serve.poll_seconds` and swapped in when its alias moves. With a shadow
(`serve.shadow_alias`), a second version scores the same requests off the response path
(serving/shadow.py). Settings: `serve:` in params.yaml.
"""

import asyncio
import logging
import os

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic_core import to_json

from ..config import PARAMS_FILE, CliError, load_params, load_schema
from . import collector
from .columnar import JSON, answer_format, body_format, write_answer
from .metrics import MetricsMiddleware
from .model_source import PathSource, RegistrySource
from .prediction_log import is_synthetic
from .request_body import ClientDisconnect, RequestProblem, read_body
from .scoring import Scorer

PATHS = ("/predict", "/predict/batch", "/health", "/ready", "/version", "/metrics")


def create_app(source, params, contract, environment=None, shadow_source=None):
    """The app for one model source (and a shadow's, if any); params and contract give
    settings and request models. The environment names the prediction log: by default the
    alias followed, or `local`."""
    environment = environment or getattr(source, "alias", None) or "local"
    scorer = Scorer(source, params, contract, environment, shadow_source)
    app = FastAPI(
        title=f"{params['registry']['model_name']} server", lifespan=lambda _: scorer.running()
    )
    app.add_middleware(MetricsMiddleware, metrics=scorer.metrics, paths=PATHS)
    _add_problem_handlers(app, scorer.metrics)
    _add_routes(app, scorer, params["serve"])
    _add_request_schemas(app, scorer)
    return app


def _add_problem_handlers(app, metrics):
    async def problem(request, error):
        return _json(error.body, status_code=error.status)

    async def client_left(request, error):
        metrics.client_aborts.labels(request.url.path).inc()
        return Response(status_code=499)  # nginx's "client closed request": nobody reads it

    app.add_exception_handler(RequestProblem, problem)
    app.add_exception_handler(ClientDisconnect, client_left)


def _add_routes(app, scorer, settings):
    max_bytes, timeout = settings["max_body_bytes"], settings["body_timeout_seconds"]

    def not_ready():
        return _json({"detail": f"Not ready: {scorer.problem}."}, status_code=503)

    fields = scorer.task.answer_fields
    responses = response_schemas(fields)

    @app.post("/predict", openapi_extra=_body("Record"), responses=_ok(responses["Prediction"]))
    async def predict(request: Request):
        """Score one record: a flat JSON object of column name to value (the features, and
        optionally the sensitive and id columns). The answer's prediction_id is the id sent,
        or a new one."""
        body = await read_body(request, max_bytes, timeout)
        model = scorer.model  # validated and scored by the same version
        if model is None:
            return not_ready()
        logged = not is_synthetic(request.headers)  # tests and load tests stay out of the logs
        record = model.schema.record(body)
        [prediction_id] = model.schema.prediction_ids([record], where=("body",))
        version, answer = await scorer.score_one(model, record, prediction_id, logged)
        return _json({"prediction_id": prediction_id, **answer, "model_version": version})

    @app.post("/predict/batch", openapi_extra=_body("BatchRequest"),
              responses=_ok(responses["Batch"]))  # fmt: skip
    async def predict_batch(request: Request):
        """Score many records in one call; answers in the order of `records`, one
        prediction_id each (the ids in a batch must differ). The body may also be a table,
        one row per record, by its Content-Type: an Arrow IPC stream
        (`application/vnd.apache.arrow.stream`), Parquet (`application/vnd.apache.parquet`)
        or CSV (`text/csv`); the answer is JSON, or an Arrow IPC stream or CSV with one row
        per record when `Accept` asks for it."""
        body = await read_body(request, max_bytes, timeout)
        model = scorer.model
        if model is None:
            return not_ready()
        kind = body_format(request.headers.get("content-type"))
        records, ids = await asyncio.to_thread(_batch, model.schema, body, kind)
        logged = not is_synthetic(request.headers)
        version, answers = await scorer.score_many(model, records, ids, logged)
        media = answer_format(request.headers.get("accept"))
        if media != JSON:
            return Response(write_answer(media, version, ids, answers), media_type=media)
        columns = {BATCH_KEYS[key]: answers.columns[key] for key in fields}
        return _json({"model_version": version, "prediction_ids": ids, **columns})

    @app.get("/health")
    async def health():
        """The process is up (it may still be loading the model: see /ready)."""
        return {"status": "ok"}

    @app.get("/ready", responses={503: {"description": PROBLEMS[503]}})
    async def ready():
        """200 once a model is loaded and requests can be scored (status `degraded`, with the
        reason, when it is not the version that should be served); 503 until then."""
        if scorer.model is None:
            return not_ready()
        return {"model_version": scorer.model.version, **_status(scorer)}

    @app.get("/version", responses={503: {"description": PROBLEMS[503]}})
    async def version():
        """The served model (name, version, alias, lineage), the version that should be
        served, and why they differ; the shadow version and its status when there is one."""
        if scorer.model is None:
            return not_ready()
        shadow = {"shadow": scorer.shadow.describe()} if scorer.shadow else {}
        return {**scorer.model.describe(), "desired_version": scorer.desired, **_status(scorer),
                **shadow}  # fmt: skip

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus_metrics():
        """Prometheus text format."""
        return Response(scorer.metrics.render(), media_type=scorer.metrics.content_type)


def _batch(schema, body, kind):
    """The validated batch of a body and its prediction ids (off the event loop)."""
    records = schema.batch(body, kind)
    where = ("body", "rows") if kind != "json" else ("body", "records")
    return records, schema.prediction_ids(records, where)


def _status(scorer):
    if scorer.problem is None:
        return {"status": "ready"}
    return {"status": "degraded", "reason": scorer.problem}


def _json(payload, status_code=200):
    # pydantic-core's serializer is several times faster than json.dumps on 10k scores.
    return Response(to_json(payload), status_code=status_code, media_type="application/json")


def _body(model):
    schema = {"$ref": f"#/components/schemas/{model}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# An answer's field -> its name in a batch answer, which lists each field over the records.
BATCH_KEYS = {"prediction_id": "prediction_ids", "prediction": "predictions", "score": "scores",
              "probabilities": "probabilities"}  # fmt: skip


def response_schemas(fields):
    """JSON schemas of the /predict and /predict/batch answers for the task's answer fields."""
    version = {"model_version": {"type": "string"}}
    single = {"prediction_id": {"type": "string"}, **fields}
    batch = {BATCH_KEYS[key]: {"type": "array", "items": schema} for key, schema in single.items()}
    return {
        "Prediction": {"type": "object", "properties": {**single, **version},
                       "required": [*single, "model_version"]},
        "Batch": {"type": "object", "properties": {**version, **batch},
                  "required": ["model_version", *batch]},
    }  # fmt: skip


PROBLEMS = {
    400: "The body is not UTF-8",
    408: "The body did not arrive within serve.body_timeout_seconds",
    413: "The body is larger than serve.max_body_bytes",
    422: "A field breaks the contract: `detail` names it (the first ten; `error_count` all)",
    503: "No model is loaded yet",
}


def _ok(schema):
    """The answers of a scoring endpoint, errors included, for /docs and API clients."""
    content = {"application/json": {"schema": schema}}
    answers = {200: {"description": "Scored", "content": content}}
    detail = {"type": "object", "properties": {"detail": {}, "error_count": {"type": "integer"}}}
    problem = {"application/json": {"schema": detail}}
    return answers | {code: {"description": text, "content": problem}
                      for code, text in PROBLEMS.items()}  # fmt: skip


def _add_request_schemas(app, scorer):
    """Handlers validate the raw body themselves (fast path); show the request models of the
    served version in /docs (rebuilt when a swap brings other columns)."""
    build = app.openapi

    def openapi():
        schema = scorer.schema
        if app.openapi_schema is None or getattr(app.state, "openapi_of", None) is not schema:
            app.openapi_schema = None
            document = build()
            document.setdefault("components", {}).setdefault("schemas", {})
            document["components"]["schemas"].update(schema.openapi_schemas())
            app.state.openapi_of = schema
        return app.openapi_schema

    app.openapi = openapi


def source_from(args, params):
    if args.model_path:
        return PathSource(args.model_path, params["registry"]["model_name"])
    return RegistrySource(params["registry"]["model_name"], args.alias)


def shadow_source_from(args, params, source):
    """The shadow's source, or None: --shadow-model-path, else --shadow-alias."""
    name = params["registry"]["model_name"]
    if args.shadow_model_path:
        shadow = PathSource(args.shadow_model_path, name)
    elif args.shadow_alias:
        if args.shadow_alias == getattr(source, "alias", None):
            raise CliError(
                f"The shadow alias {args.shadow_alias!r} is the alias this server serves: a "
                "shadow scores another version. Name another alias (serve.shadow_alias, "
                "--shadow-alias or $SHADOW_ALIAS), or leave it empty for no shadow."
            )
        shadow = RegistrySource(name, args.shadow_alias)
    else:
        return None
    try:
        shadow.latest_version()  # fail now, with a reason, when there is no such version
    except CliError as error:
        raise CliError(f"Shadow: {error}") from None
    return shadow


def serve(args):
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    collector.own()
    params = load_params()
    source = source_from(args, params)
    source.latest_version()  # fail now, with a reason, when there is no such model
    shadow = shadow_source_from(args, params, source)
    app = create_app(source, params, load_schema(), args.environment, shadow)
    sock = listening_socket(args.host, args.port)
    beside = f", shadow {shadow}" if shadow else ""
    print(f"Serving {source}{beside} on http://{args.host}:{args.port} (docs at /docs)",
          flush=True)  # fmt: skip
    config = uvicorn.Config(app, access_log=False, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def listening_socket(host, port):
    """Bind and listen before saying where we serve, so a port in use is the only message."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: quick restarts
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise CliError(
            f"Cannot listen on {host}:{port} ({error.strerror}): another process serves there; "
            "stop it or pick another port (PORT=8080 make serve, or --port)."
        ) from None
    sock.listen(2048)
    return sock


def add_arguments(parser):
    settings = load_params()["serve"] if PARAMS_FILE.exists() else {"alias": "candidate"}
    alias, shadow = settings["alias"], settings.get("shadow_alias")
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
        "--environment",
        default=os.environ.get("SERVE_ENVIRONMENT"),
        help="the environment served, which names the prediction log (serve.prediction_log; "
        "default $SERVE_ENVIRONMENT, else the alias, or `local` with --model-path)",
    )
    parser.add_argument(
        "--model-path",
        default=os.environ.get("MODEL_PATH"),
        help="serve this model directory or .joblib file instead of the registry "
        "(default $MODEL_PATH)",
    )
    parser.add_argument(
        "--shadow-alias",
        default=os.environ.get("SHADOW_ALIAS", shadow),
        help="also score every request with the version behind this alias, off the response "
        f"path (default $SHADOW_ALIAS or {shadow!r}, serve.shadow_alias; empty: no shadow)",
    )
    parser.add_argument(
        "--shadow-model-path",
        default=os.environ.get("SHADOW_MODEL_PATH"),
        help="the shadow from an exported model directory instead of the registry "
        "(default $SHADOW_MODEL_PATH)",
    )


run = serve
