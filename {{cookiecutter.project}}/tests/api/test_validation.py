"""Bad requests get a 422 that names the field, built from the hard rules of the data contract;
never a 500. Values beyond what training observed are served and counted."""

import json

import pytest

JSON = {"content-type": "application/json"}


def _rule(contract, name):
    return contract["columns"].get(name) or {}


def _first(spec, contract, wanted, what):
    for name in spec.features:
        if wanted(_rule(contract, name)):
            return name
    pytest.skip(f"schema.yaml has no feature column that is {what}")


def _required(spec, contract):
    return _first(spec, contract, lambda r: not r.get("nullable"), "required")


def _numeric_with(bound):
    def find(spec, contract):
        return _first(
            spec,
            contract,
            lambda r: bound in r and not r.get("nullable") and r["dtype"] in ("int", "float"),
            f"numeric with a {bound}",
        )

    return find


def _categorical(spec, contract):
    return _first(spec, contract, lambda r: "allowed" in r, "categorical")


def _integer(spec, contract):
    return _first(spec, contract, lambda r: r.get("dtype") == "int", "an integer")


def _numeric(spec, contract):
    return _first(spec, contract, lambda r: r.get("dtype") in ("int", "float"), "numeric")


# case -> (find the column, change the record, expected pydantic error types)
CASES = {
    "missing field": (_required, lambda r, c, rule: r.pop(c), {"missing"}),
    "wrong type": (_numeric, lambda r, c, rule: r.update({c: "many"}), {"float_type"}),
    "number as text": (_numeric, lambda r, c, rule: r.update({c: "7"}), {"float_type"}),
    "boolean for a number": (_numeric, lambda r, c, rule: r.update({c: True}), {"float_type"}),
    "fraction for an integer": (_integer, lambda r, c, rule: r.update({c: 2.5}), {"multiple_of"}),
    # pydantic's multiple_of lets floats within 1e-9 of a whole number pass (schemathesis found it)
    "tiny fraction for an integer": (
        _integer,
        lambda r, c, rule: r.update({c: 1e-10}),
        {"multiple_of"},
    ),
    "unknown category": (
        _categorical,
        lambda r, c, rule: r.update({c: "no-such-category"}),
        {"literal_error"},
    ),
    "above the maximum": (
        _numeric_with("max"),
        lambda r, c, rule: r.update({c: rule["max"] + 1}),
        {"less_than_equal"},
    ),
    "below the minimum": (
        _numeric_with("min"),
        lambda r, c, rule: r.update({c: rule["min"] - 1}),
        {"greater_than_equal"},
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_record_gets_422_naming_the_field(client, records, spec, contract, case):
    find, change, types = CASES[case]
    column = find(spec, contract)
    record = dict(records[0])
    change(record, column, _rule(contract, column))
    response = client.post("/predict", json=record)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [["body", column]], errors
    assert errors[0]["type"] in types


def test_unknown_field_is_named(client, records):
    response = client.post("/predict", json={**records[0], "surprise": 1})
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [
        (["body", "surprise"], "extra_forbidden")
    ]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b""])
def test_a_body_that_is_no_json_object_is_a_422(client, body):
    response = client.post("/predict", content=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_bad_record_in_a_batch_is_named_by_position_and_field(client, records, spec, contract):
    column = _required(spec, contract)
    batch = [dict(r) for r in records[:5]]
    del batch[3][column]
    response = client.post("/predict/batch", json={"records": batch})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "records", 3, column]]


def test_batch_size_limits(model, serve_params, start_app, records):
    from {{ cookiecutter.package }}.config import MODEL_FILE
    from {{ cookiecutter.package }}.serving.model_source import PathSource

    del model
    params = {**serve_params, "serve": {**serve_params["serve"], "max_batch_records": 5}}
    client = start_app(PathSource(MODEL_FILE, "m"), params)
    assert client.post("/predict/batch", json={"records": records[:5]}).status_code == 200
    for size, kind in ((6, "too_long"), (0, "too_short")):
        response = client.post("/predict/batch", json={"records": records[:size]})
        assert response.status_code == 422
        error = response.json()["detail"][0]
        assert (error["loc"], error["type"]) == (["body", "records"], kind)
    missing = client.post("/predict/batch", json={"rows": records[:1]})
    assert {tuple(e["loc"]) for e in missing.json()["detail"]} == {
        ("body", "records"),
        ("body", "rows"),
    }


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_a_number_json_cannot_hold_gets_422_naming_the_field(client, records, spec, path, value):
    """Python's JSON reader takes NaN and Infinity, and 1e400 overflows to infinity."""
    for column in spec.numeric:
        record = json.dumps({**records[0], column: 12345.5}).replace("12345.5", value)
        body = record if path == "/predict" else '{"records": [' + record + "]}"
        response = client.post(path, content=body, headers=JSON)
        assert response.status_code == 422, (column, response.text)
        located = [e["loc"][-1] for e in response.json()["detail"]]
        assert located == [column], response.text


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=latin-1"])
def test_a_body_that_is_not_utf8_gets_400(client, records, spec, path, content_type):
    column = spec.categorical[0] if spec.categorical else spec.numeric[0]
    record = json.dumps({**records[0], column: "caf\u00e9"}, ensure_ascii=False)
    body = record if path == "/predict" else '{"records": [' + record + "]}"
    headers = {"content-type": content_type}
    response = client.post(path, content=body.encode("latin-1"), headers=headers)
    assert response.status_code == 400, response.text
    assert "UTF-8" in response.json()["detail"]


def test_an_ascii_body_declared_latin1_is_read_as_the_json_it_is(client, records):
    """RFC 8259: a charset parameter has no effect on JSON, which is UTF-8."""
    headers = {"content-type": "application/json; charset=latin-1"}
    response = client.post("/predict", content=json.dumps(records[0]), headers=headers)
    assert response.status_code == 200, response.text


def test_a_422_lists_a_few_errors_and_echoes_no_large_input(client, records, spec):
    column = spec.features[0]
    bad = [{**record, column: "x" * 5000} for record in records[:30]]
    response = client.post("/predict/batch", json={"records": bad})
    assert response.status_code == 422
    answer = response.json()
    assert answer["error_count"] == 30
    assert len(answer["detail"]) == 10
    assert [e["loc"] for e in answer["detail"]] == [
        ["body", "records", i, column] for i in range(10)
    ]
    assert len(response.content) < 2000 and "x" * 41 not in response.text


def test_a_body_over_max_body_bytes_gets_413(model, serve_params, start_app, records):
    from {{ cookiecutter.package }}.config import MODEL_FILE
    from {{ cookiecutter.package }}.serving.model_source import PathSource

    del model
    params = {**serve_params, "serve": {**serve_params["serve"], "max_body_bytes": 4000}}
    client = start_app(PathSource(MODEL_FILE, "m"), params)
    small, large = json.dumps({"records": records[:2]}), json.dumps({"records": records})
    assert len(small) < 4000 < len(large)
    assert client.post("/predict/batch", content=small, headers=JSON).status_code == 200
    response = client.post("/predict/batch", content=large, headers=JSON)
    assert response.status_code == 413
    assert "serve.max_body_bytes" in response.json()["detail"]

    def chunked():  # no Content-Length: the bytes are counted as they arrive
        for start in range(0, len(large), 1000):
            yield large[start : start + 1000].encode()

    response = client.post("/predict", content=chunked(), headers=JSON)
    assert response.status_code == 413


def _seen_max(contract, name):
    rule = _rule(contract, name)
    return (rule.get("observed") or {}).get("max", rule.get("max"))


def test_values_beyond_what_training_saw_are_served_and_counted(client, records, spec, contract,
                                                                metric, caplog):  # fmt: skip
    """A customer one month past the longest tenure seen is valid: served, counted, logged."""
    number = next((n for n in spec.numeric if _seen_max(contract, n) is not None), None)
    if number is None or not spec.categorical:
        pytest.skip("schema.yaml has no numeric feature with a seen maximum, or no category")
    category = spec.categorical[0]
    record = {**records[0], number: _seen_max(contract, number) + 1, category: "unseen-category"}
    single = client.post("/predict", json=record)
    again = {k: v for k, v in record.items() if k not in spec.ids}  # ids in a batch differ
    batch = client.post("/predict/batch", json={"records": [record, records[1], again]})
    assert (single.status_code, batch.status_code) == (200, 200), (single.text, batch.text)
    for column, kind in ((number, "above_observed_max"), (category, "unseen_category")):
        counted = metric(client, "unexpected_values_total", column=column, kind=kind)
        assert counted == 3, (column, kind)
    assert any(number in r.getMessage() and "above_observed_max" in r.getMessage()
               for r in caplog.records)  # fmt: skip


# A batch's JSON is decoded straight into columns (msgspec); the request models (pydantic)
# have the last word on anything that decoder refuses. So the decoder must never take what
# the models refuse, nor read a value otherwise. Each record below is spliced as raw text
# into a batch beside a plain one: duplicate keys, NaN and bad bytes are not Python values.
PLAIN = '{"x": 1.5, "n": 3, "z": null, "c": "a", "s": "f", "key": 1}'
TAKEN = [  # the columns take these, and read them as the models do
    '{"x": 1, "n": 2.0, "c": "\\u00e9", "key": 2}',  # 1 for a float, 2.0 for an int, an escape
    '{"x": 0, "n": 100000000000000000000, "z": 1e-400, "c": "a", "key": 2}',
    '{"x": -0.0, "n": 0, "z": 2.5, "c": "a", "s": null, "k\\u0065y": 99999999999999999999999}',
    '{"x": 5, "x": 2, "n": 1, "c": "a", "key": 3}',  # the last of duplicate keys counts
    '{"x": 10, "n": 1e2, "c": "\\u00e9", "key": 4}',
]
DECIDED = [  # the models' answer (a 422, a 400, or a 200 of a key first bad, then good)
    '{"x": true, "n": 3, "c": "a", "key": 5}', '{"x": 1, "n": true, "c": "a", "key": 5}',
    '{"x": 1, "n": 1.5, "c": "a", "key": 5}', '{"x": "5", "n": 3, "c": "a", "key": 5}',
    '{"x": NaN, "n": 3, "c": "a", "key": 5}', '{"x": Infinity, "n": 3, "c": "a", "key": 5}',
    '{"x": -Infinity, "n": 3, "c": "a", "key": 5}', '{"x": 1e400, "n": 3, "c": "a", "key": 5}',
    '{"x": 1, "n": 1e400, "c": "a", "key": 5}', '{"x": 1, "n": 1' + "0" * 400 + ', "key": 5}',
    '{"x": 1, "n": 3, "c": "a", "key": 17.0}', '{"x": 1, "n": 3, "c": "a", "key": true}',
    '{"x": 1, "n": 3, "c": "a", "key": null}', '{"x": 1, "n": 3, "c": "a", "key": "17"}',
    '{"x": 1, "n": 3, "c": "a", "w": 1, "key": 5}', '{"n": 3, "c": "a", "key": 5}',
    '{"x": null, "n": 3, "c": "a", "key": 5}', '{"x": 1, "n": 3, "c": "b", "key": 5}',
    '{"x": 1, "n": 3, "c": 1, "key": 5}', '{"x": 11, "n": 3, "c": "a", "key": 5}',
    '{"x": -1, "n": 3, "c": "a", "key": 5}', '{"x": 1, "n": -1, "c": "a", "key": 5}',
    '{"x": 1, "n": 3, "c": "", "key": 5}', '{"x": 1, "n": 3, "c": "\\ud800", "key": 5}',
    '{"x": 1, "n": 3, "c": "\\u00e9\xff", "key": 5}', '{"x": 1, "n": 3, "c": "a", "key": 1}',
    '{"x": 1, "n": 3, "c": "a", "x": true, "key": 5}', '{"x": 1, "n": 3, "c": "a", "s": 5}',
    '{"x": true, "x": 2, "n": 1, "c": "a", "key": 3}', '{"x": 1, "n": 3, "c": "a"}',
]  # fmt: skip


@pytest.fixture(scope="module")
def tricky_schema():
    from {{ cookiecutter.package }}.serving.request_models import request_schema

    rules = {"x": {"dtype": "float", "min": 0, "max": 10}, "n": {"dtype": "int", "min": 0},
             "z": {"dtype": "float", "nullable": True}, "s": {"dtype": "str"},
             "c": {"dtype": "str", "allowed": ["a", "\u00e9"]},
             "key": {"dtype": "int"}}  # fmt: skip
    return request_schema({"target": "y", "positive_class": None, "numeric": ["x", "n", "z"],
                           "categorical": ["c"], "sensitive": ["s"], "ids": ["key"],
                           "rules": rules}, 10)  # fmt: skip


def _outcome(schema, body):
    """(status, the 422's body) or (200, the model's columns as text, the ids sent)."""
    from {{ cookiecutter.package }}.serving.request_body import RequestProblem

    try:
        batch = schema.batch(body)
        ids = schema.prediction_ids(batch)
    except RequestProblem as problem:
        return problem.status, problem.body
    columns = {name: [repr(value) for value in values.tolist()]
               for name, values in schema.arrays(batch).items()}  # fmt: skip
    return 200, columns, [i for i in ids if len(i) != 32], batch


def _by_models(schema, body):
    """The outcome when the request models decode the batch (no column decoder)."""
    models_only = object.__new__(type(schema))
    models_only.__dict__.update(schema.__dict__, _json_columns=lambda body: None)
    return _outcome(models_only, body)


@pytest.mark.parametrize("record", TAKEN + DECIDED)
def test_the_json_column_decoder_takes_what_the_request_models_take(tricky_schema, record):
    from {{ cookiecutter.package }}.serving.column_rules import ColumnBatch

    body = ('{"records": [' + PLAIN + ", " + record + "]}").encode("utf-8", "surrogateescape")
    body = body.replace(b"\\u00e9\xff", b"\\u00e9\xff"[:-1] + b"\xff")  # a byte that is no UTF-8
    found, expected = _outcome(tricky_schema, body), _by_models(tricky_schema, body)
    assert found[:3] == expected[:3]
    if record in TAKEN:  # and the columns, not the models, took it
        assert isinstance(found[3], ColumnBatch), found
