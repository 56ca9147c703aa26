"""Prediction ids: requests may carry the id columns (columns.ids of params.yaml), and every
answer carries a `prediction_id`: the id sent, or a new one. The id is never scored."""

import json
import re
import uuid

import pytest

from {{ cookiecutter.package }}.serving.request_body import RequestProblem
from {{ cookiecutter.package }}.serving.request_models import new_ids, request_schema

UUID4_HEX = re.compile(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}")


@pytest.fixture
def id_column(spec):
    if len(spec.ids) != 1:
        pytest.skip("these tests send one id column; params.yaml columns.ids lists "
                    f"{len(spec.ids)}")  # fmt: skip
    return spec.ids[0]


def _without(record, names):
    return {key: value for key, value in record.items() if key not in names}


def _scored(answer):
    return _without(answer, {"prediction_id"})


def test_a_raw_row_of_the_data_minus_the_target_is_a_valid_request(client, dataset, spec):
    rows = dataset.drop(columns=[spec.target, *spec.ignore]).head(5)
    for record in json.loads(rows.to_json(orient="records")):  # as a client would send them
        response = client.post("/predict", json=record)
        assert response.status_code == 200, response.text
        if spec.ids:
            sent = "/".join(str(record[name]) for name in spec.ids)
            assert response.json()["prediction_id"] == sent


def test_the_id_sent_is_the_prediction_id(client, records, id_column):
    record = records[0]
    assert client.post("/predict", json=record).json()["prediction_id"] == str(record[id_column])
    batch = client.post("/predict/batch", json={"records": records[:5]}).json()
    assert batch["prediction_ids"] == [str(r[id_column]) for r in records[:5]]


def test_without_an_id_each_answer_gets_a_new_one(client, records, spec):
    bare = [_without(r, spec.ids) for r in records[:6]]
    singles = [client.post("/predict", json=bare[0]).json()["prediction_id"] for _ in range(2)]
    batch = client.post("/predict/batch", json={"records": bare}).json()["prediction_ids"]
    ids = [*singles, *batch]
    assert all(UUID4_HEX.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)


def test_a_batch_may_mix_records_with_and_without_ids(client, records, id_column):
    mixed = [*records[:3], *(_without(r, [id_column]) for r in records[3:6])]
    ids = client.post("/predict/batch", json={"records": mixed}).json()["prediction_ids"]
    assert ids[:3] == [str(r[id_column]) for r in records[:3]]
    assert all(UUID4_HEX.fullmatch(i) for i in ids[3:]), ids


def test_the_id_is_never_scored(client, records, id_column, model, spec):
    assert id_column not in spec.features
    assert id_column not in list(getattr(model, "feature_names_in_", []))
    record = records[0]
    other = {**record, id_column: _another_id(record[id_column])}
    answers = [client.post("/predict", json=r).json() for r in (record, other)]
    bare = client.post("/predict", json=_without(record, [id_column])).json()
    assert _scored(answers[0]) == _scored(answers[1]) == _scored(bare)


def _another_id(value):
    return value + 1 if isinstance(value, int) else f"{value}-other"


def _wrong_type(value):
    return "not-a-number" if isinstance(value, int) else 12345


@pytest.mark.parametrize("case", ["wrong type", "empty", "null"])
def test_a_bad_id_gets_a_422_naming_it(client, records, id_column, case):
    value = records[0][id_column]
    bad = {"wrong type": _wrong_type(value), "empty": "", "null": None}[case]
    response = client.post("/predict", json={**records[0], id_column: bad})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", id_column]
    with_bad = [records[1], {**records[0], id_column: bad}]
    batch = client.post("/predict/batch", json={"records": with_bad})
    assert batch.status_code == 422, batch.text
    assert batch.json()["detail"][0]["loc"] == ["body", "records", 1, id_column]


def test_a_batch_repeating_an_id_gets_a_422_naming_it(client, records, id_column):
    response = client.post("/predict/batch", json={"records": [*records[:3], records[1]]})
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "records", 3, id_column]
    assert problem["type"] == "duplicate_id"
    assert "record 1 has the same" in problem["msg"]


def test_new_ids_are_distinct_version_4_uuids():
    for count in (1, 1000):
        ids = new_ids(count)
        assert len(set(ids)) == count
        assert all(uuid.UUID(hex=i).version == 4 and uuid.UUID(hex=i).hex == i for i in ids)


def test_several_id_columns_make_one_id_sent_whole_or_not_at_all():
    rules = {"x": {"dtype": "float", "nullable": False}, "a": {"dtype": "str"},
             "b": {"dtype": "int"}}  # fmt: skip
    schema = request_schema({"target": "y", "positive_class": None, "numeric": ["x"],
                             "categorical": [], "sensitive": [], "ids": ["a", "b"],
                             "rules": rules}, 10)  # fmt: skip
    records = [{"x": 1.0, "a": "k", "b": 7}, {"x": 2.0}]
    ids = schema.prediction_ids(records)
    assert ids[0] == "k/7" and UUID4_HEX.fullmatch(ids[1])
    with pytest.raises(RequestProblem) as half:
        schema.prediction_ids([{"x": 1.0, "a": "k"}], where=("body",))
    assert half.value.body["detail"][0]["loc"] == ["body", "b"]
    with pytest.raises(RequestProblem) as repeated:
        schema.prediction_ids([records[0], records[1], records[0]])
    assert repeated.value.body["detail"][0]["loc"] == ["body", "records", 2, "a/b"]
