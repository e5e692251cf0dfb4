"""`denso train`: build the network the options describe, fit it, report its metrics and save it."""
from __future__ import annotations

import os

import numpy as np

from .. import optim
from ..callbacks import EarlyStopping
from ..holdout import holdout
from ..model import Sequential
from ..nn import Dense, Dropout
from ..plotting import require_matplotlib
from ..standardization import Standardizer, fold_standardization
from .arguments import UsageError, set_threads
from .data import DEFAULTS, Data, load_training_data
from .output import check_output_path, metrics_table, say


def infer_task(y: np.ndarray, loss: str) -> tuple:
    """(loss name, output units, a sentence saying why) for targets y."""
    if y.ndim == 2:
        if loss == "auto":
            loss = "mse"
        what = "regression" if loss == "mse" else "classification"
        return loss, y.shape[1], f"{what} ({y.shape[1]} target{'s' if y.shape[1] > 1 else ''})"
    integral = y.dtype.kind in "iu"
    if loss == "auto":
        if integral and y.size and y.min() >= 0 and y.max() < 1000:
            loss = "categorical_crossentropy"
        else:
            loss = "mse"
            why = "the target is not made of class labels 0..999" if not integral else "the target holds labels out of 0..999"
            return loss, 1, f"regression ({why}; pass --loss to choose)"
    if loss == "categorical_crossentropy":
        if not integral:
            raise ValueError("--loss categorical_crossentropy needs whole-number class labels, but the target holds "
                             "fractional values")
        classes = int(y.max()) + 1 if y.size else 2
        return loss, max(classes, 2), f"classification into {max(classes, 2)} classes"
    if loss == "binary_crossentropy":
        return loss, 1, "binary classification (targets in [0, 1])"
    return loss, 1, "regression"


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
    metrics = ["accuracy"] if loss != "mse" else ["mae"]
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


def _fit(args, model, train, val, scaler, epochs: int, batch_size: int):
    """model.fit on the (scaled) training rows with early stopping when asked; returns the History."""
    scale = scaler.transform if scaler is not None else (lambda a: a)
    callbacks = []
    if args.early_stopping is not None:
        callbacks.append(EarlyStopping("val_loss" if val else "loss", patience=args.early_stopping,
                                             restore_best_weights=True))
    return model.fit(scale(train[0]), train[1], epochs=epochs, batch_size=batch_size, verbose=args.verbose,
                     seed=args.seed, validation_data=(scale(val[0]), val[1]) if val else None, callbacks=callbacks)


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
    loss, outputs, task = infer_task(data.y_train, args.loss)
    train, val = _split_validation(data.x_train, data.y_train, args.validation_split)
    scaler = Standardizer().fit(train[0]) if args.standardize else None
    model = build_model(args, train[0].shape[1], loss, outputs, defaults)
    epochs = args.epochs or defaults["epochs"]
    batch_size = args.batch_size or defaults["batch_size"]
    say(f"denso: data: {data.description}; {task}", _plan_line(args, model, loss, batch_size, epochs, bool(val)))
    history = _fit(args, model, train, val, scaler, epochs, batch_size)
    if scaler is not None:
        fold_standardization(model, scaler)
    say(metrics_table(_final_metrics(model, train, val, data)))
    model.save(out)
    say(f"denso: model written to {out}" + (" (standardisation folded into its first layer: it takes raw features)"
                                            if scaler is not None else ""))
    if args.plot:
        history.plot(args.plot, title=f"{data.name}: {architecture(model)}")
        say(f"denso: plot written to {args.plot}")
    return 0
