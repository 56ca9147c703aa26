"""`infer-schema` on a small frame: ids, categories, numeric ranges, and a careful params edit."""

import pandas as pd
import pytest

from {{ cookiecutter.package }}.config import CliError, columns
from {{ cookiecutter.package }}.data.infer_schema import column_lists, infer_contract, replace_columns_block


def small_frame():
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "plan": ["a", "b", "a", None],
            "spend": [1.5, 2.0, None, 4.0],
            "visits": [3, 0, 7, 1],
            "label": ["y", "n", "y", "n"],
            "group": ["x", "z", "x", "x"],
        }
    )


def test_infers_kinds_types_and_ranges():
    contract, kinds = infer_contract(small_frame(), "label", ["group"], max_categories=10)
    assert kinds == {
        "id": "id", "plan": "categorical", "spend": "numeric", "visits": "numeric",
        "label": "target", "group": "sensitive",
    }  # fmt: skip
    assert contract["columns"]["visits"] == {
        "dtype": "int", "nullable": False, "min": 0, "observed": {"min": 0, "max": 7}
    }  # fmt: skip
    assert contract["columns"]["spend"]["nullable"] is True
    assert contract["columns"]["plan"] == {
        "dtype": "str", "nullable": True, "observed": {"values": ["a", "b"]}
    }  # fmt: skip
    assert contract["columns"]["label"]["allowed"] == ["n", "y"]


def test_only_what_cannot_be_is_a_hard_rule():
    """Seen ranges and categories are expectations (`observed`); a hard minimum of 0 only
    where nothing negative was seen."""
    frame = small_frame().assign(change=[-2.0, 1.0, 0.5, 3.0])
    contract, _ = infer_contract(frame, "label", ["group"], max_categories=10)
    assert contract["columns"]["change"] == {
        "dtype": "float", "nullable": False, "observed": {"min": -2.0, "max": 3.0}
    }  # fmt: skip
    assert contract["columns"]["group"] == {
        "dtype": "str", "nullable": False, "observed": {"values": ["x", "z"]}
    }  # fmt: skip


def test_too_many_categories_are_ignored():
    _, kinds = infer_contract(small_frame(), "label", [], max_categories=1)
    assert kinds["plan"] == "ignore"


def test_column_lists_follow_the_kinds():
    _, kinds = infer_contract(small_frame(), "label", ["group"], max_categories=10)
    lists = column_lists(kinds, "label", "y", ["group"])
    assert lists["numeric"] == ["spend", "visits"]
    assert lists["categorical"] == ["plan"]
    assert lists["ids"] == ["id"]
    assert lists["ignore"] == []


def test_the_first_unique_column_is_the_id_and_other_unique_ones_are_ignored():
    frame = small_frame().assign(note=["w", "x", "y", "z"])  # unique text: names rows too
    _, kinds = infer_contract(frame, "label", ["group"], max_categories=10)
    lists = column_lists(kinds, "label", "y", ["group"])
    assert (lists["ids"], lists["ignore"]) == (["id"], ["note"])


def test_only_the_columns_block_is_replaced():
    text = (
        "# keep me\ndata:\n  path: x.csv\n\n"
        "columns:\n  target: old\n  numeric: []\n\n"
        "model:\n  type: m # keep\n"
    )
    new = replace_columns_block(text, {"target": "label", "numeric": ["a"]})
    assert new.startswith("# keep me\ndata:\n  path: x.csv\n")
    assert "target: label" in new and "old" not in new
    assert new.endswith("model:\n  type: m # keep\n")


def test_multiclass_target_gets_its_label_set():
    frame = small_frame().assign(label=["gold", "silver", "bronze", "gold"])
    contract, kinds = infer_contract(frame, "label", [], 10, "multiclass_classification")
    assert kinds["label"] == "target"
    assert contract["columns"]["label"]["allowed"] == ["bronze", "gold", "silver"]


def test_regression_target_is_a_number_range():
    frame = small_frame().assign(label=[1.5, 2, 30, 4])
    contract, _ = infer_contract(frame, "label", [], 10, "regression")
    assert contract["columns"]["label"] == {"dtype": "float", "nullable": False, "min": 0,
                                            "observed": {"min": 1.5, "max": 30.0}}  # fmt: skip


def test_non_numeric_regression_target_is_refused():
    import pytest

    from {{ cookiecutter.package }}.config import CliError

    with pytest.raises(CliError, match="regression target 'label' must be a number in every row"):
        infer_contract(small_frame(), "label", [], 10, "regression")


def test_an_id_is_never_also_scored():
    spec = {"target": "label", "numeric": ["spend"], "categorical": ["plan"], "ids": ["plan"]}
    with pytest.raises(CliError, match="columns.ids lists plan, which is also the target, a"):
        columns({"columns": spec})
    assert columns({"columns": {**spec, "ids": ["id"]}}).request == ["spend", "plan", "id"]
