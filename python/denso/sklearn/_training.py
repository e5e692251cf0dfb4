"""One scikit-learn epoch on denso's native plan, with scikit-learn's exact objective.

scikit-learn minimises, per batch of b samples of total weight s (s = b without sample weights),
``data_loss + 0.5·alpha·Σ‖W‖² / s`` with the data loss's gradient ``w·(p − y)/s`` (summed over
outputs). denso's losses are (weighted) means over the batch (and, for binary cross-entropy and mse,
over the outputs too), and its penalty is ``l2·ΣW²``, divided by s when the plan runs with
``penalty_per_sample``. So denso's objective is ``scale`` times scikit-learn's when each Dense layer
gets ``l2 = scale·0.5·alpha`` on such a plan, with ``scale`` = 1 (softmax cross-entropy), 1/k (k
logistic outputs), 2/k (squared error over k outputs). The update is then made identical by dividing
SGD's learning rate by ``scale`` and multiplying Adam's epsilon by it (Adam is otherwise invariant to
the gradient's scale).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engines import make_engine


def loss_scale(loss_name: str, outputs: int) -> float:
    """denso's loss over scikit-learn's gradient objective."""
    return {"categorical_crossentropy": 1.0, "binary_crossentropy": 1.0 / outputs, "mse": 2.0 / outputs}[loss_name]


def value_scale(loss_name: str, outputs: int) -> float:
    """scikit-learn's reported data loss over denso's (its squared loss value is a mean over outputs)."""
    return {"categorical_crossentropy": 1.0, "binary_crossentropy": float(outputs), "mse": 0.5}[loss_name]


@dataclass
class EpochRunner:
    """The plan that runs one epoch of `n` samples in batches of `batch_size` for one model."""

    model: object
    data: object           # denso.samples.Samples (with the sample weights, if any)
    batch_size: int
    alpha: float
    scale: float
    value: float
    seed: int

    def __post_init__(self):
        n, b = len(self.data), self.batch_size
        self.steps = -(-n // b)
        for layer in self.model.dense_layers():
            layer.l2 = self.scale * 0.5 * self.alpha
        self.engine = make_engine(self.model, "auto", b, self.seed, self.data.labels is not None,
                                  penalty_per_sample=True)

    def run(self, order: np.ndarray, lr: float) -> float:
        """Train one epoch in `order` at denso learning rate `lr`; scikit-learn's epoch loss, the mean
        over batches of each batch's loss weighted by its rows. Without sample weights one native call
        gives it; with them each batch's loss is a weighted mean, so each batch is its own call."""
        if self.data.weights is None:
            data_loss, total = self._train(order, 0, self.steps, lr)
            return (self.value * data_loss + (total - data_loss) / self.scale) / len(self.data)
        loss = 0.0
        for b in range(self.steps):
            rows = min(self.batch_size, len(self.data) - b * self.batch_size)
            data_loss, total = self._train(order, b, b + 1, lr)
            loss += rows * (self.value * data_loss + (total - data_loss) / self.scale)
        return loss / len(self.data)

    def _train(self, order, first: int, last: int, lr: float) -> tuple:
        """(Σ weight·data loss, Σ weight·(data loss + penalty)) over batches [first, last), divided by
        the weight for a single weighted batch (so it is that batch's mean)."""
        model = self.model
        step = model.steps_trained
        lrs = np.full(last - first, lr, dtype=np.float64)
        totals = self.engine.train(self.data, order, self.batch_size, first, last, lrs, step)
        model.steps_trained = step + totals.batches
        if not totals.finite or totals.overflowed:
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                             "values and need to be preprocessed (or the learning rate is too high).")
        if self.data.weights is None:
            return totals.data_loss, totals.loss
        if totals.weight == 0.0:  # a batch of zero weights: no loss, no gradient
            return 0.0, 0.0
        return totals.data_loss / totals.weight, totals.loss / totals.weight
