"""`validate-data`: check the data set against the contract in schema.yaml."""

from ..config import CliError, load_params, load_schema
from ..reports import markdown_table, write_report
from .contract import violations
from .loading import read_csv


def validate_data(args):

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
