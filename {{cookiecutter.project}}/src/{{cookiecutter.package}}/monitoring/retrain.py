"""`retrain`: after `drift` found drift or `monitor` found decay, make the retraining branch
and write its PR body.

The new rows: on decay, the labelled live rows `monitor` wrote (features from the prediction
log, targets from the outcomes), so the model learns from real outcomes; on drift alone, the
window drift compared, which must hold labels (or pass --new-data). On branch
`retraining/drift` (re-made from HEAD on every run, so one branch and one pull request carry
the latest window, whichever check asked), the new rows are APPENDED to
`data.path`, `dvc add` updates its pointer, `dvc repro` retrains and evaluates, and one commit
records the data pointer, dvc.lock and the metrics. Appending, not replacing: the older rows
still hold true labels, so the model learns the new regime without forgetting the old one,
and the test split keeps both. `--push` then runs `dvc push` (the PR's CI pulls the new
data from the DVC remote) and force-pushes the branch. The body, reports/retrain.md, holds the
drift and live performance summaries and the new metrics and fairness gaps against the
version in production.
Then it returns to the branch it started from, with that branch's data checked out: the
retraining branch is for the pull request, not for working on.

It refuses, and makes no branch, when the reports found neither drift nor decay, when the new
rows lack labels or break the data contract, or when the working tree has uncommitted changes.
"""

import csv
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..config import REPORTS_DIR, CliError, columns, load_params, load_schema
from ..data.contract import violations
from ..data.loading import load_dataset, read_csv
from ..data.pull_data import md5_of
from ..data.pull_data import recorded_md5 as data_hash_of_pointer
from ..data.training_data import production_version
from ..reports import read_report, write_report
from .drift_inputs import file_format

BRANCH = "retraining/drift"


def retrain(args):
    params = load_params()
    why = reasons(args.reason)
    if not why.found:
        found = " and no ".join(why.kinds)
        print(f"{why.checked} found no {found}: no retraining branch was made.")
        return
    require_clean_start(args.branch)
    start = current_branch()
    contract, data_path = load_schema(), Path(params["data"]["path"])
    sources = [args.new_data] if args.new_data else why.sources
    new_rows = labelled_rows(sources, contract, columns(params).target)
    combined = pd.concat([load_dataset(params), new_rows], ignore_index=True)
    check_contract(combined, contract, len(new_rows))
    keep_in_dvc_cache(data_path)
    git("checkout", "-B", args.branch)
    append_rows(data_path, new_rows)
    run_tool("dvc", "add", str(data_path))
    why.failed_gates = reproduce()
    commit = commit_retraining(data_path, why, len(new_rows))
    body = pull_request_body(params, why, len(new_rows), len(combined), args)
    if args.push:
        run_tool("dvc", "push")
        git("push", "--force", args.remote, f"HEAD:refs/heads/{args.branch}")
    return_to(start, data_path)
    result = {"branch": args.branch, "commit": commit, "rows_added": len(new_rows),
              "rows_total": len(combined), "pushed": args.push, "base": args.base,
              "reasons": why.found, "failed_gates": why.failed_gates,
              "production_version": _production_version(params)}  # fmt: skip
    write_report("retrain", result, body)
    failing = f" (the new model fails {', '.join(why.failed_gates)})" if why.failed_gates else ""
    print(f"Branch {args.branch} at {commit[:12]}: {len(new_rows)} rows appended to {data_path}, "
          f"retrained{failing}; pull request body in {REPORTS_DIR / 'retrain.md'}. Back on "
          f"{start}, its data checked out.")  # fmt: skip


@dataclass
class Reasons:
    """Why to retrain: what `drift` and `monitor` found (their reports), and the new rows."""

    kinds: list  # the checks read: drift, decay
    checked: str  # the reports read, for messages
    found: list = field(default_factory=list)  # drift and/or decay
    sources: list = field(default_factory=list)  # files of new labelled rows
    sections: list = field(default_factory=list)  # Markdown of each finding, for the PR body
    subject: str = ""  # the commit message's reason
    failed_gates: list = field(default_factory=list)  # gates the retrained model fails


def reasons(reason):
    """Drift (reports/drift.json) and decay (reports/monitor.json). Decay brings labelled
    rows (live features, real outcomes); drift brings the window it compared, which must hold
    labels (or --new-data)."""
    kinds = ["drift", "decay"] if reason == "any" else [reason]
    reports = {"drift": read_report("drift"), "decay": read_report("monitor")}
    checked = " and ".join(f"reports/{REPORT[k]}.json" for k in kinds)
    if all(reports[k] is None for k in kinds):
        runs = " or ".join(f"`make {REPORT[k]}`" for k in kinds)
        raise CliError(f"{checked} missing: run {runs} first.")
    why = Reasons(kinds, checked)
    drift, monitor = reports["drift"], reports["decay"]
    if "decay" in kinds and monitor and monitor["decay"]:
        why.found.append("decay")
        why.sources.append(monitor["labelled_rows"]["file"])
        why.sections.append(_section("monitor"))
        worse = [r["metric"] for r in monitor["metrics"] if r["refuses"]]
        worse += [g["name"] for g in monitor["gates"] + monitor["fairness_gates"]
                  if not g["passed"]]  # fmt: skip
        worse = ", ".join(dict.fromkeys(worse))
        why.subject = f"live decay of {monitor['environment']} in {worse}"
    if "drift" in kinds and drift and drift["drift_detected"]:
        why.found.append("drift")
        if not why.sources:
            why.sources.extend(drift["current"]["files"])
        why.sections.insert(0, _section("drift"))
        why.subject = why.subject or f"drift in {', '.join(drift['drifted_columns'])}"
    return why


REPORT = {"drift": "drift", "decay": "monitor"}


def _section(name):
    """A report's Markdown one heading level down, to sit under the pull request's title."""
    return re.sub(r"^(#+) ", r"#\1 ", (REPORTS_DIR / f"{name}.md").read_text(), flags=re.M).strip()


# -- the new rows ----------------------------------------------------------------------------------


def labelled_rows(sources, contract, target):
    """Every contract column of the drifted window, labels included, in the data set's order."""
    frames = [_read_any(source, contract) for source in sources]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    wanted = list(contract["columns"])
    if target not in frame.columns:
        raise CliError(
            f"The new data ({', '.join(map(str, sources))}) has no labels (column {target!r}): "
            "a prediction log cannot retrain a model. Pass --new-data FILE with the labelled "
            "rows of the drifted window (every column of schema.yaml)."
        )
    missing = [name for name in wanted if name not in frame.columns]
    if missing:
        raise CliError(
            f"The new data lacks the column(s) {', '.join(missing)} of schema.yaml: "
            "the rows appended to the training data must carry every column."
        )
    return frame[wanted]


def _read_any(source, contract):
    """CSV as `validate-data` reads it; parquet and JSON lines with text columns as text."""
    kind = file_format(source)
    if kind == "csv":
        return read_csv(source, contract)
    if not Path(source).exists():
        raise CliError(f"The new data {source} does not exist.")
    if kind == "parquet":
        frame = pd.read_parquet(source)
    else:
        frame = pd.read_json(source, lines=True, dtype=False)
    for name, spec in contract["columns"].items():
        if spec["dtype"] == "str" and name in frame.columns:
            frame[name] = frame[name].where(frame[name].isna(), frame[name].astype(str))
    return frame


def check_contract(combined, contract, added):
    found = violations(combined, contract)
    if found:
        raise CliError(
            f"The training data with the {added} new rows would break the data contract "
            "(schema.yaml): "
            + "; ".join(
                f"{v['column']}: {v['check']} failed on {v['failed']} row(s)" for v in found
            )
            + ". No branch was made; fix the new data (e.g. duplicate ids) and run again."
        )


def append_rows(path, rows):
    """Append as CSV lines in the file's column order: the existing rows stay byte for byte."""
    with open(path, newline="") as handle:
        header = next(csv.reader(handle))
    missing = [name for name in header if name not in rows.columns]
    if missing:
        raise CliError(f"The new data lacks the column(s) {', '.join(missing)} of {path}.")
    with open(path, "rb+") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell():
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
    rows[header].to_csv(path, mode="a", header=False, index=False)


def reproduce():
    """`dvc repro`. A retrained model that fails its gates still gets its branch and pull
    request: a decay or drift nobody can fix by retraining alone is what people must see.
    The PR's CI then fails on the same gates. Returns the failed gates' names."""
    gates = REPORTS_DIR / "gates.json"
    before = gates.stat().st_mtime_ns if gates.exists() else None
    done = subprocess.run(["dvc", "repro"], capture_output=True, text=True)
    if done.returncode == 0:
        return []
    fresh = gates.exists() and gates.stat().st_mtime_ns != before
    report = read_report("gates") if fresh else None
    if report is None or report["passed"]:
        run_tool("dvc", "repro")  # not a gate failure: fail with dvc's own message
    return [g["name"] for g in report["gates"] if not g["passed"]]


# -- git and dvc -----------------------------------------------------------------------------------


def git(*args):
    return run_tool("git", *args)


def run_tool(*command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        output = (done.stderr.strip() or done.stdout.strip()).splitlines()[-12:]
        raise CliError(
            f"`{' '.join(command)}` failed: {' '.join(output)}. Nothing was committed; "
            "`git checkout -f -` and `dvc checkout` return to where you were."
        )
    return done.stdout.strip()


def require_clean_start(branch):
    if git("rev-parse", "--abbrev-ref", "HEAD") == branch:
        raise CliError(f"You are on {branch}: run retrain from the branch it starts from (main).")
    changed = git("status", "--porcelain", "--untracked-files=no")
    if changed:
        raise CliError(
            "The working tree has uncommitted changes; the retraining branch must start from a "
            f"commit. Commit or stash them first:\n{changed}"
        )


def current_branch():
    """The branch checked out (or the commit, when HEAD is detached as in CI)."""
    branch = subprocess.run(["git", "symbolic-ref", "--short", "-q", "HEAD"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    return branch or git("rev-parse", "HEAD")


def return_to(start, data_path):
    """Back to where retrain started: its commit, and its data from the DVC cache (where
    keep_in_dvc_cache put it). Pipeline outputs follow when the cache holds them too."""
    git("checkout", "--quiet", start)
    run_tool("dvc", "checkout", "--quiet", f"{data_path}.dvc")
    subprocess.run(["dvc", "checkout", "--quiet"], capture_output=True)  # best effort: models/


def keep_in_dvc_cache(data_path):
    """The data must match its pointer, and sit in DVC's cache so `dvc checkout` can restore it."""
    pointer = Path(f"{data_path}.dvc")
    if not pointer.exists():
        raise CliError(f"{data_path} is not tracked by DVC: run `dvc add {data_path}` and commit.")
    if data_hash_of_pointer(pointer) != md5_of(data_path):
        raise CliError(
            f"{data_path} differs from the version {pointer} records: `dvc checkout` it (or "
            "`dvc add` and commit it) before retraining."
        )
    run_tool("dvc", "add", "--quiet", str(data_path))  # same md5: only fills the cache


def commit_retraining(data_path, why, added):
    git("add", f"{data_path}.dvc", "dvc.lock")
    git("add", "--update")  # the metrics and reports dvc repro changed (all tracked)
    what = "live outcomes" if why.found[0] == "decay" else "drifted data"
    message = f"Retrain on {what}: {added} new rows ({why.subject})"
    if why.failed_gates:
        message += f"; the retrained model fails {', '.join(why.failed_gates)}"
    # The author is whoever runs it: you, or in drift.yml the Actions bot its step names.
    run_tool("git", "commit", "--quiet", "-m", message)
    return git("rev-parse", "HEAD")


# -- the pull request body ------------------------------------------------------------------


def _production_version(params):
    production = production_version(params["registry"]["model_name"])
    return None if production is None else str(production.version)


def _failed_gates_note(why):
    if not why.failed_gates:
        return []
    return [
        f"**The retrained model fails its gates ({', '.join(why.failed_gates)})**, so this pull "
        "request's CI fails too: retraining on the new rows alone does not fix what was found. "
        "Look at the reports below (reports/gates.md on the branch) before anything else."
    ]


def pull_request_body(params, why, added, total, args):
    """What drift and monitor found, then the retrained model next to the production one."""
    from ..deploy.promote import comparison_tables
    from ..registry import lineage_tags

    metrics = json.loads((REPORTS_DIR / "metrics.json").read_text())
    fairness = json.loads((REPORTS_DIR / "fairness.json").read_text())
    new = lineage_tags(params, metrics, fairness)  # after the commit: its sha, its data hash
    production = production_version(params["registry"]["model_name"])
    old = production.tags if production else {}
    label = f"production (v{production.version})" if production else "production (none)"
    window = "the decayed window" if why.found[0] == "decay" else "the drifted window"
    return "\n\n".join(
        [
            f"## Retrain {params['registry']['model_name']} on {window}",
            *_failed_gates_note(why),
            f"`{args.branch}` appends {added} labelled rows of {window} to "
            f"`{params['data']['path']}` ({total} rows now), updates its DVC pointer and reruns "
            "`dvc repro`. This pull request's CI runs the data check and every model gate; "
            "merging it registers and deploys as usual. The next drift run updates this pull "
            "request instead of opening another. Each model's metrics are on its own test split.",
            *why.sections,
            *comparison_tables(old, new, label, "retrained"),
        ]
    )


def add_arguments(parser):
    parser.add_argument(
        "--new-data",
        help="labelled rows to append (default: on decay, the labelled live rows `monitor` "
        "wrote; on drift, the current data drift compared)",
    )
    parser.add_argument(
        "--reason",
        choices=["any", "drift", "decay"],
        default="any",
        help="which finding may retrain (default: any report that found one)",
    )
    parser.add_argument("--branch", default=BRANCH, help=f"branch to (re)make (default {BRANCH})")
    parser.add_argument("--base", default="main", help="branch the pull request targets")
    parser.add_argument("--push", action="store_true", help="dvc push, then force-push the branch")
    parser.add_argument("--remote", default="origin", help="git remote to push to")


run = retrain
