"""Shadow serving: a second version scores every request, off the response path.

`serve.shadow_alias` (or `--shadow-alias`, $SHADOW_ALIAS; `--shadow-model-path`,
$SHADOW_MODEL_PATH for an exported model directory) names the shadow. The server answers with
its own model as ever. Each scored batch is also handed to a bounded queue, and a thread of
the shadow's own scores it with the shadow version, so no response waits for the shadow and
a shadow failure never fails a request (it is counted: shadow_errors_total). When the shadow
cannot keep up, batches are dropped rather than queued without end. Every row the shadow did
not score (it was loading, refused, behind, or failed) is counted in
shadow_rows_dropped_total, which the ShadowNotScoring alert divides by predictions_total.

The shadow's answers go to their own ids log, `serve.prediction_ids_log` of the environment
`<environment>-shadow`, under the prediction ids of the served answers, with both versions'
predict times; `shadow-report` (monitoring/shadow_report.py) compares the two logs.

A shadow version must read the requests the served one reads (the same feature columns, of
the same kinds). One that does not is refused, and the server goes on serving without a
shadow, saying why at /version and in its log.
"""

import asyncio
import contextlib
import logging
import queue
import threading
import time

import numpy as np
import pandas as pd

from . import collector
from .answers import Answers

log = logging.getLogger(__name__)

QUEUE_BATCHES = 1000  # scored batches waiting for the shadow before new ones are dropped
MOST_ROWS = 1024  # the shadow scores queued batches together, up to this many rows
# and waits this long for them to gather: a predict call costs about as much for one row as
# for a hundred, and each call holds the GIL the server's own requests need (bench-serve).
GATHER_SECONDS = 0.1
SHADOW_SUFFIX = "-shadow"  # environment of the shadow's ids log: production-shadow
VALUE_TOLERANCE = 0.01  # two predicted values agree within 1% of the larger (regression)


def agreeing(served, shadowed, numeric):
    """Per answer, whether the two versions agree: the same class, or (a value) within
    VALUE_TOLERANCE of each other."""
    if numeric:
        served, shadowed = np.asarray(served, float), np.asarray(shadowed, float)
        return np.isclose(served, shadowed, rtol=VALUE_TOLERANCE, atol=1e-12)
    return np.asarray(served, dtype=object) == np.asarray(shadowed, dtype=object)


def different_request(served, shadow):
    """Why the shadow's schema reads other requests than the served one's, or None."""
    own, theirs = set(served.features), set(shadow.features)
    problems = []
    if missing := sorted(own - theirs):
        problems.append(f"it lacks {', '.join(missing)}")
    if extra := sorted(theirs - own):
        problems.append(f"it also needs {', '.join(extra)}")
    kinds = sorted(name for name in own & theirs
                   if (name in served.numeric) != (name in shadow.numeric))  # fmt: skip
    if kinds:
        problems.append(f"it reads {', '.join(kinds)} as another type")
    return "; ".join(problems) or None


class Shadow:
    """The shadow version, its queue and its thread. `servable(version)` loads a version of
    `source` as the server loads its own (ServedModel with schema and labels)."""

    def __init__(self, source, servable, task, metrics, prediction_log, poll_seconds):
        self.source, self.servable, self.task = source, servable, task
        self.metrics, self.log, self.poll_seconds = metrics, prediction_log, poll_seconds
        self.model = None  # the shadow version while it is being scored, else None
        self.problem = "the shadow is loading"
        self._queue = queue.Queue(maxsize=QUEUE_BATCHES)
        self._thread = None
        self._failed = set()  # versions whose failure was logged

    def describe(self):
        found = {"source": str(self.source), "version": getattr(self.model, "version", None)}
        if self.problem:
            return {**found, "status": "off", "reason": self.problem}
        return {**found, "status": "scoring"}

    def offer(self, records, ids, answers, predict_ms, logged):
        """Hand a scored batch to the shadow; returns at once, whatever the shadow does."""
        if self.model is None:  # loading or refused: these rows go unshadowed, and counted
            self.metrics.shadow_dropped.inc(len(records))
            return
        try:
            self._queue.put_nowait((records, ids, answers, predict_ms, logged))
        except queue.Full:
            self.metrics.shadow_dropped.inc(len(records))

    # -- the thread ---------------------------------------------------------------------
    def start(self):
        self.log.start()
        self._thread = threading.Thread(target=self._score_forever, name="shadow", daemon=True)
        self._thread.start()

    def close(self, timeout=5.0):
        if self._thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=timeout)
            self._thread.join(timeout)
        self.log.close()

    def _score_forever(self):
        while (item := self._queue.get()) is not None:
            batch, rows = [item], len(item[0])
            until = time.monotonic() + GATHER_SECONDS
            while rows < MOST_ROWS and (wait := until - time.monotonic()) > 0:
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    break
                if item is None:
                    self._score_logged(batch)
                    return
                batch.append(item)
                rows += len(item[0])
            self._score_logged(batch)

    def _score_logged(self, batch):
        model = self.model
        if model is None:
            return
        try:
            self._score(model, batch)
        except Exception as error:  # noqa: BLE001 (the served answers are already out)
            self.metrics.shadow_errors.inc()
            self.metrics.shadow_dropped.inc(sum(len(item[0]) for item in batch))
            if model.version not in self._failed:  # once per version; the count says the rest
                self._failed.add(model.version)
                log.warning("the shadow version %s failed to score (counted in "
                            "shadow_errors_total from now on): %s: %s", model.version,
                            type(error).__name__, error)  # fmt: skip

    def _score(self, model, batch):
        records = [record for item in batch for record in item[0]]
        start = time.perf_counter()
        frame = pd.DataFrame(model.schema.arrays(records), copy=False)
        columns = self.task.answer_columns(model.pipeline, frame, model.labels)
        spent = time.perf_counter() - start
        self.metrics.shadow_latency.observe(spent)
        served = [answer["prediction"] for item in batch for answer in item[2]]
        same = int(agreeing(served, columns["prediction"], self.task.name == "regression").sum())
        self.metrics.shadow_answers.labels("same").inc(same)
        self.metrics.shadow_answers.labels("different").inc(len(records) - same)
        kept, at = self.task.kept_columns(columns), 0
        for rows, ids, _, predict_ms, logged in batch:
            count, at = len(rows), at + len(rows)
            if logged:
                mine = {key: values[at - count : at] for key, values in kept.items()}
                times = {"predict_ms": [spent * 1000] * count,
                         "served_predict_ms": [predict_ms] * count}  # fmt: skip
                self.log.add(rows, model.version, Answers({**mine, **times}), ids)

    # -- the version --------------------------------------------------------------------
    async def keep_current(self, served):
        """Once the server's own model is in, load the shadow version and follow its alias;
        refuse a version that reads other requests than `served()` (checked again at every
        poll: the served version moves too)."""
        while served() is None:
            await asyncio.sleep(0.1)
        loaded = None
        while True:
            try:
                wanted = await asyncio.to_thread(self.source.latest_version)
                if loaded is None or wanted not in (None, loaded.version):
                    loaded = await asyncio.to_thread(self.servable, wanted)
                self._take(loaded, served())
            except Exception as error:  # noqa: BLE001 (serving goes on without a shadow)
                self._off(f"the shadow {self.source} is not scored: {error}")
            await asyncio.sleep(self.poll_seconds)

    def _take(self, model, served):
        if reason := different_request(served.schema, model.schema):
            self._off(
                f"shadow version {model.version} of {self.source} is refused: it reads other "
                f"requests than the served version {served.version} ({reason})"
            )
            return
        if self.model is not model:
            log.info("shadow: scoring version %s of %s beside version %s", model.version,
                     self.source, served.version)  # fmt: skip
            collector.settle()  # out of the collector's way, as the served model
            self.metrics.shadowing(model)
        self.model, self.problem = model, None

    def _off(self, problem):
        if self.model is not None:
            self.metrics.shadowing(None)
        self.model = None
        if problem != self.problem:  # once per new reason, not at every poll
            log.warning("%s", problem)
        self.problem = problem
