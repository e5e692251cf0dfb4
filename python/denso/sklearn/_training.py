"""One scikit-learn epoch on denso's native plan, with scikit-learn's exact objective.

scikit-learn minimises, per batch of b samples, ``data_loss + 0.5·alpha·Σ‖W‖² / b`` with the data
loss's gradient ``(p − y)/b`` (summed over outputs). denso's losses are means over the batch (and,
for binary cross-entropy and mse, over the outputs too), and its penalty is ``l2·ΣW²``. So denso's
objective is ``scale`` times scikit-learn's when each Dense layer gets ``l2 = scale·0.5·alpha/b``,
with ``scale`` = 1 (softmax cross-entropy), 1/k (k logistic outputs), 2/k (squared error over k
outputs). The update is then made identical by dividing SGD's learning rate by ``scale`` and
multiplying Adam's epsilon by it (Adam is otherwise invariant to the gradient's scale).

The last, shorter batch of an epoch (b = n mod batch_size) needs its own l2, so it runs on a second
plan over the same weights and optimizer state.
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
    """The plans that run one epoch of `n` samples in batches of `batch_size` for one model."""

    model: object
    data: object           # denso.samples.Samples
    batch_size: int
    alpha: float
    scale: float
    value: float
    seed: int

    def __post_init__(self):
        n, b = len(self.data), self.batch_size
        self.steps = -(-n // b)
        self.short = n - (self.steps - 1) * b          # rows in the last batch
        labels = self.data.labels is not None
        self.full = self._engine(b, b, labels)
        same = self.short == b or self.alpha == 0.0
        self.last = self.full if same else self._engine(b, self.short, labels)

    def _engine(self, max_batch: int, rows: int, labels: bool):
        """A plan whose layers carry the l2 of a batch of `rows` samples."""
        for layer in self.model.dense_layers():
            layer.l2 = self.scale * 0.5 * self.alpha / rows
        return make_engine(self.model, "auto", max_batch, self.seed, labels)

    def run(self, order: np.ndarray, lr: float) -> float:
        """Train one epoch in `order` at denso learning rate `lr`; scikit-learn's epoch loss."""
        data_loss = total = 0.0
        if self.steps > 1:
            data_loss, total = self._train(self.full, order, 0, self.steps - 1, lr)
        last = self._train(self.last, order, self.steps - 1, self.steps, lr)
        data_loss, total = data_loss + last[0], total + last[1]
        return (self.value * data_loss + (total - data_loss) / self.scale) / len(self.data)

    def _train(self, engine, order, first: int, last: int, lr: float) -> tuple:
        model = self.model
        step = model.steps_trained
        lrs = np.full(last - first, lr, dtype=np.float64)
        totals = engine.train(self.data, order, self.batch_size, first, last, lrs, step)
        model.steps_trained = step + totals.batches
        if not totals.finite or totals.overflowed:
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                             "values and need to be preprocessed (or the learning rate is too high).")
        return totals.data_loss, totals.loss
