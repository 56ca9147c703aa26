"""`infer-schema`: read the user's CSV once and write the data contract and the column lists.

The result is a proposal: the user reviews `schema.yaml` and `params.yaml`, then commits them.
"""

import re

import pandas as pd
import yaml

from ..config import PARAMS_FILE, SCHEMA_FILE, CliError, load_params
from ..reports import markdown_table, write_report
from .loading import read_csv


def infer_contract(frame, target, sensitive, max_categories, task="binary_classification"):
    contract, kinds = {"min_rows": 100, "columns": {}}, {}
    for name in frame.columns:
        if name == target and task == "regression":
            kind, spec = "target", _numeric_target(frame[name], name)
        else:
            kind, spec = _infer_column(frame[name], name, target, sensitive, max_categories)
        contract["columns"][name] = spec
        kinds[name] = kind
    return contract, kinds


def _numeric_target(series, name):
    """A regression target: numbers in every row (the label set is a range, not a list)."""
    numbers = pd.to_numeric(series, errors="coerce")
    bad = series[numbers.isna()]
    if len(bad):
        shown = ", ".join(repr(v) for v in bad.head(3).tolist())
        raise CliError(
            f"The regression target {name!r} must be a number in every row, but {len(bad)} "
            f"row(s) hold {shown}: fix the data, or bake with a classification task."
        )
    low, high = float(numbers.min()), float(numbers.max())
    spec = {"dtype": "float", "nullable": False}
    if low >= 0:  # as for a numeric feature: never negative in the data, taken as a quantity
        spec["min"] = 0
    return {**spec, "observed": {"min": low, "max": high}}


def _infer_column(series, name, target, sensitive, max_categories):
    """Hard rules (type, nulls, no negative values where none were seen, the target's labels)
    and, under `observed`, the range and categories seen: a server serves new ones."""
    nullable = bool(series.isna().any())
    values = series.dropna()
    if name == target:
        allowed = sorted(values.astype(str).unique().tolist())
        return "target", {"dtype": "str", "nullable": False, "allowed": allowed}
    if name in sensitive:
        seen = sorted(values.astype(str).unique().tolist())
        return "sensitive", {"dtype": "str", "nullable": nullable, "observed": {"values": seen}}
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        if _looks_like_id(values, len(series)):
            return "id", {"dtype": "int", "nullable": nullable, "unique": True}
        integral = bool((values == values.round()).all()) and not nullable
        low, high = values.min(), values.max()
        spec = {"dtype": "int" if integral else "float", "nullable": nullable}
        if low >= 0:  # never negative in the data: taken as a quantity that cannot be
            spec["min"] = 0
        spec["observed"] = {"min": _number(low, integral), "max": _number(high, integral)}
        return "numeric", spec
    text = values.astype(str)
    if text.nunique() == len(series):
        return "id", {"dtype": "str", "nullable": nullable, "unique": True}
    if text.nunique() > max_categories:
        return "ignore", {"dtype": "str", "nullable": nullable}
    seen = sorted(text.unique().tolist())
    return "categorical", {"dtype": "str", "nullable": nullable, "observed": {"values": seen}}


def _looks_like_id(values, rows):
    integral = bool((values == values.round()).all())
    return integral and values.nunique() == rows and values.is_monotonic_increasing


def _number(value, integral):
    return int(value) if integral else float(value)


def column_lists(kinds, target, positive_class, sensitive):
    """The `columns:` block; positive_class only for a binary task (None otherwise). The first
    column that names each row (unique) is the id; other unique columns are ignored."""
    unique = [name for name, kind in kinds.items() if kind == "id"]
    return {
        "target": target,
        **({} if positive_class is None else {"positive_class": positive_class}),
        "numeric": [name for name, kind in kinds.items() if kind == "numeric"],
        "categorical": [name for name, kind in kinds.items() if kind == "categorical"],
        "sensitive": list(sensitive),
        "ids": unique[:1],
        "ignore": [name for name, kind in kinds.items() if kind == "ignore" or name in unique[1:]],
    }


def replace_columns_block(params_text, new_columns):
    """Rewrite only the `columns:` block of params.yaml, keeping every comment elsewhere."""
    block = yaml.safe_dump({"columns": new_columns}, sort_keys=False, default_flow_style=None)
    pattern = re.compile(r"^columns:\n(?:(?:[ \t]+.*|[ \t]*)\n)*", re.MULTILINE)
    if not pattern.search(params_text):
        raise CliError("params.yaml has no top-level `columns:` block to update.")
    return pattern.sub(lambda _: block + "\n", params_text, count=1)


def infer_schema(args):
    params = load_params()
    spec, task = params["columns"], params.get("task", "binary_classification")
    target, sensitive = spec["target"], list(spec.get("sensitive") or [])
    positive = None if task != "binary_classification" else str(spec.get("positive_class"))
    path, max_categories = params["data"]["path"], params["data"]["max_categories"]
    frame = read_csv(path)
    _check_named_columns(frame, path, target, sensitive)
    if task != "regression":
        _check_classes(frame[target], target, task, positive, max_categories)
    contract, kinds = infer_contract(frame, target, sensitive, max_categories, task)
    SCHEMA_FILE.write_text(_SCHEMA_HEADER + yaml.safe_dump(contract, sort_keys=False))
    lists = column_lists(kinds, target, positive, sensitive)
    PARAMS_FILE.write_text(replace_columns_block(PARAMS_FILE.read_text(), lists))
    result = {"data": path, "rows": len(frame), "columns": kinds}
    rows = [(f"`{name}`", kind, contract["columns"][name]["dtype"]) for name, kind in kinds.items()]
    markdown = "## Inferred schema\n\n" + markdown_table(["column", "kind", "type"], rows)
    write_report(
        "schema", result, markdown + "\n\nReview schema.yaml and params.yaml, then commit."
    )
    print(f"Wrote {SCHEMA_FILE} and the columns of {PARAMS_FILE} from {path}: review, then commit.")


def _check_named_columns(frame, path, target, sensitive):
    known = ", ".join(frame.columns)
    for role, name in [("target", target)] + [("sensitive", name) for name in sensitive]:
        if name not in frame.columns:
            raise CliError(
                f"The {role} column {name!r} (params.yaml, columns) is not in {path}; "
                f"its columns are: {known}. Fix the name in params.yaml and run it again."
            )


def _check_classes(series, target, task, positive_class, max_categories):
    """A classification target holds a few labels: two for binary (one of them positive)."""
    labels = sorted(series.dropna().astype(str).unique())
    shown = ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")
    if task == "binary_classification" and len(labels) != 2:
        other = "multiclass_classification" if len(labels) > 2 else "another target"
        raise CliError(
            f"A binary_classification target holds two labels, but {target!r} holds "
            f"{len(labels)} ({shown}): bake with task {other}, or fix the column."
        )
    if task == "binary_classification" and positive_class not in labels:
        raise CliError(
            f"The positive class {positive_class!r} (params.yaml, columns.positive_class) is not "
            f"a value of {target!r}; its values are: {shown}."
        )
    if task == "multiclass_classification" and not 2 <= len(labels) <= max_categories:
        raise CliError(
            f"A multiclass_classification target holds 2 to {max_categories} labels "
            f"(data.max_categories), but {target!r} holds {len(labels)} ({shown}): "
            "bake with task regression for a number, or fix the column."
        )


_SCHEMA_HEADER = """\
# The data contract, checked by `validate-data` before anything trains.
# Written by `infer-schema` from the data; review it and commit it.
# Hard rules (dtype, nullable, min, max, allowed) hold for every valid value: the server
# answers 422 to a request that breaks one. `observed` is what the training data showed:
# the server serves a value beyond it and counts it (unexpected_values_total); training's
# data check and the drift report hold data to both.
"""


def add_arguments(parser):
    del parser  # no options: the paths and columns come from params.yaml


run = infer_schema
