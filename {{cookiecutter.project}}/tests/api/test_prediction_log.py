"""The prediction logs: the sampled rows the drift job reads, and every prediction's id;
format, sampling, rotation, and never blocking."""

import json
import time
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic_core import to_json

from {{ cookiecutter.package }}.config import MODEL_FILE, CliError
from {{ cookiecutter.package }}.serving.answers import Answers
from {{ cookiecutter.package }}.serving.columnar import ARROW
from {{ cookiecutter.package }}.serving.model_source import PathSource
from {{ cookiecutter.package }}.serving.prediction_log import (
    SYNTHETIC,
    PredictionLog,
    json_lines,
    log_path,
)
from {{ cookiecutter.package }}.serving.serve import BATCH_KEYS

META = {"_ts", "_model_version", "_prediction_id"}  # and the answer's fields, prefixed by `_`


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def real_client(model, serve_params, start_app):
    """The app on the trained model, its requests not marked synthetic: real traffic."""
    del model
    source = PathSource(MODEL_FILE, serve_params["registry"]["model_name"])
    return start_app(source, serve_params, synthetic=False)


def test_each_scored_record_is_a_json_line_with_its_prediction(
    real_client, serve_params, records, wait_until, metric, task
):
    client = real_client
    answers = [client.post("/predict", json=r).json() for r in records[:3]]
    batch = client.post("/predict/batch", json={"records": records[3:8]}).json()
    log = log_path(serve_params["serve"]["prediction_log"], "local")  # a model file: `local`
    wait_until(lambda: metric(client, "prediction_log_rows_written_total") == 8, what="the log")
    rows = _lines(Path(log))
    assert len(rows) == 8
    ids = [a["prediction_id"] for a in answers] + batch["prediction_ids"]
    assert [row["_prediction_id"] for row in rows] == ids
    for row, record in zip(rows, records[:8], strict=True):
        assert set(row) == set(record) | META | {f"_{key}" for key in task.answer_fields}
        assert {k: row[k] for k in record} == record
        assert datetime.fromisoformat(row["_ts"]).utcoffset().total_seconds() == 0
        assert row["_model_version"] == "local"
    logged = [{key: row[f"_{key}"] for key in task.answer_fields} for row in rows]
    assert logged[:3] == [{key: a[key] for key in task.answer_fields} for a in answers]
    assert [r["prediction"] for r in logged[3:]] == batch["predictions"]


def test_synthetic_traffic_is_not_logged(real_client, serve_params, records, wait_until, metric):
    client, folder = real_client, Path(serve_params["serve"]["prediction_log"]).parent
    for value in ("1", "true"):  # the load test, the smoke test and the tests send "1"
        assert client.post("/predict", json=records[0],
                           headers={"X-Synthetic-Traffic": value}).status_code == 200  # fmt: skip
    client.post("/predict/batch", json={"records": records[:5]}, headers=SYNTHETIC)
    client.post("/predict", json=records[1])  # real: logged, after the others (one queue)
    wait_until(lambda: metric(client, "prediction_log_rows_written_total") >= 1, what="the log")
    wait_until(lambda: metric(client, "prediction_ids_log_rows_written_total") >= 1,
               what="the ids log")  # fmt: skip
    names = ["prediction-ids-local.jsonl", "predictions-local.jsonl"]
    assert sorted(p.name for p in folder.iterdir()) == names
    rows, ids = _lines(folder / names[1]), _lines(folder / names[0])
    assert len(rows) == 1, f"{len(rows) - 1} synthetic rows were logged"
    assert len(ids) == 1, f"{len(ids) - 1} synthetic predictions were logged with their ids"
    assert {k: rows[0][k] for k in records[1]} == records[1]


# Text that a JSON writer must escape, or that looks like the separators between values
TRICKY = ['","', 'a"b', "back\\slash\\", '"},{"', "tab\tline\nend", "ünï ✓", ",", "null"]


def _arrow(rows):
    sink = pa.BufferOutputStream()
    table = pa.Table.from_pylist(rows)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize("kind", ["json", "arrow"])
def test_a_10k_batch_logs_the_bytes_the_per_record_path_writes(
    real_client, serve_params, records, spec, task, contract, wait_until, metric, kind
):
    """A batch is logged column by column (json_lines), not a dict per line: every line of
    both logs must still be, byte for byte, what the per-record path writes of the same
    record, id and answer (its dict through to_json), ids with tricky text included. (A
    batch logs a number as its column's type, 12.0 of an int column as 12, as it always has.)"""
    kinds = {name: rule.get("dtype") for name, rule in contract["columns"].items()}
    ints = {name for name, kind in kinds.items() if kind == "int"}
    typed = {"int": int, "float": float}
    rows = [{k: v for k, v in record.items() if k not in spec.ids}  # repeated: new ids
            for record in (records * 250)[:10_000]]  # fmt: skip
    if len(spec.ids) == 1:  # one id each, all different: tricky text, or a number
        for i, row in enumerate(rows):
            text = spec.ids[0] not in ints
            row[spec.ids[0]] = f"{i}{TRICKY[i % len(TRICKY)]}" if text else i
    if kind == "json":
        answer = real_client.post("/predict/batch", json={"records": rows})
    else:
        answer = real_client.post("/predict/batch", content=_arrow(rows),
                                  headers={"Content-Type": ARROW})  # fmt: skip
    batch = answer.json()
    for name in ("prediction_log_rows_written_total", "prediction_ids_log_rows_written_total"):
        wait_until(lambda name=name: metric(real_client, name) == 10_000, what=name)
    sampled, ids_log = (Path(log_path(serve_params["serve"][key], "local")).read_bytes()
                        for key in ("prediction_log", "prediction_ids_log"))  # fmt: skip
    sampled, ids_log = sampled.splitlines(keepends=True), ids_log.splitlines(keepends=True)
    assert len(sampled) == len(ids_log) == 10_000
    ts = json.loads(sampled[0])["_ts"]
    for i, (line, id_line, row) in enumerate(zip(sampled, ids_log, rows, strict=True)):
        pid = batch["prediction_ids"][i]
        answered = {key: batch[BATCH_KEYS[key]][i] for key in task.answer_fields}
        prefixed = {f"_{key}": value for key, value in answered.items()}
        record = {name: typed[kinds.get(name)](row[name])
                  if kinds.get(name) in typed and row[name] is not None else row[name]
                  for name in json.loads(line) if name in row}  # fmt: skip
        assert line == to_json({**record, "_ts": ts, "_model_version": "local",
                                "_prediction_id": pid, **prefixed}) + b"\n", i  # fmt: skip
        assert id_line == to_json({"prediction_id": pid, "ts": ts, "model_version": "local",
                                   **task.kept(answered)}) + b"\n", i  # fmt: skip


def test_json_lines_are_what_to_json_writes_of_each_row():
    columns = {
        "ts": "2026-01-01T00:00:00.000Z",  # one value for every row
        "text": TRICKY,
        "number": [1, -0.0, 1e16, 1.5e-7, 2**70, 0.1, True, None],
        "maybe": ["x", None, '","', "y", None, "", '"', "z"],
        "answer": [{"a": 0.5}, {"b": '","'}, {}, {"c": [1, 2]}, None, {"d": None}, {}, {}],
        "version": "3",
        "last": ["q", "r", "", "t", '\\"', "v", "w", '"'],
    }
    rows = [{key: values[i] if isinstance(values, list) else values
             for key, values in columns.items()} for i in range(len(TRICKY))]  # fmt: skip
    assert json_lines(columns) == b"".join(to_json(row) + b"\n" for row in rows)
    assert json_lines({"n": [1.5]}) == b'{"n":1.5}\n'


def test_a_columnar_batch_rotates_as_line_by_line_writing_would(tmp_path):
    path = tmp_path / "ids.jsonl"
    log = PredictionLog(tmp_path / "p.jsonl", 0, 2000, 3, ids_path=path).start()
    answers = Answers({"prediction": ["yes", "no"] * 25, "score": [i / 50 for i in range(50)]})
    log.add([{}] * 50, "1", answers, [f"id{i}" for i in range(50)])
    log.close()
    files = [path.with_name(f"ids.jsonl.{n}") for n in (3, 2, 1)] + [path]
    files = [file for file in files if file.exists()]
    assert len(files) >= 3 and all(0 < file.stat().st_size <= 2000 for file in files)
    lines = [line for file in files for line in _lines(file)]
    assert [(line["prediction_id"], line["score"]) for line in lines] == [
        (f"id{i}", i / 50) for i in range(50)]  # fmt: skip


@pytest.fixture
def unsampled_client(model, serve_params, start_app):
    """Real traffic to a server that samples no rows for drift (log_sample_rate 0)."""
    del model
    params = {**serve_params, "serve": {**serve_params["serve"], "log_sample_rate": 0}}
    source = PathSource(MODEL_FILE, params["registry"]["model_name"])
    return start_app(source, params, synthetic=False), params


def test_every_prediction_is_a_compact_line_of_the_ids_log(
    unsampled_client, records, wait_until, metric, task
):
    """Not a sample: each prediction, with its id, time, version and what task.kept keeps
    (the class and its score, or the value), even when no row is sampled for drift."""
    client, params = unsampled_client
    singles = [client.post("/predict", json=r).json() for r in records[:3]]
    batch = client.post("/predict/batch", json={"records": records[3:8]}).json()
    wait_until(lambda: metric(client, "prediction_ids_log_rows_written_total") == 8,
               what="the ids log")  # fmt: skip
    batch_answers = [{key: batch[BATCH_KEYS[key]][i] for key in task.answer_fields}
                     for i in range(5)]  # fmt: skip
    answers = [{k: a[k] for k in task.answer_fields} for a in singles] + batch_answers
    ids = [a["prediction_id"] for a in singles] + batch["prediction_ids"]
    lines = _lines(log_path(params["serve"]["prediction_ids_log"], "local"))
    assert [line["prediction_id"] for line in lines] == ids
    for line, answer in zip(lines, answers, strict=True):
        assert line == {"prediction_id": line["prediction_id"], "ts": line["ts"],
                        "model_version": "local", **task.kept(answer)}  # fmt: skip
        assert datetime.fromisoformat(line["ts"]).utcoffset().total_seconds() == 0
    assert ("score" in lines[0]) is (task.name != "regression")  # a classifier's score
    sampled = log_path(params["serve"]["prediction_log"], "local")
    assert not sampled.exists(), "log_sample_rate 0 still wrote sampled rows"


def test_each_environment_has_its_own_log_file():
    setting = "logs/predictions-{environment}.jsonl"
    assert log_path(setting, "production") == Path("logs/predictions-production.jsonl")
    assert log_path(setting, "load-test") != log_path(setting, "staging")
    with pytest.raises(CliError, match="must contain \\{environment\\}, so that each"):
        log_path("logs/predictions.jsonl", "staging")
    with pytest.raises(CliError, match="must be lower-case letters"):
        log_path(setting, "../prod")


def test_sample_rate_zero_writes_nothing(tmp_path):
    log = PredictionLog(tmp_path / "p.jsonl", 0, 1000, 2).start()
    log.add([{"a": 1}], "1", [{"prediction": "yes", "score": 0.5}])
    log.close()
    assert not (tmp_path / "p.jsonl").exists()


def test_sampling_keeps_about_the_configured_share(tmp_path):
    log = PredictionLog(tmp_path / "p.jsonl", 0.25, 10**8, 0).start()
    log.add([{"a": i} for i in range(4000)], "1", [{"prediction": "yes"}] * 4000)
    log.close()
    assert 800 <= len(_lines(tmp_path / "p.jsonl")) <= 1200


def test_rotation_bounds_the_files(tmp_path):
    path = tmp_path / "predictions.jsonl"
    log = PredictionLog(path, 1.0, max_bytes=2000, backups=2).start()
    for batch in range(20):
        log.add([{"a": batch, "b": "x" * 50}] * 10, "1", [{"prediction": "yes"}] * 10)
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["predictions.jsonl", "predictions.jsonl.1", "predictions.jsonl.2"]
    for name in files:
        assert 0 < (tmp_path / name).stat().st_size <= 2000
    newest, older = _lines(path), _lines(tmp_path / "predictions.jsonl.1")
    assert older[-1]["a"] <= newest[0]["a"]  # .1 holds what came just before


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path):
    dropped = []
    log = PredictionLog(tmp_path / "p.jsonl", 1.0, 1000, 1, on_drop=dropped.append,
                        queue_batches=2)  # fmt: skip
    # The writer is not started: nothing drains the queue, as when the disk stalls.
    for _ in range(4):
        log.add([{"a": 1}, {"a": 2}], "1", [{"prediction": "no"}] * 2)
    assert dropped == [2, 2]


def test_a_url_log_is_a_folder_of_parquet_parts_that_readers_take_by_window(tmp_path):
    """A URL (here file://, as a shared folder; s3:// etc. alike through fsspec) gets Parquet
    parts: one per flush_rows lines and one at close, named by time and writer, and the
    monitoring jobs read them back, a part begun before the window left out."""
    from {{ cookiecutter.package }}.monitoring.drift_inputs import log_files, read_log

    url = f"file://{tmp_path}/logs/predictions-production"
    log = PredictionLog(url, 1.0, 1000, 1, ids_path=f"{url}-ids", flush_rows=25).start()
    log.add([{"a": i} for i in range(60)], "3", [{"prediction": "yes"}] * 60,
            [f"id{i}" for i in range(60)])  # fmt: skip
    log.close()
    parts = log_files(url)
    assert len(parts) == 3 and all("/part-" in str(p) for p in parts)  # 25 + 25 + 10 at close
    rows = [read_log(part) for part in parts]
    assert [len(r) for r in rows] == [25, 25, 10]
    assert rows[0]["_model_version"].tolist()[:1] == ["3"] and rows[2]["a"].tolist()[-1] == 59
    ids = [read_log(part, ["prediction_id"]) for part in log_files(f"{url}-ids")]
    assert sum(len(r) for r in ids) == 60 and list(ids[0].columns) == ["prediction_id"]
    old = tmp_path / "logs/predictions-production/part-20200101T000000-old-000001.parquet"
    old.write_bytes(Path(parts[0].removeprefix("file://")).read_bytes())
    assert len(log_files(url)) == 4
    assert log_files(url, since=datetime.fromisoformat("2021-01-01T00:00:00+00:00")) == parts


def test_a_url_log_writes_a_part_every_flush_seconds_without_traffic(tmp_path):
    url = f"file://{tmp_path}/ids"
    log = PredictionLog(tmp_path / "sampled.jsonl", 0, 1000, 1, ids_path=url,
                        flush_seconds=0.5).start()  # fmt: skip
    log.add([{"a": 1}], "1", [{"prediction": "no"}], ["x"])
    deadline = datetime.now().timestamp() + 10
    while not list(tmp_path.glob("ids/part-*.parquet")):
        assert datetime.now().timestamp() < deadline, "no part within 10 s of a 0.5 s flush"
        time.sleep(0.05)
    assert len(list(tmp_path.glob("ids/part-*.parquet"))) == 1  # written before close
    log.close()
