"""A batch validated column by column: one vectorised pass per column and rule, no record
objects. The hard rules are the contract's (schema.yaml), as the JSON request models have
them: type, nulls, finite numbers, min and max, whole numbers of an int column, allowed
values, known columns. A 422 lists the first few errors, each naming the row and the column.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .request_body import MAX_ECHO_CHARS, MAX_ERRORS, RequestProblem


class ColumnBatch:
    """A validated batch. `arrays`: the columns the model reads (what RequestSchema.arrays
    makes of records); `len(batch)`; `rows(picked)`: the columns sent, as Python values, at
    these rows only (the ones the prediction log samples); `batch[i]`: row i as a record (a
    dict of the columns sent); `has(name)`: whether a column was sent; `sent(name)`: one
    column's values (None for null)."""

    def __init__(self, arrays, columns, count):
        self.arrays, self._columns, self._count, self._lists = arrays, columns, count, {}

    def __len__(self):
        return self._count

    def __getitem__(self, index):
        return {name: self.sent(name)[index] for name in self._columns}

    def rows(self, picked):
        """name -> the values of the rows `picked` (a range or a list of row numbers)."""
        if isinstance(picked, range) and len(picked) == self._count:
            return {name: self.sent(name) for name in self._columns}
        at = pa.array(picked, pa.int64())
        return {name: column.take(at).to_pylist() for name, column in self._columns.items()}

    def has(self, name):
        """True when the batch sent this column."""
        return name in self._columns

    def sent(self, name):
        if name not in self._columns:
            return [None] * self._count
        if name not in self._lists:  # only the columns asked for: not every feature
            self._lists[name] = self._columns[name].to_pylist()
        return self._lists[name]


def validate(schema, columns, count, where):
    """A ColumnBatch of these pyarrow columns (name -> Array, `count` rows each), or a 422.
    `where`: the rows' place in the body, e.g. ("body", "rows")."""
    if count < 1 or count > schema.max_batch_records:
        raise RequestProblem(422, [{"loc": list(where), "type": "batch_size",
                                    "msg": f"A batch has 1 to {schema.max_batch_records} rows, "
                                    f"not {count}"}])  # fmt: skip
    errors = [(None, name, "extra_forbidden", "Extra inputs are not permitted", None)
              for name in columns if name not in schema.rules_of]  # fmt: skip
    checked, arrays = {}, {}
    for name, rule in schema.rules_of.items():
        if name not in columns:
            if rule["required"]:
                errors.append((None, name, "missing", "Column required", None))
            continue
        column, found = _check(name, rule, columns[name])
        errors += found
        checked[name] = column
    if errors:
        raise _problem(errors, where)
    for name in schema.features:
        arrays[name] = _model_array(schema, name, checked.get(name), count)
    logged = {name: _whole(column) if schema.rules_of[name].get("whole") else column
              for name, column in checked.items()}  # fmt: skip
    return ColumnBatch(arrays, logged, count)


def _whole(column):
    """An int column's values as ints for the log (25, as a JSON record has it, not 25.0)."""
    try:
        return column.cast(pa.int64())
    except pa.ArrowException:  # beyond int64: the floats will do
        return column


TARGETS = {"number": (pa.float64(), "float", "a valid number"),
           "integer": (pa.int64(), "int", "a valid integer"),
           "string": (pa.string(), "string", "a valid string")}  # fmt: skip


def _check(name, rule, column):
    """(the column as its contract type, [errors])."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = rule["kind"]
    target, label, what = TARGETS[kind]
    column, errors = _as(column, target, label, what)
    if errors:
        return column, [(row, name, *rest) for row, _, *rest in errors]
    nulls = column.is_null()
    if not rule["nullable"] and column.null_count:
        errors += _rows(name, nulls, "missing", "Input should not be null (not nullable)", None)
    if kind == "number":
        values = column.to_numpy(zero_copy_only=False)
        errors += number_errors(name, rule, values, nulls.to_numpy(zero_copy_only=False))
    elif kind == "string" and rule.get("allowed") is not None:
        allowed = pa.array(rule["allowed"], pa.string())
        outside = pc.and_(pc.invert(pc.is_in(column, allowed)), pc.is_valid(column))
        listed = " or ".join(f"'{value}'" for value in rule["allowed"])
        errors += _rows(name, outside, "literal_error", f"Input should be {listed}", column)
    elif kind == "string" and rule.get("min_length"):
        empty = pc.fill_null(pc.equal(pc.utf8_length(column), 0), False)
        errors += _rows(name, empty, "string_too_short",
                        "String should have at least 1 character", column)  # fmt: skip
    return column, errors


def _as(column, target, label, what):
    """The column cast to `target`: numbers from numbers, ints from ints, text from text, and
    any of them from text (a CSV's fields are text). Rows that do not convert are errors."""
    kind, types = column.type, pa.types
    text = types.is_string(kind) or types.is_large_string(kind)
    fits = {"float": types.is_integer(kind) or types.is_floating(kind),
            "int": types.is_integer(kind), "string": text}[label]  # fmt: skip
    if types.is_dictionary(kind):
        return _as(column.dictionary_decode(), target, label, what)
    if fits or types.is_null(kind):
        return column.cast(target), []
    if label != "string" and text:
        try:
            return column.cast(target), []
        except pa.ArrowException:  # find the rows that do not parse: only on this error path
            message = f"Input should be {what}, unable to parse the text"
            return column, [(i, None, f"{label}_parsing", message, value)
                            for i, value in enumerate(column.to_pylist())
                            if not _parses(value, target)]  # fmt: skip
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    return column, [(int(i), None, f"{label}_type", f"Input should be {what}", None)
                    for i in np.flatnonzero(valid)]  # fmt: skip


def _parses(value, target):
    if value is None:
        return True
    try:
        pa.array([value]).cast(target)
    except pa.ArrowException:
        return False
    return True


def number_errors(name, rule, values, nulls):
    """The rows of these floats (`nulls`: where they are null) that break the rule: not
    finite, below min, above max, or not whole in an int column."""
    found = []
    finite = np.isfinite(values)
    found += _rows(name, ~finite & ~nulls, "finite_number", "Input should be a finite number",
                   values)  # fmt: skip
    if "min" in rule:
        message = f"Input should be greater than or equal to {rule['min']}"
        found += _rows(name, finite & (values < rule["min"]), "greater_than_equal", message,
                       values)  # fmt: skip
    if "max" in rule:
        message = f"Input should be less than or equal to {rule['max']}"
        found += _rows(name, finite & (values > rule["max"]), "less_than_equal", message, values)
    if rule.get("whole"):
        found += _rows(name, finite & (values != np.trunc(values)), "multiple_of",
                       "Input should be a whole number", values)  # fmt: skip
    return found


def _rows(name, mask, kind, message, values):
    """One error per row where mask is true: (row, column, type, msg, input)."""
    if isinstance(mask, pa.Array | pa.ChunkedArray):
        mask = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(mask).tolist()
    shown = rows[:MAX_ERRORS]
    if values is None:
        inputs = [None] * len(shown)
    elif isinstance(values, np.ndarray):
        inputs = values[shown].tolist()
    else:
        inputs = values.take(pa.array(shown, pa.int64())).to_pylist()
    return [(i, name, kind, message, value) for i, value in zip(shown, inputs, strict=True)] + [
        (i, name, kind, message, None) for i in rows[MAX_ERRORS:]]  # fmt: skip


def _problem(errors, where):
    """A 422 of the first MAX_ERRORS errors by row (column-level ones first)."""
    errors.sort(key=lambda e: -1 if e[0] is None else e[0])
    listed = []
    for row, name, kind, message, value in errors[:MAX_ERRORS]:
        place = [*where[:1], name] if row is None else [*where, row, name]
        entry = {"loc": place, "msg": message, "type": kind}
        if _short(value):
            entry["input"] = value
        listed.append(entry)
    return RequestProblem(422, listed, error_count=len(errors))


def _short(value):
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, float):
        return bool(np.isfinite(value))
    return isinstance(value, int) or (isinstance(value, str) and len(value) <= MAX_ECHO_CHARS)


def _model_array(schema, name, column, count):
    """A feature as RequestSchema.arrays makes it: float64 with NaN for null, or objects
    (NaN for the null of a nullable column)."""
    if column is None:
        column = pa.nulls(count, pa.float64() if name in schema.numeric else pa.string())
    if name in schema.numeric:
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    # One Python string per distinct value, not per row: the rows share them (fewer objects
    # to make, and the model's encoder hashes each distinct string once).
    encoded = pc.dictionary_encode(column)
    words = np.append(encoded.dictionary.to_numpy(zero_copy_only=False), np.nan)
    codes = pc.fill_null(encoded.indices, len(encoded.dictionary))  # null: the NaN after them
    return words[codes.to_numpy()]
