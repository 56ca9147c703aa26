"""Prometheus metrics of the server, on its own registry (one per app, so tests can make many).

One process per container is the norm here; several uvicorn workers would need
PROMETHEUS_MULTIPROC_DIR and a MultiProcessCollector.
"""

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # the `_created` series only double the output; nothing here reads them

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 16384)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "http_requests", "HTTP requests by method, path and status",
            ["method", "path", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "http_request_duration_seconds", "Time to answer a request, by path", ["path"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.client_aborts = Counter(
            "http_client_aborts", "Requests whose client went away before its body arrived",
            ["path"], registry=r,
        )  # fmt: skip
        self.predictions = Counter(
            "predictions", "Scored records by model version and predicted class",
            ["model_version", "prediction"], registry=r,
        )  # fmt: skip
        self.unexpected_values = Counter(
            "unexpected_values", "Served values beyond what training observed (schema.yaml "
            "observed): by column and kind", ["column", "kind"], registry=r,
        )  # fmt: skip
        self.batch_rows = Histogram(
            "predict_batch_rows", "Records scored per predict call (micro-batch size)",
            buckets=ROW_BUCKETS, registry=r,
        )  # fmt: skip
        self.model_info = Gauge(
            "model_info", "The model being served (value 1)", ["name", "version", "alias"],
            registry=r,
        )  # fmt: skip
        self.model_swaps = Counter("model_swaps", "Models loaded or swapped in", registry=r)
        self.model_load_errors = Counter(
            "model_load_errors", "Failed attempts to load or follow the model", registry=r
        )
        self.log_written = Counter(
            "prediction_log_rows_written", "Rows written to the prediction log", registry=r
        )
        self.log_dropped = Counter(
            "prediction_log_rows_dropped", "Sampled rows dropped: the log writer fell behind",
            registry=r,
        )  # fmt: skip

        self.ids_written = Counter(
            "prediction_ids_log_rows_written", "Predictions written to the prediction ids log",
            registry=r,
        )  # fmt: skip
        self.ids_dropped = Counter(
            "prediction_ids_log_rows_dropped",
            "Predictions missing from the prediction ids log: the log writer fell behind",
            registry=r,
        )  # fmt: skip

    def ids_logged(self, written, dropped):
        self.ids_written.inc(written)
        self.ids_dropped.inc(dropped)

    def serving(self, model):
        self.model_info.clear()
        self.model_info.labels(model.name, model.version, model.alias or "").set(1)
        self.model_swaps.inc()

    def render(self):
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): counts and times every request."""

    def __init__(self, app, metrics, paths):
        self.app, self.metrics, self.paths = app, metrics, frozenset(paths)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def send_and_note_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            path = scope["path"] if scope["path"] in self.paths else "other"  # bounded labels
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - start)
