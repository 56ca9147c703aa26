"""What depends on the task (params.yaml `task`): binary, multiclass or regression.

The one home of each task's estimators, metrics, performance gates, fairness gaps, the model
output that invariance and directional checks move, and the answer the server gives. Every
stage asks `for_params(params)` instead of assuming two classes; later work (live outcomes,
model cards, champion/challenger) reads the same metric names and directions from here.
"""

import numpy as np
from sklearn import ensemble, linear_model, metrics

from ..config import CliError
from .gates import Gate

TASKS = ("binary_classification", "multiclass_classification", "regression")


class Task:
    name = ""
    estimators = {}  # model.type in params.yaml -> scikit-learn estimator class
    lower_is_better = frozenset()  # metric names where smaller wins (errors, losses)
    fairness_gaps = ()  # names of the per-feature gaps in the fairness summary
    answer_fields = {}  # what /predict answers for one record (JSON schema of each field)
    # Answers are made column-wise (answer_columns: field -> one value per record), so that a
    # 10k-row batch costs no dict per record; kept and signal have a per-answer form too.
    # kept_columns: what the prediction ids log keeps of the answers, per task (see each task)
    # signal_columns: (predicted classes or None, scores) that the server's online signals
    # count and `register` records the training-time baseline of (training/baseline.py)
    score_range = (0.0, 1.0)  # of that score: a probability; a regression's comes from data
    # The model card (model_card.py): its plots of the test split, the scikit-learn scorer
    # permutation importance measures the loss of, and the score drawn per sensitive group.
    card_plots = ()
    importance_scoring = ""
    card_score_label = ""

    def card_score(self, model, frame):
        """What the card draws per group: the score, the top class's probability, the value."""
        return self.output(model, frame)

    def importance_scorer(self, y_true):
        """The importance scorer; None when these labels cannot be scored (one class only)."""
        return self.importance_scoring

    def watched(self, shares):
        """The class shares an alert compares with their baseline: every class."""
        return shares

    def __init__(self, spec, params):
        self.spec, self.params = spec, params

    def answers(self, model, frame, labels):
        """Per record, the answer: a dict of the task's answer fields."""
        columns = self.answer_columns(model, frame, labels)
        rows = zip(*columns.values(), strict=True)
        return [dict(zip(columns, values, strict=True)) for values in rows]

    def kept(self, answer):
        """What the prediction ids log keeps of one answer."""
        return {key: values[0] for key, values in self.kept_columns(_one(answer)).items()}

    def signal(self, answer):
        """(predicted class or None, score) of one answer."""
        classes, scores = self.signal_columns(_one(answer))
        return None if classes is None else classes[0], scores[0]

    def estimator(self, model):
        if model["type"] not in self.estimators:
            raise CliError(
                f"model.type {model['type']!r} (params.yaml) is not a model of {self.name}: "
                f"type one of {', '.join(self.estimators)}."
            )
        return self.estimators[model["type"]](**(model.get("params") or {}))

    @classmethod
    def lower_wins(cls, metric):
        """True for a metric where smaller is better (`log_loss`, `rmse`, `metric.mae`...)."""
        return metric.removeprefix("metric.").split(".")[0] in cls.lower_is_better

    def fairness_gates(self, fairness, gates):
        """One gate per sensitive feature and gap, each against `gates.max_<gap>`."""
        found = []
        for feature, summary in fairness.items():
            for gap in self.fairness_gaps:
                key = f"max_{gap}"
                value, limit = summary[gap], gates[key]
                detail = f"largest gap between {feature} groups, at most"
                found.append(Gate(f"{gap}[{feature}]", value, limit, value <= limit, detail,
                                  f"gates.{key}"))  # fmt: skip
        return found


class BinaryClassification(Task):
    """Labels are 0/1 (1 = columns.positive_class); the model's output is the positive score."""

    name = "binary_classification"
    lower_is_better = frozenset({"calibration_error"})
    estimators = {
        "linear": linear_model.LogisticRegression,
        "random_forest": ensemble.RandomForestClassifier,
        "gradient_boosting": ensemble.HistGradientBoostingClassifier,
    }
    fairness_gaps = ("demographic_parity_difference", "equalized_odds_difference")
    answer_fields = {"prediction": {"type": "string"}, "score": {"type": "number"}}
    card_plots = ("roc", "precision_recall", "calibration", "confusion")
    importance_scoring = "roc_auc"
    card_score_label = "score (probability of the positive class)"

    def importance_scorer(self, y_true):
        """ROC AUC needs both classes; with one, accuracy is the only loss left to measure."""
        return self.importance_scoring if len(set(y_true)) > 1 else "accuracy"

    def output(self, model, frame, check=None):
        del check
        return model.predict_proba(frame)[:, 1]

    def predicted(self, model, frame):
        return (self.output(model, frame) >= self.params["model"]["threshold"]).astype(int)

    def metrics(self, model, frame, y_true, y_train):
        del y_train
        scores = self.output(model, frame)
        y_pred = (scores >= self.params["model"]["threshold"]).astype(int)
        return {
            "roc_auc": float(metrics.roc_auc_score(y_true, scores)),
            "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
            "precision": float(metrics.precision_score(y_true, y_pred, zero_division=0)),
            "recall": float(metrics.recall_score(y_true, y_pred, zero_division=0)),
            "f1": float(metrics.f1_score(y_true, y_pred, zero_division=0)),
            "calibration_error": calibration_error(y_true, scores),
        }

    def live_metrics(self, y_true, predicted, score):
        """Metrics of logged answers against their outcomes (labels 0/1, predicted labels as
        the server answered them, positive scores); ROC AUC needs both classes."""
        y_pred = self.model_labels(predicted)
        found = {} if y_true.nunique() < 2 else {
            "roc_auc": float(metrics.roc_auc_score(y_true, score))}  # fmt: skip
        return found | {
            "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
            "precision": float(metrics.precision_score(y_true, y_pred, zero_division=0)),
            "recall": float(metrics.recall_score(y_true, y_pred, zero_division=0)),
            "f1": float(metrics.f1_score(y_true, y_pred, zero_division=0)),
            "calibration_error": calibration_error(y_true, score),
        }

    def model_labels(self, predicted):
        """Logged answers as the model's labels: 1 for the positive class, else 0."""
        return (predicted.astype(str) == self.spec.positive_class).astype(int)

    def performance_gates(self, values, gates):
        return [_at_least("roc_auc", values, gates, "min_roc_auc", "ROC AUC on the test split")]

    def fairness(self, frame, y_true, y_pred):
        from .fairness import binary_fairness

        return binary_fairness(frame, y_true, y_pred, self.spec.sensitive)

    def answer_columns(self, model, frame, labels):
        """Per record: the predicted label and the positive score."""
        scores = self.output(model, frame)
        positive = scores >= self.params["model"]["threshold"]
        return {"prediction": np.where(positive, labels[True], labels[False]).tolist(),
                "score": scores.tolist()}  # fmt: skip

    @staticmethod
    def kept_columns(columns):
        """What the prediction ids log keeps of an answer: the label and the positive score."""
        return columns

    @staticmethod
    def signal_columns(columns):
        return columns["prediction"], columns["score"]

    def watched(self, shares):
        """Only the positive class: the other's share moves with it."""
        positive = self.spec.positive_class
        return {positive: shares.get(positive, 0.0)}


class MulticlassClassification(Task):
    """Labels are the target's values as text; the output is the probability of a named class."""

    name = "multiclass_classification"
    estimators = {
        "linear": linear_model.LogisticRegression,
        "random_forest": ensemble.RandomForestClassifier,
        "gradient_boosting": ensemble.HistGradientBoostingClassifier,
    }
    lower_is_better = frozenset({"log_loss", "baseline_log_loss"})
    fairness_gaps = ("selection_rate_difference", "recall_difference")
    answer_fields = {
        "prediction": {"type": "string"},
        "probabilities": {"type": "object", "additionalProperties": {"type": "number"}},
    }
    card_plots = ("confusion", "calibration")  # calibration of the top class's probability
    importance_scoring = "accuracy"
    card_score_label = "probability of the predicted class"

    def card_score(self, model, frame):
        return model.predict_proba(frame).max(axis=1)

    def output(self, model, frame, check=None):
        """Probability of `check["class"]`; of every class (rows x classes) when none is named."""
        probabilities = model.predict_proba(frame)
        wanted = (check or {}).get("class")
        if wanted is None:
            return probabilities
        classes = [str(c) for c in model.classes_]
        if str(wanted) not in classes:
            raise CliError(
                f"The class {wanted!r} named in a gate of params.yaml is not one the model "
                f"knows: type one of {', '.join(classes)}."
            )
        return probabilities[:, classes.index(str(wanted))]

    def predicted(self, model, frame):
        return model.predict(frame).astype(str)

    def metrics(self, model, frame, y_true, y_train):
        probabilities = model.predict_proba(frame)
        classes = [str(c) for c in model.classes_]
        y_pred = np.asarray(classes)[probabilities.argmax(axis=1)]
        shares = y_train.value_counts(normalize=True).reindex(classes, fill_value=0).to_numpy()
        recalls = metrics.recall_score(y_true, y_pred, labels=classes, average=None,
                                       zero_division=0)  # fmt: skip
        values = {
            "macro_f1": float(metrics.f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "log_loss": float(metrics.log_loss(y_true, probabilities, labels=classes)),
            "baseline_log_loss": float(
                metrics.log_loss(y_true, np.tile(shares, (len(y_true), 1)), labels=classes)
            ),
            "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
            "min_class_recall": float(recalls.min()),
        }
        values.update({f"recall.{c}": float(r) for c, r in zip(classes, recalls, strict=True)})
        return values

    def live_metrics(self, y_true, predicted, score):
        """Metrics of logged answers against their outcomes, over the classes seen in either."""
        del score
        y_pred = predicted.astype(str)
        classes = sorted(set(y_true) | set(y_pred))
        recalls = metrics.recall_score(y_true, y_pred, labels=classes, average=None,
                                       zero_division=np.nan)  # fmt: skip
        values = {
            "macro_f1": float(metrics.f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
            "min_class_recall": float(np.nanmin(recalls)),
        }
        values.update({f"recall.{c}": float(r) for c, r in zip(classes, recalls, strict=True)
                       if not np.isnan(r)})  # fmt: skip
        return values

    @staticmethod
    def model_labels(predicted):
        return predicted.astype(str)

    def performance_gates(self, values, gates):
        found = [
            _at_least("macro_f1", values, gates, "min_macro_f1", "macro-averaged F1"),
            _at_most("log_loss", values, gates, "max_log_loss",
                     f"log loss (always predicting the class shares: "
                     f"{values['baseline_log_loss']:.4f})"),
        ]  # fmt: skip
        minimum = gates["min_class_recall"]
        for name in sorted(k for k in values if k.startswith("recall.")):
            label, value = name.removeprefix("recall."), values[name]
            detail = f"share of true {label} rows predicted {label}, at least"
            found.append(Gate(f"recall[{label}]", value, minimum, value >= minimum, detail,
                              "gates.min_class_recall"))  # fmt: skip
        return found

    def fairness(self, frame, y_true, y_pred):
        from .fairness import multiclass_fairness

        return multiclass_fairness(frame, y_true, y_pred, self.spec.sensitive)

    def answer_columns(self, model, frame, labels):
        """Per record: the most likely class and every class's probability."""
        del labels
        classes = [str(c) for c in model.classes_]
        probabilities = model.predict_proba(frame)
        return {"prediction": np.array(classes)[np.argmax(probabilities, axis=1)].tolist(),
                "probabilities": [dict(zip(classes, row, strict=True))
                                  for row in probabilities.tolist()]}  # fmt: skip

    @staticmethod
    def kept_columns(columns):
        """What the prediction ids log keeps of an answer: the class and its probability."""
        labels = columns["prediction"]
        return {"prediction": labels, "score": _chosen(columns)}

    @staticmethod
    def signal_columns(columns):
        """The class and its probability (the model's confidence)."""
        return columns["prediction"], _chosen(columns)


class Regression(Task):
    """The target is a number; the output is the predicted value."""

    name = "regression"
    estimators = {
        "linear": linear_model.Ridge,
        "random_forest": ensemble.RandomForestRegressor,
        "gradient_boosting": ensemble.HistGradientBoostingRegressor,
    }
    lower_is_better = frozenset({"rmse", "mae", "baseline_rmse", "rmse_vs_baseline"})
    fairness_gaps = ("mae_difference", "mean_prediction_difference")
    answer_fields = {"prediction": {"type": "number"}}
    card_plots = ("predicted_vs_actual", "residuals")
    importance_scoring = "r2"
    card_score_label = "predicted value"

    def importance_scorer(self, y_true):
        return self.importance_scoring if len(set(y_true)) > 1 else "neg_mean_absolute_error"

    def output(self, model, frame, check=None):
        del check
        return model.predict(frame)

    predicted = output

    def metrics(self, model, frame, y_true, y_train):
        y_pred = self.output(model, frame)
        rmse = float(metrics.root_mean_squared_error(y_true, y_pred))
        baseline = float(
            metrics.root_mean_squared_error(y_true, np.full(len(y_true), y_train.mean()))
        )
        return {
            "rmse": rmse,
            "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
            "r2": float(metrics.r2_score(y_true, y_pred)),
            "baseline_rmse": baseline,
            "rmse_vs_baseline": rmse / baseline if baseline else float("inf"),
        }

    def live_metrics(self, y_true, predicted, score):
        """Metrics of logged predicted values against the outcomes."""
        del score
        y_pred = predicted.astype(float)
        return {
            "rmse": float(metrics.root_mean_squared_error(y_true, y_pred)),
            "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
            "r2": float(metrics.r2_score(y_true, y_pred)),
        }

    @staticmethod
    def model_labels(predicted):
        return predicted.astype(float)

    def performance_gates(self, values, gates):
        rule = (f"RMSE over the RMSE of predicting the training mean "
                f"({values['baseline_rmse']:.4f}), at most")  # fmt: skip
        limit = gates["max_rmse_vs_baseline"]
        value = values["rmse_vs_baseline"]
        return [
            Gate("rmse_vs_baseline", value, limit, value <= limit, rule,
                 "gates.max_rmse_vs_baseline"),
            _at_least("r2", values, gates, "min_r2", "R² on the test split"),
        ]  # fmt: skip

    def fairness(self, frame, y_true, y_pred):
        from .fairness import regression_fairness

        return regression_fairness(frame, y_true, y_pred, self.spec.sensitive)

    def answer_columns(self, model, frame, labels):
        """Per record: the predicted value."""
        del labels
        return {"prediction": self.output(model, frame).tolist()}

    @staticmethod
    def kept_columns(columns):
        """What the prediction ids log keeps of an answer: the predicted value."""
        return columns

    score_range = None  # the target's range in the contract, when it has one

    @staticmethod
    def signal_columns(columns):
        """No class; the predicted value is the score."""
        return None, columns["prediction"]


def _one(answer):
    """One answer as answer columns of one record."""
    return {key: [value] for key, value in answer.items()}


def _chosen(columns):
    """The probability of each answer's predicted class."""
    return [probabilities[label] for label, probabilities
            in zip(columns["prediction"], columns["probabilities"], strict=True)]  # fmt: skip


BY_NAME = {task.name: task for task in (BinaryClassification, MulticlassClassification, Regression)}


def for_params(params, spec=None):
    """The task of this project, from params.yaml `task` (binary_classification if absent)."""
    from ..config import columns

    spec = spec or columns(params)
    if spec.task not in BY_NAME:
        raise CliError(f"task {spec.task!r} (params.yaml) is not one of: {', '.join(TASKS)}.")
    return BY_NAME[spec.task](spec, params)


def calibration_error(y_true, scores, bins=10):
    """Expected calibration error: over ten equal-width score bins, the row-weighted mean gap
    between the mean score and the share of positives (0 = scores are frequencies)."""
    y_true, scores = np.asarray(y_true, dtype=float), np.asarray(scores, dtype=float)
    which = np.minimum((scores * bins).astype(int), bins - 1)
    gap = 0.0
    for b in np.unique(which):
        inside = which == b
        gap += inside.sum() * abs(scores[inside].mean() - y_true[inside].mean())
    return float(gap / max(len(scores), 1))


def _at_least(name, values, gates, key, what):
    limit = gates[key]
    return Gate(name, values[name], limit, values[name] >= limit, f"{what}, at least",
                f"gates.{key}")  # fmt: skip


def _at_most(name, values, gates, key, what):
    limit = gates[key]
    return Gate(name, values[name], limit, values[name] <= limit, f"{what}, at most",
                f"gates.{key}")  # fmt: skip
