"""Loss objects for the model API: they know their fused kernel, how to read targets, how
predictions become probabilities and how to count correct answers.

Every loss works on the last layer's pre-activation output ("logits") where that is stabler; which
activation the last layer then runs is decided here (`Loss.trained_activation`), for both engines:
- categorical_crossentropy: the last Dense must have activation None or "softmax"; the softmax is
  fused into the loss (log-sum-exp) and predict() returns softmax probabilities.
- binary_crossentropy: the last Dense must have activation None or "sigmoid"; fused likewise,
  predict() returns sigmoid probabilities.
- mse, mae, huber: the last layer's activation is applied as written and predict() returns its output.
"""
from __future__ import annotations

import inspect

import numpy as np

from . import _core
from ._checks import as_float_array, as_labels, require_finite, require_probability_rows, shape_str
from ._checks import require_number
from .functional import binary_crossentropy, categorical_crossentropy, huber, mae, mse


class Loss:
    """A loss as both engines use it. Subclasses declare their native kernels (`kinds`: for a target
    matrix, for integer labels), their graph function (`graph_loss`, from denso.functional) and the
    activation they fuse; the rules below read those declarations."""

    name = ""
    fused_activation = None   # activation the loss absorbs from the last layer
    probabilities = None      # activation predict() applies to the logits
    classification = False    # counts correct answers (accuracy) rather than errors
    binary = False            # one decision per output (else one per row: the argmax)
    kinds = (None, None)      # (_core.LossKind for a target matrix, for integer labels)
    graph_loss = None         # f(output Tensor, targets, weights, total) -> scalar Tensor

    def check_output_activation(self, activation: str) -> None:
        """Raise unless the last Dense layer's `activation` suits this loss."""
        if self.fused_activation is not None and activation not in ("identity", "linear", self.fused_activation):
            raise ValueError(f"loss {self.name!r} works on logits: the last Dense layer must have activation None "
                             f"or {self.fused_activation!r}, got {activation!r}")

    def trained_activation(self, activation: str) -> str:
        """The activation the last Dense layer runs before this loss: "identity" when the loss fuses it."""
        self.check_output_activation(activation)
        return "identity" if self.fused_activation is not None else activation

    def predicted_activation(self, activation: str) -> str:
        """The activation predict() applies in its place: the probabilities of a fused loss."""
        self.check_output_activation(activation)
        return self.probabilities if self.fused_activation is not None else activation

    def decisions_per_row(self, outputs: int) -> int:
        """Correct/incorrect decisions counted per sample: one class, or one per binary output."""
        return outputs if self.binary else 1

    def kind(self, labels: bool) -> "_core.LossKind":
        """The native loss kernel, for integer `labels` or for a target matrix."""
        kind = self.kinds[1 if labels else 0]
        if kind is None:
            raise ValueError(f"loss {self.name!r} does not take integer labels")
        return kind

    def plan_arguments(self) -> dict:
        """Keyword arguments of `_core.Plan` that configure this loss's kernel (huber's delta)."""
        return {}

    def config(self):
        """What `denso.losses.get` rebuilds this loss from: its name, or a dict with its arguments."""
        return self.name

    def __call__(self, output, y, labels, weights=None, total=None):
        """The data loss as a graph node (the Tensor path); `weights` per row make it a weighted mean;
        `total` divides by a whole batch's total weight instead of these rows' (a data-parallel shard)."""
        return type(self).graph_loss(output, labels if labels is not None else y, weights, total)

    def targets(self, y, n: int, outputs: int, dtype) -> tuple:
        """(y matrix, None) or (None, int64 labels), validated against n rows and `outputs` columns."""
        arr = as_float_array(y, "y", dtype)
        if arr.ndim == 1 and outputs == 1:
            arr = arr.reshape(-1, 1)
        if arr.shape != (n, outputs):
            raise ValueError(f"`y` must have shape {shape_str((n, outputs))} to match the model's output, "
                             f"got {shape_str(np.shape(y))}")
        require_finite(arr, "y")
        return arr, None


class MeanSquaredError(Loss):
    name = "mse"
    kinds = (_core.LossKind.mse, None)
    graph_loss = staticmethod(mse)


class MeanAbsoluteError(Loss):
    name = "mae"
    kinds = (_core.LossKind.mae, None)
    graph_loss = staticmethod(mae)


class Huber(Loss):
    """Huber loss with threshold `delta` (> 0): quadratic for |error| <= delta, linear beyond (Keras's
    Huber and PyTorch's HuberLoss). `loss="huber"` is Huber(delta=1.0).

    Example:
        >>> model.compile(optimizer="adam", loss=Huber(delta=2.0))
    """

    name = "huber"
    kinds = (_core.LossKind.huber, None)

    def __init__(self, delta: float = 1.0):
        self.delta = require_number(delta, "delta", low=0.0, low_open=True)

    def plan_arguments(self) -> dict:
        return {"loss_delta": self.delta}

    def config(self):
        return self.name if self.delta == 1.0 else {"name": self.name, "delta": self.delta}

    def __call__(self, output, y, labels, weights=None, total=None):
        return huber(output, y, weights, self.delta, total)


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"
    fused_activation = probabilities = "sigmoid"
    classification = binary = True
    kinds = (_core.LossKind.bce_logits, None)
    graph_loss = staticmethod(binary_crossentropy)

    def targets(self, y, n, outputs, dtype):
        arr, _ = super().targets(y, n, outputs, dtype)
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"`y` for binary_crossentropy must lie in [0, 1], got values in [{arr.min()}, {arr.max()}]")
        return arr, None


class CategoricalCrossentropy(Loss):
    """Integer labels (n,) or one-hot/probability rows (n, classes)."""

    name = "categorical_crossentropy"
    fused_activation = probabilities = "softmax"
    classification = True
    kinds = (_core.LossKind.softmax_xent, _core.LossKind.softmax_xent_labels)
    graph_loss = staticmethod(categorical_crossentropy)

    def targets(self, y, n, outputs, dtype):
        if np.ndim(y) == 1:
            if len(y) != n:
                raise ValueError(f"`y` must have {n} labels (one per row of x), got {len(y)}")
            return None, as_labels(y, "y", outputs, n)
        arr, _ = super().targets(y, n, outputs, dtype)
        require_probability_rows(arr, "y")
        return arr, None


LOSSES = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": CategoricalCrossentropy,
}


def get(loss) -> Loss:
    """A Loss from its name, from a config dict (`Loss.config()`: {"name": "huber", "delta": 2.0}), or a
    Loss instance returned as is."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.lower() in LOSSES:
        return LOSSES[loss.lower()]()
    if isinstance(loss, dict) and isinstance(loss.get("name"), str) and loss["name"].lower() in LOSSES:
        arguments = {k: v for k, v in loss.items() if k != "name"}
        cls = LOSSES[loss["name"].lower()]
        unknown = sorted(set(arguments) - set(inspect.signature(cls).parameters))
        if unknown:  # the constructor's own checks (a bad value) raise as they are
            raise ValueError(f"loss {loss['name']!r} does not take the arguments {unknown}")
        return cls(**arguments)
    raise ValueError(f"unknown loss {loss!r}; expected one of {sorted(LOSSES)} (or a denso.losses.Loss)")
