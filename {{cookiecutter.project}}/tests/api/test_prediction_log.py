"""The prediction logs: the sampled rows the drift job reads, and every prediction's id;
format, sampling, rotation, and never blocking."""

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from {{ cookiecutter.package }}.config import MODEL_FILE, CliError
from {{ cookiecutter.package }}.serving.model_source import PathSource
from {{ cookiecutter.package }}.serving.prediction_log import SYNTHETIC, PredictionLog, log_path
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
