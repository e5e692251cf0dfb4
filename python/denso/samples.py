"""The samples a model is given, checked once against it: inputs x, and targets as a matrix y or as
integer labels (whichever the loss reads)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_float_array, require_finite, require_ndim, shape_str


@dataclass(frozen=True)
class Samples:
    """x (n × inputs) with its targets: y (n × outputs) or labels (n int64), the other None."""

    x: np.ndarray
    y: np.ndarray | None
    labels: np.ndarray | None

    def __len__(self) -> int:
        return self.x.shape[0]

    def rows(self, index) -> "Samples":
        """The samples at `index` (a slice or an index array)."""
        return Samples(self.x[index], _take(self.y, index), _take(self.labels, index))


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


def check_samples(model, x, y, name: str = "x") -> Samples:
    """(x, y) checked against a built, compiled model: the loss decides whether y becomes labels."""
    x = check_inputs(model, x, name)
    if y is None:
        raise ValueError("`y` is required")
    y_arr, labels = model.loss.targets(y, x.shape[0], model.output_dim, model.dtype)
    return Samples(x, y_arr, labels)
