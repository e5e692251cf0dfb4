"""Callbacks: hooks the training loop calls around epochs and batches (Keras semantics).

Epoch indices are 0-based, as in Keras. `logs` is a dict of metric name → float ("loss",
"accuracy", "val_loss", ...); a callback may add entries (LearningRateScheduler adds "lr") and
callbacks later in the list see them, because one dict is passed to all.

A callback can rely on this model interface:

- `model.stop_training`: bool; setting it True ends training after the current epoch;
- `model.get_weights()` → list of array copies `[W1, b1, W2, b2, ...]`; `model.set_weights(list)`;
- `model.save(path)`;
- `model.optimizer.lr`: the learning rate, a settable float;
- `model.history`: the History of the current fit.
"""
from __future__ import annotations

import csv
import inspect
import math
import os
import string

import numpy as np

from ._checks import require_number, require_positive_int
from .plotting import plot_history


class Callback:
    """Base class: every hook is a no-op; subclasses override the ones they need.

    `self.model` is set by `set_model` before training starts. In a distributed fit every rank runs
    the callbacks with the same (reduced) logs, except those with `rank_zero_only = True` (those that
    write files, like ModelCheckpoint), which only rank 0 runs.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(f"epoch {epoch}: loss {logs['loss']:.3f}")
        >>> PrintLoss().needs_batch_hooks
        False
    """

    rank_zero_only = False

    def __init__(self):
        self.model = None

    def set_model(self, model) -> None:
        """Attach the model being trained."""
        self.model = model

    def on_train_begin(self, logs=None) -> None:
        """Called once before the first epoch."""

    def on_train_end(self, logs=None) -> None:
        """Called once after the last epoch (also after early stopping)."""

    def on_epoch_begin(self, epoch, logs=None) -> None:
        """Called at the start of epoch `epoch` (0-based)."""

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Called at the end of epoch `epoch` with that epoch's logs (training and validation)."""

    def on_batch_end(self, batch, logs=None) -> None:
        """Called after batch `batch` (0-based within the epoch) with running logs."""

    @property
    def needs_batch_hooks(self) -> bool:
        """Whether this callback overrides on_batch_end, so training must return to Python every batch."""
        return type(self).on_batch_end is not Callback.on_batch_end


class CallbackList:
    """Several callbacks called in order, each attached to `model`.

    Args:
        callbacks: an iterable of Callback instances, or None.
        model: the model being trained.

    Example:
        >>> history = History()
        >>> cbs = CallbackList([history], model=None)
        >>> cbs.on_epoch_end(0, {"loss": 0.5})
        >>> history.history
        {'loss': [0.5]}
    """

    def __init__(self, callbacks=None, model=None):
        self.callbacks = []
        for i, cb in enumerate(callbacks or []):
            if not isinstance(cb, Callback):
                raise TypeError(f"`callbacks[{i}]` must be a denso.callbacks.Callback, got {type(cb).__name__}")
            self.callbacks.append(cb)
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def append(self, callback: Callback) -> None:
        """Add a callback at the end and attach the model to it."""
        if not isinstance(callback, Callback):
            raise TypeError(f"`callback` must be a denso.callbacks.Callback, got {type(callback).__name__}")
        callback.set_model(self.model)
        self.callbacks.append(callback)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    @property
    def needs_batch_hooks(self) -> bool:
        """Whether any callback needs on_batch_end."""
        return any(cb.needs_batch_hooks for cb in self.callbacks)

    def on_train_begin(self, logs=None) -> None:
        """Fan out on_train_begin."""
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs=None) -> None:
        """Fan out on_train_end."""
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None) -> None:
        """Fan out on_epoch_begin."""
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Fan out on_epoch_end (the same dict to all, so entries added by one are seen by the next)."""
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_batch_end(self, batch, logs=None) -> None:
        """Fan out on_batch_end to the callbacks that need it."""
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            if cb.needs_batch_hooks:
                cb.on_batch_end(batch, logs)


class History(Callback):
    """Records the logs of every epoch; `fit` returns it.

    Attributes:
        history: dict name → list of per-epoch floats, e.g. {"loss": [...], "val_accuracy": [...]}.
        epoch: the epoch indices recorded (0-based).

    Both are reset at the start of each training run.

    Example:
        >>> h = History()
        >>> h.on_train_begin()
        >>> h.on_epoch_end(0, {"loss": 0.9, "accuracy": 0.6})
        >>> h.on_epoch_end(1, {"loss": 0.7, "accuracy": 0.7})
        >>> h.history["loss"], h.epoch
        ([0.9, 0.7], [0, 1])
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None) -> None:
        """Start a fresh record."""
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Append each log value (as a float) to its list."""
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(_log_float(value, key))

    def plot(self, path=None, metrics=None, title=None, log_loss: bool = False):
        """Plot loss and metrics per epoch, train against validation; save to `path` (e.g. a .png).

        Returns the matplotlib Figure. Needs matplotlib (`pip install 'denso[plot]'`); see
        denso.plotting.plot_history for the arguments.
        """
        return plot_history(self, path, metrics=metrics, title=title, log_loss=log_loss)


def _log_float(value, key: str) -> float:
    """A logged value as a float, or TypeError naming its key."""
    arr = np.asarray(value)
    if isinstance(value, bool) or arr.ndim != 0 or arr.dtype.kind not in "fiu":
        raise TypeError(f"logs[{key!r}] must be a number, got {value!r}")
    return float(arr)


def _monitor_op(monitor: str, mode: str):
    """np.less for mode 'min', np.greater for 'max'; 'auto' is max when the name contains 'acc'."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"`mode` must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if "acc" in monitor else "min"
    return np.greater if mode == "max" else np.less


def _beats(monitor_op, min_delta: float, value: float, reference: float) -> bool:
    """Whether `value` beats `reference` by more than `min_delta` in monitor_op's direction (the
    improvement test EarlyStopping and ReduceLROnPlateau share)."""
    delta = -min_delta if monitor_op is np.less else min_delta
    return bool(monitor_op(value - delta, reference))


def _worst(monitor_op) -> float:
    """The starting 'best' value: any first value improves on it."""
    return math.inf if monitor_op is np.less else -math.inf


def _monitor_value(logs, monitor: str, owner: str) -> float:
    """logs[monitor] as a float, or a ValueError listing the keys that are there."""
    logs = logs or {}
    if monitor not in logs:
        raise ValueError(f"{owner} monitors {monitor!r}, which is not in the epoch logs; available keys: "
                         f"{sorted(logs)}. Pass `monitor=` one of those (val_* keys need validation data)")
    return _log_float(logs[monitor], monitor)


def _require_str(value, name: str) -> str:
    """A string, else TypeError naming the argument."""
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a string, got {value!r}")
    return value


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving.

    An epoch *improves* when its value beats the best so far by more than `min_delta` (lower for
    mode "min", higher for "max"). After `patience` epochs in a row without improvement, the
    callback sets `model.stop_training = True`. With `restore_best_weights`, the weights of the best
    epoch are put back when it stops, and also at the end of training if the best epoch was not
    the last one (Keras restores only on stopping). The logs must contain `monitor`; a missing key
    raises ValueError listing the available ones (Keras only warns).

    Args:
        monitor: the log key to watch, e.g. "val_loss", "val_accuracy", "loss".
        min_delta: the smallest change that counts as an improvement (its absolute value is used).
        patience: epochs without improvement after which training stops.
        mode: "min", "max", or "auto" ("max" if `monitor` contains "acc", else "min").
        baseline: a value to beat; the patience counter only resets on epochs that improve on the
            best value *and* on the baseline, so training stops after `patience` epochs if the
            baseline is never beaten (as Keras documents; Keras's code skips the stopping check on
            epochs that improve the best value, so a slow steady improvement never stops there).
        restore_best_weights: restore the weights of the best epoch (see above).
        start_from_epoch: epochs to ignore at the start (warm-up): they neither count nor set `best`.

    Attributes:
        best: the best monitored value so far; best_epoch: its epoch (0-based);
        stopped_epoch: the epoch at which training was stopped (0 if it was not).

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        >>> # model.fit(x, y, validation_split=0.1, epochs=100, callbacks=[stop])
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, mode: str = "auto",
                 baseline=None, restore_best_weights: bool = False, start_from_epoch: int = 0):
        super().__init__()
        self.monitor = _require_str(monitor, "monitor")
        self.min_delta = abs(require_number(min_delta, "min_delta"))
        self.patience = require_positive_int(patience, "patience", minimum=0)
        self.mode = mode
        self.monitor_op = _monitor_op(monitor, mode)
        self.baseline = None if baseline is None else require_number(baseline, "baseline")
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = require_positive_int(start_from_epoch, "start_from_epoch", minimum=0)
        self.on_train_begin()

    def on_train_begin(self, logs=None) -> None:
        """Reset the state, so the callback can be reused across fits."""
        self.wait = 0
        self.stopped_epoch = 0
        self.best = _worst(self.monitor_op)
        self.best_epoch = 0
        self.best_weights = None
        self._last_epoch = None
        self._restored = False

    def _is_improvement(self, value: float, reference: float) -> bool:
        return _beats(self.monitor_op, self.min_delta, value, reference)

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Update best/wait from logs[monitor]; stop (and maybe restore) after `patience` bad epochs."""
        current = _monitor_value(logs, self.monitor, "EarlyStopping")
        if epoch < self.start_from_epoch:
            return
        self._last_epoch = epoch
        improved = self._is_improvement(current, self.best)
        if self.restore_best_weights and (improved or self.best_weights is None):
            self.best_weights = self.model.get_weights()  # the first epoch's, even if it is NaN
            self.best_epoch = epoch
        self.wait += 1
        if improved:
            self.best, self.best_epoch = current, epoch
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
                return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            self._restore()

    def on_train_end(self, logs=None) -> None:
        """Restore the best weights if they are not the current ones."""
        if self._last_epoch is not None and self._last_epoch != self.best_epoch:
            self._restore()

    def _restore(self) -> None:
        """Put the best epoch's weights back into the model (once)."""
        if self.restore_best_weights and self.best_weights is not None and not self._restored:
            self.model.set_weights(self.best_weights)
            self._restored = True


def _format_fields(filepath: str) -> set:
    """The field names of a format string, which must all be named ({epoch}, {val_loss:.3f})."""
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(filepath) if field is not None}
    except ValueError as err:
        raise ValueError(f"`filepath` is not a valid format string ({err}), got {filepath!r}") from None
    if any(not f or f[0].isdigit() for f in fields):
        raise ValueError(f"`filepath` fields must be named, like {{epoch}} or {{val_loss:.3f}}, got {filepath!r}")
    return fields


class ModelCheckpoint(Callback):
    """Save the model at the end of every epoch, or only when the monitored value improves.

    `filepath` may contain format fields: `{epoch}` (1-based, like Keras) and any log key with an
    optional format spec, e.g. "ckpt/epoch{epoch:02d}-{val_loss:.3f}.npz".

    Args:
        filepath: path or format string passed (after formatting) to `model.save`.
        monitor: the log key compared when `save_best_only` is set.
        save_best_only: save only when `monitor` improves on the best value so far.
        mode: "min", "max", or "auto" ("max" if `monitor` contains "acc", else "min").

    Attributes:
        best: the best monitored value saved so far; last_path: the path of the last save (or None).

    Example:
        >>> ckpt = ModelCheckpoint("runs/best.npz", monitor="val_accuracy", save_best_only=True)
        >>> # model.fit(..., callbacks=[ckpt])
    """

    rank_zero_only = True  # a distributed fit writes its checkpoints once, from rank 0

    def __init__(self, filepath, monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto"):
        super().__init__()
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"`filepath` must be a string or path, got {filepath!r}")
        self.filepath = os.fspath(filepath)
        self._fields = _format_fields(self.filepath)
        self.monitor = _require_str(monitor, "monitor")
        self.save_best_only = bool(save_best_only)
        self.mode = mode
        self.monitor_op = _monitor_op(monitor, mode)
        self.on_train_begin()

    def on_train_begin(self, logs=None) -> None:
        """Reset the best value."""
        self.best = _worst(self.monitor_op)
        self.last_path = None

    def format_path(self, epoch: int, logs=None) -> str:
        """The file path for `epoch` (0-based; shown 1-based as {epoch}) and these logs."""
        logs = dict(logs or {})
        missing = sorted(f for f in self._fields if f != "epoch" and f not in logs)
        if missing:
            raise ValueError(f"`filepath` {self.filepath!r} uses {missing}, which are not in the epoch logs; "
                             f"available: ['epoch'] + {sorted(logs)}")
        try:
            return self.filepath.format(**{**logs, "epoch": epoch + 1})
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as err:
            raise ValueError(f"cannot format `filepath` {self.filepath!r} with epoch={epoch + 1} and logs "
                             f"{logs}: {err}") from None

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Save the model (always, or when `monitor` improved with save_best_only)."""
        if self.save_best_only:
            current = _monitor_value(logs, self.monitor, "ModelCheckpoint")
            if not self.monitor_op(current, self.best):
                return
            self.best = current
        self.last_path = self.format_path(epoch, logs)
        self.model.save(self.last_path)


def _schedule_takes_lr(schedule) -> bool:
    """True if `schedule` is called as (epoch, lr), False for (epoch); TypeError if neither binds."""
    try:
        sig = inspect.signature(schedule)
    except (TypeError, ValueError):
        return False  # builtins without a signature: assume the one-argument form
    for args, takes_lr in (((0, 0.1), True), ((0,), False)):
        try:
            sig.bind(*args)
            return takes_lr
        except TypeError:
            pass
    raise TypeError(f"`schedule` must accept (epoch) or (epoch, lr), got a callable with signature {sig}")


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate from a schedule at the start of each epoch (or each step).

    `schedule` is called as `schedule(epoch)` or `schedule(epoch, lr)` with the current rate —
    which form is detected from its signature. It must return a finite number >= 0. The rate in
    effect is recorded as logs["lr"] at the end of each epoch (so History has it).

    With `per_step=True` the schedule is indexed by the global step (batches since training
    began) instead of the epoch: the callback then does nothing at epoch begin, and the model
    asks `lr_for_step(global_step)` for the rate of each step.

    Args:
        schedule: callable (epoch) → lr or (epoch, lr) → lr (steps instead of epochs with per_step).
        per_step: index the schedule by global step instead of epoch.

    Example:
        >>> inverse_time = LearningRateScheduler(lambda epoch: 0.1 / (1 + 0.5 * epoch))
        >>> halve_every_10 = LearningRateScheduler(lambda epoch, lr: lr / 2 if epoch and epoch % 10 == 0 else lr)
        >>> halve_every_10.takes_lr
        True
    """

    def __init__(self, schedule, per_step: bool = False):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"`schedule` must be a callable (epoch) -> lr or (epoch, lr) -> lr, got {schedule!r}")
        self.schedule = schedule
        self.per_step = bool(per_step)
        self.takes_lr = _schedule_takes_lr(schedule)

    def _call(self, index: int, lr, unit: str) -> float:
        """schedule(index[, lr]) checked to be a finite number >= 0."""
        value = self.schedule(index, lr) if self.takes_lr else self.schedule(index)
        arr = np.asarray(value)
        if isinstance(value, bool) or arr.ndim != 0 or arr.dtype.kind not in "fiu" or not np.isfinite(arr) or arr < 0:
            raise ValueError(f"`schedule` must return a finite number >= 0, got {value!r} at {unit} {index}")
        return float(arr)

    def _current_lr(self) -> float:
        """The optimizer's learning rate, or a clear error if the model has no optimizer yet."""
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            raise ValueError("LearningRateScheduler needs a compiled model (model.optimizer is missing)")
        return float(optimizer.lr)

    def on_epoch_begin(self, epoch, logs=None) -> None:
        """Set model.optimizer.lr = schedule(epoch[, lr]) (per-epoch mode only)."""
        if not self.per_step:
            self.model.optimizer.lr = self._call(epoch, self._current_lr(), "epoch")

    def lr_for_step(self, global_step: int, lr=None) -> float:
        """The rate for step `global_step` (0-based, counted from the start of training).

        For an (epoch, lr) schedule, `lr` is the previous step's rate (default: the optimizer's
        current rate), so a whole epoch of rates can be computed ahead by chaining the calls.
        """
        global_step = require_positive_int(global_step, "global_step", minimum=0)
        if self.takes_lr and lr is None:
            lr = self._current_lr()
        return self._call(global_step, lr, "step")

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Record the rate in effect as logs["lr"]."""
        if logs is not None:
            logs["lr"] = self._current_lr()


class LambdaCallback(Callback):
    """A callback built from plain functions, for one-off hooks.

    Args:
        on_epoch_begin: f(epoch, logs).
        on_epoch_end: f(epoch, logs).
        on_batch_end: f(batch, logs); giving it makes training return to Python every batch.
        on_train_begin: f(logs).
        on_train_end: f(logs).

    Example:
        >>> losses = []
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
        >>> cb.on_epoch_end(0, {"loss": 0.25}); losses
        [0.25]
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_end=None, on_train_begin=None,
                 on_train_end=None):
        super().__init__()
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_batch_end": on_batch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end}
        for name, fn in hooks.items():
            if fn is not None and not callable(fn):
                raise TypeError(f"`{name}` must be a callable or None, got {fn!r}")
        self._hooks = hooks

    @property
    def needs_batch_hooks(self) -> bool:
        """True when an on_batch_end function was given."""
        return self._hooks["on_batch_end"] is not None

    def on_train_begin(self, logs=None) -> None:
        """Call the on_train_begin function, if any."""
        if self._hooks["on_train_begin"] is not None:
            self._hooks["on_train_begin"](logs)

    def on_train_end(self, logs=None) -> None:
        """Call the on_train_end function, if any."""
        if self._hooks["on_train_end"] is not None:
            self._hooks["on_train_end"](logs)

    def on_epoch_begin(self, epoch, logs=None) -> None:
        """Call the on_epoch_begin function, if any."""
        if self._hooks["on_epoch_begin"] is not None:
            self._hooks["on_epoch_begin"](epoch, logs)

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Call the on_epoch_end function, if any."""
        if self._hooks["on_epoch_end"] is not None:
            self._hooks["on_epoch_end"](epoch, logs)

    def on_batch_end(self, batch, logs=None) -> None:
        """Call the on_batch_end function, if any."""
        if self._hooks["on_batch_end"] is not None:
            self._hooks["on_batch_end"](batch, logs)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when a monitored quantity has stopped improving (Keras's
    rule, step by step).

    An epoch *improves* when its value beats the best so far by more than `min_delta` (lower for mode
    "min", higher for "max"). After `patience` epochs in a row without improvement, the rate becomes
    max(lr·factor, min_lr) (unless it is already at or below min_lr), and the next `cooldown` epochs
    count no waiting. The rate the epoch ran with is recorded as logs["lr"]; the new rate applies from
    the next epoch. The logs must contain `monitor`: a missing key raises ValueError listing the
    available ones (Keras only warns).

    Args:
        monitor: the log key to watch, e.g. "val_loss".
        factor: the rate's multiplier, in [0, 1).
        patience: epochs without improvement before the rate is reduced.
        verbose: 1 prints a line when the rate is reduced.
        mode: "min", "max", or "auto" ("max" if `monitor` contains "acc", else "min").
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting epochs without improvement again.
        min_lr: the rate is never reduced below this.

    Attributes:
        best: the best monitored value so far; wait: epochs without improvement; cooldown_counter.

    Example:
        >>> plateau = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-5)
        >>> # model.fit(x, y, validation_split=0.1, epochs=100, callbacks=[plateau])
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0):
        super().__init__()
        self.monitor = _require_str(monitor, "monitor")
        self.factor = require_number(factor, "factor", low=0.0, high=1.0, high_open=True)
        self.patience = require_positive_int(patience, "patience", minimum=0)
        self.verbose = require_positive_int(verbose, "verbose", minimum=0)
        self.mode = mode
        self.monitor_op = _monitor_op(monitor, mode)
        self.min_delta = require_number(min_delta, "min_delta")
        self.cooldown = require_positive_int(cooldown, "cooldown", minimum=0)
        self.min_lr = require_number(min_lr, "min_lr", low=0.0)
        self.on_train_begin()

    def on_train_begin(self, logs=None) -> None:
        """Reset best, wait and cooldown, so the callback can be reused across fits."""
        self.best = _worst(self.monitor_op)
        self.wait = 0
        self.cooldown_counter = 0

    def _improves(self, current: float) -> bool:
        return _beats(self.monitor_op, self.min_delta, current, self.best)

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Record logs["lr"]; count an epoch without improvement, and reduce the rate after `patience`."""
        current = _monitor_value(logs, self.monitor, "ReduceLROnPlateau")
        optimizer = self.model.optimizer
        logs["lr"] = float(optimizer.lr)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improves(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and optimizer.lr > self.min_lr:
                optimizer.lr = max(optimizer.lr * self.factor, self.min_lr)
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {optimizer.lr:g}.")
                self.cooldown_counter, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file: an "epoch" column (0-based, as Keras) and the log
    keys of the first epoch, sorted. The file is written as training goes (a row per epoch, flushed),
    so it survives an interrupted fit; a key missing from a later epoch is written as "NA".

    Args:
        filename: the CSV file.
        separator: the field separator (one character).
        append: add to an existing file (its header is kept, none is written again) instead of
            overwriting it.

    Example:
        >>> logger = CSVLogger("training.csv")
        >>> # model.fit(x, y, epochs=10, callbacks=[logger])
    """

    rank_zero_only = True  # a distributed fit writes the file once, from rank 0

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"`filename` must be a string or path, got {filename!r}")
        self.filename = os.fspath(filename)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"`separator` must be a single character, got {separator!r}")
        self.separator = separator
        self.append = bool(append)
        self.keys = None

    def on_train_begin(self, logs=None) -> None:
        """Start the file (empty it unless appending); the header waits for the first epoch's keys."""
        self.keys = None
        if not self.append:
            with open(self.filename, "w", encoding="utf-8"):
                pass
        self._write_header = not os.path.exists(self.filename) or os.path.getsize(self.filename) == 0

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Append the epoch's row (and, first, the header)."""
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        row = {"epoch": epoch, **{key: logs.get(key, "NA") for key in self.keys}}
        with open(self.filename, "a", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["epoch", *self.keys], delimiter=self.separator, lineterminator="\n")
            if self._write_header:
                writer.writeheader()
                self._write_header = False
            writer.writerow(row)


class TerminateOnNaN(Callback):
    """Stop training, without raising, when the loss becomes NaN or infinite (Keras's TerminateOnNaN).

    Without it, `fit` raises TrainingDiverged on a non-finite loss. With it, `fit` prints
    "Batch b: Invalid loss, terminating training", ends that epoch (its logs have loss NaN; metrics
    and validation come from the batches before the bad one), and returns the History. Unlike
    Keras, the weights are those of the last finite step: the bad batch's update is never applied
    (and an update that overflowed the weights is undone), so the model stays usable.

    In a hand-written loop, `on_batch_end` and `on_epoch_end` stop on a non-finite logs["loss"] as
    Keras's do; `fit` does not need to return to Python every batch for it.

    Attributes:
        stopped_epoch, stopped_batch: where training was stopped (0-based; None if it was not).

    Example:
        >>> history = model.fit(x, y, epochs=50, callbacks=[TerminateOnNaN()])
    """

    def __init__(self):
        super().__init__()
        self.on_train_begin()

    @property
    def needs_batch_hooks(self) -> bool:
        """False: fit reports a non-finite loss through `terminate` without per-batch hooks."""
        return False

    def on_train_begin(self, logs=None) -> None:
        self.stopped_epoch = self.stopped_batch = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._epoch = epoch

    def terminate(self, epoch: int, batch: int) -> None:
        """Stop training at `batch` of `epoch` (0-based): what fit calls on a non-finite loss."""
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.stopped_epoch, self.stopped_batch = epoch, batch
        self.model.stop_training = True

    def on_batch_end(self, batch, logs=None) -> None:
        """Stop when logs["loss"] is NaN or infinite."""
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(_log_float(loss, "loss")) and self.stopped_batch is None:
            self.terminate(self._epoch, batch)

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Stop when the epoch's logs["loss"] is NaN or infinite (a loop without batch hooks)."""
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(_log_float(loss, "loss")) and not self.model.stop_training:
            print(f"Epoch {epoch}: Invalid loss, terminating training")
            self.stopped_epoch = epoch
            self.model.stop_training = True
