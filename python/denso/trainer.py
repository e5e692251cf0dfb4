"""The training loop behind Sequential.fit: epochs, chunks of batches between callbacks and progress
updates, learning-rate schedules, validation, and the stop on a non-finite loss."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from . import _core
from ._checks import check_seed, require_positive_int
from .callbacks import CallbackList, History, LearningRateScheduler, TerminateOnNaN
from .engines import make_engine
from .holdout import holdout
from .metrics import epoch_logs
from .progress import ProgressBar
from .samples import Samples, check_samples


class TrainingDiverged(FloatingPointError):
    """Raised when the loss becomes NaN or infinite; `.history` holds the epochs completed."""

    def __init__(self, message, history=None):
        super().__init__(message)
        self.history = history


@dataclass(frozen=True)
class FitOptions:
    """fit()'s arguments, checked."""

    epochs: int = 1
    batch_size: int = 32
    shuffle: bool = True
    validation_data: tuple | None = None
    validation_split: float = 0.0
    callbacks: tuple = ()
    verbose: int = 1
    seed: int | None = None
    initial_epoch: int = 0
    engine: str = "auto"
    distributed: bool = False

    def __post_init__(self):
        require_positive_int(self.epochs, "epochs", minimum=0)
        require_positive_int(self.batch_size, "batch_size")
        require_positive_int(self.initial_epoch, "initial_epoch", minimum=0)
        if self.seed is not None:
            check_seed(self.seed, "seed")
        if not isinstance(self.distributed, bool):
            raise TypeError(f"`distributed` must be True or False, got {self.distributed!r}")
        if self.verbose not in (0, 1, 2, True, False):
            raise ValueError(f"`verbose` must be 0, 1 or 2, got {self.verbose!r}")
        if self.validation_data is not None and (not isinstance(self.validation_data, (tuple, list))
                                                 or len(self.validation_data) not in (2, 3)):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val)")


# A native call runs at most about this long, so Ctrl-C (handled by Python between calls) and
# the progress bar are never kept waiting by a long epoch.
CHUNK_SECONDS = 0.1


@dataclass
class _Epoch:
    """What every chunk of one fit's epochs shares."""

    data: Samples
    order: np.ndarray      # the epoch's sample order, refilled each epoch
    snapshot: list         # weights and optimizer state before each native call, restored on overflow
    batch_size: int
    steps: int
    chunk: int             # at most this many batches per native call (progress bar, batch callbacks)
    seconds_per_batch: float = 0.0  # measured: sizes the next native call to CHUNK_SECONDS
    group: object = None   # the DataParallel of a distributed fit: chunks of `chunk` batches on every rank


class Trainer:
    """Runs fit() for one model: checks the data, holds out validation samples, picks the engine and
    loops over epochs and chunks of batches, calling back and drawing progress in between.

    `gradient_hook(grads, rows, step)`, if given, sees every batch's gradient between backward and
    update, on either engine (in a distributed fit, after the allreduce: the batch gradient).
    `options.distributed`: data-parallel over MPI (denso.distributed); `self.group` is then its
    DataParallel (`group.allreduce.seconds`: the time spent summing gradients)."""

    def __init__(self, model, options: FitOptions, gradient_hook=None):
        model.require_compiled("fit")
        self.model, self.options, self.gradient_hook = model, options, gradient_hook
        self.terminators = []  # the TerminateOnNaN callbacks of the current fit
        self.group = None

    def fit(self, x, y, sample_weight=None) -> History:
        model, o = self.model, self.options
        model.build_if_declared()  # Keras's Dense(..., input_dim=): x must match it
        if not model.built:
            arr = np.asarray(x)
            if arr.ndim != 2:
                raise ValueError(f"`x` must be 2-D (samples × features), got array of shape {arr.shape}")
            model.build(arr.shape[1])
        data, val = self._split(check_samples(model, x, y, sample_weight=sample_weight))
        seed = (model.seed + 7919 * (model.epochs_trained + 1)) % 2**64 if o.seed is None else int(o.seed)
        batch_size = min(o.batch_size, len(data))
        if o.distributed:
            seed = self._join(data, val, seed)
        engine = self._engine(data, batch_size, seed)
        history = History()
        callbacks = CallbackList(self._callbacks() + [history], model)  # History last: it sees "lr"
        self.terminators = [c for c in callbacks if isinstance(c, TerminateOnNaN)]
        model.history, model.stop_training = history, False
        steps = math.ceil(len(data) / batch_size)
        bar = ProgressBar(o.epochs, steps, verbose=int(o.verbose) if self._leads() else 0)
        live = bar.verbose == 1 and bar.live
        batch_hooks = any(getattr(c, "needs_batch_hooks", False) for c in o.callbacks or ())  # alike on every rank
        chunk = 1 if batch_hooks else (max(1, steps // 50) if live or o.distributed else steps)
        buffers = [model.flat_parameter.data] + model.optimizer.slot_buffers(0)
        epoch_state = _Epoch(data, np.arange(len(data), dtype=np.int64), [np.empty_like(b) for b in buffers],
                             batch_size, steps, chunk, group=self.group)
        callbacks.on_train_begin({})
        for epoch in range(o.initial_epoch, o.epochs):
            self._epoch(engine, epoch_state, epoch, seed, callbacks, bar, val)
            if model.stop_training:
                break
        callbacks.on_train_end({})
        return history

    def _join(self, data, val, seed: int) -> int:
        """Start a distributed fit: check that every rank has the same data and settings, then take
        rank 0's seed, weights and optimizer state."""
        from . import distributed
        from .plan import unsupported_reason
        o, model = self.options, self.model
        self.group = group = distributed.DataParallel()
        kind = "graph" if o.engine == "graph" or unsupported_reason(model) else "plan"
        group.check_same(distributed.data_facts(model, data, val, o, kind))
        group.broadcast_model(model)
        return group.broadcast(seed)

    def _engine(self, data, batch_size: int, seed: int):
        """The engine for this fit, with its shard and gradient hooks (the allreduce first)."""
        group, hook = self.group, self.gradient_hook
        rows = batch_size if group is None else group.shard_rows(batch_size)
        engine = make_engine(self.model, self.options.engine, rows, seed, data.labels is not None)
        if group is not None:
            engine.set_shard(group.rank, group.size)
            allreduce, user = group.allreduce, hook
            hook = allreduce if user is None else (lambda g, r, s: (allreduce(g, r, s), user(g, r, s)))
        if hook is not None:
            engine.set_gradient_hook(hook)
        return engine

    def _leads(self) -> bool:
        """Whether this process shows progress and writes files (rank 0, or not distributed)."""
        return self.group is None or self.group.rank == 0

    def _callbacks(self) -> list:
        """fit's callbacks, without those that only rank 0 runs (rank_zero_only: checkpoints) elsewhere."""
        callbacks = list(self.options.callbacks or [])
        return callbacks if self._leads() else [c for c in callbacks if not getattr(c, "rank_zero_only", False)]

    def _epoch(self, engine, state: _Epoch, epoch: int, seed: int, callbacks, bar, val) -> None:
        model = self.model
        callbacks.on_epoch_begin(epoch, {})
        bar.epoch_begin(epoch)
        if self.options.shuffle:
            _core.shuffled_indices(seed, epoch, state.order)
        per_step = [c for c in callbacks.callbacks if isinstance(c, LearningRateScheduler) and c.per_step]
        totals = _core.Totals()
        first = 0
        while first < state.steps:
            last = min(first + self._chunk_size(state), state.steps)
            totals += self._chunk(engine, state, epoch, first, last, per_step)
            if not totals.finite or totals.overflowed:  # a TerminateOnNaN stopped training
                break
            bar.update(last, self._logs(totals))
            if callbacks.needs_batch_hooks:
                callbacks.on_batch_end(first, self._logs(totals))
            first = last
        group = state.group
        logs = self._logs(totals if group is None else group.reduce(totals))
        if not totals.finite or totals.overflowed:  # as Keras logs the epoch TerminateOnNaN stops (weights stay finite)
            logs = {key: math.nan if key == "loss" or totals.batches == 0 else value for key, value in logs.items()}
        if val is not None:
            logs.update(self._logs(engine.evaluate(val) if group is None else group.evaluate(engine, val),
                                   prefix="val_"))
        model.epochs_trained = epoch + 1
        bar.epoch_end(epoch, logs)
        callbacks.on_epoch_end(epoch, logs)

    def _chunk(self, engine, state: _Epoch, epoch: int, first: int, last: int, per_step) -> "_core.Totals":
        """Batches [first, last) in one native call; stops fit on a non-finite loss."""
        model = self.model
        optimizer = model.optimizer
        if per_step:
            lrs = np.empty(last - first, dtype=np.float64)
            for i in range(last - first):
                lrs[i] = optimizer.lr = per_step[-1].lr_for_step(model.steps_trained + i, optimizer.lr)
        else:
            lrs = np.full(last - first, float(optimizer.lr), dtype=np.float64)
        buffers = [model.flat_parameter.data] + optimizer.slot_buffers(0)
        for saved, live in zip(state.snapshot, buffers):
            np.copyto(saved, live)
        step = model.steps_trained
        started = time.perf_counter()
        totals = engine.train(state.data, state.order, state.batch_size, first, last, lrs, step)
        state.seconds_per_batch = (time.perf_counter() - started) / (last - first)
        model.steps_trained = step + totals.batches  # one update per batch counted
        if not totals.finite or totals.overflowed:
            self._diverged(state.snapshot, buffers, epoch, totals, first, last)
        return totals

    @staticmethod
    def _chunk_size(state: _Epoch) -> int:
        """Batches for the next native call: one to measure, then what fits in CHUNK_SECONDS."""
        if state.group is not None:  # the same chunks on every rank: a divergence restores the same snapshot
            return state.chunk
        if state.seconds_per_batch == 0.0:
            return 1
        return max(1, min(state.chunk, int(CHUNK_SECONDS / state.seconds_per_batch)))

    def _logs(self, totals, prefix: str = "") -> dict:
        model = self.model
        return epoch_logs(totals, model.loss, model.metrics, model.output_dim, prefix)

    def _diverged(self, snapshot: list, buffers: list, epoch: int, totals, first: int, last: int) -> None:
        """Keep the last finite weights and stop: TerminateOnNaN callbacks end the fit quietly (Keras's
        semantics), otherwise TrainingDiverged says what happened."""
        model, restored = self.model, ""
        if totals.overflowed or not _core.all_finite(model.flat_parameter.data):
            for saved, live in zip(snapshot, buffers):
                np.copyto(live, saved)
            model.steps_trained = model.steps_trained - totals.batches
            restored = (" (the weights had overflowed; they and the optimizer state were restored to their values "
                        f"before batch {first + 1})")
        if self.terminators:
            batch = totals.bad_batch if not totals.finite else last - 1
            for terminator in self.terminators:
                terminator.terminate(epoch, batch)
            return
        if totals.finite:
            what = f"an update made the weights NaN or infinite during batches {first + 1}-{last} of epoch {epoch + 1}"
        else:
            what = f"the training loss became NaN or infinite at epoch {epoch + 1}, batch {totals.bad_batch + 1}"
        raise TrainingDiverged(
            f"{what}; training stopped and the weights are those of the last finite step{restored}. The learning "
            f"rate ({model.optimizer.lr:g}) may be too high, eps too small, or the inputs badly scaled.",
            model.history)

    def _split(self, data: Samples) -> tuple:
        """(training samples, validation samples or None): explicit validation_data, or the last
        validation_split of the samples (before shuffling)."""
        o = self.options
        if len(data) == 0:
            raise ValueError("`x` must hold at least one sample")
        if o.validation_data is not None:
            x_val, y_val, *w_val = o.validation_data
            return data, check_samples(self.model, x_val, y_val, "validation_data[0]", *w_val)
        train, val = holdout((data.x, data.y, data.labels, data.weights), o.validation_split)
        return Samples(*train), None if val is None else Samples(*val)
