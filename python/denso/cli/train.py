"""`denso train`: build the network the options describe, fit it, report its metrics and save it."""
from __future__ import annotations

import os

import numpy as np

from .. import optim
from ..callbacks import EarlyStopping
from ..holdout import holdout
from ..io import check_model_path
from ..model import Sequential
from ..nn import Dense, Dropout
from ..plotting import require_matplotlib
from ..standardization import Standardizer, fold_standardization, fold_target_standardization
from .arguments import UsageError, set_threads
from .data import DEFAULTS, Data, load_training_data
from .output import check_output_path, metrics_table, say


# The rule `--task auto` applies to a 1-D target (README "The main job" documents it):
# classification when the target holds whole numbers 0..AUTO_MAX_LABEL with at most AUTO_MAX_CLASSES
# distinct values; regression otherwise (fractional values, negative or large labels, or more distinct
# values: a count such as the diabetes progression score, 25..346, is a quantity, not 347 classes).
AUTO_MAX_CLASSES = 20
AUTO_MAX_LABEL = 999
TASKS = ("auto", "classification", "regression")
LOSS_TASK = {"categorical_crossentropy": "classification", "binary_crossentropy": "classification", "mse": "regression",
             "mae": "regression", "huber": "regression"}


def _whole(y: np.ndarray) -> bool:
    return y.dtype.kind in "iub"


def _auto_task(y: np.ndarray) -> tuple:
    """(task, why) by the documented rule, for a 1-D numeric target."""
    if not _whole(y):
        return "regression", "the target holds fractional values"
    if y.size == 0:
        return "classification", "no target values"
    distinct, low, high = np.unique(y).size, int(y.min()), int(y.max())
    if distinct > AUTO_MAX_CLASSES:
        return "regression", f"{distinct} distinct whole-number targets > {AUTO_MAX_CLASSES}"
    if low < 0:
        return "regression", f"whole-number targets, but {low} < 0 is not a class label 0, 1, 2, ..."
    if high > AUTO_MAX_LABEL:
        return "regression", f"whole-number targets up to {high} > {AUTO_MAX_LABEL}"
    return "classification", f"{distinct} distinct whole-number targets in 0..{high} (<= {AUTO_MAX_CLASSES})"


def _class_count(y: np.ndarray, option: str) -> int:
    """The number of outputs for class labels y (0, 1, 2, ...), or ValueError naming `option`."""
    if not _whole(y):
        raise ValueError(f"{option} needs whole-number class labels, but the target holds fractional values")
    if y.size and y.min() < 0:
        raise ValueError(f"{option} needs class labels 0, 1, 2, ..., but the target holds {int(y.min())}")
    return max(int(y.max()) + 1 if y.size else 2, 2)


def infer_task(y: np.ndarray, loss: str = "auto", task: str = "auto") -> tuple:
    """(loss name, output units, 'task: ... (why)') for targets y, from --loss and --task.

    An explicit --loss decides the task (categorical/binary cross-entropy: classification; mse, mae,
    huber: regression) and must agree with an explicit --task; with both on auto the rule above decides.
    """
    if task not in TASKS:
        raise ValueError(f"--task must be one of {', '.join(TASKS)}, got {task!r}")
    if loss != "auto" and task != "auto" and LOSS_TASK[loss] != task:
        raise UsageError(f"--task {task} contradicts --loss {loss} (a {LOSS_TASK[loss]} loss); give one of them")
    flip = {"classification": "regression", "regression": "classification"}
    if loss != "auto":
        chosen, why = LOSS_TASK[loss], f"--loss {loss}"
    elif task != "auto":
        chosen, why = task, f"--task {task}"
    elif y.ndim == 2:
        chosen, why = "regression", f"a 2-D target: one output per column; --task classification for one-hot rows"
    else:
        chosen, why = _auto_task(y)
        why += f"; --task {flip[chosen]} to override"
    if loss == "auto":
        loss = "categorical_crossentropy" if chosen == "classification" else "mse"
    if y.ndim == 2:
        return loss, y.shape[1], f"task: {chosen} ({y.shape[1]} target column{'s' if y.shape[1] > 1 else ''}; {why})"
    if loss == "categorical_crossentropy":
        classes = _class_count(y, f"--loss {loss}" if why.startswith("--loss") else "--task classification")
        return loss, classes, f"task: classification into {classes} classes ({why})"
    if loss == "binary_crossentropy":
        return loss, 1, f"task: binary classification, targets in [0, 1] ({why})"
    return loss, 1, f"task: regression ({why})"


def build_model(args, n_features: int, loss: str, outputs: int, defaults: dict):
    """The Sequential network the options describe, compiled."""
    layers = []
    for width in args.layers if args.layers is not None else defaults["layers"]:
        layers.append(Dense(width, activation=args.activation, l1=args.l1, l2=args.l2))
        if args.dropout:
            layers.append(Dropout(args.dropout))
    layers.append(Dense(outputs, l1=args.l1, l2=args.l2))
    model = Sequential(layers, input_dim=n_features, seed=args.seed)
    lr = args.lr if args.lr is not None else defaults["lr"]
    metrics = ["mae"] if LOSS_TASK[loss] == "regression" else ["accuracy"]
    model.compile(optim.get(args.optimizer, lr=lr), loss, metrics)
    return model


def architecture(model) -> str:
    """'784-256-128-10 (relu)'."""
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    widths = "-".join(str(w) for w in [model.input_dim] + [layer.units for layer in dense])
    hidden = {layer.activation for layer in dense[:-1]}
    return widths + (f" ({', '.join(sorted(hidden))})" if hidden else " (no hidden layer)")


def _check_outputs(args) -> None:
    """Fail before training when the model or plot cannot be written, or matplotlib is missing."""
    if args.out:
        check_output_path(args.out, "--out")
        try:
            check_model_path(args.out)
        except ValueError as err:
            raise UsageError(f"--out: {err}") from None
    if args.plot:
        check_output_path(args.plot, "--plot")
        require_matplotlib()


def _split_validation(x, y, fraction: float) -> tuple:
    """(train, validation or None): the last `fraction` of the rows, as Sequential.fit(validation_split=) takes them."""
    try:
        return holdout((x, y), fraction, name="--validation-split")
    except ValueError as exc:  # a split that leaves one side empty: a bad command line for this data
        raise UsageError(str(exc)) from None


def _plan_line(args, model, loss: str, batch_size: int, epochs: int, validation: bool) -> str:
    """'denso: model: 2-32-32-2 (relu), 1,218 parameters, loss ..., adam lr 0.01, batch 32, 60 epochs, ...'."""
    return (f"denso: model: {architecture(model)}, {model.count_params():,} parameters, loss {loss}, "
            f"{args.optimizer} lr {model.optimizer.lr:g}, batch {batch_size}, {epochs} epochs"
            + (f", validation split {args.validation_split:g}" if validation else "")
            + (f", early stopping after {args.early_stopping} epochs without improvement" if args.early_stopping else ""))


def _target_scaler(y: np.ndarray) -> Standardizer:
    """The Standardizer of a regression target (1-D: one column), fitted on the training rows."""
    return Standardizer().fit(y.reshape(y.shape[0], -1))


def _scale_target(y: np.ndarray, scaler: Standardizer) -> np.ndarray:
    """(y − mean) / std, shaped like y."""
    return scaler.transform(y.reshape(y.shape[0], -1).astype(np.float64)).reshape(y.shape)


def _fit(args, model, train, val, scalers, epochs: int, batch_size: int):
    """model.fit on the (scaled) training rows with early stopping when asked; returns the History."""
    x_scaler, y_scaler = scalers
    scale_x = x_scaler.transform if x_scaler is not None else (lambda a: a)
    scale_y = (lambda a: _scale_target(a, y_scaler)) if y_scaler is not None else (lambda a: a)
    callbacks = []
    if args.early_stopping is not None:
        callbacks.append(EarlyStopping("val_loss" if val else "loss", patience=args.early_stopping,
                                             restore_best_weights=True))
    return model.fit(scale_x(train[0]), scale_y(train[1]), epochs=epochs, batch_size=batch_size,
                     verbose=args.verbose, seed=args.seed, callbacks=callbacks,
                     validation_data=(scale_x(val[0]), scale_y(val[1])) if val else None)


def _final_metrics(model, train, val, data: Data) -> list:
    """[(split, logs)] for train, validation (if any) and test (if any), on raw features."""
    rows = [("train", model.evaluate(*train))]
    if val:
        rows.append(("validation", model.evaluate(*val)))
    if data.x_test is not None and data.x_test.shape[0]:
        rows.append(("test", model.evaluate(data.x_test, data.y_test)))
    return rows


def cmd_train(args) -> int:
    """Run `denso train`; returns the exit status."""
    _check_outputs(args)
    set_threads(args)
    data, note = load_training_data(args)
    if note:
        say(f"denso: {note}")
    out = args.out or check_output_path(f"denso-{os.path.splitext(os.path.basename(data.name))[0]}.npz", "--out")
    defaults = DEFAULTS[data.kind]
    loss, outputs, task = infer_task(data.y_train, args.loss, args.task)
    train, val = _split_validation(data.x_train, data.y_train, args.validation_split)
    x_scaler = Standardizer().fit(train[0]) if args.standardize else None
    y_scaler = _target_scaler(train[1]) if args.standardize and LOSS_TASK[loss] == "regression" else None
    model = build_model(args, train[0].shape[1], loss, outputs, defaults)
    epochs = args.epochs or defaults["epochs"]
    batch_size = args.batch_size or defaults["batch_size"]
    say(f"denso: data: {data.description}", f"denso: {task}",
        _plan_line(args, model, loss, batch_size, epochs, bool(val)))
    if y_scaler is not None:
        say("denso: --standardize: features and the regression target scaled with statistics of the training "
            "rows (the training progress shows scaled losses; the metrics below are in the target's units)")
    history = _fit(args, model, train, val, (x_scaler, y_scaler), epochs, batch_size)
    if x_scaler is not None:
        fold_standardization(model, x_scaler)
    if y_scaler is not None:
        fold_target_standardization(model, y_scaler)
    say(metrics_table(_final_metrics(model, train, val, data)))
    model.save(out)
    folded = (" (standardisation folded into its first layer: it takes raw features"
              + (", and into its last layer: it predicts raw targets)" if y_scaler is not None else ")"))
    say(f"denso: model written to {out}" + (folded if x_scaler is not None else ""))
    if args.plot:
        history.plot(args.plot, title=f"{data.name}: {architecture(model)}")
        say(f"denso: plot written to {args.plot}")
    return 0
