"""Batches as tables (Arrow IPC stream, Parquet, CSV): the same answers as the JSON batch, the
same 422s (naming the row and the column), answers as tables on `Accept`, and the prediction
logs and metrics as for JSON."""

import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from {{ cookiecutter.package }}.config import MODEL_FILE
from {{ cookiecutter.package }}.serving.model_source import PathSource
from {{ cookiecutter.package }}.serving.prediction_log import log_path

ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"
CSV = "text/csv"


def _arrow(table):
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _parquet(table):
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _csv(table):
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


WRITE = {ARROW: _arrow, PARQUET: _parquet, CSV: _csv}


def _post(client, media, table, accept=None):
    headers = {"content-type": media, **({"accept": accept} if accept else {})}
    return client.post("/predict/batch", content=WRITE[media](table), headers=headers)


def _numeric(spec, contract):
    for name in spec.features:
        if (contract["columns"].get(name) or {}).get("dtype") in ("int", "float"):
            return name
    pytest.skip("schema.yaml has no numeric feature column")


@pytest.mark.parametrize("media", [ARROW, PARQUET, CSV])
def test_a_table_gets_the_answers_of_the_same_json_batch(client, records, media):
    expected = client.post("/predict/batch", json={"records": records})
    answer = _post(client, media, pa.Table.from_pylist(records))
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected.json()  # the same ids, predictions and scores, exactly


@pytest.mark.parametrize("media", [ARROW, CSV])
def test_a_bad_value_in_a_table_gets_a_422_naming_its_row_and_column(client, records, spec,
                                                                     contract, media):  # fmt: skip
    name = _numeric(spec, contract)
    rows = [dict(record) for record in records[:6]]
    table = pa.Table.from_pylist(rows)
    values = [float(v) for v in table[name].to_pylist()]
    values[4] = float("nan")  # not a finite number: a 422, as JSON's NaN
    table = table.set_column(table.column_names.index(name), name, pa.array(values))
    if media == CSV:  # text that is no number
        text = table[name].cast(pa.string()).to_pylist()
        text[4] = "lots"
        table = table.set_column(table.column_names.index(name), name, pa.array(text))
    answer = _post(client, media, table)
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "rows", 4, name]


def test_unknown_and_missing_columns_are_named(client, records, spec, contract):
    required = [n for n in spec.features if not (contract["columns"].get(n) or {}).get("nullable")]
    table = pa.Table.from_pylist(records[:3]).append_column("shoe_size", pa.array([1, 2, 3]))
    if required:
        table = table.drop_columns([required[0]])
    answer = _post(client, ARROW, table)
    assert answer.status_code == 422, answer.text
    found = {(e["loc"][-1], e["type"]) for e in answer.json()["detail"]}
    assert ("shoe_size", "extra_forbidden") in found
    assert not required or (required[0], "missing") in found


@pytest.mark.parametrize(("media", "body"), [
    (ARROW, b'{"records": []}'), (ARROW, b""), (PARQUET, b"PAR1 not really"),
    (CSV, b"\xff\xfe\x00garbage\n\x00\x01"), (CSV, b"a\x00b\n1\n"), (CSV, b"\n\n"),
    ("application/json", b"ARROW1\x00\x00\xff"),
])  # fmt: skip
def test_a_corrupt_or_mislabelled_body_is_a_4xx_never_a_500(client, media, body):
    answer = client.post("/predict/batch", content=body, headers={"content-type": media})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["detail"]


def test_a_truncated_arrow_stream_is_a_422(client, records):
    body = _arrow(pa.Table.from_pylist(records))
    answer = client.post("/predict/batch", content=body[: len(body) // 2],
                         headers={"content-type": ARROW})  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert "Arrow IPC stream" in answer.json()["detail"][0]["msg"]


@pytest.mark.parametrize("accept", [ARROW, CSV])
def test_accept_gets_the_answer_as_a_table(client, records, accept):
    expected = client.post("/predict/batch", json={"records": records}).json()
    answer = client.post("/predict/batch", json={"records": records}, headers={"accept": accept})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(accept)
    body = io.BytesIO(answer.content)
    table = pa.ipc.open_stream(body).read_all() if accept == ARROW else pacsv.read_csv(body)
    assert table["prediction_id"].cast(pa.string()).to_pylist() == expected["prediction_ids"]
    assert table["prediction"].cast(pa.string()).to_pylist() == [
        str(p) for p in expected["predictions"]]  # fmt: skip
    assert set(table["model_version"].cast(pa.string()).to_pylist()) == {"local"}


def test_a_table_is_logged_and_counted_as_the_json_batch(model, serve_params, start_app, records,
                                                         wait_until, metric):  # fmt: skip
    del model
    client = start_app(PathSource(MODEL_FILE, "m"), serve_params, synthetic=False)
    batch = records[:5]
    client.post("/predict/batch", json={"records": batch})
    wait_until(lambda: metric(client, "prediction_log_rows_written_total") == 5, what="the log")
    answer = _post(client, ARROW, pa.Table.from_pylist(batch))
    assert answer.status_code == 200, answer.text
    wait_until(lambda: metric(client, "prediction_log_rows_written_total") == 10, what="the log")
    path = Path(log_path(serve_params["serve"]["prediction_log"], "local"))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    by_json, by_table = rows[:5], rows[5:]
    kept = [{k: v for k, v in row.items() if k != "_ts"} for row in by_json]
    assert [{k: v for k, v in row.items() if k != "_ts"} for row in by_table] == kept
    assert [row["_prediction_id"] for row in by_table] == answer.json()["prediction_ids"]
    assert metric(client, "predict_batch_rows_count") == 2  # two predict calls, counted


def test_a_text_feature_reaches_the_model_as_sent_with_nan_for_null():
    """A table's text feature becomes the model's object column as a JSON batch's does: the
    strings sent, NaN for a null and for a column not sent (it is built from the distinct
    values, which the rows share)."""
    from {{ cookiecutter.package }}.serving.column_rules import _model_array

    text = SimpleNamespace(numeric=set())
    values = _model_array(text, "f", pa.array(["a", None, "b", "a", None, ""]), 6)
    assert values.dtype == object
    assert [v if isinstance(v, str) else repr(v) for v in values] == ["a", "nan", "b", "a",
                                                                      "nan", ""]  # fmt: skip
    assert all(isinstance(v, float) and np.isnan(v) for v in _model_array(text, "f", None, 3))
