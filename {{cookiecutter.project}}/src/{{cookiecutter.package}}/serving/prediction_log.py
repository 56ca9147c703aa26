"""The prediction logs: a sample of scored records for drift, and every prediction's id.

Both are one file per environment (`{environment}` filled in), rotated to `.1`, `.2`, ...
before a file would pass `serve.log_max_bytes`, keeping `serve.log_backups` old files. Or,
when the setting is a URL (`s3://bucket/logs/predictions-{environment}`, gs://, az://,
file:// of a shared folder: anything fsspec writes), a folder of rolled Parquet files: the
lines of `serve.log_flush_seconds` (at most `serve.log_flush_rows`) go into one new part,
named by the time of its first line and by its writer, so that several servers (pods) share
the folder, nothing dies with a container, and readers take a window by name.

`serve.prediction_log` (`logs/predictions-production.jsonl`), read by the drift job: a
sample (`serve.log_sample_rate`) of the scored records. One JSON object per line: every
request column as a top-level key, plus `_ts` (ISO 8601, UTC), `_model_version`,
`_prediction_id` and the answer with its keys prefixed by `_`: `_prediction` (the label or
value) and, by task, `_score` (probability of the positive class) or `_probabilities`.

`serve.prediction_ids_log` (`logs/prediction-ids-production.jsonl`), to join outcomes to:
every prediction, compact. One JSON object per line: `prediction_id`, `ts`, `model_version`
and what training/task.py keeps of the answer (`prediction`, and `score` for a classifier).

Synthetic traffic (load tests, smoke tests, tests) sends `X-Synthetic-Traffic: 1` and is not
written at all: a load test's burst would otherwise be read as a shift of the real traffic,
and would rotate real rows out of the log. The load test's and smoke test's own reports
already record what they sent.

It never blocks a request: scoring hands the scored batch (records, answers and ids by
reference, and which rows were sampled) to a bounded queue and a writer thread appends the
lines. When the queue is full (the disk cannot keep up) the batch is dropped and counted, so
the server slows down for nobody. A batch scored column-wise (a ColumnBatch and its Answers)
is written column-wise too: one to_json per column, not one dict per line, and the same bytes
(`json_lines`). The writer shares the GIL with the requests, so pyarrow kernels, which run
without it, split the columns' text and join the lines.
"""

import contextlib
import os
import queue
import random
import re
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic_core import to_json

from ..config import CliError
from .answers import Answers
from .column_rules import ColumnBatch

QUEUE_BATCHES = 1000  # scored batches waiting for the writer before new ones are dropped
SYNTHETIC_HEADER = "X-Synthetic-Traffic"
SYNTHETIC = {SYNTHETIC_HEADER: "1"}  # what the load test, the smoke test and the tests send
PLACEHOLDER = "{environment}"
ENVIRONMENT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # it becomes part of a file name


def is_synthetic(headers):
    """True when a request says it is synthetic traffic (1, true or yes)."""
    return headers.get(SYNTHETIC_HEADER, "").strip().lower() in {"1", "true", "yes"}


def is_url(target):
    return "://" in str(target)


# Environment variables that override serve.<key> wherever a log is written or read: a
# deployment sets them for its pods (the kubernetes bake: a shared volume), the jobs for theirs.
OVERRIDES = {"prediction_log": "PREDICTION_LOG", "prediction_ids_log": "PREDICTION_IDS_LOG"}


def log_path(setting, environment, key="prediction_log"):
    """The log of one environment: `serve.<key>` (or its override, $PREDICTION_LOG or
    $PREDICTION_IDS_LOG) with its `{environment}` filled; a Path, or the URL of a folder of
    Parquet parts (a str)."""
    setting = os.environ.get(OVERRIDES.get(key, ""), "") or setting
    if PLACEHOLDER not in str(setting):
        raise CliError(
            f"params.yaml serve.{key} ({setting}) must contain {PLACEHOLDER}, so that "
            "each environment writes its own log, e.g. logs/predictions-{environment}.jsonl."
        )
    if not ENVIRONMENT_NAME.fullmatch(str(environment)):
        raise CliError(
            f"The environment name {environment!r} (--environment, $SERVE_ENVIRONMENT or the "
            "alias) must be lower-case letters, digits, - or _: it names the prediction log."
        )
    filled = str(setting).replace(PLACEHOLDER, environment)
    return filled.rstrip("/") if is_url(filled) else Path(filled)


class PredictionLog:
    def __init__(self, path, sample_rate, max_bytes, backups, on_write=None, on_drop=None,
                 queue_batches=QUEUE_BATCHES, ids_path=None, kept=dict, on_ids=None,
                 flush_seconds=60, flush_rows=100_000):  # fmt: skip
        """`path`: the sampled rows (none at sample_rate 0); `ids_path`: a compact line per
        prediction holding `kept(answer columns)` (none when None). on_ids(written, dropped).
        A URL path is a folder of Parquet parts, one per flush_seconds (or flush_rows lines)."""
        self.path = _target(path)
        self.ids_path = None if ids_path is None else _target(ids_path)
        self.flush_seconds, self.flush_rows = float(flush_seconds), int(flush_rows)
        self.sample_rate = float(sample_rate)
        self.max_bytes = int(max_bytes)
        self.backups = int(backups)
        self.kept = kept
        self.on_write = on_write or (lambda rows: None)
        self.on_drop = on_drop or (lambda rows: None)
        self.on_ids = on_ids or (lambda written, dropped: None)
        self._targets = (self.path if self.sample_rate > 0 else None, self.ids_path)
        self._queue = queue.Queue(maxsize=queue_batches)
        self._writer = None

    def start(self):
        if any(self._targets):
            for path in filter(None, self._targets):
                if not is_url(path):
                    path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = threading.Thread(
                target=self._write_forever, name="prediction-log", daemon=True
            )
            self._writer.start()
        return self

    def add(self, records, version, answers, ids=None):
        """Queue these scored records for the logs (their ids: one each); returns at once
        whatever the disk does. Costs the sample, not the batch: answers and ids go by
        reference."""
        if not any(self._targets):
            return
        count = len(records)
        picked = _sample(count, self.sample_rate)
        if not len(picked) and self.ids_path is None:
            return
        when = time.time()  # formatted by the writer: a request pays for no string
        ids = ids or [None] * count
        try:
            self._queue.put_nowait((when, version, records, answers, ids, picked))
        except queue.Full:
            self.on_drop(len(picked))
            if self.ids_path is not None:
                self.on_ids(0, count)

    def close(self, timeout=5.0):
        """Write what is queued, then stop the writer."""
        if self._writer is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=timeout)
            self._writer.join(timeout)
            self._writer = None

    def _write_forever(self):
        with contextlib.ExitStack() as stack:
            files = [None if path is None else stack.enter_context(self._sink(path))
                     for path in self._targets]  # fmt: skip
            while True:
                try:  # wake up now and then: a parts folder flushes on time, traffic or not
                    item = self._queue.get(timeout=1.0)
                except queue.Empty:
                    item = ()
                if item is None:
                    return
                if item:
                    self._write(*files, *item)
                while not self._queue.empty():  # drain what piled up, then flush once
                    if (item := self._queue.get()) is None:
                        return
                    self._write(*files, *item)
                for out in files:
                    if out is not None:
                        out.flush()

    def _sink(self, path):
        if is_url(path):
            return _PartsFolder(path, self.flush_seconds, self.flush_rows)
        return _RotatingFile(path, self.max_bytes, self.backups)

    def _write(self, out, ids_out, when, version, records, answers, ids, picked):
        when = datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds")
        when = when.replace("+00:00", "Z")
        if out is not None and len(picked):
            if isinstance(records, ColumnBatch) and isinstance(answers, Answers):
                out.write_columns({**records.rows(picked), "_ts": when, "_model_version": version,
                                   "_prediction_id": _taken(ids, picked),
                                   **{f"_{key}": _taken(values, picked)
                                      for key, values in answers.columns.items()}})  # fmt: skip
            else:
                for i in picked:  # records (dicts) may differ in their keys
                    answer = {f"_{key}": value for key, value in answers[i].items()}
                    out.write({**records[i], "_ts": when, "_model_version": version,
                               "_prediction_id": ids[i], **answer})  # fmt: skip
            out.flush()  # counted once on disk: a reader the metric sends finds every row
            self.on_write(len(picked))
        if ids_out is not None:
            ids_out.write_columns({"prediction_id": list(ids), "ts": when,
                                   "model_version": version,
                                   **self.kept(_columns(answers))})  # fmt: skip
            ids_out.flush()
            self.on_ids(len(ids), 0)


def _sample(count, rate):
    """The rows the sampled log keeps: each with probability `rate`."""
    if rate >= 1:
        return range(count)
    if rate <= 0:
        return []
    if count == 1:
        return [0] if random.random() < rate else []
    return np.flatnonzero(np.random.random(count) < rate).tolist()


def _taken(values, picked):
    """The values at these rows, as a list."""
    return list(values) if isinstance(picked, range) else list(map(values.__getitem__, picked))


def _columns(answers):
    """The answer columns of a batch's answers (Answers, or a list of answer dicts)."""
    if isinstance(answers, Answers):
        return answers.columns
    return {key: [answer[key] for answer in answers] for key in answers[0]}


def json_lines(columns):
    """One JSON object per row of these columns (key -> a list of one value per row, or one
    value for every row), each on its own line: byte for byte what to_json writes of each
    row's dict. Made with one to_json per column, whose text pyarrow splits into the rows'
    values and joins into lines: its kernels run without the GIL, which the requests need.
    One row (a single request) is cheaper as its dict."""
    lists = [values for values in columns.values() if isinstance(values, list)]
    if len(lists[0]) == 1:
        return to_json({key: values[0] if isinstance(values, list) else values
                        for key, values in columns.items()}) + b"\n"  # fmt: skip
    pieces, text, quoted = [], b"", False  # text: what every row has before the next list
    for place, (key, values) in enumerate(columns.items()):
        text += b'"' * quoted + (b"," if place else b"{") + to_json(key) + b":"
        if not isinstance(values, list):
            text, quoted = text + to_json(values), False
            continue
        texts, quoted = _texts(values)
        pieces += [text + b'"' * quoted, texts]
        text = b""
    pieces.append(text + b'"' * quoted + b"}\n")
    lines = pc.binary_join_element_wise(*pieces, b"")  # the last one is the separator
    offsets = np.frombuffer(lines.buffers()[1], np.int32)
    start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return lines.buffers()[2][start:end].to_pybytes()  # the lines are one run of bytes


def _texts(values):
    """(each value's JSON text as a pyarrow binary array, True when these are strings
    without their quotes). The column's text splits at every comma when no value's text
    holds one: each separator is a comma, so one inside a value adds a piece, and a count
    that matches means there was none. Between two JSON strings, `","` is always the
    separator (a quote inside one is escaped)."""
    texts = _split(to_json(values)[1:-1], b",")
    if len(texts) == len(values):
        return texts, False
    if all(type(value) is str for value in values):
        texts = _split(to_json(values)[2:-2], b'","')
        if len(texts) == len(values):
            return texts, True
    return pa.array(list(map(to_json, values)), pa.binary()), False  # value by value


def _split(text, separator):
    """The pieces of `text` between separators, split by pyarrow (no bytes object each)."""
    offsets = pa.py_buffer(np.array([0, len(text)], np.int32))
    whole = pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(text)])
    return pc.split_pattern(whole, separator).flatten()


class _RotatingFile:
    """Append-only file that rotates to .1, .2, ... before a line would take it past max_bytes."""

    def __init__(self, path, max_bytes, backups):
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self._file, self._size = None, 0

    def __enter__(self):
        self._open()
        return self

    def __exit__(self, *exc):
        self._file.close()

    def write(self, record):
        self._write_line(to_json(record) + b"\n")

    def write_columns(self, columns):
        """The rows of these columns, as `write` would write them one by one."""
        lines = json_lines(columns)
        if self._size + len(lines) <= self.max_bytes:  # no rotation: all at once
            self._file.write(lines)
            self._size += len(lines)
            return
        for line in lines.split(b"\n")[:-1]:
            self._write_line(line + b"\n")

    def _write_line(self, line):
        if self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        self._file.write(line)
        self._size += len(line)

    def flush(self):
        self._file.flush()

    def _open(self):
        self._file = open(self.path, "ab")  # noqa: SIM115 (closed in __exit__ or _rotate)
        self._size = self._file.tell()

    def _rotate(self):
        self._file.close()
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        if self.backups:
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink()
        self._open()


def _target(path):
    return str(path).rstrip("/") if is_url(path) else Path(path)


class _PartsFolder:
    """Lines gathered in memory and written as one Parquet part per flush_seconds (or
    flush_rows lines), and at close: `part-<UTC time of the first line>-<writer>.parquet`."""

    def __init__(self, url, flush_seconds, flush_rows):
        import fsspec

        self.url, self.flush_seconds, self.flush_rows = url, flush_seconds, flush_rows
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.writer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.lines, self.started, self.parts = [], None, 0

    def __enter__(self):
        self.fs.makedirs(self.root, exist_ok=True)
        return self

    def __exit__(self, *exc):
        self._write_part()

    def write(self, record):
        if not self.lines:
            self.started = time.time()
        self.lines.append(record)
        if len(self.lines) >= self.flush_rows:
            self._write_part()

    def write_columns(self, columns):
        count = max(len(values) for values in columns.values() if isinstance(values, list))
        lists = [values if isinstance(values, list) else [values] * count
                 for values in columns.values()]  # fmt: skip
        for values in zip(*lists, strict=True):
            self.write(dict(zip(columns, values, strict=True)))

    def flush(self):
        if self.lines and time.time() - self.started >= self.flush_seconds:
            self._write_part()

    def _write_part(self):
        if not self.lines:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        stamp = datetime.fromtimestamp(self.started, UTC).strftime("%Y%m%dT%H%M%S")
        self.parts += 1
        name = f"{self.root}/part-{stamp}-{self.writer}-{self.parts:06d}.parquet"
        table = pa.Table.from_pylist(self.lines)
        with self.fs.open(name, "wb") as out:
            pq.write_table(table, out)
        self.lines = []
