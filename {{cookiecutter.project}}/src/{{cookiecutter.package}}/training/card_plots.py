"""The model card's plots (matplotlib, no display): one function per plot name of task.py.

Each takes the task, the sides to draw (label, fitted pipeline: the candidate, and the
production version when there is one), the test split and its labels, and returns a figure,
or a sentence saying why the plot is undefined on these rows (e.g. one class only). Colours
are Okabe-Ito's, which readers with any common colour-vision deficiency tell apart.
"""

import numpy as np

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000")  # fmt: skip
SIZE = (6.0, 4.5)  # inches, at 100 dpi: 600 x 450 pixels


def figure(title, xlabel, ylabel):
    import matplotlib

    matplotlib.use("Agg")  # no display in CI, a container or a DVC stage
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(figsize=SIZE, dpi=100, layout="tight")  # nothing clipped
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axes.grid(alpha=0.3)
    return fig, axes


def _style(label):
    """The production version dashed, so a candidate that draws the same curve still shows."""
    return "-" if label == "candidate" else "--"


def _one_class(y_true):
    found = sorted(set(np.asarray(y_true).tolist()))
    if len(found) < 2:
        return (f"Undefined: the test split holds only one class ({found[0] if found else 'none'}"
                "), so there are no true and false positive rates to trade off.")  # fmt: skip
    return None


def _curves(task, sides, frame, axes, trace):
    """Each side's curve, its point at the threshold ringed in black, and the threshold's
    legend entry. trace(scores, threshold) -> (x, y, index at the threshold, legend text)."""
    threshold = task.params["model"]["threshold"]
    for colour, (label, model) in zip(OKABE_ITO, sides, strict=False):
        x, y, at, named = trace(task.output(model, frame), threshold)
        axes.plot(x, y, color=colour, linestyle=_style(label), label=f"{label} ({named})")
        axes.plot(x[at], y[at], "o", color=colour, markersize=8, markeredgecolor="black")
    axes.plot([], [], "o", color="white", markeredgecolor="black",
              label=f"threshold {threshold}")  # fmt: skip


def roc(task, sides, frame, y_true):
    from sklearn.metrics import roc_auc_score, roc_curve

    if note := _one_class(y_true):
        return note
    fig, axes = figure("ROC curve (test split)", "false positive rate (share of negatives)",
                       "true positive rate (share of positives)")  # fmt: skip

    def trace(scores, threshold):
        fpr, tpr, cuts = roc_curve(y_true, scores)
        at = max(min(np.searchsorted(-cuts, -threshold, side="right") - 1, len(fpr) - 1), 0)
        return fpr, tpr, at, f"AUC {roc_auc_score(y_true, scores):.3f}"

    _curves(task, sides, frame, axes, trace)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    axes.set(xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="lower right")
    return fig


def precision_recall(task, sides, frame, y_true):
    from sklearn.metrics import average_precision_score, precision_recall_curve

    if note := _one_class(y_true):
        return note
    fig, axes = figure("Precision-recall curve (test split)", "recall (share of positives found)",
                       "precision (share of flagged rows that are positive)")  # fmt: skip

    def trace(scores, threshold):
        precision, recall, cuts = precision_recall_curve(y_true, scores)
        at = min(np.searchsorted(cuts, threshold), len(cuts) - 1)
        return recall, precision, at, f"AP {average_precision_score(y_true, scores):.3f}"

    _curves(task, sides, frame, axes, trace)
    axes.axhline(float(np.mean(y_true)), linestyle=":", color="grey", label="share of positives")
    axes.set(xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="lower left")
    return fig


def calibration(task, sides, frame, y_true):
    """Binary: the positive score against the positive share. Multiclass: the predicted
    class's probability against how often that class is right (top-label calibration)."""
    from sklearn.calibration import calibration_curve

    binary = task.name == "binary_classification"
    if binary and (note := _one_class(y_true)):
        return note
    what = "score" if binary else "probability of the predicted class"
    fig, axes = figure(
        "Calibration (test split, 10 quantile bins)",
        f"mean predicted {what}",
        "observed share of positives" if binary else "observed share correct",
    )
    for colour, (label, model) in zip(OKABE_ITO, sides, strict=False):
        if binary:
            hit, prob = np.asarray(y_true), task.output(model, frame)
        else:
            probabilities = model.predict_proba(frame)
            classes = np.asarray([str(c) for c in model.classes_])
            prob = probabilities.max(axis=1)
            hit = classes[probabilities.argmax(axis=1)] == np.asarray(y_true).astype(str)
            if len(set(hit.tolist())) < 2:
                return "Undefined: every prediction is right (or every one wrong) on this split."
        observed, predicted = calibration_curve(hit.astype(int), prob, n_bins=10,
                                                strategy="quantile")  # fmt: skip
        axes.plot(
            predicted, observed, marker="o", linestyle=_style(label), color=colour, label=label
        )
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    axes.set(xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="upper left")
    return fig


def confusion(task, sides, frame, y_true):
    from sklearn.metrics import confusion_matrix

    label, model = sides[0]
    y_pred = task.predicted(model, frame)
    if task.name == "binary_classification":
        names = ["negative (0)", "positive (1)"]
        matrix = confusion_matrix(y_true, y_pred, labels=[0, 1])
        title = f"Confusion matrix at threshold {task.params['model']['threshold']}"
    else:
        names = [str(c) for c in model.classes_]
        matrix = confusion_matrix(np.asarray(y_true).astype(str), y_pred, labels=names)
        title = "Confusion matrix (most likely class)"
    fig, axes = figure(f"{title}, {label}", "predicted class", "true class")
    axes.grid(False)
    axes.imshow(matrix, cmap="Blues")
    axes.set(xticks=range(len(names)), yticks=range(len(names)), xticklabels=names,
             yticklabels=names)  # fmt: skip
    axes.tick_params(axis="x", labelrotation=30 if len(names) > 3 else 0)
    top = matrix.max() or 1
    for (row, col), count in np.ndenumerate(matrix):
        axes.text(col, row, f"{count}\n({count / max(matrix.sum(), 1):.1%})", ha="center",
                  va="center", color="white" if count > top / 2 else "black")  # fmt: skip
    return fig


def predicted_vs_actual(task, sides, frame, y_true):
    target = task.spec.target
    fig, axes = figure("Predicted against actual (test split)", f"actual {target}",
                       f"predicted {target}")  # fmt: skip
    for colour, (label, model) in zip(OKABE_ITO, sides, strict=False):
        axes.scatter(y_true, task.output(model, frame), s=8, alpha=0.5, color=colour, label=label)
    low, high = float(np.min(y_true)), float(np.max(y_true))
    axes.plot([low, high], [low, high], linestyle=":", color="grey", label="perfect")
    axes.legend(loc="upper left")
    return fig


def residuals(task, sides, frame, y_true):
    target = task.spec.target
    fig, axes = figure("Residuals (test split)", f"actual - predicted {target}", "rows")
    for colour, (label, model) in zip(OKABE_ITO, sides, strict=False):
        axes.hist(np.asarray(y_true) - task.output(model, frame), bins=40, histtype="step",
                  linewidth=2, color=colour, label=label)  # fmt: skip
    axes.axvline(0, linestyle=":", color="grey", label="no error")
    axes.legend(loc="upper right")
    return fig


def importance(found, production=None):
    """Horizontal bars of the mean loss when a column is shuffled, with its spread."""
    names = list(found)[::-1]  # largest on top
    fig, axes = figure("Permutation importance (test split)", "drop in the score when shuffled "
                       f"({next(iter(found.values()))['scoring']})", "column")  # fmt: skip
    fig.set_size_inches(SIZE[0] + 1, max(SIZE[1], 0.35 * len(names) + 1.5))
    place = np.arange(len(names))
    height = 0.4 if production else 0.8
    axes.barh(place + (height / 2 if production else 0), [found[n]["mean"] for n in names],
              xerr=[found[n]["std"] for n in names], height=height, color=OKABE_ITO[0],
              label="candidate")  # fmt: skip
    if production:
        axes.barh(place - height / 2, [production.get(n, {}).get("mean", 0.0) for n in names],
                  height=height, color=OKABE_ITO[1], label="production")  # fmt: skip
        axes.legend(loc="lower right")
    axes.set(yticks=place, yticklabels=names)
    axes.axvline(0, color="grey", linewidth=1)
    return fig


def group_scores(task, model, frame, feature, groups, too_small):
    """The distribution of the card score per group of one sensitive feature."""
    label = task.card_score_label
    fig, axes = figure(f"{label.capitalize()} by {feature} (test split)", label, "share of rows")
    scores = task.card_score(model, frame)
    for colour, group in zip(OKABE_ITO, sorted(set(groups)), strict=False):
        chosen = scores[np.asarray(groups == group)]
        small = " - too small to judge" if group in too_small else ""
        axes.hist(chosen, bins=20, histtype="step", linewidth=2, color=colour,
                  weights=np.full(len(chosen), 1 / max(len(chosen), 1)),
                  label=f"{group} ({len(chosen)} rows{small})")  # fmt: skip
    if task.name == "binary_classification":
        threshold = task.params["model"]["threshold"]
        axes.axvline(threshold, linestyle="--", color="black", label=f"threshold {threshold}")
    axes.legend(loc="best", fontsize="small")
    return fig


BY_NAME = {"roc": roc, "precision_recall": precision_recall, "calibration": calibration,
           "confusion": confusion, "predicted_vs_actual": predicted_vs_actual,
           "residuals": residuals}  # fmt: skip
