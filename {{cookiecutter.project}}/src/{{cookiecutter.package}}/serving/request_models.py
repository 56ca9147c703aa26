"""Request models of the server, generated from the data contract (schema.yaml) and params.yaml.

A record is a flat JSON object: every feature column the model reads (required unless the
contract says it may be null) and, optionally, the sensitive columns (not scored, but logged
so monitoring can compare groups) and the id columns (not scored: the answer's
`prediction_id`). Types, ranges and allowed categories come from the
contract, so a request the model was never trained for gets a 422 naming the field.

One record is a pydantic TypedDict validated straight from the JSON bytes by pydantic-core.
A JSON batch is decoded by msgspec straight into one typed list per column and checked there;
only a batch that breaks a rule goes through the request models, for the same 422 as ever.
Arrow, Parquet and CSV bodies (serving/columnar.py) are checked as columns only
(serving/column_rules.py).
"""

import os
import uuid
from operator import attrgetter
from typing import Annotated, Literal, NotRequired

import msgspec
import numpy as np
import pandas as pd
import typing_extensions
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from ..config import Columns
from . import column_rules
from .column_rules import ColumnBatch
from .columnar import read_table
from .request_body import MAX_ECHO_CHARS, MAX_ERRORS, RequestProblem, validation_problem

STRICT = ConfigDict(extra="forbid", strict=True)  # "5" is not a number, 1 is not a category


def request_schema(contract, max_batch_records):
    """The request models of one serving contract (data.contract.serving_contract)."""
    spec = Columns(contract["target"], str(contract["positive_class"]), contract["numeric"],
                   contract["categorical"], contract["sensitive"], [],
                   ids=tuple(contract.get("ids") or ()))  # fmt: skip
    return RequestSchema({"columns": contract["rules"]}, spec, max_batch_records)


class RequestSchema:
    """The record and batch validators of one project, and the frame the model reads."""

    def __init__(self, contract, spec, max_batch_records):
        self.features = spec.features
        self.numeric = set(spec.numeric)
        self.rules = {name: contract["columns"].get(name) or {} for name in spec.features}
        observed = {name: rule.get("observed") or {} for name, rule in self.rules.items()}
        self._ranges = [(name, seen.get("min"), seen.get("max")) for name, seen in observed.items()
                        if name in self.numeric and ("min" in seen or "max" in seen)]  # fmt: skip
        # null is no category: a nullable column's missing values are not "unseen"
        self._categories = [(name, {*map(str, seen["values"]), None, np.nan})
                            for name, seen in observed.items() if "values" in seen]  # fmt: skip
        self.integers = [name for name in spec.numeric if self.rules[name].get("dtype") == "int"]
        self.columns = spec.request
        self.ids = list(spec.ids)
        optional = spec.logged_only
        fields = {
            name: _id_field(contract["columns"].get(name)) if name in self.ids
            else _field(contract["columns"].get(name), name in self.numeric, name in optional)
            for name in self.columns
        }  # fmt: skip
        self.nullable = {name for name in self.columns
                         if (contract["columns"].get(name) or {}).get("nullable")}  # fmt: skip
        self.max_batch_records = max_batch_records
        self.rules_of = {name: _column_rule(contract["columns"].get(name), name in self.numeric,
                                            name in optional, name in self.ids)
                         for name in self.columns}  # fmt: skip
        self.record_type = _typed_dict("Record", fields)
        records = Annotated[
            list[self.record_type], Field(min_length=1, max_length=max_batch_records)
        ]
        self.batch_type = _typed_dict("BatchRequest", {"records": records})
        self._record = TypeAdapter(self.record_type)
        self._batch = TypeAdapter(self.batch_type)
        self._json_fields = [f"f{i}" for i in range(len(self.rules_of))]  # any column name
        self._json_required = {name for name, rule in self.rules_of.items() if rule["required"]}
        self._json_decoder = _json_decoder(self.rules_of, self.ids, self._json_fields)

    def record(self, body):
        """One validated record (a dict) from the raw JSON body, or a 422 naming the field."""
        record = _validated(self._record, body)
        self._whole_numbers([record], ("body",))
        return record

    def batch(self, body, kind="json"):
        """The validated batch of a body: a ColumnBatch, or records (dicts) when a JSON batch
        breaks a column rule and the request models had the last word; else a 422."""
        if kind != "json":
            table = read_table(body, kind)
            columns = dict(zip(table.column_names, table.columns, strict=True))
            return column_rules.validate(self, columns, table.num_rows, ("body", "rows"))
        if (batch := self._json_columns(body)) is not None:
            return batch
        records = _validated(self._batch, body)["records"]
        self._whole_numbers(records, ("body", "records"))
        return records

    def _json_columns(self, body):
        """A JSON batch as columns, when msgspec decodes it into the contract's types (in C:
        true is no number, 1.5 no id, "5" no number, no unknown field, no null where none is
        allowed) and the values pass their rules; else None (the request models then name
        what is wrong, so the 422 is the same whichever decoder ran)."""
        try:
            records = self._json_decoder.decode(body).records
        except (msgspec.MsgspecError, ValueError):  # not UTF-8 is a ValueError too
            return None
        if not 1 <= len(records) <= self.max_batch_records:
            return None
        sent = {}
        for name, field in zip(self.rules_of, self._json_fields, strict=True):
            values = list(map(attrgetter(field), records))
            if name not in self._json_required and msgspec.UNSET in values:
                if values.count(msgspec.UNSET) == len(values):
                    continue  # no record sent it
                if name in self.ids:
                    return None  # an id is sent by all or none; the models say which lacks it
                values = [None if value is msgspec.UNSET else value for value in values]
            sent[name] = values
        return _json_batch(self, sent, len(records))

    def prediction_ids(self, records, where=("body", "records")):
        """One id per record: what it sent in the id columns, as text (several columns joined
        by "/"), or a new one when it sent none. A 422 names an id a batch repeats. `where`:
        the records' place in the body, for the 422 (a single record: ("body",))."""
        if not self.ids or (isinstance(records, ColumnBatch)
                            and not any(map(records.has, self.ids))):  # fmt: skip
            return new_ids(len(records))  # none sent: all new, so all different
        if len(self.ids) == 1:
            name = self.ids[0]
            values = (records.sent(name) if isinstance(records, ColumnBatch)
                      else [r.get(name) for r in records])  # fmt: skip
            sent = [None if v is None else str(v) for v in values]
        else:
            rows = where[-1] == "records"  # a batch names the record's position
            sent = [self._joined_id(record, [*where, *([i] if rows else [])])
                    for i, record in enumerate(records)]  # fmt: skip
        missing = [i for i, value in enumerate(sent) if value is None]
        for i, value in zip(missing, new_ids(len(missing)), strict=True):
            sent[i] = value
        if len(missing) < len(records) - 1 and len(set(sent)) < len(sent):
            raise self._duplicates(sent, where)
        return sent

    def _joined_id(self, record, where):
        values = [record.get(name) for name in self.ids]
        if all(value is None for value in values):
            return None
        if any(value is None for value in values):
            lacking = self.ids[values.index(None)]
            raise RequestProblem(422, [{
                "loc": [*where, lacking], "type": "missing",
                "msg": f"An id is all of {', '.join(self.ids)} or none of them"}])  # fmt: skip
        return "/".join(str(value) for value in values)

    def _duplicates(self, ids, where):
        first, repeated = {}, []
        for i, value in enumerate(ids):
            if value in first:
                repeated.append((i, value, first[value]))
            else:
                first[value] = i
        name = "/".join(self.ids)
        listed = [{"loc": [*where, i, name], "type": "duplicate_id",
                   "msg": f"Duplicate id: record {earlier} has the same {name}",
                   **({"input": value} if len(value) <= MAX_ECHO_CHARS else {})}
                  for i, value, earlier in repeated[:MAX_ERRORS]]  # fmt: skip
        return RequestProblem(422, listed, error_count=len(repeated))

    def _whole_numbers(self, records, where):
        """pydantic's multiple_of takes floats within 1e-9 of a whole number (1e-10 passes);
        an int column takes none. One numpy pass per int column."""
        if len(records) == 1:  # one record: plain Python beats numpy's set-up
            record = records[0]
            values = [(name, record.get(name)) for name in self.integers]
            if all(value is None or float(value).is_integer() for _, value in values):
                return
        bad = []
        for name in self.integers:
            values = np.array([record.get(name) for record in records], dtype="float64")
            places = np.flatnonzero(np.isfinite(values) & (values != np.trunc(values)))
            bad += [(int(i), name, float(values[i])) for i in places[:MAX_ERRORS]]
        if bad:
            rows = where[-1] == "records"  # a batch names the record's position
            listed = [{"loc": [*where, *([i] if rows else []), name],
                       "msg": "Input should be a whole number", "type": "multiple_of",
                       "input": value} for i, name, value in sorted(bad)[:MAX_ERRORS]]  # fmt: skip
            raise RequestProblem(422, listed, error_count=len(bad))

    def frame(self, records):
        """The records as the DataFrame the pipeline was trained on (missing values as NaN)."""
        return pd.DataFrame(self.arrays(records), copy=False)

    def arrays(self, records):
        """The frame's columns as numpy arrays, by name."""
        if isinstance(records, ColumnBatch):
            return records.arrays
        columns = {}
        for name in self.features:
            values = [record.get(name) for record in records]
            if name in self.numeric:
                columns[name] = np.array(values, dtype="float64")  # None becomes NaN
            elif name in self.nullable:
                columns[name] = np.array([np.nan if v is None else v for v in values], dtype=object)
            else:
                columns[name] = np.array(values, dtype=object)
        return columns

    def example(self):
        """One record this contract accepts (the lowest value, the first category), with
        which a new version is tried before it is swapped in."""
        record = {}
        for name in self.features:
            rule = self.rules[name]
            seen = rule.get("observed") or {}
            if "allowed" in rule or "values" in seen:
                record[name] = str((rule.get("allowed") or seen["values"])[0])
            elif name in self.numeric or rule.get("dtype") in ("int", "float"):
                record[name] = float(rule.get("min", seen.get("min", 0)))
            else:
                record[name] = "example"
        return record

    def unexpected(self, arrays):
        """((column, kind), count) of the values beyond what training observed: served, but
        counted. Cheap at any batch size: numpy compares, and a set of distinct categories."""
        found = []
        for name, low, high in self._ranges:
            values = arrays[name]  # NaN (null) compares false both ways
            if low is not None and (count := int((values < low).sum())):
                found.append(((name, "below_observed_min"), count))
            if high is not None and (count := int((values > high).sum())):
                found.append(((name, "above_observed_max"), count))
        for name, seen in self._categories:
            column = arrays[name].tolist()
            unseen = set(column) - seen
            if unseen:
                found.append(((name, "unseen_category"), sum(v in unseen for v in column)))
        return found

    def openapi_schemas(self):
        """JSON schemas of Record and BatchRequest for the OpenAPI document (/docs)."""
        ref = "#/components/schemas/{model}"
        batch = self._batch.json_schema(ref_template=ref)
        return {"Record": self._record.json_schema(ref_template=ref), **batch.pop("$defs", {}),
                "BatchRequest": batch}  # fmt: skip


def _field(rule, numeric, optional):
    """The annotation of one column: type, range, allowed values and nullability."""
    rule = rule or {"dtype": "float" if numeric else "str"}
    constraints = {}
    if rule["dtype"] in ("int", "float"):
        constraints = {key: rule[name] for key, name in (("ge", "min"), ("le", "max"))
                       if name in rule}  # fmt: skip
        constraints["allow_inf_nan"] = False
        if rule["dtype"] == "int":  # 23200.0 is a fine int (JSON writers add the .0); 0.5 is not
            constraints["multiple_of"] = 1
    if "allowed" in rule:
        kind = Literal[tuple(str(value) for value in rule["allowed"])]
    else:
        base = str if rule["dtype"] == "str" else float  # numbers: float, strict (no strings)
        kind = Annotated[base, Field(**constraints)]
    if rule.get("nullable") or optional:
        kind = kind | None
    return NotRequired[kind] if optional or rule.get("nullable") else kind


def _column_rule(rule, numeric, optional, is_id):
    """What column_rules checks of one column: the same rules as `_field` and `_id_field`.
    In a table an id column may hold nulls (rows without an id get a new one)."""
    if is_id:
        kind = "integer" if (rule or {}).get("dtype") == "int" else "string"
        return {"kind": kind, "required": False, "nullable": True, "min_length": kind == "string"}
    rule = rule or {"dtype": "float" if numeric else "str"}
    nullable = bool(rule.get("nullable")) or optional
    found = {"required": not nullable, "nullable": nullable}
    if "allowed" in rule:
        return {**found, "kind": "string", "allowed": [str(value) for value in rule["allowed"]]}
    if rule["dtype"] == "str":
        return {**found, "kind": "string"}
    if rule["dtype"] in ("int", "float"):
        found |= {key: rule[key] for key in ("min", "max") if key in rule}
    return {**found, "kind": "number", "whole": rule["dtype"] == "int"}


def _json_decoder(rules_of, ids, fields):
    """A msgspec decoder of `{"records": [...]}` into one struct per record, each field typed
    as the column's rule says: a number takes ints and floats (an int column's floats are
    checked whole later), an id no null, and a column that may be absent is UNSET there."""
    types = {"number": float, "integer": int, "string": str}
    specs = []
    for (name, rule), field in zip(rules_of.items(), fields, strict=True):
        kind = int | float if rule.get("whole") else types[rule["kind"]]
        if rule["nullable"] and name not in ids:
            kind = kind | None
        specs.append((field, kind) if rule["required"]
                     else (field, kind | msgspec.UnsetType, msgspec.UNSET))  # fmt: skip
    names = dict(zip(fields, rules_of, strict=True))
    record = msgspec.defstruct("Record", specs, kw_only=True, forbid_unknown_fields=True,
                               gc=False, rename=names)  # fmt: skip
    batch = msgspec.defstruct("Batch", [("records", list[record])], forbid_unknown_fields=True)
    return msgspec.json.Decoder(batch)


def _json_batch(schema, sent, count):
    """A ColumnBatch of a decoded JSON batch's columns (name -> Python values, None for
    null), or None when a value breaks a rule (min, max, whole, allowed, empty id). The
    model's arrays are made from the values without a detour through Arrow."""
    logged, arrays = {}, {}
    for name, values in sent.items():
        rule = schema.rules_of[name]
        if rule["kind"] == "number":
            try:
                numbers = np.array(values, dtype="float64")  # None becomes NaN
            except OverflowError:  # an int past 1e308: the request models say so
                return None
            if column_rules.number_errors(name, rule, numbers, np.isnan(numbers)):
                return None
            arrays[name] = numbers
            if rule["whole"] and float in set(map(type, values)):
                values = [None if v is None else int(v) for v in values]  # 25.0 is logged 25
        elif rule.get("allowed") is not None:
            if not set(values) <= {*rule["allowed"], None}:
                return None
        elif rule.get("min_length") and "" in values:
            return None
        logged[name] = values
    for name in schema.features:
        if name not in arrays:
            arrays[name] = _object_array(sent.get(name), name in schema.numeric, count)
    return JsonBatch(arrays, logged, count)


def _object_array(values, numeric, count):
    """A feature as RequestSchema.arrays makes it: NaN for null (all of them when unsent)."""
    if values is None:
        return np.full(count, np.nan, dtype="float64" if numeric else object)
    if None in values:
        values = [np.nan if value is None else value for value in values]
    return np.array(values, dtype=object)


class JsonBatch(ColumnBatch):
    """A ColumnBatch whose columns are the Python values decoded from the JSON body."""

    def rows(self, picked):
        if isinstance(picked, range) and len(picked) == len(self):
            return dict(self._columns)
        return {name: list(map(values.__getitem__, picked))
                for name, values in self._columns.items()}  # fmt: skip

    def sent(self, name):
        return self._columns.get(name) or [None] * len(self)


def _id_field(rule):
    """An id column: optional, never null, and a whole number or non-empty text, as the contract
    types it (a wrong type or an empty id gets a 422 naming the field)."""
    if (rule or {}).get("dtype") == "int":
        return NotRequired[int]  # strict: 17.0, "17" and true are not ids of an int column
    return NotRequired[Annotated[str, Field(min_length=1)]]


def new_ids(count):
    """`count` new prediction ids: random (version 4) UUIDs as 32 hex digits. numpy sets the
    version and variant bits of all at once: uuid.uuid4() per record costs ~40 ms per 10k."""
    if count <= 1:
        return [uuid.uuid4().hex for _ in range(count)]
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = raw[:, 6] & 0x0F | 0x40
    raw[:, 8] = raw[:, 8] & 0x3F | 0x80
    return raw.tobytes().hex(" ", 16).split(" ")  # a space after every 16 bytes, split in C


def _typed_dict(name, fields):
    # The functional form takes any column name, including ones that are not identifiers;
    # pydantic wants typing_extensions' TypedDict before Python 3.12.
    typed = typing_extensions.TypedDict(name, fields)
    typed.__pydantic_config__ = STRICT
    return typed


def _validated(adapter, body):
    try:
        return adapter.validate_json(body)
    except ValidationError as error:
        raise validation_problem(error, body) from None
