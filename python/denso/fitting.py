"""Sequential.fit's loops: epochs, chunks of batches between callbacks/progress, validation."""
from __future__ import annotations

import math

import numpy as np

from . import _core
from ._checks import require_number, require_positive_int


class TrainingDiverged(FloatingPointError):
    """Raised when the loss becomes NaN or infinite; `.history` holds the epochs completed."""

    def __init__(self, message, history=None):
        super().__init__(message)
        self.history = history


def run_fit(model, x, y, epochs, batch_size, shuffle, validation_data, validation_split, callbacks, verbose,
            seed, initial_epoch, engine):
    from .callbacks import CallbackList, History, LearningRateScheduler
    from .progress import ProgressBar

    model._require_compiled("fit")
    epochs = require_positive_int(epochs, "epochs", minimum=0)
    batch_size = require_positive_int(batch_size, "batch_size")
    validation_split = require_number(validation_split, "validation_split", low=0.0)
    if validation_split >= 1.0:
        raise ValueError(f"`validation_split` must be in [0, 1), got {validation_split}")
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"`verbose` must be 0, 1 or 2, got {verbose!r}")
    if not model.built:
        arr = np.asarray(x)
        if arr.ndim != 2:
            raise ValueError(f"`x` must be 2-D (samples × features), got array of shape {arr.shape}")
        model.build(arr.shape[1])
    x, y_arr, labels = model._data(x, y)
    if x.shape[0] == 0:
        raise ValueError("`x` must hold at least one sample")
    x, y_arr, labels, val = _split_validation(model, x, y_arr, labels, validation_data, validation_split)
    seed = model.seed + 7919 * (model._epoch + 1) if seed is None else int(seed)
    n = x.shape[0]
    batch_size = min(batch_size, n)
    steps = math.ceil(n / batch_size)
    runner = model._engine(engine, batch_size, seed, labels)

    history = History()
    callback_list = CallbackList(list(callbacks or []) + [history], model)  # History last: it sees "lr"
    model.history, model.stop_training = history, False
    per_step = [c for c in callback_list.callbacks if isinstance(c, LearningRateScheduler) and c.per_step]
    bar = ProgressBar(epochs, steps, verbose=int(verbose))
    live = verbose == 1 and bar.live
    chunk = 1 if callback_list.needs_batch_hooks else (max(1, steps // 50) if live else steps)

    order = np.arange(n, dtype=np.int64)           # allocated once; refilled each epoch
    snapshot = np.empty_like(model._flat.data)     # weights before each native call, kept for divergence
    callback_list.on_train_begin({})
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch, {})
        bar.epoch_begin(epoch)
        if shuffle:
            _core.shuffled_indices(seed, epoch, order)
        totals = _run_epoch(model, runner, x, y_arr, labels, order, snapshot, batch_size, steps, chunk, per_step,
                            callback_list, bar, epoch)
        logs = model._logs(totals)
        if val is not None:
            logs.update(model._logs(runner.evaluate(*val), prefix="val_"))
        model._epoch = epoch + 1
        bar.epoch_end(epoch, logs)
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end({})
    return history


def _run_epoch(model, runner, x, y, labels, order, snapshot, batch_size, steps, chunk, per_step, callback_list, bar,
               epoch):
    """All batches of one epoch, `chunk` batches per native call; stops on a non-finite loss."""
    totals = {"loss": 0.0, "data_loss": 0.0, "correct": 0.0, "abs_error": 0.0, "rows": 0, "batches": 0}
    for first in range(0, steps, chunk):
        last = min(first + chunk, steps)
        if per_step:
            lrs = np.empty(last - first, dtype=np.float64)
            for i in range(last - first):
                lrs[i] = model.optimizer.lr = per_step[-1].lr_for_step(model._step + i, model.optimizer.lr)
        else:
            lrs = np.full(last - first, float(model.optimizer.lr), dtype=np.float64)
        np.copyto(snapshot, model._flat.data)
        result = runner.train(x, y, labels, order, batch_size, first, last, lrs, model._step)
        model._step = int(result["step"])
        for key in totals:
            totals[key] += result[key]
        if not result["finite"]:
            _stop_diverged(model, snapshot, epoch, int(result["bad_batch"]))
        bar.update(last, model._logs(totals))
        if callback_list.needs_batch_hooks:
            callback_list.on_batch_end(first, model._logs(totals))
    return totals


def _stop_diverged(model, snapshot, epoch, batch) -> None:
    """Keep the last finite weights and stop with a message that says what happened."""
    restored = ""
    if not np.isfinite(model._flat.data).all():
        model._flat.data[...] = snapshot
        restored = " (the weights had overflowed; they were restored to their values before this chunk of batches)"
    raise TrainingDiverged(
        f"the training loss became NaN or infinite at epoch {epoch + 1}, batch {batch + 1}; training stopped and the "
        f"weights are those of the last finite step{restored}. The learning rate ({model.optimizer.lr:g}) may be "
        "too high, or the inputs badly scaled.", model.history)


def _split_validation(model, x, y, labels, validation_data, validation_split):
    """Hold out validation data: explicit (x_val, y_val), or the last fraction of the samples."""
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("`validation_data` must be a tuple (x_val, y_val)")
        return x, y, labels, model._data(validation_data[0], validation_data[1], "validation_data[0]")
    if validation_split == 0.0:
        return x, y, labels, None
    n_val = int(round(x.shape[0] * validation_split))
    if n_val == 0 or n_val == x.shape[0]:
        raise ValueError(f"`validation_split`={validation_split} leaves {n_val} of {x.shape[0]} samples for "
                         "validation; it must leave at least one sample on each side")
    cut = x.shape[0] - n_val
    val = (x[cut:], None if y is None else y[cut:], None if labels is None else labels[cut:])
    return x[:cut], None if y is None else y[:cut], None if labels is None else labels[:cut], val
