"""`monitor`: live performance. The environment's logged predictions of the last
`monitor.window_days` days are joined by prediction_id to their outcomes, and scored as the
test split was: the task's metrics (training/task.py), calibration for a classifier, and the
fairness gaps per sensitive feature on the labelled rows the sampled feature log also holds.

They are put beside the test metrics of the version that served the window (its lineage
tags), with the label coverage and delay. Decay (exit 4): a live metric breaks its gate in
params.yaml, or is worse than at training time by more than `monitor.max_drop[metric]`
(training/compare.py compares the two), or a fairness gate breaks. Fewer than
`monitor.min_labelled` labelled predictions is an error (exit 1), not a verdict.
reports/monitor.{json,md,html}; the HTML has the plots.
"""

from datetime import UTC, datetime, timedelta

import pandas as pd

from ..config import REPORTS_DIR, CliError, columns, load_params, load_schema
from ..data.loading import labels
from ..reports import markdown_table, write_report
from ..serving.prediction_log import log_path
from ..training.compare import compare_metrics, metrics_table
from ..training.fairness import sensitive_values
from ..training.task import for_params
from .drift_inputs import log_files, read_log
from .monitor_plots import write_html
from .outcome_store import read_ids_log, read_store

EXIT_DECAY = 4
ROWS_FILE = REPORTS_DIR / "monitor-rows.parquet"


def monitor(args):
    params = load_params()
    spec, settings = columns(params), params["monitor"]
    task = for_params(params, spec)
    environment = args.environment or settings["environment"]
    predictions = args.predictions or log_path(
        params["serve"]["prediction_ids_log"], environment, "prediction_ids_log"
    )
    outcomes = args.outcomes or params["outcomes"]["store"]
    since = datetime.now(UTC) - timedelta(days=settings["window_days"])
    window = labelled_window(read_ids_log(predictions, since), read_store(outcomes), spec,
                             since)  # fmt: skip
    labelled = window[window["labelled"]]
    _enough(labelled, len(window), settings, predictions, outcomes)
    served = labelled["model_version"].value_counts()
    version = str(served.index[0])
    training = training_metrics(params, version)
    y_true = labels(labelled, spec)
    _same_model(task, spec, labelled)
    live = task.live_metrics(y_true, labelled["prediction"], labelled.get("score"))
    rows = compare_metrics(task, training, live, settings.get("max_drop") or {})
    gates = live_gates(task, live, params["gates"])
    sampled = args.sampled or log_path(params["serve"]["prediction_log"], environment)
    featured = sampled_rows(sampled, labelled, list(load_schema()["columns"]), since)  # once
    fairness, fairness_rows, fairness_notes = live_fairness(task, params, featured, spec)
    fairness_gates = task.fairness_gates(fairness, params["gates"]) if fairness else []
    broken = [g for g in [*gates, *fairness_gates] if not g.passed]
    dropped = [r for r in rows if r["refuses"]]
    delay = (labelled["outcome_ts"] - labelled["ts"]).dt.total_seconds() / 86400
    result = {
        "environment": environment, "predictions": str(predictions), "outcomes": str(outcomes),
        "window": {"days": settings["window_days"], "since": since.isoformat(timespec="seconds")},
        "predictions_in_window": len(window), "labelled": len(labelled),
        "coverage": len(labelled) / len(window),
        "label_delay_days": {"median": float(delay.median()), "p90": float(delay.quantile(0.9))},
        "version": version, "served_versions": {str(k): int(v) for k, v in served.items()},
        "live": live, "training": training, "metrics": rows,
        "gates": [g.as_dict() for g in gates], "fairness": fairness,
        "fairness_rows": fairness_rows, "fairness_notes": fairness_notes,
        "fairness_gates": [g.as_dict() for g in fairness_gates],
        "decay": bool(broken or dropped),
        "labelled_rows": write_labelled_rows(featured),
    }  # fmt: skip
    result["summary"] = summary(result, dropped, broken)
    write_report("monitor", result, markdown(result))
    write_html(result, labelled, task)
    print(result["summary"])
    return EXIT_DECAY if result["decay"] else 0


def labelled_window(logged, outcomes, spec, since):
    """The logged predictions since `since`, each with its outcome when one is stored:
    `labelled` says which; the target and outcome_ts come from the store."""
    window = logged[logged["ts"] >= pd.Timestamp(since)]
    if window.empty:
        newest = logged["ts"].max()
        raise CliError(
            f"No prediction was logged since {since:%Y-%m-%d %H:%M} UTC (the newest is from "
            f"{newest:%Y-%m-%d %H:%M}): the window is empty. Raise monitor.window_days, or "
            "check that the server logs this environment (serve.prediction_ids_log)."
        )
    window = window.drop_duplicates("prediction_id", keep="last")
    if outcomes.empty:
        joined = window.assign(labelled=False)
        joined[spec.target] = None
        joined["outcome_ts"] = pd.NaT
        return joined
    kept = outcomes[["prediction_id", spec.target, "outcome_ts"]]
    joined = window.merge(kept, on="prediction_id", how="left", validate="one_to_one")
    joined["outcome_ts"] = pd.to_datetime(joined["outcome_ts"], utc=True)
    return joined.assign(labelled=joined[spec.target].notna())


def _enough(labelled, logged, settings, predictions, outcomes):
    need = settings["min_labelled"]
    if len(labelled) < need:
        raise CliError(
            f"Only {len(labelled)} of the {logged} predictions logged in the last "
            f"{settings['window_days']} days ({predictions}) have an outcome in {outcomes}; "
            f"monitor.min_labelled asks for {need}. Add outcomes (`make outcomes FILE=...`) "
            "or widen monitor.window_days."
        )


def _same_model(task, spec, labelled):
    """A log whose answers are not labels of this model's target is another model's log."""
    allowed = _allowed(spec)
    if task.name == "regression" or not allowed:
        return
    strange = sorted(set(labelled["prediction"].astype(str)) - set(allowed))
    if strange:
        raise CliError(
            f"The prediction log answers {', '.join(map(repr, strange[:5]))}, which are not "
            f"values of {spec.target} in schema.yaml: it is the log of another model. Point "
            "--predictions at this model's prediction ids log."
        )


def _allowed(spec):
    from ..config import load_schema

    return [str(v) for v in (load_schema()["columns"].get(spec.target) or {}).get("allowed", [])]


def training_metrics(params, version):
    """The test metrics (lineage tags metric.*) of the version that served the window."""
    from mlflow.exceptions import MlflowException

    from ..registry import client

    name = params["registry"]["model_name"]
    try:
        tags = client().get_model_version(name, version).tags
    except MlflowException:
        raise CliError(
            f"The prediction log was written by version {version}, which is not a version of "
            f"{name} in the registry: it is another model's log, or the registry "
            "(MLFLOW_TRACKING_URI) is not the one the server used."
        ) from None
    return {k.removeprefix("metric."): float(v) for k, v in tags.items()
            if k.startswith("metric.")}  # fmt: skip


def live_gates(task, live, gates):
    """The performance gates of params.yaml that a live metric can be held to."""
    found = []
    for gate in task.performance_gates(_padded(live), gates):
        if gate.name in live:
            gate.detail = f"on the live window, {gate.detail.rsplit(', ', 1)[-1]}"
            found.append(gate)
    return found


class _padded(dict):  # noqa: N801 (used as a function)
    """The live metrics; 0.0 for a test-only one a task's gates read (log loss, baselines),
    whose gate is then left out."""

    def __missing__(self, key):
        return 0.0


def live_fairness(task, params, rows, spec):
    """Fairness gaps per sensitive feature on the labelled rows that the sampled feature log
    holds (`sampled_rows`: it carries the sensitive columns). Groups with fewer than
    monitor.min_group_rows such rows are left out and named; a feature with fewer than two
    groups left is not judged. Returns (gaps by feature, rows used, notes)."""
    if not spec.sensitive:
        return {}, 0, []
    least = params["monitor"]["min_group_rows"]
    found, notes = {}, []
    if rows.empty:
        return found, 0, ["no labelled prediction is in the sampled feature log"]
    for feature in spec.sensitive:
        groups = sensitive_values(rows, feature)
        sizes = groups.value_counts()
        small = ", ".join(f"{g} ({n})" for g, n in sizes.items() if n < least)
        kept = rows[groups.isin([g for g, n in sizes.items() if n >= least])]
        if kept.empty or sensitive_values(kept, feature).nunique() < 2:
            notes.append(f"{feature}: not judged, fewer than two groups have {least} rows "
                         f"({small})")  # fmt: skip
            continue
        if small:
            notes.append(f"{feature}: left out, fewer than {least} rows: {small}")
        found.update(_one(task, kept, spec, feature))
    return found, len(rows), notes


def _one(task, rows, spec, feature):
    from dataclasses import replace

    one = type(task)(replace(spec, sensitive=[feature]), task.params)
    return one.fairness(rows, labels(rows, spec), task.model_labels(rows["prediction"]))


def sampled_rows(path, labelled, names, since=None):
    """The labelled predictions joined to the `names` columns of their sampled feature rows
    (the prediction log at `path`: a file and its rotations, or a URL's Parquet parts)."""
    wanted = ["_prediction_id", *[n for n in names if n not in labelled.columns]]
    frames = [read_log(file, wanted) for file in log_files(path, since)]
    sampled = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    sampled = sampled.reindex(columns=wanted).dropna(subset=["_prediction_id"])
    sampled["_prediction_id"] = sampled["_prediction_id"].astype(str)
    sampled = sampled.drop_duplicates("_prediction_id", keep="last")
    return labelled.merge(sampled, left_on="prediction_id", right_on="_prediction_id")


def write_labelled_rows(rows):
    """reports/monitor-rows.parquet: the labelled predictions the sampled feature log holds
    (`sampled_rows`), as data set rows (every column of schema.yaml, the target from the
    outcomes); `retrain` appends them to the training data when the window decayed."""
    names = list(load_schema()["columns"])
    rows = rows[[n for n in names if n in rows.columns]]
    REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    rows.to_parquet(ROWS_FILE, index=False)
    return {"file": str(ROWS_FILE), "rows": len(rows)}


def summary(result, dropped, broken):
    where = (f"{result['labelled']} labelled of {result['predictions_in_window']} predictions "
             f"of {result['environment']} (version {result['version']})")  # fmt: skip
    if not result["decay"]:
        return f"Healthy: {where} meet every gate and no metric dropped beyond monitor.max_drop."
    reasons = [
        f"{r['metric']} {r['new']:.4f} live against {r['old']:.4f} at training, a drop of "
        f"{-r['gain']:.4f} (monitor.max_drop.{r['metric']}: {r['max_regression']})"
        for r in dropped
    ] + [g.explain() for g in broken]
    return f"Decay: {where}: " + "; ".join(reasons) + ". See reports/monitor.md."


def markdown(result):
    delay = result["label_delay_days"]
    parts = [
        f"## Live performance of {result['environment']}",
        result["summary"],
        f"Window: predictions since {result['window']['since']} UTC. Label coverage "
        f"{result['coverage']:.1%} ({result['labelled']} of {result['predictions_in_window']}); "
        f"label delay median {delay['median']:.2f} days, 90th percentile {delay['p90']:.2f}.",
        "### Live against training",
        metrics_table(result["metrics"], f"training (v{result['version']})", "live"),
    ]
    if result["gates"]:
        rows = [(g["name"], f"{g['value']:.4f}", g["threshold"],
                 "pass" if g["passed"] else "**FAIL**", f"`{g['key']}`")
                for g in result["gates"]]  # fmt: skip
        headers = ["gate", "live", "limit", "result", "in params.yaml"]
        parts += ["### Gates on live data", markdown_table(headers, rows)]
    parts.append(f"### Fairness gaps on the {result['fairness_rows']} labelled rows of the "
                 "sampled feature log")  # fmt: skip
    if result["fairness_gates"]:
        rows = [(g["name"], f"{g['value']:.4f}", g["threshold"],
                 "pass" if g["passed"] else "**FAIL**")
                for g in result["fairness_gates"]]  # fmt: skip
        parts.append(markdown_table(["gap", "live", "limit", "result"], rows))
    if result["fairness_notes"]:
        parts.append("\n".join(f"- {note}" for note in result["fairness_notes"]))
    return "\n\n".join(parts)


def add_arguments(parser):
    parser.add_argument("--environment", help="whose logs (default: monitor.environment)")
    parser.add_argument("--predictions", help="prediction ids log (default: serve."
                        "prediction_ids_log of the environment, with its rotations)")  # fmt: skip
    parser.add_argument("--outcomes", help="outcome store (default: outcomes.store)")
    parser.add_argument("--sampled", help="sampled feature log, for fairness and the labelled "
                        "rows (default: serve.prediction_log of the environment)")  # fmt: skip


run = monitor
