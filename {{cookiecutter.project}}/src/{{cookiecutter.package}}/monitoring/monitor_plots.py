"""reports/monitor.html: the live performance report with its plots, one file that opens
offline (the PNGs are embedded)."""

import base64
import html
import io

import numpy as np

from ..config import REPORTS_DIR

# Okabe-Ito colours: told apart with every common colour-vision deficiency.
TRAINING, LIVE, DIAGONAL = "#0072B2", "#E69F00", "#999999"


def write_html(result, labelled, task):
    figures = [_metrics_figure(result)]
    if task.name == "binary_classification" and "score" in labelled:
        figures.append(_calibration_figure(labelled, task))
    elif task.name == "regression":
        figures.append(_values_figure(labelled, task))
    images = "".join(f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
                     for alt, data in figures)  # fmt: skip
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Live performance</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}img{max-width:100%}"
        "</style></head><body>"
        f"<h1>Live performance of {html.escape(result['environment'])}</h1>"
        f"<p>{html.escape(result['summary'])}</p>{images}</body></html>"
    )
    REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    (REPORTS_DIR / "monitor.html").write_text(page)


def _png(figure, alt):
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return alt, base64.b64encode(buffer.getvalue()).decode()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI runners
    import matplotlib.pyplot as plt

    return plt


def _metrics_figure(result):
    plt = _pyplot()
    rows = result["metrics"]
    names = [r["metric"] for r in rows]
    place = np.arange(len(names))
    figure, axes = plt.subplots(figsize=(max(5, len(names) * 1.1), 3.5))
    before = [np.nan if r["old"] is None else r["old"] for r in rows]
    axes.bar(place - 0.2, before, 0.4, label=f"training (v{result['version']})", color=TRAINING)
    axes.bar(place + 0.2, [r["new"] for r in rows], 0.4, label="live", color=LIVE)
    axes.set_xticks(place, names, rotation=30, ha="right")
    axes.set_ylabel("metric value")
    axes.set_title("Test metrics at training against the live labelled window")
    axes.legend()
    return _png(figure, "live and training metrics side by side")


def _calibration_figure(labelled, task):
    plt = _pyplot()
    y_true = task.model_labels(labelled[task.spec.target]).to_numpy(dtype=float)
    scores = labelled["score"].to_numpy(dtype=float)
    edges = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(scores, edges) - 1, 0, 9)
    seen = [b for b in range(10) if (which == b).any()]
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot([0, 1], [0, 1], linestyle="--", color=DIAGONAL, label="perfectly calibrated")
    axes.plot([scores[which == b].mean() for b in seen], [y_true[which == b].mean() for b in seen],
              marker="o", color=LIVE, label="live")  # fmt: skip
    axes.set_xlabel("mean score in the bin")
    axes.set_ylabel("share of positive outcomes")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_title("Calibration on the live labelled window")
    axes.legend(loc="upper left")
    return _png(figure, "calibration curve of the live window")


def _values_figure(labelled, task):
    plt = _pyplot()
    actual = labelled[task.spec.target].astype(float)
    predicted = labelled["prediction"].astype(float)
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.plot([low, high], [low, high], linestyle="--", color=DIAGONAL, label="exact")
    axes.scatter(actual, predicted, s=6, alpha=0.5, color=LIVE, label="live")
    axes.set_xlabel(f"outcome ({task.spec.target})")
    axes.set_ylabel("predicted value")
    axes.set_title("Predicted against outcome, live window")
    axes.legend(loc="upper left")
    return _png(figure, "predicted values against outcomes")
