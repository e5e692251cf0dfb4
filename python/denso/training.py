"""The two ways to run a model's batches, with identical results: the fused C++ plan and the
Tensor graph. Both return the same sums (loss, correct answers, ...) so fit() does not care which ran.
"""
from __future__ import annotations

import numpy as np

from . import _core
from .autograd import Tensor, no_grad
from .losses import batch_totals
from .nn import Dense
from .plan import build_plan


class PlanEngine:
    """Runs whole batches (forward, loss, backward, update) in one native call per chunk of batches."""

    def __init__(self, model, max_batch: int, seed: int, labels):
        self.model = model
        self.plan = build_plan(model, max_batch, seed, labels)

    def train(self, x, y, labels, order, batch_size, first, last, lrs, step):
        self.plan.set_optimizer(self.model.optimizer.kernel_config())
        return self.plan.train(x, y, labels, order, batch_size, first, last, lrs, step)

    def evaluate(self, x, y, labels):
        return self.plan.evaluate(x, y, labels)

    def predict(self, x):
        out = np.empty((x.shape[0], self.model.output_dim), dtype=x.dtype)
        self.plan.predict(x, out)
        return out


class GraphEngine:
    """The teaching path: each batch builds a Tensor graph, calls backward() and the optimizer."""

    def __init__(self, model, seed: int):
        self.model, self.seed = model, seed

    def train(self, x, y, labels, order, batch_size, first, last, lrs, step):
        model, totals = self.model, _empty_totals()
        for b in range(first, last):
            idx = order[b * batch_size:(b + 1) * batch_size]
            yb = None if y is None else y[idx]
            lb = None if labels is None else labels[idx]
            output = model._graph_forward(Tensor(x[idx]), training=True, seed=self.seed, step=step + 1)
            data_loss = model.loss(output, yb, lb)
            for p in model.parameters():
                p.zero_grad()
            data_loss.backward()
            penalty = self._penalty_grads()
            value = data_loss.item() + penalty
            if not np.isfinite(value):
                totals.update(finite=False, bad_batch=b)
                break
            model._gather_grads()
            step += 1
            model.optimizer.lr = float(lrs[b - first])
            model.optimizer.step()
            _add(totals, len(idx), data_loss.item(), penalty, batch_totals(model.loss, output.data, yb, lb))
        totals["step"] = step
        return totals

    def _penalty_grads(self) -> float:
        """Add each Dense layer's l1/l2 gradient (same kernel as the plan); returns the penalty."""
        total = 0.0
        for layer in self.model.layers:
            if isinstance(layer, Dense) and (layer.l1 or layer.l2):
                if layer.weight.grad is None:
                    layer.weight.grad = np.zeros_like(layer.weight.data)
                total += _core.add_weight_penalty(layer.weight.data, layer.weight.grad, layer.l1, layer.l2)
        return total

    def evaluate(self, x, y, labels):
        model, totals = self.model, _empty_totals()
        penalty = model._penalty_value()
        with no_grad():
            output = model._graph_forward(Tensor(x), training=False)
            loss = model.loss(output, y, labels).item()
        _add(totals, x.shape[0], loss, penalty, batch_totals(model.loss, output.data, y, labels))
        return totals

    def predict(self, x):
        with no_grad():
            return self.model._graph_forward(Tensor(x), training=False, probabilities=True).data


def _empty_totals() -> dict:
    return {"loss": 0.0, "data_loss": 0.0, "correct": 0.0, "abs_error": 0.0, "rows": 0, "batches": 0,
            "finite": True, "bad_batch": -1}


def _add(totals: dict, rows: int, data_loss: float, penalty: float, counts: dict) -> None:
    totals["loss"] += rows * (data_loss + penalty)
    totals["data_loss"] += rows * data_loss
    totals["rows"] += rows
    totals["batches"] += 1
    totals["correct"] += counts["correct"]
    totals["abs_error"] += counts["abs_error"]
