"""`card`: the model card of the evaluated model, in reports/card/.

One self-contained card.html (plots embedded as PNG, opens offline), card.md (the summary a
pull request comment carries), card.json (for machines: the drift verdict reads the
importance of the production version's card) and each plot as a PNG. The card reads what
`evaluate` wrote (metrics, fairness, gates) and adds the plots of the task (task.py
`card_plots`), the score per sensitive group, and permutation importance on the test split.

Importance is measured on the pipeline's input, the original columns: shuffling a column
shuffles every one-hot feature made from it, so a category column counts once however many
categories it has. `register` logs the folder with the version and tags the version with it.
"""

import base64
import html
import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..config import REPORTS_DIR, CliError, columns, load_params, params_hash
from ..reports import markdown_table, read_report
from . import card_plots
from .compare import compare_metrics, holdout, load_version, metrics_table, score
from .evaluate import load_model
from .task import for_params

CARD_DIR = REPORTS_DIR / "card"
SETTINGS = {"importance_rows": 2000, "importance_repeats": 5, "min_group_rows": 30}
CHECKS = ("invariance[", "directional[")


def card(args):
    del args
    params = load_params()
    spec = columns(params)
    task, model = for_params(params, spec), load_model()
    evaluated = {name: read_report(name) for name in ("metrics", "fairness", "gates")}
    if None in evaluated.values():
        raise CliError(
            "reports/metrics.json, fairness.json or gates.json is missing: run "
            "`make pipeline` (dvc repro), whose evaluate stage writes them."
        )
    frame, y_true, y_train = holdout(params, spec, params["data"]["path"])
    production, versus = versus_production(params, task, frame, y_true, y_train,
                                           evaluated["metrics"])  # fmt: skip
    content, plots = build(task, model, frame, y_true, evaluated, settings(params), production)
    content.update(versus)
    content["data"] = data_summary(params, spec, len(y_train), len(y_true), y_true)
    content["lineage"] = lineage(params)
    write(content, plots)
    print(f"Model card: {CARD_DIR / 'card.html'} ({len(plots)} plots, "
          f"{content['size_bytes'] // 1024} KiB).")  # fmt: skip


def versus_production(params, task, frame, y_true, y_train, metrics):
    """The version behind @production on the same test rows, as champion/challenger scores it
    (compare.py): ((label, pipeline) or None, what the card says about it)."""
    from ..data.training_data import production_version

    name = params["registry"]["model_name"]
    version = production_version(name)
    if version is None:
        return None, {"versus": f"No version of {name} has the production alias yet."}
    label = f"production v{version.version}"
    try:
        model = load_version(name, version.version, "the production version")
    except CliError as error:
        return None, {"versus": f"Not compared with {label}: {error}"}
    old = score(task, model, frame, y_true, y_train)["metrics"]
    rows = compare_metrics(task, old, metrics, params["gates"].get("max_regression") or {})
    table = metrics_table(rows, label, "candidate")
    return (label, model), {
        "versus": f"### Versus {label} (the same {len(frame)} test rows)\n\n{table}",
        "versus_label": label,
        "versus_rows": rows,
    }


def settings(params):
    given = params.get("card") or {}
    if unknown := set(given) - set(SETTINGS):
        raise CliError(f"params.yaml card: unknown setting(s) {', '.join(sorted(unknown))}.")
    found = {**SETTINGS, **given}
    for key, value in found.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise CliError(f"params.yaml card.{key} must be a whole number of at least 1.")
    return found


def build(task, model, frame, y_true, evaluated, chosen, production=None):
    """(card content, {plot name: figure or a sentence why it is undefined}).

    `production`: (label, pipeline) of the version behind @production, drawn beside."""
    sides = [("candidate", model), *([production] if production else [])]  # drawn together
    plots = {name: card_plots.BY_NAME[name](task, sides, frame, y_true)
             for name in task.card_plots}  # fmt: skip
    seed = task.params["data"]["seed"]
    found = importance(task, model, frame, y_true, chosen, seed)
    before = importance(task, production[1], frame, y_true, chosen, seed) if production else None
    plots["importance"] = card_plots.importance(found, before)
    groups = group_summary(evaluated["fairness"], chosen["min_group_rows"])
    for feature, summary in groups.items():
        if feature in frame:
            values = frame[feature].astype("object").where(frame[feature].notna(), "missing")
            plots[f"groups_{feature}"] = card_plots.group_scores(
                task, model, frame, feature, values.astype(str), summary["too_small"]
            )
    content = {
        "task": task.name,
        "metrics": evaluated["metrics"],
        "importance": found,
        "weights": weights(found),
        "production_importance": before,
        "groups": groups,
        "checks": [g for g in evaluated["gates"]["gates"] if g["name"].startswith(CHECKS)],
        "gates_passed": evaluated["gates"]["passed"],
        "roc_points": roc_points(model, task, frame, y_true)
        if "roc" in task.card_plots and not isinstance(plots["roc"], str)
        else None,
        "notes": {name: plot for name, plot in plots.items() if isinstance(plot, str)},
        "plots": [name for name, plot in plots.items() if not isinstance(plot, str)],
    }
    return content, plots


def importance(task, model, frame, y_true, chosen, seed):
    """Mean and spread of the score lost when each original column is shuffled, largest first;
    on a seeded sample of `card.importance_rows` rows, `card.importance_repeats` shuffles."""
    from sklearn.inspection import permutation_importance

    features = frame[task.spec.features]
    y_true = np.asarray(y_true)
    if len(features) > chosen["importance_rows"]:
        rows = np.random.default_rng(seed).choice(len(features), chosen["importance_rows"],
                                                  replace=False)  # fmt: skip
        features, y_true = features.iloc[rows], y_true[rows]
    scoring = task.importance_scorer(y_true)
    found = permutation_importance(model, features, y_true, scoring=scoring,
                                   n_repeats=chosen["importance_repeats"], random_state=seed,
                                   n_jobs=1)  # fmt: skip
    order = np.argsort(-found.importances_mean)
    return {features.columns[i]: {"mean": float(found.importances_mean[i]),
                                  "std": float(found.importances_std[i]), "scoring": scoring}
            for i in order}  # fmt: skip


def roc_points(model, task, frame, y_true, steps=20):
    """The ROC curve's true positive rate at evenly spaced false positive rates (for Mermaid)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y_true, task.output(model, frame))
    return [round(float(v), 3) for v in np.interp(np.linspace(0, 1, steps + 1), fpr, tpr)]


def weights(found):
    """Each column's share of the importance (negative means count as none): the drift verdict's
    column weights."""
    kept = {name: max(value["mean"], 0.0) for name, value in found.items()}
    total = sum(kept.values())
    return {name: (value / total if total else 0.0) for name, value in kept.items()}


def group_summary(fairness, min_rows):
    """Per sensitive feature: its rows per group (from evaluate) and the groups too small to
    judge (fewer than card.min_group_rows rows in the test split)."""
    found = {}
    for feature, summary in fairness.items():
        rows = summary["by_group"]
        small = sorted(g for g, row in rows.items() if (row.get("count") or 0) < min_rows)
        gaps = {k: v for k, v in summary.items() if isinstance(v, float)}
        found[feature] = {"by_group": rows, "gaps": gaps, "too_small": small,
                          "min_group_rows": min_rows}  # fmt: skip
    return found


def data_summary(params, spec, train_rows, test_rows, y_test):
    from ..data.loading import data_hash

    path = Path(params["data"]["path"])
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d")
    values = np.asarray(y_test)
    if spec.task == "regression":
        labels = {"mean": float(values.mean()), "sd": float(values.std())}
    else:
        names, counts = np.unique(values.astype(str), return_counts=True)
        labels = {str(n): float(c / counts.sum()) for n, c in zip(names, counts, strict=True)}
    return {"path": str(path), "rows": train_rows + test_rows, "train_rows": train_rows,
            "test_rows": test_rows, "test_labels": labels, "file_date": modified,
            "data_hash": data_hash(path)}  # fmt: skip


def lineage(params):
    from ..data.loading import data_hash
    from ..registry import git_commit

    return {"git_commit": git_commit(), "data_hash": data_hash(params["data"]["path"]),
            "params_hash": params_hash(params)}  # fmt: skip


# -- writing -------------------------------------------------------------------------------------


def write(content, plots, folder=CARD_DIR):
    import json

    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):
        stale.unlink()
    images = {}
    for name in content["plots"]:
        buffer = io.BytesIO()
        plots[name].savefig(buffer, format="png")
        plt.close(plots[name])
        (folder / f"{name}.png").write_bytes(buffer.getvalue())
        images[name] = base64.b64encode(buffer.getvalue()).decode()
    page = to_html(content, images)
    (folder / "card.html").write_text(page)
    (folder / "card.md").write_text(to_markdown(content) + "\n")
    content["size_bytes"] = len(page.encode())
    (folder / "card.json").write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    return folder


def _metrics_rows(content):
    return [(name, f"{value:.4f}") for name, value in content["metrics"].items()]


def _importance_rows(content, most=15):
    before = content.get("production_importance") or {}
    return [(name, f"{found['mean']:.4f}", f"{found['std']:.4f}",
             f"{content['weights'][name]:.1%}",
             *([f"{before[name]['mean']:.4f}"] if name in before else []))
            for name, found in list(content["importance"].items())[:most]]  # fmt: skip


def _importance_headers(content):
    extra = ["production"] if content.get("production_importance") else []
    return ["column", "mean drop", "spread (sd)", "share", *extra]


def _group_lines(content):
    lines = []
    for feature, summary in content["groups"].items():
        gaps = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in summary["gaps"].items())
        lines.append(f"- `{feature}`: {gaps or 'no gaps'}.")
        if summary["too_small"]:
            lines.append(f"  Too small to judge (under {summary['min_group_rows']} test rows): "
                         f"{', '.join(summary['too_small'])}.")  # fmt: skip
    return lines


def _group_table(summary):
    names = list(next(iter(summary["by_group"].values()), {}))
    rows = [(f"{group} (too small to judge)" if group in summary["too_small"] else group,
             *("-" if row.get(n) is None else (str(int(row[n])) if n == "count"
               else f"{row[n]:.3f}") for n in names))
            for group, row in summary["by_group"].items()]  # fmt: skip
    return ["group", *(n.replace("_", " ") for n in names)], rows


def _check_rows(content):
    return [(c["name"], f"{c['value']:.4f}", c["threshold"], "pass" if c["passed"] else "FAIL")
            for c in content["checks"]]  # fmt: skip


def to_markdown(content):
    data = content.get("data", {})
    parts = [
        f"## Model card ({content['task'].replace('_', ' ')})",
        markdown_table(["metric (test split)", "value"], _metrics_rows(content)),
    ]
    if content.get("versus"):
        parts += [content["versus"]]
    parts += [
        "### Permutation importance (by original column)",
        markdown_table(_importance_headers(content), _importance_rows(content, 10)),
    ]
    if content["groups"]:
        parts += ["### Sensitive groups", "\n".join(_group_lines(content))]
    if content["checks"]:
        parts += [
            "### Invariance and directional checks",
            markdown_table(["check", "value", "limit", "result"], _check_rows(content)),
        ]
    parts += [f"- {name}: {note}" for name, note in content["notes"].items()]
    if data:
        parts.append(
            f"Data: `{data['path']}`, {data['rows']} rows ({data['test_rows']} in the "
            f"test split), file date {data['file_date']}, hash `{data['data_hash']}`."
        )
    if "lineage" in content:
        parts.append(
            "Lineage: " + ", ".join(f"{k} `{v[:12]}`" for k, v in content["lineage"].items()) + "."
        )
    parts += mermaid(content)
    parts.append("Plots: " + ", ".join(f"`{name}.png`" for name in content["plots"])
                 + "; the whole card, every plot in it, is `card.html` (in CI: the run's "
                 "`model-card` artifact).")  # fmt: skip
    return "\n\n".join(parts)


def mermaid(content, most=10):
    """Charts GitHub draws itself in a comment or job summary, which show no embedded images."""
    found = list(content["importance"].items())[:most]
    names = ", ".join(f'"{name}"' for name, _ in found)
    top = max([v["mean"] for _, v in found] + [1e-6])
    scoring = found[0][1]["scoring"] if found else ""
    bars = ", ".join(f"{max(value['mean'], 0):.4g}" for _, value in found)
    charts = [f"```mermaid\nxychart-beta\n  title \"Permutation importance\"\n"
              f"  x-axis [{names}]\n  y-axis \"drop in {scoring} when shuffled\" 0 --> "
              f"{top * 1.1:.4g}\n  bar [{bars}]"
              "\n```"]  # fmt: skip
    if content.get("roc_points"):
        points = content["roc_points"]
        chance = ", ".join(f"{i / (len(points) - 1):.3g}" for i in range(len(points)))
        charts.append(
            f'```mermaid\nxychart-beta\n  title "ROC curve (test split)"\n'
            f'  x-axis "false positive rate" 0 --> 1\n'
            f'  y-axis "true positive rate" 0 --> 1\n'
            f"  line [{', '.join(map(str, points))}]\n  line [{chance}]\n```"
        )
    return charts


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.plots img { max-width: 100%; }
.note { background: #fff4d6; border-left: 4px solid #E69F00; padding: 0.5em 1em; }
.small { color: #D55E00; font-weight: bold; }
"""


def _table(headers, rows):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)  # fmt: skip
    return f"<table><tr>{head}</tr>{body}</table>"


def _img(images, name, alt):
    return f'<img src="data:image/png;base64,{images[name]}" alt="{html.escape(alt)}">'


def _versus_html(content):
    if not content.get("versus_rows"):
        return f"<p>{html.escape(content['versus'])}</p>"
    rows = [
        (
            r["metric"],
            *("-" if v is None else f"{v:.4f}" for v in (r["old"], r["new"])),
            "-" if r["gain"] is None else f"{r['gain']:+.4f}",
        )
        for r in content["versus_rows"]
    ]
    label = content["versus_label"]
    return (
        f"<p>Both scored on the same test rows; curves and importance below show both "
        f"(candidate blue, {html.escape(label)} orange).</p>"
        + _table(["metric", label, "candidate", "gain (positive: better)"], rows)
    )


def to_html(content, images):
    task = content["task"].replace("_", " ")
    data, lineage_found = content.get("data", {}), content.get("lineage", {})
    curves = [n for n in content["plots"] if n != "importance" and not n.startswith("groups_")]
    parts = [
        f"<h1>Model card</h1><p>{html.escape(task)}; gates "
        f"{'passed' if content['gates_passed'] else 'FAILED'}.</p>",
        "<h2>Metrics (test split)</h2>",
        _table(["metric", "value"], _metrics_rows(content)),
    ]
    if content.get("versus"):
        parts += ["<h2>Versus production</h2>", _versus_html(content)]
    parts += ["<h2>Curves</h2>", '<div class="plots">']
    parts += [_img(images, n, n.replace("_", " ")) for n in curves]
    parts.append("</div>")
    parts += [f'<p class="note">{html.escape(n.replace("_", " "))}: {html.escape(t)}</p>'
              for n, t in content["notes"].items()]  # fmt: skip
    parts += [
        "<h2>Permutation importance (by original column)</h2>",
        '<div class="plots">',
        _img(images, "importance", "permutation importance"),
        _table(_importance_headers(content), _importance_rows(content)),
        "</div>",
    ]
    if content["groups"]:
        parts.append("<h2>Sensitive groups</h2>")
    for feature, summary in content["groups"].items():
        headers, rows = _group_table(summary)
        gaps = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in summary["gaps"].items())
        parts += [
            f"<h3>{html.escape(feature)}</h3><p>{html.escape(gaps)}</p>",
            '<div class="plots">',
            _table(headers, rows),
        ]
        if f"groups_{feature}" in images:
            parts.append(_img(images, f"groups_{feature}", f"scores by {feature}"))
        parts.append("</div>")
        if summary["too_small"]:
            parts.append(f'<p class="small">Too small to judge (under '
                         f'{summary["min_group_rows"]} test rows): '
                         f'{html.escape(", ".join(summary["too_small"]))}.</p>')  # fmt: skip
    if content["checks"]:
        parts += [
            "<h2>Invariance and directional checks</h2>",
            _table(["check", "value", "limit", "result"], _check_rows(content)),
        ]
    if data:
        labels = ", ".join(f"{k} {v:.3g}" for k, v in data["test_labels"].items())
        parts += ["<h2>Data</h2>", _table(["", ""], [
            ("file", data["path"]), ("rows", data["rows"]), ("train / test rows",
             f"{data['train_rows']} / {data['test_rows']}"), ("test labels", labels),
            ("file date", data["file_date"]), ("data hash", data["data_hash"])])]  # fmt: skip
    if lineage_found:
        parts += ["<h2>Lineage</h2>", _table(["", ""], list(lineage_found.items()))]
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Model card'
        f"</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def add_arguments(parser):
    del parser


run = card
