"""The server's core, without HTTP: the current model, micro-batched scoring, the prediction
log, the metrics, and the background task that loads the model and follows its alias."""

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter

import pandas as pd

from ..config import columns
from ..data.contract import serving_contract
from ..training.task import for_params
from . import collector
from .answers import Answers
from .batching import MicroBatcher
from .metrics import Metrics, score_buckets
from .prediction_log import PredictionLog, log_path
from .request_models import request_schema
from .shadow import SHADOW_SUFFIX, Shadow

log = logging.getLogger(__name__)


class Scorer:
    def __init__(self, source, params, contract, environment, shadow_source=None):
        settings, spec = params["serve"], columns(params)
        self.source, self.poll_seconds = source, settings["poll_seconds"]
        self.max_batch_records = settings["max_batch_records"]
        # For a model that carries no contract of its own (a bare .joblib file).
        self.project_contract = serving_contract(spec, contract)
        self.project_schema = request_schema(self.project_contract, self.max_batch_records)
        self.task = for_params(params, spec)  # what an answer holds: training/task.py
        self.metrics = Metrics(
            score_buckets(self.task.score_range or _target_range(self.project_contract)),
            params.get("gates", {}).get("max_p95_ms"),
        )  # fmt: skip
        self._noted = set()  # (version, column, kind) of unexpected values already logged
        self.model = None  # replaced whole, never changed in place: a swap is one assignment
        self.desired = None  # the version the source says to serve, as last asked
        self.problem = "the model is loading"  # why that is not being served; None: it is
        self.prediction_log = _prediction_log(
            settings, environment, settings["log_sample_rate"], self.task.kept_columns,
            on_write=self.metrics.log_written.inc, on_drop=self.metrics.log_dropped.inc,
            on_ids=self.metrics.ids_logged,
        )  # fmt: skip
        # The shadow's answers: no sampled rows, an ids log under `<environment>-shadow`.
        self.shadow = shadow_source and Shadow(
            shadow_source, lambda version: self._servable(version, shadow_source), self.task,
            self.metrics, _prediction_log(settings, f"{environment}{SHADOW_SUFFIX}", 0, dict),
            self.poll_seconds,
        )  # fmt: skip
        self.batcher = MicroBatcher(
            self._score_each, settings["batch_window_ms"], settings["batch_max_rows"],
            thread_setup=lambda: _limit_threads(settings["predict_threads"]),
        )  # fmt: skip

    @property
    def schema(self):
        """The request models of the served version (the project's before one is loaded)."""
        return self.project_schema if self.model is None else self.model.schema

    async def score_one(self, model, record, prediction_id, log=True):
        """(model version, answer) of one record that `model`'s schema validated, scored with
        its neighbours; written to the prediction logs unless log is false (synthetic
        traffic). The answer is the task's: prediction and score, prediction and
        probabilities, or the value (training/task.py)."""
        version, answer, predict_ms = await self.batcher.submit((model, record))
        if log:
            self.prediction_log.add([record], version, [answer], [prediction_id])
        if self.shadow:
            self.shadow.offer([record], [prediction_id], [answer], predict_ms, log)
        return version, answer

    async def score_many(self, model, records, ids, log=True):
        """(model version, answers) of a whole batch request."""
        version, answers, predict_ms = await self.batcher.run_on_thread(self.score, model, records)
        if log:
            self.prediction_log.add(records, version, answers, ids)
        if self.shadow:
            self.shadow.offer(records, ids, answers, predict_ms, log)
        return version, answers

    def score(self, model, records):
        """Runs on the predict thread: one predict call for all these records. A request is
        scored by the version whose schema validated it, even if a swap landed meanwhile.
        (version, answers, milliseconds the predict call took)."""
        start = time.perf_counter()
        arrays = model.schema.arrays(records)
        frame = pd.DataFrame(arrays, copy=False)
        columns = self.task.answer_columns(model.pipeline, frame, model.labels)
        predict_ms = (time.perf_counter() - start) * 1000
        for (column, kind), count in model.schema.unexpected(arrays):
            self._note_unexpected(model.version, column, kind, count)
        self.metrics.batch_rows.observe(len(records))
        classes, scores = self.task.signal_columns(columns)
        # A regression's values would make one time series each: they count as "value".
        counted = Counter(classes) if classes is not None else {"value": len(records)}
        for label, count in counted.items():
            self.metrics.predictions.labels(model.version, label).inc(count)
        self.metrics.scores.observe(model.version, scores)
        return model.version, Answers(columns), predict_ms

    def _note_unexpected(self, version, column, kind, count):
        """Served, counted, and logged the first time per version, column and kind."""
        self.metrics.unexpected_values.labels(column, kind, version).inc(count)
        if (version, column, kind) not in self._noted:
            self._noted.add((version, column, kind))
            log.warning("serving values of %r beyond what version %s was trained on (%s); "
                        "counted in unexpected_values_total", column, version, kind)  # fmt: skip

    def _score_each(self, items):
        results = [None] * len(items)
        for model in {id(model): model for model, _ in items}.values():  # one, but for a swap
            places = [i for i, (m, _) in enumerate(items) if m is model]
            version, answers, predict_ms = self.score(model, [items[i][1] for i in places])
            for i, answer in zip(places, answers, strict=True):
                results[i] = (version, answer, predict_ms)
        return results

    @contextlib.asynccontextmanager
    async def running(self):
        """Start the batching loop, the log writer and the model keeper; stop them after."""
        self.prediction_log.start()
        tasks = [asyncio.create_task(self.batcher.run()),
                 asyncio.create_task(self.keep_model_current())]  # fmt: skip
        if self.shadow:
            self.shadow.start()
            tasks.append(asyncio.create_task(self.shadow.keep_current(lambda: self.model)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.batcher.close()
            if self.shadow:
                self.shadow.close()
            self.prediction_log.close()

    async def keep_model_current(self):
        """Load the model, then follow the alias: swap when it points to another version
        that this server can serve; otherwise keep the current one and say why."""
        while True:
            try:
                self.desired = await asyncio.to_thread(self.source.latest_version)
                self.metrics.desired(self.desired)
            except Exception as error:
                self._failed(f"could not ask {self.source} which version to serve: {error}")
            else:
                await self._follow(self.desired)
                if self.desired is None and self.model is not None:
                    return  # a fixed file: nothing more to follow
            await asyncio.sleep(self.poll_seconds)

    async def _follow(self, wanted):
        if self.model is not None and wanted in (None, self.model.version):
            self.problem = None
            return
        try:
            model = await asyncio.to_thread(self._servable, wanted)
        except Exception as error:  # keep serving what we have; try again next poll
            what = f"version {wanted}" if wanted else "the model"
            self._failed(f"{what} of {self.source} is not served: {error}")
            return
        self._swap(model)
        self.problem = None

    def _servable(self, version, source=None):
        """Load a version (of `source`, by default the server's) and make its request models;
        refuse one that cannot score a record its own contract accepts (its columns and the
        pipeline's disagree)."""
        model = (source or self.source).load(version)
        contract = self._contract_of(model)
        schema = request_schema(contract, self.max_batch_records)
        labels = _class_labels(contract) if contract.get("positive_class") is not None else None
        try:
            self.task.answers(model.pipeline, schema.frame([schema.example()]), labels)
        except Exception as error:
            raise RuntimeError(
                f"it cannot score a record of its own contract (columns "
                f"{', '.join(schema.features)}): {type(error).__name__}: {error}"
            ) from None
        return dataclasses.replace(model, schema=schema, labels=labels)

    def _contract_of(self, model):
        """The version's own contract; what it lacks (a signature has no target, no
        sensitive columns) comes from the project's."""
        own, project = model.contract, self.project_contract
        if not own:
            return project
        merged = {**project, **own}
        kept = [merged["target"], *merged["sensitive"], *merged.get("ids", [])]
        rules = {name: project["rules"][name] for name in kept if name in project["rules"]}
        return {**merged, "rules": {**rules, **own["rules"]}}

    def _failed(self, problem):
        self.metrics.model_load_errors.inc()
        if problem != self.problem:  # once per new reason, not at every poll
            log.warning("%s", problem)
        self.problem = problem

    def _swap(self, model):
        self.model = model  # atomic: requests in flight finish on the old one
        collector.settle()  # no full collection walks the model again
        self.metrics.serving(model)
        log.info("serving %s version %s from %s", model.name, model.version, self.source)


def _prediction_log(settings, environment, sample_rate, kept, **callbacks):
    """The sampled and ids logs of one environment, as the `serve:` settings place them."""
    return PredictionLog(
        log_path(settings["prediction_log"], environment), sample_rate,
        settings["log_max_bytes"], settings["log_backups"], kept=kept,
        ids_path=log_path(settings["prediction_ids_log"], environment, "prediction_ids_log"),
        flush_seconds=settings.get("log_flush_seconds", 60),
        flush_rows=settings.get("log_flush_rows", 100_000), **callbacks,
    )  # fmt: skip


def _limit_threads(count):
    """Cap the OpenMP/BLAS threads of the predict thread. One predict call at a time is the
    design; a model's own thread pool (HistGradientBoosting uses OpenMP) spinning against the
    event loop made one-row predictions 5x slower here, and 10k-row ones 20x."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(count)  # not as a context manager: it stays on for this thread


def _target_range(contract):
    """(min, max) a numeric target showed in training (schema.yaml), else None."""
    rule = contract["rules"].get(contract.get("target")) or {}
    seen = rule.get("observed") or {}
    low, high = seen.get("min", rule.get("min")), seen.get("max", rule.get("max"))
    return None if low is None or high is None or high <= low else (low, high)


def _class_labels(contract):
    """score >= threshold -> the positive class; below -> the other class of a binary target."""
    positive = str(contract["positive_class"])
    rule = contract["rules"].get(contract["target"]) or {}
    others = [str(v) for v in rule.get("allowed", []) if str(v) != positive]
    return {True: positive, False: others[0] if len(others) == 1 else f"not {positive}"}
