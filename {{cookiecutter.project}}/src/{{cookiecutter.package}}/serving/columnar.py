"""Columnar batch bodies and answers: Arrow IPC stream, Parquet and CSV.

POST /predict/batch reads the body by its Content-Type: `application/vnd.apache.arrow.stream`
(an Arrow IPC stream), `application/vnd.apache.parquet` (or `application/x-parquet`) and
`text/csv` (a header line of column names; an empty field is null) are tables, one row per
record; anything else is JSON `{"records": [...]}`, as before. The answer comes back as JSON,
or as an Arrow IPC stream or CSV when `Accept` asks for one of them. A body that does not
parse as what it says it is gets a 422 naming the format, never a 500.
"""

import csv
import io

import pyarrow as pa

from .request_body import RequestProblem

ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"
CSV = "text/csv"
JSON = "application/json"
BODY_FORMATS = {ARROW: "arrow", PARQUET: "parquet", "application/x-parquet": "parquet",
                CSV: "csv"}  # fmt: skip
ANSWER_FORMATS = (ARROW, CSV)  # JSON otherwise


def body_format(content_type):
    """'arrow', 'parquet', 'csv' or 'json', from a Content-Type header (None: JSON)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return BODY_FORMATS.get(media, "json")


def answer_format(accept):
    """The media type of the answer: the first of Arrow or CSV that Accept names, else JSON."""
    accept = (accept or "").lower()
    found = [(accept.find(media), media) for media in ANSWER_FORMATS if media in accept]
    return min(found)[1] if found else JSON


def read_table(body, kind):
    """The body as a pyarrow Table; a 422 when it is not a valid stream of its kind."""
    try:
        if kind == "arrow":
            with pa.ipc.open_stream(body) as reader:
                return reader.read_all()
        if kind == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(io.BytesIO(body))
        return _read_csv(body)
    except (pa.ArrowException, OSError, ValueError, csv.Error) as error:
        message = f"The body is not a valid {NAMES[kind]}: {_first_line(error)}"
        raise RequestProblem(422, [{"loc": ["body"], "type": f"{kind}_invalid",
                                    "msg": message}]) from None  # fmt: skip


NAMES = {"arrow": "Arrow IPC stream", "parquet": "Parquet file", "csv": "CSV table with a header"}


def _read_csv(body):
    """Every column as text (the contract decides what is a number, not a guess); an empty
    field is null."""
    from pyarrow import csv as arrow_csv

    header = next(csv.reader([body.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")]), [])
    convert = arrow_csv.ConvertOptions(
        column_types={name: pa.string() for name in header}, strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )  # fmt: skip
    return arrow_csv.read_csv(io.BytesIO(body), convert_options=convert)


def _first_line(error):
    return str(error).strip().split("\n", 1)[0][:200]


def write_answer(media, version, ids, answers):
    """A batch's answers as an Arrow IPC stream or CSV: one row per record, the columns
    prediction_id, the answer's fields (a multiclass answer's probabilities as one
    `probability_<class>` column each) and model_version."""
    columns = {"prediction_id": ids}
    for key, values in answers.columns.items():
        if isinstance(values[0], dict):
            for name in values[0]:
                columns[f"probability_{name}"] = [value[name] for value in values]
        else:
            columns[key] = values
    columns["model_version"] = pa.repeat(pa.scalar(str(version)), len(ids))
    table = pa.table(columns)
    sink = io.BytesIO()
    if media == ARROW:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    else:
        from pyarrow import csv as arrow_csv

        arrow_csv.write_csv(table, sink)
    return sink.getvalue()
