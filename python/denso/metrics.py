"""Metrics: the registry of names `compile(metrics=...)` accepts, how `fit`/`evaluate` read each from
the engines' Totals, and the same metrics as stateless functions of (y_true, y_pred) arrays.

During training both engines count a batch with one native rule (`_core.count_batch`): argmax for
classes, logit > 0 against target >= 0.5 for binary outputs, |error| for regression. The functions
below apply the same rules to arrays a user has, so `accuracy(y, model.predict(x))` equals the
"accuracy" that `evaluate` reports. Each returns a Python float averaged over the samples given.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._checks import require_number, shape_str


def _as_real_array(x, name: str) -> np.ndarray:
    """`x` as a numpy array of real numbers (bools and integers allowed), else TypeError."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"`{name}` must hold real numbers, got dtype {arr.dtype}")
    return arr


def _pair(y_true, y_pred) -> tuple:
    """Both arrays, checked to be non-empty with the same number of rows."""
    y_true, y_pred = _as_real_array(y_true, "y_true"), _as_real_array(y_pred, "y_pred")
    if y_true.ndim == 0 or y_pred.ndim == 0:
        raise ValueError(f"`y_true` and `y_pred` must have one row per sample, got shapes "
                         f"y_true={shape_str(y_true.shape)} and y_pred={shape_str(y_pred.shape)}")
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(f"`y_true` and `y_pred` must have the same number of samples (rows), got shapes "
                         f"y_true={shape_str(y_true.shape)} and y_pred={shape_str(y_pred.shape)}")
    if y_true.shape[0] == 0:
        raise ValueError("`y_true` and `y_pred` must hold at least one sample, got 0 rows")
    return y_true, y_pred


def _same_shape(y_true, y_pred) -> tuple:
    """Both arrays with equal shapes; an (n,) vector is matched to an (n, 1) column."""
    y_true, y_pred = _pair(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        if y_true.ndim == 1 and y_pred.shape == (y_true.shape[0], 1):
            y_true = y_true[:, None]
        elif y_pred.ndim == 1 and y_true.shape == (y_pred.shape[0], 1):
            y_pred = y_pred[:, None]
        else:
            raise ValueError(f"`y_true` and `y_pred` must have the same shape, got "
                             f"y_true={shape_str(y_true.shape)} and y_pred={shape_str(y_pred.shape)}")
    return y_true, y_pred


def _binary_labels(y_true: np.ndarray) -> np.ndarray:
    """Binary targets (0/1 labels or probabilities in [0, 1]) as bools: a target is positive when >= 0.5,
    the rule training counts with."""
    outside = (y_true < 0) | (y_true > 1) | np.isnan(y_true)
    if outside.any():
        raise ValueError(f"`y_true` must hold binary targets in [0, 1] (labels 0/1 or probabilities) when "
                         f"`y_pred` has one column, got {y_true[outside].flat[0]}")
    return y_true >= 0.5


def accuracy(y_true, y_pred, threshold: float = 0.5) -> float:
    """Fraction of samples whose predicted class equals the true class.

    Multi-class (`y_pred` of shape (n, classes), classes >= 2): the prediction is the argmax of
    each row (probabilities, scores or logits alike); `y_true` holds integer labels of shape (n,)
    (or (n, 1)) or one-hot/probability rows of shape (n, classes), which are argmax-ed too.

    Binary (`y_pred` of shape (n,) or (n, 1)): the prediction is `y_pred > threshold`, compared
    with 0/1 labels in `y_true`. The default threshold 0.5 suits probabilities (sigmoid outputs);
    pass `threshold=0.0` for logits.

    Args:
        y_true: labels, shape (n,), (n, 1) or (n, classes).
        y_pred: model outputs, shape (n, classes), (n,) or (n, 1).
        threshold: decision threshold for the binary case.

    Example:
        >>> accuracy([0, 2, 1], [[0.9, 0.05, 0.05], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
        0.6666666666666666
        >>> accuracy([1, 0, 1, 1], [0.8, 0.4, 0.3, 0.51])
        0.75
    """
    threshold = require_number(threshold, "threshold")
    y_true, y_pred = _pair(y_true, y_pred)
    if y_pred.ndim == 1 or y_pred.shape[1:] == (1,):
        return binary_accuracy(y_true, y_pred, threshold)
    if y_pred.ndim != 2:
        raise ValueError(f"`y_pred` must be (n, classes), (n,) or (n, 1), got shape {shape_str(y_pred.shape)}")
    predicted = y_pred.argmax(axis=1)
    return float(np.mean(predicted == _class_labels(y_true, y_pred.shape[1])))


def _class_labels(y_true: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer labels from an (n,)/(n, 1) label vector or an (n, classes) one-hot/probability array."""
    if y_true.ndim == 2 and y_true.shape[1] == n_classes and n_classes > 1:
        return y_true.argmax(axis=1)
    if y_true.ndim == 2 and y_true.shape[1] == 1:
        y_true = y_true[:, 0]
    if y_true.ndim != 1:
        raise ValueError(f"`y_true` must be labels of shape (n,) or one-hot rows of shape (n, {n_classes}) "
                         f"to match y_pred, got shape {shape_str(y_true.shape)}")
    if y_true.dtype.kind == "f" and not np.array_equal(y_true, np.round(y_true)):
        raise ValueError("`y_true` holds class labels and must be whole numbers, got non-integer values")
    return y_true


def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> float:
    """Fraction of entries where `y_pred > threshold` matches the target in `y_true` (a 0/1 label, or a
    probability counted as 1 when >= 0.5, as training counts it).

    Every entry counts, so an (n, k) multi-label output is averaged over all n·k decisions.

    Args:
        y_true: 0/1 labels or probabilities in [0, 1], same shape as y_pred ((n,) and (n, 1) are
            interchangeable).
        y_pred: probabilities (or logits with threshold=0.0).
        threshold: decision threshold.

    Example:
        >>> binary_accuracy([[1], [0], [0]], [[0.7], [0.2], [0.9]])
        0.6666666666666666
    """
    threshold = require_number(threshold, "threshold")
    y_true, y_pred = _same_shape(y_true, y_pred)
    return float(np.mean(_binary_labels(y_true) == (y_pred > threshold)))


def mean_squared_error(y_true, y_pred) -> float:
    """Mean over all entries of (y_true − y_pred)².

    Args:
        y_true: targets, same shape as y_pred ((n,) and (n, 1) are interchangeable).
        y_pred: predictions.

    Example:
        >>> mean_squared_error([1.0, 2.0, 3.0], [1.5, 2.0, 1.0])
        1.4166666666666667
    """
    diff = _difference(y_true, y_pred)
    return float(np.mean(diff * diff))


def mean_absolute_error(y_true, y_pred) -> float:
    """Mean over all entries of |y_true − y_pred|.

    Args:
        y_true: targets, same shape as y_pred ((n,) and (n, 1) are interchangeable).
        y_pred: predictions.

    Example:
        >>> mean_absolute_error([1.0, 2.0, 3.0], [1.5, 2.0, 1.0])
        0.8333333333333334
    """
    return float(np.mean(np.abs(_difference(y_true, y_pred))))


def roc_auc(y_true, y_score) -> float:
    """Area under the ROC curve of a binary classifier: the probability that a random positive sample
    scores higher than a random negative one, ties counting one half (scikit-learn's roc_auc_score).

    Args:
        y_true: 0/1 labels (a target counts as positive when >= 0.5), shape (n,) or (n, 1).
        y_score: scores, probabilities or logits (any increasing function gives the same AUC),
            shape (n,) or (n, 1).

    Example:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    y_true, y_score = _same_shape(y_true, y_score)
    if y_score.ndim == 2 and y_score.shape[1] != 1:
        raise ValueError(f"roc_auc is for binary outputs: `y_score` must be (n,) or (n, 1), got shape "
                         f"{shape_str(y_score.shape)}")
    positive = _binary_labels(y_true).ravel()
    scores = y_score.astype(np.float64).ravel()
    if np.isnan(scores).any():
        raise ValueError("`y_score` must not contain NaN")
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"roc_auc needs both classes in `y_true`, got {n_pos} positive and {n_neg} negative samples")
    ranks = _average_ranks(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of `values`, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]  # each run of equal values is [start, end)
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _difference(y_true, y_pred) -> np.ndarray:
    """y_true − y_pred in float64, shapes matched."""
    y_true, y_pred = _same_shape(y_true, y_pred)
    return y_true.astype(np.float64) - y_pred.astype(np.float64)


# The one table of metric names: other names for a metric, then each metric's function.
ALIASES = {"acc": "accuracy", "mean_squared_error": "mse", "mean_absolute_error": "mae", "roc_auc": "auc"}
FUNCTIONS = {"accuracy": accuracy, "binary_accuracy": binary_accuracy, "mse": mean_squared_error,
             "mae": mean_absolute_error, "auc": roc_auc}


def canonical_name(name: str) -> str:
    """The registry name of a metric name given in any case or under an alias ("ACC" → "accuracy")."""
    name = str(name).lower()
    return ALIASES.get(name, name)


def get(identifier):
    """Resolve a metric name (case-insensitive) to its function; a callable is returned as is.

    Args:
        identifier: "accuracy"/"acc", "binary_accuracy", "mse"/"mean_squared_error",
            "mae"/"mean_absolute_error", "auc"/"roc_auc", or a callable `metric(y_true, y_pred) -> float`.

    Example:
        >>> get("MSE") is mean_squared_error
        True
    """
    if isinstance(identifier, str):
        fn = FUNCTIONS.get(canonical_name(identifier))
        if fn is None:
            raise ValueError(f"unknown metric {identifier!r}; expected one of {sorted([*FUNCTIONS, *ALIASES])}")
        return fn
    if callable(identifier):
        return identifier
    raise TypeError(f"`metric` must be a name or a callable metric(y_true, y_pred), "
                    f"got {type(identifier).__name__}: {identifier!r}")


class RunningMean:
    """Weighted mean of per-batch values, weighted by batch size: the per-epoch value of a metric.

    Example:
        >>> m = RunningMean()
        >>> m.update(0.5, 32)
        >>> m.update(1.0, 8)
        >>> m.result()  # (0.5·32 + 1.0·8) / 40
        0.6
    """

    def __init__(self):
        self.total = 0.0
        self.count = 0.0

    def update(self, value, weight=1) -> None:
        """Add a batch value with its weight (the batch size, > 0)."""
        arr = np.asarray(value)
        if isinstance(value, bool) or arr.ndim != 0 or arr.dtype.kind not in "fiu":
            raise TypeError(f"`value` must be a real number, got {value!r}")
        weight = require_number(weight, "weight", low=0.0, low_open=True)
        self.total += float(arr) * weight
        self.count += weight

    def result(self) -> float:
        """The weighted mean so far (NaN values propagate)."""
        if self.count == 0:
            raise ValueError("RunningMean.result() needs at least one update(), got none")
        return self.total / self.count

    def reset(self) -> None:
        """Forget all values (start of an epoch)."""
        self.total = 0.0
        self.count = 0.0

    def __repr__(self) -> str:
        value = self.total / self.count if self.count else math.nan
        return f"RunningMean(result={value:.6g}, count={self.count:g})"


# ---- the metrics compile() accepts: how fit/evaluate read each from the engines' Totals ----------

@dataclass(frozen=True)
class EpochMetric:
    """A metric `fit`/`evaluate` report: whether it needs a classification loss, and its value from the
    sums of a pass (`_core.Totals`): `weight` samples (their total weight, with sample weights) of
    `outputs` values each, `decisions` per sample."""

    classification: bool
    value: Callable[..., float]  # (totals, weight, outputs, decisions) -> float


EPOCH_METRICS = {
    "accuracy": EpochMetric(True, lambda t, weight, outputs, decisions: t.correct / (weight * decisions)),
    "mse": EpochMetric(False, lambda t, weight, outputs, decisions: t.sq_error / (weight * outputs)),
    "mae": EpochMetric(False, lambda t, weight, outputs, decisions: t.abs_error / (weight * outputs)),
}


# Metrics a user may ask compile() for that fit cannot sum batch by batch: what to write instead.
NOT_EPOCH_METRICS = {
    "auc": "ROC AUC ranks all of a pass's predictions at once, so fit/evaluate do not report it; compute it "
           "after fit with denso.metrics.roc_auc(y, model.predict(x))",
    "binary_accuracy": "'accuracy' is the binary accuracy of a binary_crossentropy model: write 'accuracy'",
}


def resolve(metric, loss) -> str:
    """The registry name of `metric` for a model compiled with `loss`; ValueError if unknown or if it
    does not apply ('accuracy' goes with cross-entropy losses, 'mse'/'mae' with mse, mae and huber)."""
    if not isinstance(metric, str):
        raise TypeError(f"`metrics` must be a metric name or a list of names, got {type(metric).__name__} "
                        f"{metric!r}; compile() reports {list(EPOCH_METRICS)}")
    name = canonical_name(metric)
    if name in NOT_EPOCH_METRICS:
        raise ValueError(f"metric {metric!r} is not supported by compile(): {NOT_EPOCH_METRICS[name]}. "
                         f"compile() reports {list(EPOCH_METRICS)}")
    if name not in EPOCH_METRICS:
        raise ValueError(f"unknown metric {metric!r}; compile() reports {list(EPOCH_METRICS)} "
                         f"(and their aliases {sorted(a for a, n in ALIASES.items() if n in EPOCH_METRICS)})")
    if EPOCH_METRICS[name].classification != loss.classification:
        raise ValueError(f"metric {metric!r} does not apply to loss {loss.name!r}: "
                         "use 'accuracy' with cross-entropy losses, 'mse'/'mae' with mse, mae and huber")
    return name


def epoch_logs(totals, loss, metrics, outputs: int, prefix: str = "") -> dict:
    """Per-sample (sample-weighted) means from a pass's Totals: the loss (penalties included) and each
    metric. A pass whose weights are all zero reports NaN."""
    weight = totals.weight if totals.weight > 0 else (math.nan if totals.rows else 1.0)
    decisions = loss.decisions_per_row(outputs)
    logs = {prefix + "loss": totals.loss / weight}
    for name in metrics:
        logs[prefix + name] = EPOCH_METRICS[name].value(totals, weight, outputs, decisions)
    return logs
