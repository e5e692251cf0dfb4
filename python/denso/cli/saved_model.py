"""The commands on a saved model: `denso evaluate`, `denso predict` and `denso summary`."""
from __future__ import annotations

import sys

import numpy as np

from .arguments import set_threads
from .data import load_eval_data
from .output import check_output_path, metrics_table, say
from ..loading import load_model


def load_model_file(path: str):
    """The model saved at `path` (denso.load_model, whose errors name the file).

    load_model raises FileNotFoundError or ValueError for every file it rejects; should anything else
    escape it on a bad file, it becomes a ValueError naming the file too, so the command line reports
    it in one line (the original stays attached as __cause__ for DENSO_TRACEBACK=1).
    """
    try:
        return load_model(path)
    except (ValueError, OSError):
        raise
    except MemoryError:
        raise ValueError(f"not enough memory to load the model file {path!r}") from None
    except Exception as exc:
        raise ValueError(f"cannot read the model file {path!r}: {type(exc).__name__}: {exc}") from exc


def cmd_evaluate(args) -> int:
    """Run `denso evaluate`; returns the exit status."""
    set_threads(args)
    model = load_model_file(args.model)
    if model.loss is None:
        raise ValueError(f"{args.model} holds a model that was never compiled: it has no loss to evaluate")
    label, x, y = load_eval_data(args.data, args.target, model, need_target=True, test_split=args.test_split,
                                 seed=args.seed)
    say(f"denso: evaluating {args.model} on {label}: {x.shape[0]:,} samples")
    say(metrics_table([("test" if "test split" in label else "data", model.evaluate(x, y, batch_size=args.batch_size))]))
    return 0


def prediction_columns(model, outputs: np.ndarray) -> tuple:
    """(header names, 2-D array) of the predictions file."""
    loss = model.loss.name if model.loss is not None else None
    k = outputs.shape[1]
    if loss == "categorical_crossentropy":
        return ["prediction"] + [f"prob_{i}" for i in range(k)], np.column_stack([outputs.argmax(axis=1), outputs])
    if loss == "binary_crossentropy":
        if k == 1:
            return ["prediction", "prob_1"], np.column_stack([outputs[:, 0] >= 0.5, outputs])
        return [f"prob_{i}" for i in range(k)], outputs
    if k == 1:
        return ["prediction"], outputs
    return [f"prediction_{i}" for i in range(k)], outputs


def cmd_predict(args) -> int:
    """Run `denso predict`; returns the exit status."""
    out = check_output_path(args.out, "--out") if args.out else None
    set_threads(args)
    model = load_model_file(args.model)
    label, x, _ = load_eval_data(args.data, args.target, model, need_target=False)
    names, table = prediction_columns(model, model.predict(x, batch_size=args.batch_size))
    integer = [n == "prediction" and model.loss is not None and model.loss.classification for n in names]
    fmt = ["%d" if is_int else "%.6g" for is_int in integer]
    if out is None:
        np.savetxt(sys.stdout, table, fmt=fmt, delimiter=",", header=",".join(names), comments="")
        return 0
    with open(out, "w") as f:
        np.savetxt(f, table, fmt=fmt, delimiter=",", header=",".join(names), comments="")
    say(f"denso: wrote {table.shape[0]:,} predictions for {label} to {out}")
    return 0


def cmd_summary(args) -> int:
    """Run `denso summary`; returns the exit status."""
    model = load_model_file(args.model)
    model.summary(print_fn=print)
    if model.loss is not None:
        say(f"Loss: {model.loss.name}; metrics: {', '.join(model.metrics) or 'none'}",
            f"Optimizer: {model.optimizer!r}",
            f"Trained: {model.epochs_trained} epochs, {model.steps_trained:,} steps")
    else:
        say("Not compiled (no loss or optimizer saved)")
    return 0
