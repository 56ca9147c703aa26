"""`drift`: compare current data with the reference with Evidently; exit 3 when the data drifted.

Exit codes: 0 no drift, 3 drift detected (also `drift_detected` in reports/drift.json),
1 error (missing, empty or malformed current data, too few rows, bad settings).

Speed at scale: numeric columns are compared on quantile bins of the reference (a categorical
column for Evidently) unless `drift.numeric_bins` is null. Evidently computes every column three
times (column test, dataset count, report table), and on raw floats each pass sorts and counts
distinct values of both data sets; on bins each pass is a count of small integer codes. The
default test, Jensen-Shannon distance, is the one Evidently itself picks for categories.

Small windows: each column's threshold is raised to what sampling noise alone reaches at the
window's size (thresholds.py), so a column that did not change is flagged at most
`drift.false_alarm_rate` of the time. Sensitive columns are compared too and labelled as such,
but left out of the dataset verdict: a shift in a protected group's share is a question for the
fairness review, not a reason to retrain (and must not dilute the features' share).

Importance: by default the verdict weighs each feature by its share of the production version's
permutation importance (its model card; importance.py), so a shift in what drives predictions
raises drift and a shift in a column the model ignores does not. `drift.weighting: equal`
counts drifted columns instead (Evidently's own share).

Engines: `drift.engine: stream` (the default) reads both sides in record batches and compares
them one column at a time (drift_stream.py), so memory holds a column, not the window;
`memory` reads both into pandas and hands Evidently every row (its report then shows them all).
Both give the same verdicts and scores on the same data (tests/unit/test_drift.py).
"""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from ..config import REPORTS_DIR, CliError, columns, load_params, load_schema
from ..reports import markdown_table, write_report
from ..serving.prediction_log import log_path
from .drift_inputs import Monitored, contract_notes, read_table, reference_table, spool_table
from .drift_report import stop_early
from .importance import WEIGHTINGS, column_weights
from .thresholds import window_thresholds

DRIFT_EXIT = 3
HTML_FILE = REPORTS_DIR / "drift.html"
COLUMN_KEYS = {"method", "threshold", "bins"}
TOP_SHIFTS = 5
MIN_WINDOW = 100  # the smallest drift.min_rows: below it every bin holds a handful of rows
ENGINES = ("stream", "memory")


@dataclass
class Settings:
    """params.yaml `drift:`; see the comments there."""

    reference: str = "production"
    current: str | None = None  # None: the prediction log of `environment`
    environment: str = "production"
    window_days: float | None = None  # a prediction log at a URL: its parts of the last days
    min_rows: int = 500
    drift_share: float = 0.25
    weighting: str = "importance"  # or equal: every feature counts the same
    importance: str = "production"  # whose card weighs the columns, or a card.json file
    method: str = "jensenshannon"
    threshold: float = 0.1
    false_alarm_rate: float = 0.01
    numeric_bins: int | None = 20
    sample_rows: int | None = None
    engine: str = "stream"  # or memory: both sides into pandas, every row through Evidently
    columns: dict = field(default_factory=dict)

    def bins(self, name):
        return self.columns.get(name, {}).get("bins", self.numeric_bins)

    def column(self, name, key):
        """A column's method or threshold: its override, else the setting for all."""
        return self.columns.get(name, {}).get(key, getattr(self, key))


def load_settings(params, monitored, args):
    given = params.get("drift") or {}
    unknown = set(given) - set(Settings.__dataclass_fields__)
    if unknown:
        raise CliError(f"params.yaml drift: unknown setting(s) {', '.join(sorted(unknown))}.")
    settings = Settings(**given)
    settings.columns = settings.columns or {}
    for name, override in settings.columns.items():
        if name not in monitored.names or not isinstance(override, dict):
            raise CliError(
                f"params.yaml drift.columns.{name}: give a monitored column ("
                f"{', '.join(monitored.names)}) with a mapping of method, threshold or bins."
            )
        if set(override) - COLUMN_KEYS:
            raise CliError(f"params.yaml drift.columns.{name}: only {sorted(COLUMN_KEYS)} are set.")
    for name in monitored.numeric:
        if settings.bins(name) is not None and not (
            isinstance(settings.bins(name), int) and settings.bins(name) >= 2
        ):
            raise CliError(f"params.yaml drift: the bins of {name} must be null or at least 2.")
    if settings.engine not in ENGINES:
        raise CliError(f"params.yaml drift.engine must be one of: {', '.join(ENGINES)}.")
    if settings.weighting not in WEIGHTINGS:
        raise CliError(f"params.yaml drift.weighting must be one of: {', '.join(WEIGHTINGS)}.")
    if not 0 < settings.drift_share <= 1:
        raise CliError("params.yaml drift.drift_share must be above 0 and at most 1.")
    if not 0.001 <= settings.false_alarm_rate <= 0.2:
        raise CliError("params.yaml drift.false_alarm_rate must be between 0.001 and 0.2.")
    if not _count(settings.min_rows, MIN_WINDOW):
        raise CliError(f"params.yaml drift.min_rows must be a whole number, at least {MIN_WINDOW}.")
    if args.sample_rows is not None:
        settings.sample_rows = args.sample_rows
    rows = settings.sample_rows
    if rows is not None and not _count(rows, 1):
        raise CliError(
            f"--sample-rows (drift.sample_rows) must be a whole number of rows, at least 1, or "
            f"null in params.yaml to compare every row; got {rows!r}."
        )
    return settings


def _count(value, least):
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


# -- preparing the two frames --------------------------------------------------------------------


def sample(frame, rows, seed):
    return frame if rows is None or len(frame) <= rows else frame.sample(n=rows, random_state=seed)


def bin_labels(edges):
    """Category names of the bins, numbered so that they sort in order in the report."""
    cuts = [f"{edge:.6g}" for edge in edges]
    if len(set(cuts)) < len(cuts):
        cuts = [repr(float(edge)) for edge in edges]
    inner = [f"[{low}, {high})" for low, high in zip(cuts, cuts[1:], strict=False)]
    return [
        f"{i:02d} {label}" for i, label in enumerate([f"< {cuts[0]}", *inner, f">= {cuts[-1]}"])
    ]


def quantile_bins(reference, current, bins):
    """Both columns as the reference's quantile bins; values beyond it land in the outer bins."""
    edges = bin_edges(reference.to_numpy(), bins)
    labels = bin_labels(edges)
    return bin_codes(reference, edges, labels), bin_codes(current, edges, labels)


def bin_edges(values, bins):
    """The reference's inner quantile cut points."""
    # np.quantile on sorted values is 3x faster than on unsorted ones (it partitions them
    # once per cut point), and np.sort (vectorised) is faster still; NaN sort last.
    values = np.sort(values)
    values = values[: np.count_nonzero(~np.isnan(values))]
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def bin_codes(series, edges, labels):
    values = series.to_numpy()
    found = np.searchsorted(edges, values, side="right").astype(np.int16)
    found[np.isnan(values)] = -1  # missing stays missing
    return pd.Categorical.from_codes(found, categories=labels)


def same_categories(reference, current):
    union = reference.cat.categories.union(current.cat.categories)
    return reference.cat.set_categories(union), current.cat.set_categories(union)


def prepare(reference, current, monitored, settings):
    """Evidently's input: numeric columns binned (or float32), categoricals sharing categories."""
    ref, cur, compared_as = {}, {}, {}
    for name in monitored.numeric:
        bins = settings.bins(name)
        if bins:
            ref[name], cur[name] = quantile_bins(reference[name], current[name], int(bins))
            compared_as[name] = f"{bins} quantile bins of the reference"
        else:
            ref[name], cur[name] = (frame[name].astype("float32") for frame in (reference, current))
            compared_as[name] = "raw values"
    for name in monitored.text:
        ref[name], cur[name] = same_categories(reference[name], current[name])
        compared_as[name] = "categories"
    return pd.DataFrame(ref), pd.DataFrame(cur), compared_as


# -- Evidently ----------------------------------------------------------------------------------


def compare(ref, cur, sensitive, settings, seed):
    """Evidently's verdict on the prepared frames, each column at its window-aware threshold:
    (snapshot, per-column results, dataset result)."""
    methods = {name: settings.column(name, "method") for name in ref.columns}
    configured = {name: settings.column(name, "threshold") for name in ref.columns}
    found = window_thresholds(ref, cur, methods, configured, settings.false_alarm_rate, seed)
    thresholds = {name: used for name, (used, _) in found.items()}
    snapshot = run_evidently(ref, cur, settings, methods, thresholds, sensitive)
    per_column, dataset = read_snapshot(snapshot)
    for name, result in per_column.items():
        result.update(configured_threshold=configured[name], noise_threshold=found[name][1])
    return snapshot, per_column, dataset


def run_evidently(ref, cur, settings, methods, thresholds, sensitive):
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    numeric = [name for name in ref.columns if pd.api.types.is_float_dtype(ref[name])]
    categorical = [name for name in ref.columns if name not in numeric]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    features = [name for name in ref.columns if name not in sensitive]
    preset = DataDriftPreset(
        columns=features,
        drift_share=settings.drift_share,
        method=settings.method,
        threshold=settings.threshold,
        per_column_method={name: methods[name] for name in features},
        per_column_threshold={name: thresholds[name] for name in features},
    )  # the dataset verdict counts the features only; sensitive columns get their own tests
    groups = [ValueDrift(column=n, method=methods[n], threshold=thresholds[n]) for n in sensitive]
    try:
        return Report([preset, *groups], include_tests=True).run(
            Dataset.from_pandas(cur, definition), Dataset.from_pandas(ref, definition)
        )  # Evidently 0.7 takes the current data first
    except (ValueError, KeyError) as error:
        raise CliError(
            f"Evidently rejected the drift settings in params.yaml (drift): {error}. A method "
            "must suit the column: numeric columns compared on bins count as categorical."
        ) from error


def read_snapshot(snapshot):
    """Per-column score, method, threshold and verdict, and the dataset verdict, from Evidently."""
    found = snapshot.dict()
    status = {test["metric_config"]["metric_id"]: test["status"] for test in found["tests"]}
    per_column, dataset = {}, None
    for metric in found["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            per_column[config["column"]] = {
                "score": float(metric["value"]),
                "method": config["method"],
                "threshold": float(config["threshold"]),
                "drifted": status.get(metric["id"]) == "FAIL",
            }
        elif config["type"].endswith(":DriftedColumnsCount"):
            dataset = {
                "drifted_columns": int(metric["value"]["count"]),
                "share": float(metric["value"]["share"]),
                "drift_detected": status.get(metric["id"]) == "FAIL",
            }
    return per_column, dataset


# -- what moved ----------------------------------------------------------------------------------


def describe_shift(reference, current):
    """One phrase on how a column moved, computed from the values (not the bins)."""
    if isinstance(reference.dtype, pd.CategoricalDtype):
        before = reference.value_counts(normalize=True)
        after = current.value_counts(normalize=True)
        change = after.sub(before, fill_value=0)
        value = change.abs().idxmax()
        return f"{value}: {before.get(value, 0):.1%} -> {after.get(value, 0):.1%} of rows"
    return (
        f"mean {reference.mean():.4g} -> {current.mean():.4g}, "
        f"median {reference.median():.4g} -> {current.median():.4g}"
    )


def severity(result):
    """How far past its threshold a column is: distances above it, p-values below it."""
    score, threshold = max(result["score"], 1e-12), max(result["threshold"], 1e-12)
    return max(score / threshold, threshold / score)


# -- the verb ------------------------------------------------------------------------------------


def load_inputs(params, monitored, settings, args, reader=read_table):
    """(reference, current): the current data first, so a broken file fails before the registry."""
    path, since = args.current or settings.current, None
    if not path:
        path = log_path(params["serve"]["prediction_log"], settings.environment)
        days = settings.window_days  # a URL log: the parts of the last days
        since = None if days is None else datetime.now(UTC) - timedelta(days=days)
    current = reader(path, monitored, "current", since=since)
    if current.rows < settings.min_rows:
        raise CliError(
            f"The current data {current.source} has {current.rows} rows, fewer than "
            f"drift.min_rows ({settings.min_rows}): wait for more traffic, or lower "
            f"drift.min_rows in params.yaml (at least {MIN_WINDOW}; smaller windows get higher "
            "thresholds, so they catch only larger shifts)."
        )
    reference = reference_table(settings.reference, params, monitored, args.reference, reader)
    return reference, current


def in_memory(params, monitored, settings, args, seed):
    """drift.engine: memory: both sides as pandas frames, every row through Evidently."""
    from .drift_stream import Streamed

    reference, current = load_inputs(params, monitored, settings, args)
    ref_raw, cur_raw = (sample(t.frame, settings.sample_rows, seed) for t in (reference, current))
    sensitive = monitored.sensitive
    absent = [n for n in sensitive if ref_raw[n].isna().all() or cur_raw[n].isna().all()]
    compared = monitored.without(absent)
    ref, cur, compared_as = prepare(ref_raw, cur_raw, compared, settings)
    snapshot, per_column, dataset = compare(ref, cur, compared.sensitive, settings, seed)
    for name, found in per_column.items():
        found.update(
            kind="numeric" if name in compared.numeric else "categorical",
            sensitive=name in compared.sensitive,
            compared_as=compared_as[name],  # what moved: only where it matters (medians cost)
            shift=describe_shift(ref_raw[name], cur_raw[name]) if found["drifted"] else None,
        )
    notes, report = _contract_notes(current.frame, compared), {"evidently": "all rows"}
    found = Streamed(per_column, dataset, snapshot, compared, absent, len(cur), notes, report)
    return reference, current, found


def streamed(params, monitored, settings, args, seed, folder):
    """drift.engine: stream: both sides spooled under `folder`, compared a column at a time.
    Evidently's import (seconds) runs while the sides are read and counted: in the child the
    CLI started, else from once the current window's size is known (drift_report)."""
    from .drift_report import reporter
    from .drift_stream import compare_streamed, evidently_scores

    started = []

    def reader(path, columns, role, **options):
        table = spool_table(path, columns, role, folder=f"{folder}/{role}", **options)
        if role == "current":  # read first (load_inputs)
            started.append(reporter(table.rows, here=evidently_scores(monitored, settings)))
        return table

    try:
        reference, current = load_inputs(params, monitored, settings, args, reader)
        found = compare_streamed(reference, current, monitored, settings, seed, started[0])
    except BaseException:
        for made in started:
            made.close()
        raise
    return reference, current, found


def drift(args):
    started = time.monotonic()
    for stale in ("drift.json", "drift.md", "drift.html"):
        (REPORTS_DIR / stale).unlink(missing_ok=True)  # never leave an old verdict behind
    params = load_params()
    spec = columns(params)
    monitored = Monitored(spec.numeric, spec.categorical, spec.logged_only)
    settings = load_settings(params, monitored, args)
    seed = params["data"]["seed"]
    if settings.engine == "memory":
        stop_early()  # a child the CLI started: this engine's report is made here, on every row
        reference, current, found = in_memory(params, monitored, settings, args, seed)
    else:
        from .drift_stream import remove, spool_folder

        folder = spool_folder()
        try:
            reference, current, found = streamed(params, monitored, settings, args, seed, folder)
        finally:
            remove(folder)
    per_column, dataset, compared = found.per_column, found.dataset, found.compared
    REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    found.snapshot.save_html(str(HTML_FILE))
    features = [name for name in per_column if name not in compared.sensitive]
    dataset = weigh(dataset, per_column, features, settings, params)
    result = {
        "drift_detected": dataset["drift_detected"],
        "exit_code": DRIFT_EXIT if dataset["drift_detected"] else 0,
        "dataset": {**dataset, "columns": len(features), "drift_share": settings.drift_share},
        "drifted_columns": [name for name in features if per_column[name]["drifted"]],
        "sensitive": {
            "compared": compared.sensitive,
            "drifted": [name for name in compared.sensitive if per_column[name]["drifted"]],
            "not_compared": found.absent,
        },
        "columns": per_column,
        "window": {
            "rows": found.rows,
            "false_alarm_rate": settings.false_alarm_rate,
            "raised_thresholds": [
                name for name, r in per_column.items() if r["threshold"] > r["configured_threshold"]
            ],
        },
        "reference": reference.describe(),
        "current": current.describe(),
        "sampling": sampling(settings, reference, current, seed),
        "contract": found.contract,
        "engine": settings.engine,
        "report": found.report,
        "html": str(HTML_FILE),
        "seconds": round(time.monotonic() - started, 1),
    }
    write_report("drift", result, markdown(result, args.html_link))
    print(summary_line(result))
    return result["exit_code"]


def weigh(dataset, per_column, features, settings, params):
    """The dataset verdict: the drifted features' share of the importance weights (each column's
    weight goes into its result), or Evidently's count of drifted columns when equal."""
    weights, source = column_weights(settings, params, features)
    found = {**dataset, "weighting": "importance" if weights else "equal", "weights_from": source}
    if weights is None:
        return found
    for name in features:
        per_column[name]["weight"] = weights[name]
    share = sum(weights[name] for name in features if per_column[name]["drifted"])
    return {**found, "weighted_share": share, "drift_detected": share >= settings.drift_share}


def sampling(settings, reference, current, seed):
    rows = settings.sample_rows
    used = rows is not None and max(reference.rows, current.rows) > rows
    return {"used": used, "sample_rows": rows, "seed": seed if used else None}


def _contract_notes(frame, monitored):
    try:
        contract = load_schema()
    except CliError:
        return {}  # no contract yet (custom data before `make schema`): nothing to compare with
    return contract_notes(frame, contract, monitored.names)


def summary_line(result):
    data = result["dataset"]
    verdict = "DRIFT detected" if result["drift_detected"] else "no drift"
    drifted = ", ".join(result["drifted_columns"]) or "none"
    groups = result["sensitive"]["drifted"]
    groups = f"; sensitive column(s) drifted: {', '.join(groups)}" if groups else ""
    return (
        f"{verdict}: {data['drifted_columns']} of {data['columns']} columns drifted "
        f"({drifted}){_weighted(data)}{groups}; report in {result['html']}."
    )


def _weighted(data):
    if data["weighting"] != "importance":
        return ""
    return f", {data['weighted_share']:.0%} of the model's importance"


def _name(name, result):
    return f"`{name}` (sensitive)" if result["sensitive"] else f"`{name}`"


def markdown(result, html_link):
    data, ref, cur = result["dataset"], result["reference"], result["current"]
    verdict = "drift detected" if result["drift_detected"] else "no drift"
    weighted = data["weighting"] == "importance"
    lines = [
        f"## Data drift: {verdict}",
        "",
        f"{data['drifted_columns']} of {data['columns']} columns drifted ({data['share']:.0%})"
        + (
            f", holding {data['weighted_share']:.0%} of the model's permutation importance"
            if weighted
            else ""
        )
        + f"; dataset drift from {data['drift_share']:.0%} of the "
        + ("importance." if weighted else "columns."),
        "",
        f"- Weighting: {data['weighting']} ({data['weights_from']}).",
        f"- Reference: `{ref['source']}`, {ref['rows']} rows ({ref.get('chosen_by', '')}).",
        f"- Current: `{cur['source']}`, {cur['rows']} rows"
        + (f" from {len(cur['files'])} files." if len(cur["files"]) > 1 else "."),
        "- Sampling: "
        + (
            f"{result['sampling']['sample_rows']} random rows per side (seed "
            f"{result['sampling']['seed']})."
            if result["sampling"]["used"]
            else "none, every row compared."
        ),
        "",
    ]
    drifted = [(n, r) for n, r in result["columns"].items() if r["drifted"]]
    drifted.sort(key=lambda item: -severity(item[1]))
    if drifted:
        rows = [(_name(n, r), r["method"], f"{r['score']:.3f}", f"{r['threshold']:.3g}",
                 "-" if "weight" not in r else f"{r['weight']:.1%}", r["compared_as"])
                for n, r in drifted]  # fmt: skip
        headers = ["drifted column", "method", "score", "threshold", "weight", "compared as"]
        lines += [markdown_table(headers, rows), "", "### Top shifts", ""]
        lines += [f"- {_name(name, r)}: {r['shift']}" for name, r in drifted[:TOP_SHIFTS]]
        lines.append("")
    lines += _sensitive_lines(result) + _window_lines(result)
    if result["contract"]:
        notes = "; ".join(
            f"`{name}` " + ", ".join(f"{count} {check}" for check, count in found.items())
            for name, found in result["contract"].items()
        )
        lines += [f"Outside the data contract (schema.yaml): {notes}.", ""]
    report = result["report"]
    if report["evidently"] == "all rows":
        lines.append(f"Full Evidently report: [drift.html]({html_link})")
    else:
        lines.append(
            f"Evidently report: [drift.html]({html_link}), drawn from a seeded sample of "
            f"{report['rows_per_side']:,} rows per side (seed {report['seed']}); the verdicts "
            "above are computed on every row."
        )
    return "\n".join(lines)


def _sensitive_lines(result):
    found, lines = result["sensitive"], []
    if found["compared"]:
        verdicts = ", ".join(
            f"`{name}` {'DRIFTED' if result['columns'][name]['drifted'] else 'no drift'} "
            f"({result['columns'][name]['score']:.3f})"
            for name in found["compared"]
        )
        lines.append(
            f"Sensitive columns (fairness; not counted in the verdict): {verdicts}. A shift in "
            "a group's share changes the fairness gaps: compare them with the model card's."
        )
    if found["not_compared"]:
        lines.append(
            f"Sensitive column(s) {', '.join(found['not_compared'])} not compared: one side "
            "does not carry them (send them with requests to monitor them)."
        )
    return [*lines, ""] if lines else []


def _window_lines(result):
    window = result["window"]
    if not window["raised_thresholds"]:
        return []
    return [
        f"Window of {window['rows']} rows: the thresholds of {len(window['raised_thresholds'])} "
        "column(s) are raised to what chance alone reaches at this size, so a column that did "
        f"not change is flagged at most {window['false_alarm_rate']:.1%} of the time "
        "(drift.false_alarm_rate); only larger shifts count.",
        "",
    ]


def add_arguments(parser):
    parser.add_argument(
        "--current",
        help="current data, .csv/.parquet/.jsonl (default: drift.current, the prediction log)",
    )
    parser.add_argument(
        "--reference",
        help="reference data file (default: drift.reference, the production model's data)",
    )
    parser.add_argument(
        "--sample-rows",
        type=int,
        help="compare a seeded random sample of this many rows per side (drift.sample_rows)",
    )
    parser.add_argument(
        "--html-link",
        default="drift.html",
        help="where drift.md links the HTML report (CI: the run page with its artifacts)",
    )
    parser.epilog = "Exit codes: 0 no drift, 3 drift detected, 1 error."


run = drift
