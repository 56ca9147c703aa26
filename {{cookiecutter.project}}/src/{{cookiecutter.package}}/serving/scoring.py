"""The server's core, without HTTP: the current model, micro-batched scoring, the prediction
log, the metrics, and the background task that loads the model and follows its alias."""

import asyncio
import contextlib
import logging

from ..config import columns
from .batching import MicroBatcher
from .metrics import Metrics
from .prediction_log import PredictionLog
from .request_models import RequestSchema

log = logging.getLogger(__name__)


class Scorer:
    def __init__(self, source, params, contract):
        settings, spec = params["serve"], columns(params)
        self.source, self.poll_seconds = source, settings["poll_seconds"]
        self.schema = RequestSchema(contract, spec, settings["max_batch_records"])
        self.labels = _class_labels(contract, spec)
        self.threshold = params["model"]["threshold"]
        self.metrics = Metrics()
        self.model = None  # replaced whole, never changed in place: a swap is one assignment
        self.problem = "the model is loading"
        self.prediction_log = PredictionLog(
            settings["prediction_log"], settings["log_sample_rate"], settings["log_max_bytes"],
            settings["log_backups"], on_write=self.metrics.log_written.inc,
            on_drop=self.metrics.log_dropped.inc,
        )  # fmt: skip
        self.batcher = MicroBatcher(
            self._score_each, settings["batch_window_ms"], settings["batch_max_rows"],
            thread_setup=lambda: _limit_threads(settings["predict_threads"]),
        )  # fmt: skip

    async def score_one(self, record):
        """(model version, score, predicted label) of one record, scored with its neighbours."""
        return await self.batcher.submit(record)

    async def score_many(self, records):
        """(model version, scores, predicted labels) of a whole batch request."""
        return await self.batcher.run_on_thread(self.score, records)

    def score(self, records):
        """Runs on the predict thread: one predict call for all these records."""
        model = self.model  # the batch keeps this model even if a swap lands meanwhile
        scores = model.positive_scores(self.schema.frame(records)).tolist()
        predicted = [self.labels[score >= self.threshold] for score in scores]
        self.metrics.batch_rows.observe(len(records))
        for label in set(predicted):
            self.metrics.predictions.labels(model.version, label).inc(predicted.count(label))
        self.prediction_log.add(records, model.version, scores, predicted)
        return model.version, scores, predicted

    def _score_each(self, records):
        version, scores, predicted = self.score(records)
        return [(version, s, p) for s, p in zip(scores, predicted, strict=True)]

    @contextlib.asynccontextmanager
    async def running(self):
        """Start the batching loop, the log writer and the model keeper; stop them after."""
        self.prediction_log.start()
        tasks = [asyncio.create_task(self.batcher.run()),
                 asyncio.create_task(self.keep_model_current())]  # fmt: skip
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.batcher.close()
            self.prediction_log.close()

    async def keep_model_current(self):
        """Load the model, then follow the alias: swap when it points to another version."""
        while True:
            try:
                wanted = await asyncio.to_thread(self.source.latest_version)
                if self.model is None or (wanted is not None and wanted != self.model.version):
                    self._swap(await asyncio.to_thread(self.source.load, wanted))
                if wanted is None:
                    return  # a fixed file: nothing more to follow
            except Exception as error:  # keep serving what we have; try again next poll
                self.metrics.model_load_errors.inc()
                self.problem = f"loading {self.source} failed: {error}"
                log.warning("%s", self.problem)
            await asyncio.sleep(self.poll_seconds)

    def _swap(self, model):
        self.model = model  # atomic: requests in flight finish on the old one
        self.metrics.serving(model)
        log.warning("serving %s version %s from %s", model.name, model.version, self.source)


def _limit_threads(count):
    """Cap the OpenMP/BLAS threads of the predict thread. One predict call at a time is the
    design; a model's own thread pool (HistGradientBoosting uses OpenMP) spinning against the
    event loop made one-row predictions 5x slower here, and 10k-row ones 20x."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(count)  # not as a context manager: it stays on for this thread


def _class_labels(contract, spec):
    """score >= threshold -> the positive class; below -> the other class of a binary target."""
    allowed = [str(v) for v in (contract["columns"].get(spec.target) or {}).get("allowed", [])]
    others = [value for value in allowed if value != spec.positive_class]
    return {True: spec.positive_class,
            False: others[0] if len(others) == 1 else f"not {spec.positive_class}"}  # fmt: skip
