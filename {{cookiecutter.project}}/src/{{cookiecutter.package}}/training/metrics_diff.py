"""`metrics-diff`: how this branch's metrics and params differ from a base branch's.

DVC computes the differences (`dvc metrics diff`, `dvc params diff`) against the
committed results of the base; this verb renders them for a job summary or PR comment.
In CI the base must be fetched: actions/checkout with `fetch-depth: 0`.
"""

import json
import subprocess

from ..config import CliError
from ..reports import markdown_table, write_report


def dvc_diff(kind, base):
    """`dvc metrics|params diff BASE --json` as a dict: file -> name -> {old, new, diff}."""
    done = subprocess.run(["dvc", kind, "diff", base, "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        raise CliError(f"dvc {kind} diff {base} failed: {done.stderr.strip() or done.stdout}")
    return json.loads(done.stdout or "{}")


def check_base(base):
    known = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", base + "^{commit}"], capture_output=True
    )
    if known.returncode != 0:
        raise CliError(
            f"base {base!r} is not a commit in this repository: fetch it first "
            "(in CI, actions/checkout with fetch-depth: 0) or name an existing branch."
        )


def metrics_diff(args):
    check_base(args.base)
    result = {
        "base": args.base,
        "metrics": dvc_diff("metrics", args.base),
        "params": dvc_diff("params", args.base),
    }
    write_report("metrics_diff", result, diff_markdown(result))
    changed = sum(len(names) for names in result["params"].values())
    print(f"Compared with {args.base}: {changed} param(s) changed; see reports/metrics_diff.md.")


def _number(value):
    if value is None:
        return "-"
    return f"{value:+.4f}" if isinstance(value, float) else str(value)


def _value(value):
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else f"`{value}`"


def _param(value):
    return "-" if value is None else f"`{value}`"


def diff_markdown(result):
    base = result["base"]
    parts = [f"## Metrics and params against `{base}`"]
    rows = [
        (f"`{path}`", name, _value(d.get("old")), _value(d.get("new")), _number(d.get("diff")))
        for path, names in sorted(result["metrics"].items())
        for name, d in sorted(names.items())
    ]
    headers = ["file", "metric", base, "this branch", "change"]
    parts.append(markdown_table(headers, rows) if rows else "No metrics to compare.")
    rows = [
        (f"`{path}`", f"`{name}`", _param(d.get("old")), _param(d.get("new")))
        for path, names in sorted(result["params"].items())
        for name, d in sorted(names.items())
    ]
    headers = ["file", "param", base, "this branch"]
    parts.append(markdown_table(headers, rows) if rows else "No params changed.")
    return "\n\n".join(parts)


def add_arguments(parser):
    parser.add_argument("--base", default="main", help="branch or commit to compare with")


run = metrics_diff
