"""Prometheus metrics of the server, on its own registry (one per app, so tests can make many).

One process per container is the norm here; several uvicorn workers would need
PROMETHEUS_MULTIPROC_DIR and a MultiProcessCollector.
"""

import threading
import time

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import HistogramMetricFamily

from ..training.baseline import from_tags

disable_created_metrics()  # the `_created` series only double the output; nothing here reads them

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 16384)


class ScoreHistogram:
    """`prediction_score` by model version: the score of every answer (training/task.py
    `signal`). A collector of its own, because a 10k-record batch counts its scores in one
    numpy call instead of 10k `observe` calls."""

    def __init__(self, buckets):
        self.bounds = np.asarray(sorted(buckets), dtype=float)
        self._lock = threading.Lock()
        self._by_version = {}  # version -> [counts per bucket (+Inf last), sum]

    def observe(self, version, scores):
        scores = np.asarray(scores, dtype=float)
        counts = np.bincount(np.searchsorted(self.bounds, scores, side="left"),
                             minlength=len(self.bounds) + 1)  # fmt: skip
        with self._lock:
            held = self._by_version.setdefault(version, [np.zeros(len(counts), int), 0.0])
            held[0] += counts
            held[1] += float(scores.sum())

    def collect(self):
        family = HistogramMetricFamily(
            "prediction_score", "Score of each answer: the positive score, the predicted "
            "class's probability, or the predicted value (regression)", labels=["model_version"],
        )  # fmt: skip
        with self._lock:
            held = {version: (counts.copy(), total) for version, (counts, total)
                    in self._by_version.items()}  # fmt: skip
        for version, (counts, total) in held.items():
            cumulative = np.cumsum(counts).tolist()
            buckets = [(_bound(b), c) for b, c in zip(self.bounds, cumulative, strict=False)]
            family.add_metric([version], [*buckets, ("+Inf", cumulative[-1])], total)
        yield family


def _bound(value):
    return f"{float(value):g}"


def score_buckets(score_range):
    """Ten equal buckets over the score's range (a probability's, or the target's); the
    client's default buckets when the range is unknown."""
    if score_range is None:
        return Histogram.DEFAULT_BUCKETS[:-1]
    low, high = score_range
    return tuple(float(x) for x in np.linspace(low, high, 11))


SCORE_BUCKETS = score_buckets((0.0, 1.0))
# Answers exported as 0 from the start: Prometheus takes no rate of a series whose first
# sample already holds a burst (a first burst of 422s would go unseen by the alert rules).
_STATUSES = ("200", "422", "500", "503")


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, score_buckets=SCORE_BUCKETS, p95_gate_ms=None):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "http_requests", "HTTP requests by method, path and status",
            ["method", "path", "status"], registry=r,
        )  # fmt: skip
        for path in ("/predict", "/predict/batch"):  # 0 before the first: see _STATUSES
            for status in _STATUSES:
                self.requests.labels("POST", path, status)
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
            "observed): by column and kind", ["column", "kind", "model_version"], registry=r,
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

        # Online signals against the training-time baseline (training/baseline.py): the alert
        # rules in monitoring/prometheus/ compare the two.
        self.scores = ScoreHistogram(score_buckets)
        r.register(self.scores)
        self.baseline_share = Gauge(
            "model_baseline_prediction_share", "Share of each watched class in the served "
            "version's answers on its training split", ["model_version", "prediction"],
            registry=r,
        )  # fmt: skip
        self.baseline_score = Gauge(
            "model_baseline_score", "Mean and standard deviation (stat) of the served version's "
            "score on its training split", ["model_version", "stat"], registry=r,
        )  # fmt: skip
        self.desired_info = Gauge(
            "model_desired_info", "The version the alias points to (value 1); model_info has the "
            "one served", ["version"], registry=r,
        )  # fmt: skip
        self.p95_gate = Gauge(
            "latency_p95_gate_seconds", "gates.max_p95_ms of params.yaml, for the latency alert",
            registry=r,
        )  # fmt: skip
        if p95_gate_ms is not None:
            self.p95_gate.set(p95_gate_ms / 1000)
        self._shadow_metrics(r)

    def _shadow_metrics(self, r):
        """Of the shadow version (serving/shadow.py), when serve.shadow_alias names one."""
        self.shadow_info = Gauge(
            "shadow_model_info", "The shadow version scored beside the served one (value 1)",
            ["version"], registry=r,
        )  # fmt: skip
        self.shadow_answers = Counter(
            "shadow_answers", "Shadow answers by agreement with the served answer (same or "
            "different)", ["agreement"], registry=r,
        )  # fmt: skip
        for agreement in ("same", "different"):
            self.shadow_answers.labels(agreement)
        self.shadow_latency = Histogram(
            "shadow_predict_seconds", "Time of one shadow predict call (off the response path)",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.shadow_errors = Counter(
            "shadow_errors", "Shadow predict calls that failed (no request failed)", registry=r
        )
        self.shadow_dropped = Counter(
            "shadow_rows_dropped",
            "Rows the shadow did not score: it was loading, refused, behind, or failed",
            registry=r,
        )

    def ids_logged(self, written, dropped):
        self.ids_written.inc(written)
        self.ids_dropped.inc(dropped)

    def serving(self, model):
        self.model_info.clear()
        self.model_info.labels(model.name, model.version, model.alias or "").set(1)
        self.model_swaps.inc()
        self.baseline_share.clear()
        self.baseline_score.clear()
        for label in (model.labels or {}).values():  # binary: 0, not absent, until predicted
            self.predictions.labels(model.version, label)
        shares, mean, sd = from_tags(model.tags)
        for label, share in shares.items():
            self.baseline_share.labels(model.version, label).set(share)
            self.predictions.labels(model.version, label)
        for stat, value in (("mean", mean), ("sd", sd)):
            if value is not None:
                self.baseline_score.labels(model.version, stat).set(value)

    def shadowing(self, model):
        self.shadow_info.clear()
        if model is not None:
            self.shadow_info.labels(model.version).set(1)

    def desired(self, version):
        """The version the source says to serve (None: a file, nothing to follow)."""
        self.desired_info.clear()
        if version is not None:
            self.desired_info.labels(version).set(1)

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
