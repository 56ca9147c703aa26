"""`shadow-report`: the served version against its shadow, on the same live requests.

The environment's prediction ids log and its shadow's (`<environment>-shadow`, written by
serving/shadow.py) over the last `monitor.window_days` days are joined by prediction_id. The
report gives the agreement rate (same class; a value within 1%), the score (or value)
differences, both versions' predict times, the class shares, and, for the requests that
have an outcome in the store, both versions' metrics on those same requests (the table of
training/compare.py). reports/shadow-<environment>.{json,md}; `promote` puts the Markdown
into the promotion pull request when the shadow version is the one being promoted.
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from ..config import CliError, columns, load_params
from ..data.loading import labels
from ..reports import markdown_table, write_report
from ..serving.prediction_log import log_path
from ..serving.shadow import SHADOW_SUFFIX, agreeing
from ..training.compare import compare_metrics, metrics_table
from ..training.task import for_params
from .monitor import labelled_window
from .outcome_store import read_ids_log, read_store

SIDES = ("served", "shadow")


def shadow_report(args):
    params = load_params()
    spec = columns(params)
    task = for_params(params, spec)
    environment = args.environment or params["monitor"]["environment"]
    days = args.days or params["monitor"]["window_days"]
    since = datetime.now(UTC) - timedelta(days=days)
    setting = params["serve"]["prediction_ids_log"]
    paths = {side: log_path(setting, environment + suffix, "prediction_ids_log")
             for side, suffix in zip(SIDES, ("", SHADOW_SUFFIX), strict=True)}  # fmt: skip
    pairs = paired(read_ids_log(paths["served"], since), read_ids_log(paths["shadow"], since),
                   since, paths)  # fmt: skip
    result = compared(task, pairs)
    result.update(environment=environment, days=days, logs={k: str(v) for k, v in paths.items()})
    outcomes = read_store(args.outcomes or params["outcomes"]["store"])
    result["outcomes"] = on_outcomes(task, spec, pairs, outcomes, since)
    result["summary"] = summary(result)
    write_report(f"shadow-{environment}", result, markdown(result))
    print(result["summary"])


def paired(served, shadow, since, paths):
    """One row per request both versions answered in the window: the served side's columns
    and the shadow's, suffixed `_shadow`."""
    recent = [frame[frame["ts"] >= pd.Timestamp(since)].drop_duplicates("prediction_id",
                                                                         keep="last")
              for frame in (served, shadow)]  # fmt: skip
    pairs = recent[0].merge(recent[1], on="prediction_id", suffixes=("", "_shadow"))
    if pairs.empty:
        raise CliError(
            f"No request of the last window is in both {paths['served']} "
            f"({len(recent[0])} rows) and {paths['shadow']} ({len(recent[1])} rows): serve "
            "with a shadow (serve.shadow_alias) and send real traffic (synthetic traffic is "
            "not logged), or widen monitor.window_days."
        )
    return pairs


def compared(task, pairs):
    numeric = task.name == "regression"
    same = agreeing(pairs["prediction"], pairs["prediction_shadow"], numeric)
    result = {
        "requests": len(pairs),
        "versions": {
            side: _counts(pairs[f"model_version{suffix}"])
            for side, suffix in zip(SIDES, ("", "_shadow"), strict=True)
        },
        "agreement": float(np.mean(same)),
        # both times are in the shadow's log: its own, and the served call's it was handed
        "predict_ms": {
            "served": _quantiles(pairs["served_predict_ms"]),
            "shadow": _quantiles(pairs["predict_ms"]),
        },
    }
    score = "prediction" if numeric else "score"
    if score in pairs and f"{score}_shadow" in pairs:
        delta = pairs[f"{score}_shadow"].astype(float) - pairs[score].astype(float)
        spread = {f"abs_{k}": v for k, v in _quantiles(delta.abs()).items()}
        result["score_delta"] = {"what": "value" if numeric else "score",
                                 "mean": float(delta.mean()), **spread}  # fmt: skip
    if not numeric:
        result["class_shares"] = {
            side: {str(k): float(v) for k, v in
                   pairs[column].astype(str).value_counts(normalize=True).sort_index().items()}
            for side, column in zip(SIDES, ("prediction", "prediction_shadow"), strict=True)
        }  # fmt: skip
    return result


def on_outcomes(task, spec, pairs, outcomes, since):
    """Both versions' metrics on the paired requests that have an outcome; None without."""
    if outcomes.empty:
        return None
    window = labelled_window(pairs, outcomes, spec, since)
    labelled = window[window["labelled"]]
    if labelled.empty:
        return None
    y_true = labels(labelled, spec)
    metrics = {
        side: task.live_metrics(y_true, labelled[f"prediction{suffix}"],
                                labelled.get(f"score{suffix}"))
        for side, suffix in zip(SIDES, ("", "_shadow"), strict=True)
    }  # fmt: skip
    table = compare_metrics(task, metrics["served"], metrics["shadow"], {})
    return {"rows": len(labelled), "metrics": metrics, "rows_table": table}


def _counts(series):
    return {str(k): int(v) for k, v in series.astype(str).value_counts().items()}


def _quantiles(series):
    values = pd.to_numeric(series, errors="coerce").dropna()
    if values.empty:
        return {}
    return {f"p{q}": float(values.quantile(q / 100)) for q in (50, 95, 99)}


def _version(result, side):
    return ", ".join(result["versions"][side])


def summary(result):
    served, shadow = _version(result, "served"), _version(result, "shadow")
    text = (f"Shadow version {shadow} agreed with served version {served} on "
            f"{result['agreement']:.1%} of {result['requests']} requests")  # fmt: skip
    if found := result["outcomes"]:
        rows = {r["metric"]: r for r in found["rows_table"]}
        first = next(iter(rows.values()))
        text += (f"; on the {found['rows']} with an outcome, {first['metric']} "
                 f"{first['old']:.4f} served against {first['new']:.4f} shadow")  # fmt: skip
    return text + f" (reports/shadow-{result['environment']}.md)."


def markdown(result):
    served, shadow = _version(result, "served"), _version(result, "shadow")
    served_name, shadow_name = f"served v{served}", f"shadow v{shadow}"
    parts = [f"## Shadow: version {shadow} beside version {served} ({result['environment']})",
             result["summary"]]  # fmt: skip
    ms = result["predict_ms"]
    rows = [("agreement", f"{result['agreement']:.2%}", "")]
    rows += [(f"predict time {q} (ms, per predict call)", f"{ms['served'].get(q, 0):.1f}",
              f"{ms['shadow'].get(q, 0):.1f}") for q in ("p50", "p95", "p99")]  # fmt: skip
    if delta := result.get("score_delta"):
        what = delta["what"]
        rows += [(f"{what} difference, mean (shadow - served)", "", f"{delta['mean']:+.4f}")]
        rows += [(f"|{what} difference| {q}", "", f"{delta[f'abs_{q}']:.4f}")
                 for q in ("p50", "p95", "p99") if f"abs_{q}" in delta]  # fmt: skip
    for label in sorted(set().union(*result.get("class_shares", {}).values())):
        shares = result["class_shares"]
        rows.append((f"share of `{label}`", f"{shares['served'].get(label, 0):.2%}",
                     f"{shares['shadow'].get(label, 0):.2%}"))  # fmt: skip
    parts.append(markdown_table(["on the same requests", served_name, shadow_name], rows))
    if found := result["outcomes"]:
        parts += [f"### Metrics on the {found['rows']} requests with an outcome",
                  metrics_table(found["rows_table"], served_name, shadow_name)]  # fmt: skip
    else:
        parts.append("No outcome is stored for these requests yet: metrics once there are.")
    return "\n\n".join(parts)


def add_arguments(parser):
    parser.add_argument("--environment", help="whose server and shadow (default: "
                        "monitor.environment)")  # fmt: skip
    parser.add_argument("--days", type=float, help="window (default: monitor.window_days)")
    parser.add_argument("--outcomes", help="outcome store (default: outcomes.store)")


run = shadow_report
