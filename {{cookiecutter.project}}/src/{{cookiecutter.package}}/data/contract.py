"""The data contract: `schema.yaml` turned into a pandera schema, and its violations into a report.

The contract is data (YAML the user reviews and commits), not code, so `infer-schema`
can write it and a reviewer can read a change to it in a pull request.

Each column has hard rules (`dtype`, `nullable`, `unique`, `min`, `max`, `allowed`): what no
valid value breaks (a negative count) or the model cannot take. Under `observed:` it has what
the training data showed (`min`, `max`, seen `values`): a new value beyond them may be valid.
Training's data check enforces both (`strict_rules`); the server rejects only hard violations
and counts the others; drift reports both.
"""

import pandas as pd

DTYPES = {"int": "int64", "float": "float64", "str": str}
EXAMPLES_PER_CHECK = 5
SERVING_CONTRACT = "serving_contract"  # its key in a logged model's MLmodel metadata


def serving_contract(spec, contract):
    """What a model needs of a request: its column lists and their rules. Logged with the
    model, so a server takes each version's request model from the version itself."""
    names = [*spec.request, spec.target]
    rules = {name: contract["columns"][name] for name in names if name in contract["columns"]}
    return {"target": spec.target, "positive_class": spec.positive_class,
            "numeric": list(spec.numeric), "categorical": list(spec.categorical),
            "sensitive": list(spec.sensitive), "ids": list(spec.ids), "rules": rules}  # fmt: skip


def strict_rules(rule):
    """A column's hard rules tightened by what was observed: what training's data must meet."""
    observed = rule.get("observed") or {}
    strict = {key: value for key, value in rule.items() if key != "observed"}
    if "min" in observed:
        strict["min"] = max(observed["min"], strict.get("min", observed["min"]))
    if "max" in observed:
        strict["max"] = min(observed["max"], strict.get("max", observed["max"]))
    if "values" in observed and "allowed" not in strict:
        strict["allowed"] = observed["values"]
    return strict


def pandera_schema(contract):
    import pandera.pandas as pa  # here, not at the top: the server and drift need no pandera

    columns = {name: _column(strict_rules(spec)) for name, spec in contract["columns"].items()}
    return pa.DataFrameSchema(columns, strict=True, coerce=True)


def _column(spec):
    import pandera.pandas as pa

    checks = []
    if "min" in spec:
        checks.append(pa.Check.ge(spec["min"]))
    if "max" in spec:
        checks.append(pa.Check.le(spec["max"]))
    if "allowed" in spec:
        checks.append(pa.Check.isin([str(value) for value in spec["allowed"]]))
    return pa.Column(
        DTYPES[spec["dtype"]],
        checks=checks,
        nullable=bool(spec.get("nullable", False)),
        unique=bool(spec.get("unique", False)),
    )


def violations(frame, contract):
    """Return one entry per failed check: column, check, count and a few offending rows."""
    found = []
    min_rows = contract.get("min_rows", 1)
    if len(frame) < min_rows:
        found.append(_entry("<table>", f"at least {min_rows} rows", [], len(frame)))
    import pandera.pandas as pa

    try:
        pandera_schema(contract).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as error:
        found += _from_failure_cases(error.failure_cases)
    return [entry for entry in found if not _follows_dtype_failure(entry)]


def _follows_dtype_failure(entry):
    """A range check on a column whose type is already wrong only repeats that failure."""
    return bool(entry["examples"]) and all(
        example["row"] is None and str(example["value"]).startswith("TypeError(")
        for example in entry["examples"]
    )


def _from_failure_cases(cases):
    cases = cases.assign(column=cases["column"].fillna("<table>"))
    found = []
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        examples = [
            {"row": _csv_line(index), "value": _plain(value)}
            for index, value in zip(group["index"], group["failure_case"], strict=True)
        ][:EXAMPLES_PER_CHECK]
        found.append(_entry(str(column), str(check), examples, len(group)))
    return found


def _entry(column, check, examples, count):
    return {"column": column, "check": check, "failed": int(count), "examples": examples}


def _csv_line(index):
    """Row index to the line number a user sees in the CSV (header is line 1)."""
    return None if pd.isna(index) else int(index) + 2


def _plain(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value
