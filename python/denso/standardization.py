"""Per-feature standardisation: learn it on the training rows, then fold it into a trained model.

`Standardizer` scales features (or regression targets) to zero mean and unit variance with
statistics of the data given to fit(); `fold_standardization` rewrites a model trained on scaled
features so that it takes the raw features instead, and `fold_target_standardization` rewrites a
model trained on scaled targets so that it predicts the raw targets: nobody has to ship a scaler
with the model.
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
    _recompile(model)


def fold_target_standardization(model, scaler: Standardizer) -> None:
    """Make a model trained on targets `scaler.transform(y)` predict the raw y: fold the inverse into its last layer.

    The last layer computes z = h·W + b and the model learned z ≈ (y − mean) / std, so
    y ≈ std·z + mean = h·W' + b' with W' = W·std (each output column of W times its target's std)
    and b' = b·std + mean. The model is then compiled again as in fold_standardization.

    Args:
        model: a compiled Sequential whose last layer is a Dense layer with a bias and no activation
            (a regression head; after a softmax or sigmoid the scaling would not be linear).
        scaler: the fitted Standardizer of the targets (one column per output; a 1-D target is one
            column).

    Raises:
        ValueError when the last layer is not such a Dense layer or the scaler's width differs from
        its outputs; the model is then left as it was.

    Example:
        >>> model.fit(x, scaler.transform(y[:, None])[:, 0])
        >>> fold_target_standardization(model, scaler)
        >>> model.predict(x)  # std·(the outputs before) + mean
    """
    last = model.layers[-1]
    if not hasattr(last, "units") or last.weight is None:
        raise ValueError(f"cannot fold target standardisation: the last layer must be a built Dense layer, "
                         f"got {type(last).__name__}")
    if last.activation != "identity":
        raise ValueError(f"cannot fold target standardisation into a last layer with activation "
                         f"{last.activation!r}; it needs a linear output (activation None)")
    if last.bias is None:
        raise ValueError("cannot fold target standardisation into a last layer without a bias")
    mean, std = np.atleast_1d(scaler.mean), np.atleast_1d(scaler.std)
    if mean.shape != (last.units,):
        raise ValueError(f"the target scaler has {mean.size} columns, but the last layer has {last.units} outputs")
    last.weight.data[...] = last.weight.data.astype(np.float64) * std
    last.bias.data[...] = last.bias.data.astype(np.float64) * std + mean
    _recompile(model)


def _recompile(model) -> None:
    """Compile again with the same optimizer settings, loss and metrics (a fresh optimizer state)."""
    model.compile(optim.get(model.optimizer.config()), model.loss.config(), model.metrics)
