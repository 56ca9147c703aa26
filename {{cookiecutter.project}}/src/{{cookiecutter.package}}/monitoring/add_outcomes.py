"""`add-outcomes FILE`: check a file of delayed outcomes against the contract and the logged
predictions, then add it to the outcome store, where `monitor` finds it.

The file (.csv, .parquet or .jsonl; a path or any URL pyarrow/fsspec reads) has one row per
prediction whose outcome is now known: the id column(s) of `columns.ids`, as the client sent
them, the target column (`columns.target`) with the true label or value, and optionally
`outcome_ts` (when the outcome happened, ISO 8601; default: when the file is added).

Everything is checked before anything is written, and every problem is reported at once
(reports/outcomes.{json,md}): a missing id, an id repeated in the file or already in the store,
an id no logged prediction has (`outcomes.environment`'s prediction ids log), a target the
contract does not allow (a regression: no number, or outside the contract's range), a
timestamp that is no time. With any problem the store is not touched.
"""

from datetime import UTC

import pandas as pd

from ..config import CliError, columns, load_params, load_schema
from ..reports import markdown_table, write_report
from ..serving.prediction_log import log_path
from .drift_inputs import file_format
from .outcome_store import prediction_id, read_ids_log, read_store, write

TIMESTAMP = "outcome_ts"
EXAMPLES = 5  # offending records listed per problem


def add_outcomes(args):
    params = load_params()
    spec, contract = columns(params), load_schema()
    if not spec.ids:
        raise CliError(
            "params.yaml columns.ids is empty: outcomes are joined to predictions by id, so "
            "declare the id column(s) first (see README.md, Outcomes and live performance)."
        )
    settings = params["outcomes"]
    frame = read_outcomes(args.file, spec)
    predictions = args.predictions or log_path(
        params["serve"]["prediction_ids_log"], settings["environment"], "prediction_ids_log"
    )
    store = args.store or settings["store"]
    logged = set(read_ids_log(predictions)["prediction_id"])
    stored = set(read_store(store).get("prediction_id", []))
    outcomes, problems = check(frame, spec, contract, logged, stored)
    result = {"file": str(args.file), "rows": len(frame), "store": str(store),
              "predictions": str(predictions), "problems": problems,
              "added": 0 if problems else len(outcomes)}  # fmt: skip
    if not problems:
        result["written"] = write(outcomes, store)
    write_report("outcomes", result, markdown(result))
    if problems:
        listed = "; ".join(f"{p['problem']} ({p['rows']} records)" for p in problems)
        raise CliError(
            f"{args.file} was not added to the outcome store: {listed}. Nothing was written; "
            "reports/outcomes.md lists the records. Fix the file and run again."
        )
    print(f"Added {len(outcomes)} outcomes from {args.file} to {result['written']}.")


def read_outcomes(path, spec):
    wanted = [*spec.ids, spec.target]
    try:
        fmt = file_format(path)
        if fmt == "csv":
            frame = pd.read_csv(path, dtype=dict.fromkeys(wanted, str), keep_default_na=False,
                                na_values=[""])  # fmt: skip
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, lines=True, dtype=False)
    except CliError:
        raise
    except Exception as error:  # pyarrow, fsspec and pandas each raise their own
        raise CliError(f"{path} is not a readable outcome file: {error}") from None
    missing = [name for name in wanted if name not in frame.columns]
    extra = [name for name in frame.columns if name not in (*wanted, TIMESTAMP)]
    if missing or extra:
        found = [f"it lacks {', '.join(missing)}"] if missing else []
        found += [f"it has the unknown column(s) {', '.join(map(str, extra))}"] if extra else []
        raise CliError(
            f"{path} must have the columns {', '.join(wanted)} (and optionally {TIMESTAMP}); "
            f"{' and '.join(found)}."
        )
    return frame


def check(frame, spec, contract, logged, stored):
    """(outcomes, problems): the rows as the store keeps them, and every problem found."""
    ids = prediction_id(frame, spec.ids)
    blank = pd.Series(False, index=frame.index)
    for name in spec.ids:
        blank |= frame[name].isna() | (frame[name].astype(str).str.strip() == "")
    problems = []
    _note(problems, blank, "missing id", frame)
    _note(problems, ids.duplicated(keep=False) & ~blank, "id repeated in the file", frame, ids)
    _note(problems, ids.isin(stored) & ~blank, "id already in the outcome store", frame, ids)
    _note(problems, ~ids.isin(logged) & ~blank, "id of no logged prediction", frame, ids)
    target, bad = _target(frame[spec.target], spec, contract)
    _note(problems, bad, f"{spec.target} outside the contract", frame, frame[spec.target])
    when, not_time = _times(frame)
    _note(problems, not_time, f"{TIMESTAMP} is not a time", frame, frame.get(TIMESTAMP))
    now = pd.Timestamp.now(tz=UTC)
    outcomes = pd.DataFrame({"prediction_id": ids, **{n: frame[n].astype(str) for n in spec.ids},
                             spec.target: target, TIMESTAMP: when.fillna(now),
                             "added_at": now})  # fmt: skip
    return outcomes.reset_index(drop=True), problems


def _target(values, spec, contract):
    """(the values as the store keeps them, the records the contract refuses)."""
    rule = contract["columns"].get(spec.target) or {}
    if spec.task == "regression":
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna()
        if rule.get("min") is not None:
            bad |= numbers < rule["min"]
        if rule.get("max") is not None:
            bad |= numbers > rule["max"]
        return numbers, bad
    text = values.astype("string").str.strip()
    allowed = [str(value) for value in rule.get("allowed") or []]
    return text.astype(object), text.isna() | (~text.isin(allowed) if allowed else False)


def _times(frame):
    if TIMESTAMP not in frame:
        none = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
        return none, pd.Series(False, index=frame.index)
    when = pd.to_datetime(frame[TIMESTAMP], utc=True, errors="coerce", format="ISO8601")
    return when, when.isna() & frame[TIMESTAMP].notna()


def _note(problems, mask, problem, frame, values=None):
    rows = list(frame.index[mask.to_numpy()])
    if rows:
        shown = [{"record": int(i) + 1, **({} if values is None else {"value": str(values[i])})}
                 for i in rows[:EXAMPLES]]  # fmt: skip
        problems.append({"problem": problem, "rows": len(rows), "examples": shown})


def markdown(result):
    lines = [f"# Outcomes from {result['file']}", ""]
    if not result["problems"]:
        lines.append(f"{result['added']} of {result['rows']} rows added to {result['written']}.")
        return "\n".join(lines)
    lines += [f"Not added: {len(result['problems'])} problems in {result['rows']} records "
              "(record 1 is the first; nothing was written).", ""]  # fmt: skip
    rows = [(p["problem"], p["rows"], ", ".join(_example(e) for e in p["examples"]))
            for p in result["problems"]]  # fmt: skip
    lines.append(markdown_table(["problem", "records", "first records"], rows))
    return "\n".join(lines)


def _example(example):
    value = example.get("value")
    return str(example["record"]) + ("" if value is None else f" ({value[:40]})")


def add_arguments(parser):
    parser.add_argument("file", help="outcome file: .csv, .parquet or .jsonl, a path or a URL")
    parser.add_argument(
        "--predictions",
        help="prediction ids log the ids must be in (default: serve.prediction_ids_log of "
        "outcomes.environment, with its rotations)",
    )
    parser.add_argument("--store", help="outcome store (default: outcomes.store in params.yaml)")


run = add_outcomes
