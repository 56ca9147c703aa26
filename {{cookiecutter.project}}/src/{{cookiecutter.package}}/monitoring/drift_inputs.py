"""The two data sets `drift` compares: read fast, checked against the contract, and the reference
found through the production model's lineage.

Tables are read with pyarrow (multi-threaded); text columns arrive as pandas categoricals (a
small integer code per row instead of a Python string) and numbers as float32, so a
million-row window costs seconds and a few hundred MiB.

Larger windows are spooled instead (`spool_table`, drift.engine: stream): each file is read in
record batches, checked as it goes, and its monitored columns written to a temporary Parquet
part, which the comparison then reads one column at a time (drift_stream.py). A file pyarrow's
typed reader refuses (text in a numeric column, mixed types) is read by the in-memory reader
instead, so the error names the lines at fault exactly as there.
"""

import codecs
import contextlib
import csv
import dataclasses
import io
import json
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pa_parquet

from ..config import CliError
from ..data.contract import strict_rules
from ..data.training_data import PRODUCTION_ALIAS, locate_training_data, production_version
from ..serving.prediction_log import is_url

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
FORMATS |= dict.fromkeys((".jsonl", ".ndjson", ".json"), "jsonl")
FIRST_LINE = {"csv": 2, "jsonl": 1, "parquet": 1}  # line (row) number of index 0 in each format
PART_TIME = re.compile(r"part-(\d{8}T\d{6})-")  # the UTC time a Parquet part of a log began
PART_SPAN = timedelta(hours=1)  # a part older than its window by more holds none of it
CSV_SPLIT = 64 << 20  # a larger CSV is spooled in CSV_RANGES byte ranges at once (pyarrow's
CSV_RANGES = 2  # streaming reader parses on about one core; lines hold no newline, as it assumes)
TEXT = pa.dictionary(pa.int32(), pa.string())  # text in the spool


@dataclass(frozen=True)
class Monitored:
    """The columns compared: the model's features (numeric ones must hold numbers) and the
    sensitive columns, read as categories and optional (requests may leave them out)."""

    numeric: list
    categorical: list
    sensitive: list = field(default_factory=list)

    @property
    def text(self):
        return [*self.categorical, *self.sensitive]

    @property
    def names(self):
        return [*self.numeric, *self.text]

    def without(self, names):
        return dataclasses.replace(
            self, **{kind: [n for n in getattr(self, kind) if n not in names]
                     for kind in ("numeric", "categorical", "sensitive")},
        )  # fmt: skip


@dataclass
class Table:
    """One side of the comparison: its rows (monitored columns only) and where they came from."""

    frame: pd.DataFrame
    source: str
    files: list = field(default_factory=list)
    details: dict = field(default_factory=dict)

    @property
    def rows(self):
        return len(self.frame)

    def describe(self):
        return {"source": self.source, "files": self.files, "rows": self.rows, **self.details}


@dataclass
class Spooled:
    """One side in Parquet parts, read back a column at a time: parts spooled by spool_table
    (monitored columns; numbers as float32, text as dictionaries) and Parquet sources read in
    place. Each part is (location, its monitored columns, rows)."""

    parts: list
    columns: Monitored
    role: str
    source: str
    files: list = field(default_factory=list)
    details: dict = field(default_factory=dict)

    @property
    def rows(self):
        return sum(rows for *_, rows in self.parts)

    def column(self, name):
        """A column as the in-memory reader gives it: float32 numbers, categorical text."""
        numeric = name in self.columns.numeric
        kind = pa.float32() if numeric else TEXT
        chunks = []
        for location, names, rows in self.parts:
            if name not in names:  # a sensitive column this file does not carry
                chunks.append(pa.nulls(rows, kind))
                continue
            with _opened(location) as source:  # text as dictionaries: no string per row
                found = pa_parquet.ParquetFile(source, read_dictionary=None if numeric else [name])
                values = found.read(columns=[name]).column(name)
            chunks += _normal(values, name, self.columns).chunks
        found = pa.chunked_array(chunks, kind)
        if numeric:
            series = pd.Series(found.to_numpy(), name=name, dtype="float32")
        else:
            series = pd.Series(_categorical(found), name=name)
        if name not in self.columns.sensitive and series.isna().all():
            raise CliError(
                f"Column {name!r} of the {self.role} data {self.source} is empty in every row, "
                "so there is nothing to compare: fix the export or the logging of that column."
            )
        return series

    def describe(self):
        return {"source": self.source, "files": self.files, "rows": self.rows, **self.details}


# -- reading -----------------------------------------------------------------------------------


def log_files(path, since=None):
    """A log and its rotations, oldest first; for a URL (a folder of Parquet parts, see
    serving/prediction_log.py), its parts, those begun before `since` (a datetime) left out."""
    if is_url(path):
        return _parts(path, since)
    path = Path(path)
    rotated = [p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()]
    rotated.sort(key=lambda p: int(p.suffix[1:]), reverse=True)
    return [*rotated, *([path] if path.is_file() else [])]


def _parts(url, since):
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    names = sorted(fs.glob(f"{root}/part-*.parquet"))
    if since is not None:  # a part's lines span its writer's flush (log_flush_seconds, < 1 h)
        first = (since.astimezone(UTC) - PART_SPAN).strftime("%Y%m%dT%H%M%S")
        names = [name for name in names if PART_TIME.search(name).group(1) >= first]
    return [fs.unstrip_protocol(name) for name in names]


def read_log(file, columns=None):
    """One log file as a frame (only `columns` it has, when given): JSON lines, or a Parquet
    part at any fsspec URL."""
    if file_format(file) == "parquet":
        with _opened(file) as source:
            table = pa_parquet.read_table(source)
    else:
        table = pa_json.read_json(file)
    if columns is not None:
        table = table.select([name for name in columns if name in table.column_names])
    return table.to_pandas()


def file_format(path):
    suffix = Path(re.sub(r"\.\d+$", "", str(path))).suffix.lower()  # rotations keep the format
    if suffix not in FORMATS:
        raise CliError(
            f"{path}: unknown file type {suffix or '(no suffix)'}; give a .csv, .parquet or "
            ".jsonl file."
        )
    return FORMATS[suffix]


def read_table(path, columns, role, fmt=None, since=None):
    """The monitored columns of a file and its rotations (or of a URL's Parquet parts begun
    since `since`), checked: present, typed, not empty."""
    files = log_files(path, since)
    if not files:
        raise CliError(f"The {role} data {path} does not exist.{_hint(path, role)}")
    frames = [_read_one(file, columns, role, fmt or file_format(file)) for file in files]
    frame = _concat(frames, columns.text)
    if frame.empty:
        raise CliError(f"The {role} data {path} has no rows.{_hint(path, role)}")
    for name in columns.without(columns.sensitive).names:  # a sensitive one may be left out
        if frame[name].isna().all():
            raise CliError(
                f"Column {name!r} of the {role} data {path} is empty in every row, so there is "
                "nothing to compare: fix the export or the logging of that column."
            )
    return Table(frame, str(path), [str(file) for file in files])


def spool_table(path, columns, role, fmt=None, since=None, folder=None):
    """read_table's checks and messages, in bounded memory: the file(s) read in record batches
    into Parquet parts under `folder` (a temporary folder by default); Parquet files whose
    numeric columns hold numbers are read in place instead. A column empty in every row is
    found when it is read (Spooled.column)."""
    files = log_files(path, since)
    if not files:
        raise CliError(f"The {role} data {path} does not exist.{_hint(path, role)}")
    folder = Path(folder or tempfile.mkdtemp(prefix=f"drift-{role}-"))
    folder.mkdir(parents=True, exist_ok=True)
    parts = [
        part
        for i, file in enumerate(files)
        for part in _spool_one(
            file, columns, role, fmt or file_format(file), folder / f"part-{i:05d}.parquet"
        )
    ]
    table = Spooled(parts, columns, role, str(path), [str(file) for file in files])
    if not table.rows:
        raise CliError(f"The {role} data {path} has no rows.{_hint(path, role)}")
    return table


def _spool_one(path, columns, role, fmt, part):
    """One file as parts (location, monitored columns it has, rows). Whatever the typed batch
    reader refuses goes through the in-memory reader, whose checks name the lines."""
    where = f"the {role} data {path}"
    here = columns.without(set(columns.names) - set(_column_names(path, fmt, where)))
    if here.without(columns.sensitive).names != columns.without(columns.sensitive).names:
        _read_one(path, columns, role, fmt)  # raises, naming the missing columns
    if fmt == "parquet":
        with _opened(path) as source:
            found = pa_parquet.ParquetFile(source)
            types = {name: found.schema_arrow.field(name).type for name in here.numeric}
            if all(_numeric(kind) for kind in types.values()):
                return [(path, here.names, found.metadata.num_rows)]  # read in place
    try:
        if fmt == "csv" and os.path.getsize(path) > CSV_SPLIT:
            return _spool_csv_ranges(path, here, columns, part, _column_names(path, fmt, where))
        return [(part, columns.names, _write_part(_batches(path, here, fmt), columns, part))]
    except (pa.ArrowException, ValueError, _NotNumbers):
        frame = _read_one(path, columns, role, fmt)[here.names]  # raises the clear error
        table = _encode(pa.Table.from_pandas(frame, preserve_index=False), here.text)
        return [(part, columns.names, _write_part(table.to_batches(), columns, part))]


def _spool_csv_ranges(path, here, columns, part, header):
    """A large CSV's byte ranges (split at line ends) spooled at once, each into its own part,
    in file order."""
    read = pa_csv.ReadOptions(block_size=1 << 22, column_names=header)

    def spool(index, start, end):
        piece = part.with_name(f"{part.stem}-{index}.parquet")
        with open(path, "rb") as handle:
            handle.seek(start)
            source = pa.PythonFile(_Range(handle, end - start), mode="r")
            batches = pa_csv.open_csv(source, read_options=read, convert_options=_csv_options(here))
            return piece, columns.names, _write_part(batches, columns, piece)

    ranges = _line_ranges(path, CSV_RANGES)
    with ThreadPoolExecutor(len(ranges)) as pool:
        return list(pool.map(spool, range(len(ranges)), *zip(*ranges, strict=True)))


def _line_ranges(path, count):
    """(start, end) byte offsets of `count` ranges of whole lines after the header line."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        while not handle.readline().strip():  # the header: the first line that is not blank
            pass
        starts = [handle.tell()]
        for index in range(1, count):
            handle.seek(max(size * index // count, starts[-1]))
            handle.readline()  # to the next line's start
            starts.append(max(handle.tell(), starts[-1]))
    return list(zip(starts, [*starts[1:], size], strict=True))


class _Range(io.RawIOBase):
    """At most `left` bytes of an open file, from where it stands."""

    def __init__(self, handle, left):
        super().__init__()
        self.handle, self.left = handle, left

    def readable(self):
        return True

    def readinto(self, buffer):
        wanted = min(len(buffer), self.left)
        got = self.handle.readinto(memoryview(buffer)[:wanted]) if wanted > 0 else 0
        self.left -= got
        return got


def _numeric(kind):
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)


class _NotNumbers(Exception):
    """A numeric column typed as text or booleans: the in-memory reader judges its values."""


def _batches(path, columns, fmt):
    if fmt == "csv":
        read = pa_csv.ReadOptions(block_size=1 << 22)  # parsed faster here than 1 or 16 MiB
        yield from pa_csv.open_csv(path, read_options=read, convert_options=_csv_options(columns))
    elif fmt == "jsonl":
        read = pa_json.ReadOptions(block_size=1 << 24)
        yield from pa_json.open_json(path, read_options=read, parse_options=_json_options(columns))
    else:
        with _opened(path) as source:
            yield from pa_parquet.ParquetFile(source).iter_batches(
                batch_size=1 << 20, columns=columns.names
            )


def _write_part(batches, columns, part):
    """The batches in the spool's schema into `part`: how many rows."""
    schema, rows = _schema(columns, text=TEXT), 0
    # Dictionary pages for text only: tried on floats (every value distinct), they cost more
    # time than parsing the CSV did, and fall back to plain values anyway.
    options = {"compression": "none", "use_dictionary": columns.text}
    with pa_parquet.ParquetWriter(part, schema, **options) as writer:
        for batch in batches:
            arrays = [
                _normal(batch.column(name), name, columns)
                if name in batch.schema.names
                else pa.nulls(batch.num_rows, TEXT)  # a sensitive column the file lacks
                for name in schema.names
            ]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
            rows += batch.num_rows
    return rows


def _normal(values, name, columns):
    """A column in the spool's types: float32 numbers (rounded as astype rounds), text as a
    dictionary (a code per row; casting it to strings would make one per row)."""
    if name in columns.numeric:
        if not _numeric(values.type):
            raise _NotNumbers(name)
        return values.cast(pa.float32(), safe=False)
    if pa.types.is_dictionary(values.type):
        return values.cast(TEXT)
    return values.cast(pa.string()).dictionary_encode()


def _categorical(found):
    """A chunked TEXT array as a pandas categorical whose categories come in the order of
    their first row, as dictionary_encode() of the strings would give them (the order of the
    categories decides the order of the window thresholds' random draws)."""
    found = found.unify_dictionaries()
    dictionary = found.chunk(0).dictionary if found.num_chunks else pa.array([], pa.string())
    indices = pa.chunked_array([chunk.indices for chunk in found.chunks], pa.int32())
    first = pc.unique(indices).drop_null().to_numpy()  # dictionary slots by their first row
    order = np.full(len(dictionary) + 1, -1, dtype=np.int32)  # the last slot: missing values
    order[first] = np.arange(len(first), dtype=np.int32)
    codes = order[pc.fill_null(indices, len(dictionary)).to_numpy()]
    categories = pd.Index(dictionary.take(pa.array(first, pa.int32())).to_pylist(), dtype=object)
    return pd.Categorical.from_codes(codes, categories=categories)


def _hint(path, role):
    if role == "current" and str(path).endswith(".jsonl"):
        return " The server writes this prediction log while it serves; or pass --current PATH."
    return ""


def _read_one(path, columns, role, fmt):
    where = f"the {role} data {path}"
    present = _column_names(path, fmt, where)
    absent = [name for name in columns.names if name not in present]
    missing = [name for name in absent if name not in columns.sensitive]
    if missing:
        raise CliError(
            f"{_cap(where)} lacks the column(s) {', '.join(missing)} the model uses (params.yaml, "
            f"columns); it has: {_listing(present)}."
        )
    here = columns.without(absent)
    reader = {"csv": _read_csv, "parquet": _read_parquet, "jsonl": _read_jsonl}[fmt]
    try:
        table = reader(path, here)
    except (pa.ArrowInvalid, ValueError) as error:
        table = _read_leniently(path, fmt, error, where)
    frame = _encode(table.select(here.names), here.text).to_pandas()
    for name in here.numeric:
        frame[name] = _numbers(frame[name], name, where, FIRST_LINE[fmt])
    for name in absent:  # a sensitive column this file does not carry: missing in every row
        empty = pd.Index([], dtype=object)  # text categories, so other files' unite with it
        frame[name] = pd.Categorical([None] * len(frame), categories=empty)
    return frame[columns.names]


def _column_names(path, fmt, where):
    """The header of a CSV, the keys of a JSON-lines file's first record, a parquet schema."""
    if fmt == "parquet":
        try:
            with _opened(path) as source:
                return pa_parquet.read_schema(source).names
        except (pa.ArrowException, OSError) as error:
            raise CliError(
                f"{_cap(where)} is not a readable Parquet file (named .parquet, but pyarrow "
                "cannot read its footer): check the export, or give the file its real suffix."
            ) from error
    _check_text(path, fmt, where)
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        first = next((line for line in handle if line.strip()), None)
    if first is None:
        raise CliError(f"{_cap(where)} is empty: no header, no rows.")
    if fmt == "csv":
        return next(csv.reader([first]))
    try:
        record = json.loads(first)
    except ValueError as error:
        raise CliError(f"{_cap(where)}: its first line is not JSON ({error}).") from error
    if not isinstance(record, dict):
        raise CliError(f"{_cap(where)}: its first line is not a JSON object (column: value).")
    return list(record)


def _check_text(path, fmt, where, probe=1 << 16):
    """A CSV or JSON-lines file must be UTF-8 text: say so before its bytes reach a message."""
    with open(path, "rb") as handle:
        head = handle.read(probe)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < probe)
        binary = b"\0" in head
    except UnicodeDecodeError:
        binary = True
    if binary:
        raise CliError(
            f"{_cap(where)} is not UTF-8 text, so it is no .{fmt} file (compressed or binary "
            "data?): export it as plain text, or give the file its real suffix."
        )


def _listing(names, most=12):
    """Column names for a message: the first few, each cut short, and how many more."""
    shown = [name if len(name) <= 40 else name[:37] + "..." for name in names[:most]]
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(shown) + more


def _csv_options(columns):
    types = {name: pa.dictionary(pa.int32(), pa.string()) for name in columns.text}
    types |= {name: pa.float32() for name in columns.numeric}  # text in one fails: see lenient
    return pa_csv.ConvertOptions(
        column_types=types, include_columns=columns.names, strings_can_be_null=True
    )


def _read_csv(path, columns):
    return pa_csv.read_csv(path, convert_options=_csv_options(columns))


def _read_parquet(path, columns):
    with _opened(path) as source:
        return pa_parquet.read_table(source, columns=columns.names)


def _opened(path):
    """A local file as itself; a URL (a log's Parquet part) opened with fsspec."""
    if not is_url(path):
        return contextlib.nullcontext(path)
    import fsspec

    return fsspec.open(str(path), "rb")


def _json_options(columns):
    """Parse only the monitored keys (`_ts`, `_score`... are skipped)."""
    return pa_json.ParseOptions(
        explicit_schema=_schema(columns), unexpected_field_behavior="ignore"
    )


def _schema(columns, text=None):
    """Numbers as float32, text as strings (or as `text`)."""
    text = pa.string() if text is None else text
    return pa.schema(
        [(name, pa.float32()) for name in columns.numeric] + [(name, text) for name in columns.text]
    )


def _read_jsonl(path, columns):
    """Streamed in blocks."""
    reader = pa_json.open_json(path, parse_options=_json_options(columns))
    return pa.Table.from_batches(list(reader), schema=reader.schema)


def _encode(table, names):
    """Text columns as dictionaries, which pandas turns into categoricals."""
    for name in set(names) & set(table.column_names):
        column = table.column(name)
        if not pa.types.is_dictionary(column.type):
            column = column.cast(pa.string()).dictionary_encode()
        table = table.set_column(table.column_names.index(name), name, column)
    return table


def _read_leniently(path, fmt, error, where):
    """pyarrow refuses a column of mixed types; pandas reads it, so checks can name the values."""
    try:
        if fmt == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        elif fmt == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=True)
        else:
            raise error
        return pa.Table.from_pandas(frame.astype("string"), preserve_index=False)
    except (ValueError, pa.ArrowException) as lenient_error:
        raise CliError(f"{_cap(where)} is not readable: {error}") from lenient_error


def _cap(text):
    return text[:1].upper() + text[1:]


def _numbers(series, name, where, first_line):
    """A numeric column as float32 (half the memory; drift needs no more than 7 digits), or a
    readable error naming the values that are not numbers."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.astype("float32")
    text = series.astype("string").str.strip()
    numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = series[numbers.isna() & text.notna() & (text != "")]
    if len(bad):
        examples = ", ".join(f"line {i + first_line}: {v!r}" for i, v in bad.head(3).items())
        raise CliError(
            f"Column {name!r} of {where} must hold numbers (schema.yaml) but {len(bad)} "
            f"value(s) are not: {examples}. Fix the data or its export."
        )
    return numbers.astype("float32")


def _concat(frames, categorical):
    """One frame; categoricals get the union of the files' categories, so they stay categorical."""
    if len(frames) == 1:
        return frames[0]
    for name in categorical:
        union = pd.api.types.union_categoricals([f[name] for f in frames]).categories
        for frame in frames:
            frame[name] = frame[name].cat.set_categories(union)
    return pd.concat(frames, ignore_index=True)


# -- the contract ------------------------------------------------------------------------------


def contract_notes(frame, contract, names):
    """Values outside schema.yaml (range, allowed, nulls, and what training observed):
    reported with the drift, not fatal, because in production traffic they are exactly what a
    drift report should show."""
    notes = {}
    for name in names:
        spec, column = strict_rules(contract.get("columns", {}).get(name, {})), frame[name]
        counts = {"null": 0 if spec.get("nullable", True) else int(column.isna().sum())}
        # numpy 2 compares float32 with a Python float in float32: 60.45 read is 60.45 allowed.
        if "min" in spec:
            counts["below_min"] = int((column < spec["min"]).sum())
        if "max" in spec:
            counts["above_max"] = int((column > spec["max"]).sum())
        if "allowed" in spec:
            unknown = set(column.cat.categories) - {str(value) for value in spec["allowed"]}
            counts["not_allowed"] = int(column.isin(unknown).sum()) if unknown else 0
        found = {check: count for check, count in counts.items() if count}
        if found:
            notes[name] = found
    return notes


# -- the reference -------------------------------------------------------------------------------


def reference_table(setting, params, columns, explicit=None, reader=read_table):
    """`--reference PATH`, a fixed file in params, or the production version's training data,
    read by `reader` (read_table, or spool_table)."""
    if explicit or setting not in (None, "", PRODUCTION_ALIAS):
        table = reader(explicit or setting, columns, "reference")
        table.details["chosen_by"] = "--reference" if explicit else "drift.reference"
        return table
    version = production_version(params["registry"]["model_name"])
    if version is None:
        fallback = params["data"]["path"]
        table = reader(fallback, columns, "reference")
        table.details["chosen_by"] = "data.path: no model version has the production alias yet"
        return table
    return _production_table(version, columns, reader)


def _production_table(version, columns, reader):
    tags = version.tags
    path, wanted, commit = tags.get("data_path"), tags.get("data_hash"), tags.get("git_commit", "")
    if not path or not wanted:
        raise CliError(
            f"Version {version.version} of {version.name} (@production) has no data_path or "
            "data_hash lineage tag, so its training data is unknown: register versions with "
            "`make register`, or set drift.reference to a file (or pass --reference)."
        )
    location, found_in = locate_training_data(path, wanted, commit)
    table = reader(location, columns, "reference", fmt=file_format(path))
    table.source = path
    table.details.update(
        chosen_by=f"lineage of {version.name} v{version.version} (@production)",
        model=version.name, version=int(version.version), data_hash=wanted, git_commit=commit,
        found_in=found_in,
    )  # fmt: skip
    return table
