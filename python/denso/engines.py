"""The two ways to run a model's batches, with identical results: the fused C++ plan and the Tensor
graph. Both count a batch with the same native rule (`_core.count_batch` → `_core.Totals`), add the
same l1/l2 kernel, call the same optimizer update and offer the same gradient hook point between
backward and update, so the trainer does not care which one runs.
"""
from __future__ import annotations

import numpy as np

from . import _core
from .autograd import Tensor, no_grad
from .nn import TrainingStream
from .plan import build_plan, layer_activation, unsupported_reason

ENGINES = ("auto", "plan", "graph")


def check_engine(engine) -> None:
    if engine not in ENGINES:
        raise ValueError(f"`engine` must be 'auto', 'plan' or 'graph', got {engine!r}")


def make_engine(model, engine: str, max_batch: int, seed: int, labels: bool, penalty_per_sample: bool = False):
    """The engine `engine` names for a compiled model ("auto": the plan when it can run the model).

    `penalty_per_sample`: each batch's l1/l2 penalty is divided by the batch's total sample weight (its
    rows without weights), scikit-learn's convention for alpha; by default it is as configured (Keras's)."""
    check_engine(engine)
    reason = unsupported_reason(model)
    if engine == "plan" and reason:
        raise ValueError(f"engine='plan' cannot run this model: {reason}")
    if engine == "graph" or reason:
        return GraphEngine(model, seed, penalty_per_sample)
    return PlanEngine(model, max_batch, seed, labels, penalty_per_sample)


def graph_forward(model, x: Tensor, stream: TrainingStream | None = None, probabilities: bool = False) -> Tensor:
    """The model's forward pass as a Tensor graph. Each Dense runs plan.layer_activation's choice: the
    last one the activation the loss leaves it (logits for a fused loss), or with `probabilities` what
    predict() returns."""
    dense = {id(layer) for layer in model.dense_layers()}
    out = x
    for layer in model.layers:
        if id(layer) in dense:
            out = layer.forward(out, stream, activation=layer_activation(model, layer, probabilities))
        else:
            out = layer.forward(out, stream)
    return out


class PlanEngine:
    """Runs whole batches (forward, loss, backward, update) in one native call per chunk of batches."""

    def __init__(self, model, max_batch: int, seed: int, labels: bool, penalty_per_sample: bool = False):
        self.model = model
        self.plan = build_plan(model, max_batch, seed, labels)
        self.plan.penalty_per_sample = penalty_per_sample

    def set_gradient_hook(self, hook) -> None:
        """hook(grads, rows, step) between backward and update of every batch (None removes it)."""
        self.plan.set_gradient_hook(hook)

    def set_shard(self, rank: int, ranks: int) -> None:
        """Data parallelism: train shard `rank` of `ranks` of every batch (see _core.Plan.set_shard)."""
        self.plan.set_shard(rank, ranks)

    def train(self, data, order, batch_size, first, last, lrs, step) -> "_core.Totals":
        try:
            return self.plan.train(data.x, data.y, data.labels, data.weights, order, batch_size, first, last, lrs,
                                   step)
        except BaseException:  # the gradient hook raised: the batches before it were applied, and count
            self.model.steps_trained = self.plan.last_step
            raise

    def evaluate(self, data) -> "_core.Totals":
        return self.plan.evaluate(data.x, data.y, data.labels, data.weights)


class GraphEngine:
    """The teaching path: each batch builds a Tensor graph, calls backward() and the optimizer."""

    def __init__(self, model, seed: int, penalty_per_sample: bool = False):
        self.model, self.seed, self.hook = model, seed, None
        self.penalty_per_sample = penalty_per_sample
        self.shard = None  # (rank, ranks) in data-parallel training

    def set_gradient_hook(self, hook) -> None:
        self.hook = hook

    def set_shard(self, rank: int, ranks: int) -> None:
        """Train shard `rank` of `ranks` of every batch, as the plan's set_shard does."""
        self.shard = (int(rank), int(ranks))

    def train(self, data, order, batch_size, first, last, lrs, step) -> "_core.Totals":
        model, totals, flat = self.model, _core.Totals(), self.model.flat_parameter
        for b in range(first, last):
            batch = order[b * batch_size:(b + 1) * batch_size]
            offset, rows, total = (0, len(batch), None) if self.shard is None else \
                _core.batch_shard(batch, data.weights, *self.shard)
            shard = data.rows(batch[offset:offset + rows])
            output, data_loss, penalty = self._gradient(shard, offset, total, step + 1)
            finite = np.isfinite(data_loss + penalty)
            if not finite and self.shard is None:
                totals += _core.Totals.stopped_at(b)
                break
            step += 1
            if not finite:
                flat.grad[0] = np.nan  # tells the other ranks through the allreduce, as the plan does
            if self.hook is not None:
                self.hook(flat.grad, rows, step)
            if self.shard is not None and np.isnan(flat.grad[0]):
                totals += _core.Totals.stopped_at(b)
                break
            model.optimizer.lr = float(lrs[b - first])
            model.optimizer.step()
            totals += self._count(output, shard, _own_mean(data_loss, shard, total), penalty)
        if not _core.all_finite(model.flat_parameter.data):  # an update overflowed: checked once a call, as the plan
            totals += _core.Totals.overflow()
        return totals

    def _gradient(self, batch, row_offset: int, total, step: int) -> tuple:
        """(logits, data loss, penalty) of `batch`, rows [row_offset, ...) of a batch normalised by `total`
        (None: by these rows), with its gradient in the flat gradient buffer. A shard without rows gives a
        zero gradient; only rank 0 of a sharded batch adds the penalty gradient."""
        model = self.model
        for p in model.parameters():
            p.zero_grad()
        output, data_loss = None, 0.0
        if len(batch):
            logits = graph_forward(model, Tensor(batch.x), TrainingStream(self.seed, step, row_offset))
            loss = model.loss(logits, batch.y, batch.labels, batch.weights, total)
            loss.backward()
            output, data_loss = logits.data, loss.item()
        penalty = self._penalty(self.shard is None or self.shard[0] == 0, batch, total)
        self._gather_grads()
        return output, data_loss, penalty

    def evaluate(self, data) -> "_core.Totals":
        with no_grad():
            output = graph_forward(self.model, Tensor(data.x))
            loss = self.model.loss(output, data.y, data.labels, data.weights).item()
        return self._count(output.data, data, loss, self._penalty(with_grad=False, batch=data))

    def _count(self, logits, batch, data_loss: float, penalty: float) -> "_core.Totals":
        if logits is None:  # a shard without rows: one batch, nothing to sum
            return _core.Totals.from_sums(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 1)
        kind = self.model.loss.kind(batch.labels is not None)
        return _core.count_batch(kind, np.ascontiguousarray(logits), batch.y, batch.labels, data_loss, penalty,
                                 batch.weights)

    def _penalty(self, with_grad: bool, batch, total=None) -> float:
        """Each Dense layer's l1/l2 value (the plan's kernel), its gradient added `with_grad`; divided by
        the batch's total sample weight (`total`, else that of `batch`) with penalty_per_sample, as the
        plan does."""
        factor = 1.0
        if self.penalty_per_sample:
            if total is None:
                total = len(batch) if batch.weights is None else float(batch.weights.sum(dtype=np.float64))
            factor = 1.0 / total if total > 0 else 0.0
        penalty = 0.0
        for layer in self.model.dense_layers():
            if layer.l1 or layer.l2:
                weight = layer.weight
                if with_grad and weight.grad is None:
                    weight.grad = np.zeros_like(weight.data)
                penalty += _core.weight_penalty(weight.data, weight.grad if with_grad else None, factor * layer.l1,
                                                factor * layer.l2)
        return penalty

    def _gather_grads(self) -> None:
        """Copy each parameter Tensor's .grad to its place in the flat gradient buffer the optimizer reads."""
        flat = self.model.flat_parameter.grad
        for layer in self.model.dense_layers():
            for name in ("weight", "bias"):
                p = getattr(layer, name)
                if p is not None:
                    offset = getattr(layer, name + "_offset")
                    flat[offset:offset + p.data.size] = 0 if p.grad is None else p.grad.reshape(-1)


def _own_mean(data_loss: float, shard, total) -> float:
    """A shard's data loss as the mean over its own rows (what count_batch weighs by them), from its part
    of the batch loss, Σ_shard w·loss / total (as the plan's own_mean)."""
    if total is None:
        return data_loss
    own = len(shard) if shard.weights is None else float(shard.weights.sum(dtype=np.float64))
    return data_loss * (total / own) if own > 0 else 0.0
