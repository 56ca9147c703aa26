"""`drift` in bounded memory (drift.engine: stream, the default): the verdicts of the in-memory
comparison, one column at a time.

Both sides are spooled to Parquet parts in record batches (drift_inputs.spool_table; Parquet
inputs are read in place), then each column is read back alone, binned on the reference's
quantiles and counted (one comparison per cut, no code per row). A distance on
categories or bins (jensenshannon, psi, kl_div, hellinger) is computed from those counts with
the formulas of thresholds.py, which tests/unit/test_drift.py checks against Evidently's own;
any other method (p-value tests, distances on raw values) is Evidently's ValueDrift on that one
column. The dataset verdict is Evidently's rule: drift when the drifted features' share reaches
drift.drift_share. So memory holds a column of each side (WORKERS at a time), not the table:
10M rows cost about 80 MiB per numeric column. The random draws of the window thresholds are
made afterwards, column by column in the in-memory path's order, so they are the same.

Evidently still writes drift.html, from the prepared columns of up to REPORT_ROWS rows per side
(a seeded sample of the same rows in every column when the data is larger); drift.json and
drift.md say which, and their verdicts are always those on every row. For a large window a
child process imports Evidently and makes that report while this one reads (drift_report).
"""

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import CliError, load_schema
from .drift import (
    bin_codes,
    bin_edges,
    bin_labels,
    describe_shift,
    prepare,
    read_snapshot,
)
from .drift_inputs import Monitored, contract_notes
from .thresholds import DISTANCES, counts, noise_threshold

REPORT_ROWS = 50_000  # rows per side Evidently's HTML report is drawn from
WORKERS = 2  # columns read at a time: numpy's sorting and binning release the GIL; each
# worker holds one column of both sides, so more would multiply the memory too


@dataclass
class Streamed:
    """What either engine gives drift(): per-column results, the dataset verdict, the report's
    snapshot and how it was drawn, the columns compared."""

    per_column: dict
    dataset: dict
    snapshot: object
    compared: Monitored
    absent: list
    rows: int
    contract: dict
    report: dict


def spool_folder():
    return tempfile.mkdtemp(prefix="drift-")


def remove(folder):
    shutil.rmtree(folder, ignore_errors=True)


def positions(rows, wanted, seed):
    """The rows `frame.sample(n=wanted, random_state=seed)` keeps (in its order), or None for
    all: the in-memory path samples that way, so both compare the same rows."""
    if wanted is None or rows <= wanted:
        return None
    return pd.Series(np.arange(rows)).sample(n=wanted, random_state=seed).to_numpy()


def _taken(series, kept):
    return series if kept is None else series.iloc[kept].reset_index(drop=True)


def compare_streamed(reference, current, monitored, settings, seed, reporter):
    """The comparison of drift() on spooled sides (drift_inputs.Spooled); Evidently's report
    made by `reporter` (drift_report)."""
    ref_kept = positions(reference.rows, settings.sample_rows, seed)
    cur_kept = positions(current.rows, settings.sample_rows, seed)
    absent = [
        name for name in monitored.sensitive
        if _taken(reference.column(name), ref_kept).isna().all()
        or _taken(current.column(name), cur_kept).isna().all()
    ]  # fmt: skip
    compared = monitored.without(absent)
    ref_rows = reference.rows if ref_kept is None else len(ref_kept)
    cur_rows = current.rows if cur_kept is None else len(cur_kept)
    ref_shown, cur_shown = (positions(n, REPORT_ROWS, seed) for n in (ref_rows, cur_rows))
    try:
        contract = load_schema()
    except CliError:
        contract = None  # no contract yet (custom data before `make schema`)
    sides = (reference, current, ref_kept, cur_kept, ref_shown, cur_shown)

    def measure(name):
        return _measure(name, compared, sides, settings, contract)

    with ThreadPoolExecutor(WORKERS) as pool:
        measured = dict(zip(compared.names, pool.map(measure, compared.names), strict=True))
    rng = np.random.default_rng(seed)  # drawn column by column in the in-memory path's order
    per_column, notes = {}, {}
    for name, found in measured.items():
        notes |= found.pop("notes")
        per_column[name] = _verdict(name, found, settings, rng)
        if per_column[name]["drifted"]:  # what moved, from the values: read them again
            ref_raw = _taken(reference.column(name), ref_kept)
            cur_raw = _taken(current.column(name), cur_kept)
            per_column[name]["shift"] = describe_shift(ref_raw, cur_raw)
    shown = [{name: found[key] for name, found in measured.items()} for key in ("ref", "cur")]
    features = [name for name in compared.names if name not in compared.sensitive]
    drifted = sum(per_column[name]["drifted"] for name in features)
    share = drifted / len(features)
    dataset = {
        "drifted_columns": drifted,
        "share": share,
        "drift_detected": share >= settings.drift_share,  # Evidently's DriftedColumnsCount test
    }
    snapshot = _report(shown, per_column, compared.sensitive, settings, reporter)
    report = {
        "evidently": "all rows" if ref_shown is None and cur_shown is None else "sample",
        "rows_per_side": REPORT_ROWS,
        "seed": seed,
    }
    return Streamed(per_column, dataset, snapshot, compared, absent, cur_rows, notes, report)


def _measure(name, compared, sides, settings, contract):
    """What the verdict needs of one column, read alone: its counts per category or bin (or
    the prepared values, for methods Evidently computes), the rows the report shows, and the
    current values outside the contract."""
    reference, current, ref_kept, cur_kept, ref_shown, cur_shown = sides
    ref_raw = _taken(reference.column(name), ref_kept)
    cur_full = current.column(name)
    notes = {} if contract is None else contract_notes(cur_full.to_frame(), contract, [name])
    cur_raw = _taken(cur_full, cur_kept)
    del cur_full
    found = {"notes": notes, "rows": len(cur_raw),
             "kind": "numeric" if name in compared.numeric else "categorical",
             "sensitive": name in compared.sensitive}  # fmt: skip
    method, bins = settings.column(name, "method"), settings.bins(name)
    if name in compared.numeric and bins and method in DISTANCES:  # no code per row: counts
        edges = bin_edges(ref_raw.to_numpy(), int(bins))
        labels = bin_labels(edges)
        return {**found, "compared_as": f"{bins} quantile bins of the reference",
                "counts": (bin_counts(ref_raw, edges), bin_counts(cur_raw, edges)),
                "ref": bin_codes(_taken(ref_raw, ref_shown), edges, labels),
                "cur": bin_codes(_taken(cur_raw, cur_shown), edges, labels)}  # fmt: skip
    one = Monitored([name], []) if name in compared.numeric else Monitored([], [name])
    ref, cur, compared_as = prepare(ref_raw.to_frame(), cur_raw.to_frame(), one, settings)
    ref, cur = ref[name], cur[name]
    found.update(compared_as=compared_as[name], ref=_taken(ref, ref_shown),
                 cur=_taken(cur, cur_shown))  # fmt: skip
    if _counted(method, ref):
        return {**found, "counts": (counts(ref), counts(cur))}
    return {**found, "values": (ref, cur)}


def bin_counts(series, edges):
    """counts() of the column's bins, without a code per row: one vectorised float32 comparison
    per cut point. Each cut is rounded up to a float32, which a float32 value reaches exactly
    when it reaches the float64 cut (the in-memory searchsorted compares in float64)."""
    cuts = edges.astype(np.float32)
    cuts = np.where(cuts < edges, np.nextafter(cuts, np.float32(np.inf)), cuts)
    values = series.to_numpy()
    present = int(np.count_nonzero(~np.isnan(values)))
    above = [int(np.count_nonzero(values >= cut)) for cut in cuts]
    return np.array([len(values) - present, *-np.diff([present, *above]), above[-1]])


def _counted(method, prepared):
    """Whether a column's distance is computed here from counts (else Evidently computes it)."""
    return method in DISTANCES and isinstance(prepared.dtype, pd.CategoricalDtype)


def evidently_scores(monitored, settings):
    """Whether Evidently scores a column itself (a method other than the distances counted here,
    or a numeric column compared on raw values), so this process needs Evidently too."""
    return any(
        settings.column(name, "method") not in DISTANCES
        or (name in monitored.numeric and not settings.bins(name))
        for name in monitored.names
    )


def _verdict(name, found, settings, rng):
    """One column's score, threshold and verdict, as compare() in drift.py finds them."""
    method, configured = settings.column(name, "method"), settings.column(name, "threshold")
    if "counts" in found:
        ref_counts, cur_counts = found["counts"]
        noise = noise_threshold(method, ref_counts, found["rows"], settings.false_alarm_rate, rng)
        threshold = max(configured, noise)
        score = float(DISTANCES[method](ref_counts[None, :], cur_counts[None, :])[0])
        result = {"score": score, "method": method, "threshold": float(threshold),
                  "drifted": score >= threshold}  # fmt: skip  # distances drift at or above
    else:
        noise = None
        result = read_snapshot(_evidently_column(name, *found["values"], method, configured))[0]
        result = result[name]
    return {**result, "configured_threshold": configured, "noise_threshold": noise,
            "kind": found["kind"], "sensitive": found["sensitive"],
            "compared_as": found["compared_as"], "shift": None}  # fmt: skip


def _evidently_column(name, ref, cur, method, threshold):
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    kind = "numerical_columns" if pd.api.types.is_float_dtype(ref) else "categorical_columns"
    definition = DataDefinition(**{kind: [name]})
    try:
        return Report([ValueDrift(column=name, method=method, threshold=threshold)],
                      include_tests=True).run(
            Dataset.from_pandas(cur.to_frame(), definition),
            Dataset.from_pandas(ref.to_frame(), definition),
        )  # fmt: skip
    except (ValueError, KeyError) as error:
        raise CliError(
            f"Evidently rejected the drift settings in params.yaml (drift): {error}. A method "
            "must suit the column: numeric columns compared on bins count as categorical."
        ) from error


def _report(shown, per_column, sensitive, settings, reporter):
    """Evidently's report on the shown rows, each column at the threshold used for the verdict."""
    ref, cur = (pd.DataFrame(side) for side in shown)
    methods = {name: result["method"] for name, result in per_column.items()}
    thresholds = {name: result["threshold"] for name, result in per_column.items()}
    return reporter.report(ref, cur, settings, methods, thresholds, sensitive)
