"""The prediction log the drift job reads: format, sampling, rotation, and never blocking."""

import json
from datetime import datetime
from pathlib import Path

from {{ cookiecutter.package }}.serving.prediction_log import PredictionLog

META = {"_ts", "_model_version", "_score", "_prediction"}


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_scored_record_is_a_json_line_with_its_prediction(client, serve_params, records,
                                                               wait_until, metric):  # fmt: skip
    answers = [client.post("/predict", json=r).json() for r in records[:3]]
    batch = client.post("/predict/batch", json={"records": records[3:8]}).json()
    log = serve_params["serve"]["prediction_log"]
    wait_until(lambda: metric(client, "prediction_log_rows_written_total") == 8, what="the log")
    rows = _lines(Path(log))
    assert len(rows) == 8
    for row, record in zip(rows, records[:8], strict=True):
        assert set(row) == set(record) | META
        assert {k: row[k] for k in record} == record
        assert datetime.fromisoformat(row["_ts"]).utcoffset().total_seconds() == 0
        assert row["_model_version"] == "local"
    assert [r["_score"] for r in rows] == [a["score"] for a in answers] + batch["scores"]
    assert [r["_prediction"] for r in rows[3:]] == batch["predictions"]


def test_sample_rate_zero_writes_nothing(tmp_path):
    log = PredictionLog(tmp_path / "p.jsonl", 0, 1000, 2).start()
    log.add([{"a": 1}], "1", [0.5], ["yes"])
    log.close()
    assert not (tmp_path / "p.jsonl").exists()


def test_sampling_keeps_about_the_configured_share(tmp_path):
    log = PredictionLog(tmp_path / "p.jsonl", 0.25, 10**8, 0).start()
    log.add([{"a": i} for i in range(4000)], "1", [0.5] * 4000, ["yes"] * 4000)
    log.close()
    assert 800 <= len(_lines(tmp_path / "p.jsonl")) <= 1200


def test_rotation_bounds_the_files(tmp_path):
    path = tmp_path / "predictions.jsonl"
    log = PredictionLog(path, 1.0, max_bytes=2000, backups=2).start()
    for batch in range(20):
        log.add([{"a": batch, "b": "x" * 50}] * 10, "1", [0.5] * 10, ["yes"] * 10)
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
        log.add([{"a": 1}, {"a": 2}], "1", [0.1, 0.2], ["no", "no"])
    assert dropped == [2, 2]
