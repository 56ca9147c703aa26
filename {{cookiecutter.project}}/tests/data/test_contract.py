"""The data contract: the committed data meets it, and each kind of bad data is caught."""

import pytest

from {{ cookiecutter.package }}.data.contract import strict_rules, violations


def test_committed_data_meets_the_contract(dataset, contract):
    assert violations(dataset, contract) == []


def test_contract_covers_every_model_column(contract, spec):
    missing = {spec.target, *spec.features, *spec.sensitive, *spec.ids} - set(contract["columns"])
    assert not missing, f"columns used by params.yaml but not in schema.yaml: {missing}"


def _first(contract, predicate):
    """A column whose rules, observed ones included (training is held to both), match."""
    for name, column in contract["columns"].items():
        if predicate(strict_rules(column)):
            return name
    pytest.skip("the contract has no column of this kind")


def _checks_failing(frame, contract):
    return {(v["column"], v["check"].split("(")[0]) for v in violations(frame, contract)}


def test_value_out_of_the_observed_range_is_named(dataset, contract):
    name = _first(contract, lambda c: "max" in c)
    bad = dataset.copy()
    bad.loc[bad.index[3], name] = strict_rules(contract["columns"][name])["max"] + 1
    found = violations(bad, contract)
    assert (name, "less_than_or_equal_to") in _checks_failing(bad, contract)
    assert found[0]["examples"][0]["row"] == 5  # index 3 is CSV line 5 (header is line 1)


def test_unseen_category_is_named(dataset, contract):
    name = _first(contract, lambda c: "allowed" in c)
    bad = dataset.copy()
    bad.loc[bad.index[0], name] = "not-a-category"
    found = [v for v in violations(bad, contract) if v["column"] == name]
    assert found and found[0]["examples"][0]["value"] == "not-a-category"


def test_missing_column_is_named(dataset, contract, spec):
    found = violations(dataset.drop(columns=[spec.target]), contract)
    assert any(v["check"] == "column_in_dataframe" and v["examples"][0]["value"] == spec.target
               for v in found)  # fmt: skip


def test_wrong_type_is_named(dataset, contract):
    name = _first(contract, lambda c: c["dtype"] in ("int", "float"))
    bad = dataset.copy().astype({name: object})
    bad.loc[bad.index[1], name] = "twelve"
    assert any(
        column == name and "dtype" in check for column, check in _checks_failing(bad, contract)
    )


def test_null_in_required_column_is_named(dataset, contract):
    name = _first(contract, lambda c: not c.get("nullable") and c["dtype"] == "float")
    bad = dataset.copy()
    bad.loc[bad.index[2], name] = None
    assert (name, "not_nullable") in _checks_failing(bad, contract)


def test_too_few_rows(dataset, contract):
    found = violations(dataset.head(contract.get("min_rows", 1) - 1), contract)
    assert found and found[0]["column"] == "<table>"
