"""Per-feature standardisation: learn it on the training rows, then fold it into a trained model.

`Standardizer` scales features to zero mean and unit variance with statistics of the data given
to fit(); `fold_standardization` rewrites a model trained on scaled features so that it takes the
raw features instead, and nobody has to ship the scaler with the model.
"""
from __future__ import annotations

import numpy as np

from . import optim


class Standardizer:
    """Per-feature standardisation x → (x − mean) / std with statistics of the data given to fit().

    A constant feature gets std 1 (it becomes 0 instead of NaN).

    Example:
        >>> s = Standardizer().fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
        >>> s.transform(np.array([[2.0, 5.0]])).tolist()
        [[0.0, 0.0]]
    """

    def __init__(self):
        self.mean = self.std = None

    def fit(self, x) -> "Standardizer":
        """Learn mean and standard deviation of each column of x (n, features)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"Standardizer.fit needs a non-empty 2-D array, got shape {x.shape}")
        self.mean = x.mean(axis=0)
        std = x.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, x) -> np.ndarray:
        """(x − mean) / std, in x's float dtype (float32 for integer input)."""
        if self.mean is None:
            raise ValueError("Standardizer.transform called before fit")
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        return ((x - self.mean) / self.std).astype(dtype)


def fold_standardization(model, scaler: Standardizer) -> None:
    """Make a model trained on `scaler.transform(x)` take the raw x: fold the scaling into its first layer.

    With x' = (x − mean) / std, the first layer computes x'·W + b = x·W' + b' where
    W' = W / std (each input row of W divided by its feature's std) and b' = b − (mean / std)·W.
    The model is then compiled again with the same optimizer settings, loss and metrics: the
    optimizer's state (moments, step count) belonged to the old parametrisation.

    Args:
        model: a compiled Sequential whose first layer is a Dense layer with a bias.
        scaler: the fitted Standardizer whose output the model was trained on.

    Raises:
        ValueError when the first layer has no bias (the shift has nowhere to go); the model is
        then left as it was.

    Example:
        >>> model.fit(scaler.transform(x), y)
        >>> fold_standardization(model, scaler)
        >>> model.predict(x)  # the same outputs as model.predict(scaler.transform(x)) before
    """
    first = model.layers[0]
    if first.bias is None:
        raise ValueError("cannot fold standardisation into a first layer without a bias")
    weight = first.weight.data.astype(np.float64)
    shift = (scaler.mean / scaler.std) @ weight
    first.weight.data[...] = weight / scaler.std[:, None]
    first.bias.data[...] = first.bias.data - shift
    model.compile(optim.get(model.optimizer.config()), model.loss.name, model.metrics)
