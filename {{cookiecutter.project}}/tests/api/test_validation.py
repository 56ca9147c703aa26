"""Bad requests get a 422 that names the field, built from the data contract; never a 500."""

import pytest


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
