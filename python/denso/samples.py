"""The samples a model is given, checked once against it: inputs x, targets as a matrix y or as
integer labels (whichever the loss reads), and optional per-sample weights."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_float_array, require_finite, require_ndim, shape_str


@dataclass(frozen=True)
class Samples:
    """x (n × inputs) with its targets: y (n × outputs) or labels (n int64), the other None; weights
    (n, the model's dtype) or None for all 1."""

    x: np.ndarray
    y: np.ndarray | None
    labels: np.ndarray | None
    weights: np.ndarray | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    def rows(self, index) -> "Samples":
        """The samples at `index` (a slice or an index array)."""
        return Samples(self.x[index], _take(self.y, index), _take(self.labels, index), _take(self.weights, index))


def _take(arr, index):
    return None if arr is None else arr[index]


def check_inputs(model, x, name: str = "x") -> np.ndarray:
    """`x` as a finite 2-D array of the model's dtype and (once built) input width."""
    arr = as_float_array(x, name, model.dtype)
    require_ndim(arr, name, 2, "samples × features")
    if model.built and arr.shape[1] != model.input_dim:
        raise ValueError(f"`{name}` must have {model.input_dim} columns to match the model's input, "
                         f"got array of shape {shape_str(arr.shape)}")
    require_finite(arr, name)
    return arr


def check_samples(model, x, y, name: str = "x", sample_weight=None) -> Samples:
    """(x, y[, sample_weight]) checked against a built, compiled model: the loss decides whether y
    becomes labels."""
    x = check_inputs(model, x, name)
    if y is None:
        raise ValueError("`y` is required")
    y_arr, labels = model.loss.targets(y, x.shape[0], model.output_dim, model.dtype)
    return Samples(x, y_arr, labels, check_sample_weight(sample_weight, x.shape[0], model.dtype))


def check_sample_weight(sample_weight, n: int, dtype) -> np.ndarray | None:
    """None, or n finite weights >= 0, not all zero, as a contiguous array of the model's dtype."""
    if sample_weight is None:
        return None
    w = np.ascontiguousarray(as_float_array(sample_weight, "sample_weight", dtype))
    if w.shape != (n,):
        raise ValueError(f"`sample_weight` must have shape {shape_str((n,))} (one weight per sample), "
                         f"got {shape_str(w.shape)}")
    require_finite(w, "sample_weight")
    if (w < 0).any():
        raise ValueError(f"`sample_weight` must be >= 0, got {float(w[w < 0][0]):g} at index {int(np.argmax(w < 0))}")
    if n and not (w > 0).any():
        raise ValueError("`sample_weight` must hold at least one positive weight, got all zeros")
    return w
