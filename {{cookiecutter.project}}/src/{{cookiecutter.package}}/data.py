"""Load the data set as the contract types it, split it, and validate it (`validate-data`)."""

import hashlib
from pathlib import Path

import pandas as pd
import yaml

from .config import CliError, columns, load_params, load_schema
from .reports import markdown_table, write_report


def read_csv(path, contract=None):
    """Read a CSV; text columns stay text even when they look like numbers or booleans."""
    if not Path(path).exists():
        raise CliError(f"{path} does not exist: put the data set there (see README.md, Data).")
    text_columns = {
        name: str
        for name, spec in (contract or {}).get("columns", {}).items()
        if spec["dtype"] == "str"
    }
    try:
        return pd.read_csv(path, dtype=text_columns, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CliError(f"{path} is not a readable CSV file: {error}") from error


def load_dataset(params):
    return read_csv(params["data"]["path"], load_schema())


def labels(frame, spec):
    """The target as 0/1: 1 where it equals the positive class."""
    return (frame[spec.target].astype(str) == spec.positive_class).astype(int)


def split(frame, params):
    from sklearn.model_selection import train_test_split

    spec = columns(params)
    return train_test_split(
        frame,
        test_size=params["data"]["test_size"],
        random_state=params["data"]["seed"],
        stratify=labels(frame, spec),
    )


def data_hash(path):
    """The data version: DVC's md5 from dvc.lock when it is there, else the file's own md5."""
    lock = Path("dvc.lock")
    if lock.exists():
        for stage in (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).values():
            for dep in stage.get("deps", []):
                if dep["path"] == str(path) and "md5" in dep:
                    return dep["md5"]
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def validate_data(args):
    from .contract import violations

    params = load_params()
    contract = load_schema()
    path = args.data or params["data"]["path"]
    frame = read_csv(path, contract)
    found = violations(frame, contract)
    result = {"data": str(path), "rows": len(frame), "passed": not found, "violations": found}
    write_report("data_check", result, _markdown(result))
    if found:
        raise CliError(
            f"{path} breaks the data contract (schema.yaml) in {len(found)} check(s): "
            + "; ".join(
                f"{v['column']}: {v['check']} failed on {v['failed']} row(s)" for v in found
            )
            + ". Rows and values are in reports/data_check.md. Nothing downstream ran."
        )
    print(f"{path}: {len(frame)} rows meet the data contract.")


def _markdown(result):
    status = "passed" if result["passed"] else "FAILED"
    lines = [f"## Data check {status}", "", f"`{result['data']}`: {result['rows']} rows.", ""]
    if result["violations"]:
        rows = [
            (
                f"`{v['column']}`",
                f"`{v['check']}`",
                v["failed"],
                ", ".join(f"line {e['row']}: `{e['value']}`" for e in v["examples"]) or "-",
            )
            for v in result["violations"]
        ]
        lines.append(markdown_table(["column", "check", "rows failing", "examples"], rows))
    return "\n".join(lines)


def add_arguments(parser):
    parser.add_argument("--data", help="CSV to check (default: data.path in params.yaml)")


run = validate_data
