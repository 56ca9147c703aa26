"""`compare`: the challenger against the champion, the version behind @production.

Both score the same rows: the challenger's test split (its training data, split as
`data.test_size` and `data.seed` say). The challenger is refused (exit 5) when one of its
metrics is worse than the champion's by more than `gates.max_regression[metric]`, or when it
breaks a fairness gate the champion passes. With no champion yet it passes and says so.

The challenger is the model `make pipeline` just built (models/model.joblib, on data.path), or
a registered version (`--challenger 7`, found with its data through its lineage tags).
`promote` runs the same check before it pins a version; `--override-reason` there promotes a
refused challenger anyway and keeps the reason as a registry tag. `compare_metrics` is the one
comparison of two metric sets, used as well by the live performance check (`monitor`).
"""

from dataclasses import dataclass

from ..config import MODEL_FILE, CliError, columns, load_params, load_schema
from ..data.loading import labels, read_csv, split
from ..data.training_data import locate_training_data, production_version
from ..reports import markdown_table, write_report
from .task import for_params

EXIT_REFUSED = 5
REFUSED = "refused"


@dataclass
class Contender:
    """One side of the comparison: its label, the fitted pipeline and its version (or None)."""

    label: str
    model: object
    version: str | None = None


def compare(args):
    params = load_params()
    result = champion_challenger(params, args.challenger, args.champion, args.live_rows)
    write_report("compare", result, markdown(result))
    print(result["summary"])
    return EXIT_REFUSED if result["verdict"] == REFUSED else 0


def champion_challenger(params, challenger=None, champion=None, live_rows=None):
    """The comparison result of a challenger (None: the workspace model; else a version) and
    the champion (None: the version behind @production); with `live_rows` (the labelled live
    rows `monitor` writes, reports/monitor-rows.parquet), on those rows as well."""
    spec = columns(params)
    task, name = for_params(params, spec), params["registry"]["model_name"]
    champion_version = champion or _production(name)
    if champion_version is not None and str(champion_version) == str(challenger):
        return _no_contest(f"The challenger is version {challenger}, the champion itself.")
    new, data_path = _challenger(params, name, challenger)
    if champion_version is None:
        return _no_contest(
            f"No champion yet: no version of {name} has the alias production, so the "
            f"{new.label} passes without a comparison."
        )
    old = Contender(f"champion v{champion_version}", load_version(name, champion_version,
                    "the champion"), str(champion_version))  # fmt: skip
    frame, y_true, y_train = holdout(params, spec, data_path)
    scored = {side.label: score(task, side.model, frame, y_true, y_train) for side in (old, new)}
    rows = compare_metrics(task, scored[old.label]["metrics"], scored[new.label]["metrics"],
                           params["gates"].get("max_regression") or {})  # fmt: skip
    fairness = compare_fairness(task, scored[old.label]["fairness"],
                                scored[new.label]["fairness"], params["gates"])  # fmt: skip
    allowed = params["gates"].get("max_regression") or {}
    live = _live(task, spec, (old, new), live_rows, y_train, allowed)
    worse = [r for r in [*rows, *fairness, *live["metrics"]] if r["refuses"]]
    verdict = REFUSED if worse else "passed"
    return {
        "live": live,
        "verdict": verdict,
        "champion": old.label,
        "challenger": new.label,
        "rows_scored": len(frame),
        "data": str(data_path),
        "metrics": rows,
        "fairness": fairness,
        "summary": _summary(verdict, old.label, new.label, worse, len(frame)),
    }


def _no_contest(summary):
    return {"verdict": "no champion" if "No champion" in summary else "same version",
            "summary": summary, "metrics": [], "fairness": [], "live": _NO_LIVE}  # fmt: skip


_NO_LIVE = {"rows": 0, "metrics": []}


def _live(task, spec, sides, path, y_train, allowed):
    """Both sides' metrics on the labelled live rows, when a file of them is given."""
    if not path:
        return _NO_LIVE
    import pandas as pd

    try:
        rows = pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise CliError(
            f"The labelled live rows {path} cannot be read ({error}): run `make monitor`, "
            "which writes them, or leave --live-rows out."
        ) from None
    frame, y_true = rows.drop(columns=[spec.target]), labels(rows, spec)
    old, new = (task.metrics(side.model, frame, y_true, y_train) for side in sides)
    found = compare_metrics(task, old, new, allowed)
    for row in found:
        row["window"] = "live"
    return {"rows": len(rows), "file": str(path), "metrics": found}


def _production(name):
    version = production_version(name)
    return None if version is None else str(version.version)


def _challenger(params, name, challenger):
    """(Contender, its training data file): the workspace model or a registered version."""
    if challenger is None:
        import joblib

        if not MODEL_FILE.exists():
            raise CliError(f"{MODEL_FILE} does not exist: run `make pipeline` to train it.")
        workspace = Contender("challenger (this workspace's model)", joblib.load(MODEL_FILE))
        return workspace, params["data"]["path"]
    tags = _tags(name, challenger)
    path, wanted = tags.get("data_path"), tags.get("data_hash")
    if not path or not wanted:
        raise CliError(
            f"{name} version {challenger} has no data_path or data_hash lineage tag, so its test "
            "split is unknown: register versions with `make register`."
        )
    located, _ = locate_training_data(
        path, wanted, tags.get("git_commit", ""), whose=f"{name} version {challenger}",
        instead="promote with --override-reason to skip the comparison",
    )  # fmt: skip
    model = load_version(name, challenger, "the challenger")
    return Contender(f"challenger v{challenger}", model, str(challenger)), located


def _tags(name, version):
    from mlflow.exceptions import MlflowException

    from ..registry import client

    try:
        return client().get_model_version(name, str(version)).tags
    except MlflowException:
        raise CliError(f"{name} version {version} is not in the registry.") from None


def load_version(name, version, role):
    """The fitted pipeline of a registered version; a clear error when its artifacts are gone."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from ..config import tracking_uri

    mlflow.set_tracking_uri(tracking_uri())
    try:
        return mlflow.sklearn.load_model(f"models:/{name}/{version}")
    except (MlflowException, OSError) as error:
        raise CliError(
            f"{role[0].upper()}{role[1:]}, {name} version {version}, cannot be loaded: its model "
            f"artifacts are missing or unreadable ({getattr(error, 'message', error)}). Nothing "
            "was compared or promoted; restore the artifacts, or promote with --override-reason."
        ) from None


def holdout(params, spec, data_path):
    """(features, labels, training labels) of the test split of the data at data_path."""
    train_set, test_set = split(read_csv(data_path, load_schema()), params)
    return test_set.drop(columns=[spec.target]), labels(test_set, spec), labels(train_set, spec)


def score(task, model, frame, y_true, y_train):
    """A model's test metrics and fairness gaps on these rows."""
    return {
        "metrics": task.metrics(model, frame, y_true, y_train),
        "fairness": task.fairness(frame, y_true, task.predicted(model, frame)),
    }


def compare_metrics(task, old, new, allowed):
    """One row per metric of `new`: both values, the change (positive = better), and whether
    it is a regression beyond `allowed[metric]` (a metric with no limit, or no old value, never
    refuses)."""
    rows = []
    for metric, value in new.items():
        before = old.get(metric)
        gain = None if before is None else (value - before) * (-1 if task.lower_wins(metric) else 1)
        limit = allowed.get(metric)
        rows.append({
            "metric": metric, "old": before, "new": value, "gain": gain, "max_regression": limit,
            "refuses": None not in (limit, gain) and gain < -limit,
        })  # fmt: skip
    return rows


def compare_fairness(task, old, new, gates):
    """One row per fairness gate: refused when the new side breaks a gate the old one passes."""
    before = {g.name: g for g in task.fairness_gates(old, gates)}
    rows = []
    for gate in task.fairness_gates(new, gates):
        kept = before.get(gate.name)
        rows.append({
            "gate": gate.name, "old": None if kept is None else kept.value, "new": gate.value,
            "limit": gate.threshold, "key": gate.key,
            "refuses": not gate.passed and (kept is None or kept.passed),
        })  # fmt: skip
    return rows


def _summary(verdict, old, new, worse, rows):
    if verdict != REFUSED:
        return f"The {new} is no worse than the {old} beyond gates.max_regression ({rows} rows)."
    reasons = "; ".join(_reason(r) for r in worse)
    return (
        f"The {new} is refused against the {old} on the same {rows} test rows: {reasons}. "
        "See reports/compare.md."
    )


def _reason(row):
    if "metric" in row:
        where = " on the live window" if row.get("window") == "live" else ""
        return (f"{row['metric']}{where} {row['new']:.4f} against {row['old']:.4f}, worse by "
                f"{-row['gain']:.4f} (params.yaml gates.max_regression.{row['metric']}: "
                f"{row['max_regression']})")  # fmt: skip
    return (f"{row['gate']} = {row['new']:.4f} breaks its limit {row['limit']} (params.yaml "
            f"`{row['key']}`), which the champion passes")  # fmt: skip


def markdown(result, heading="Challenger against champion"):
    parts = [f"## {heading}", result["summary"]]
    if result["metrics"]:
        old, new = result["champion"], result["challenger"]
        parts.append(metrics_table(result["metrics"], old, new))
        rows = [(f"`{r['gate']}`", _number(r["old"]), _number(r["new"]), r["limit"],
                 "**breaks it**" if r["refuses"] else "") for r in result["fairness"]]  # fmt: skip
        if rows:
            parts += ["### Fairness gaps (lower is fairer)",
                      markdown_table(["gate", old, new, "limit", ""], rows)]  # fmt: skip
        if result["live"]["metrics"]:
            parts += [f"### On the labelled live window ({result['live']['rows']} rows)",
                      metrics_table(result["live"]["metrics"], old, new)]  # fmt: skip
    return "\n\n".join(parts)


def metrics_table(rows, old, new):
    """The metric rows of compare_metrics as a Markdown table (old, new, change, verdict)."""
    cells = [
        (f"`{r['metric']}`", _number(r["old"]), _number(r["new"]),
         "-" if r["gain"] is None else f"{r['gain']:+.4f}",
         "-" if r["max_regression"] is None else r["max_regression"],
         "**worse beyond the limit**" if r["refuses"] else "")
        for r in rows
    ]  # fmt: skip
    return markdown_table(["metric", old, new, "gain", "max regression", ""], cells)


def _number(value):
    return "-" if value is None else f"{value:.4f}"


def add_arguments(parser):
    parser.add_argument("--challenger", help="registered version to test (default: the model "
                        "`make pipeline` built in this workspace)")  # fmt: skip
    parser.add_argument("--champion", help="registered version to hold it against (default: "
                        "the version behind the production alias)")  # fmt: skip
    parser.add_argument("--live-rows", help="labelled live rows to score both on as well "
                        "(reports/monitor-rows.parquet, written by `make monitor`)")  # fmt: skip


run = compare
