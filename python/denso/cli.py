"""The `denso` command line (also `python -m denso`): train, evaluate, predict, summary, experiment.

Exit status: 0 on success; 1 when something fails while running (a missing or unreadable file,
data that cannot be used, a file that is not a denso model, training that diverged); 2 for a bad
command line (unknown option, invalid value); 130 when interrupted; 141 when the reader of the
output closed it early (as for SIGPIPE). Errors are one line on stderr,
`denso: error: ...`; set DENSO_TRACEBACK=1 to get the Python traceback instead.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys

import numpy as np

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
LOSSES = ("auto", "categorical_crossentropy", "binary_crossentropy", "mse")
HIDDEN_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "identity")
DEFAULT_TEST_SPLIT = 0.2

# Training defaults per kind of data; any option given on the command line wins.
DEFAULTS = {
    "fashion-mnist": {"layers": (256, 128), "epochs": 10, "batch_size": 128, "lr": 1e-3},
    "mnist": {"layers": (256, 128), "epochs": 10, "batch_size": 128, "lr": 1e-3},
    "spirals": {"layers": (32, 32), "epochs": 60, "batch_size": 32, "lr": 1e-2},
    "function": {"layers": (32, 32), "epochs": 100, "batch_size": 32, "lr": 1e-2},
    "file": {"layers": (64,), "epochs": 20, "batch_size": 32, "lr": 1e-3},
}


class UsageError(Exception):
    """A command line that parses but makes no sense (exit status 2)."""


# ---- argument types ------------------------------------------------------------------------------
def _number(text: str, low=None, high=None, low_open=False, high_open=False, integer=False):
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if integer else 'a number'}, got {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low}, got {text}")
    if high is not None and (value > high or (high_open and value == high)):
        raise argparse.ArgumentTypeError(f"must be {'<' if high_open else '<='} {high}, got {text}")
    return value


def positive_int(text):
    """An integer >= 1."""
    return _number(text, low=1, integer=True)


def non_negative_int(text):
    """An integer >= 0."""
    return _number(text, low=0, integer=True)


def positive_float(text):
    """A number > 0."""
    return _number(text, low=0, low_open=True)


def non_negative_float(text):
    """A number >= 0."""
    return _number(text, low=0)


def fraction(text):
    """A number in [0, 1)."""
    return _number(text, low=0, high=1, high_open=True)


def layer_widths(text):
    """'256,128' → (256, 128); '' or 'none' → () (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths such as 256,128, got {text!r}") from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"layer widths must be >= 1, got {text!r}")
    return widths


# ---- data ------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Data:
    """Train and test arrays plus what to say about them."""

    name: str                 # dataset name or file path
    kind: str                 # a key of DEFAULTS
    description: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


def _default_data() -> tuple:
    """(dataset name, why): Fashion-MNIST when its files are here, else the two spirals."""
    from . import datasets
    directory = datasets.fashion_mnist_dir()
    if directory is not None:
        return "fashion-mnist", f"default job: Fashion-MNIST, found in {directory}"
    looked = ", ".join(datasets.search_dirs("fashion-mnist"))
    return "spirals", (f"default job: Fashion-MNIST is not installed (looked in {looked}), so training on the built-in "
                       "two-spirals problem instead; for Fashion-MNIST run `apt-get install dataset-fashion-mnist` "
                       "or `denso train --data fashion-mnist` (downloads it)")


def _is_dataset_name(data: str) -> bool:
    from . import datasets
    return data in datasets.NAMES and not os.path.exists(data)


def _missing(data: str) -> Exception:
    from . import datasets
    if os.path.splitext(data)[1] or os.sep in data:
        return FileNotFoundError(f"no such file: {data!r}")
    return FileNotFoundError(f"{data!r} is neither a dataset name ({', '.join(datasets.NAMES)}) nor an existing file")


def load_named(name: str) -> Data:
    """A named dataset with its own test split."""
    from . import datasets, synthetic
    (x, y), (x_test, y_test) = datasets.load_dataset(name)
    kind = name if name in DEFAULTS else "function" if name in synthetic.FUNCTIONS else "file"
    return Data(name, kind, datasets.NAMES[name], x, y, x_test, y_test)


def load_file(path: str, target, test_split, seed: int) -> Data:
    """A .csv/.npz file; its rows are split into train and test unless it carries a test set."""
    from . import datasets
    if not os.path.exists(path):
        raise _missing(path)
    is_npz = path.lower().endswith(".npz")
    if is_npz and target is not None:
        raise UsageError("--target applies to CSV files; an .npz file holds its labels in the array 'y'")
    table = datasets.read_table(path, -1 if target is None else target)
    what = f"{path}: {table.x.shape[0]:,} rows, {table.x.shape[1]} features"
    if not is_npz:
        what += f", target column {table.target_name!r}"
    if table.x_test is not None:
        if test_split is not None:
            raise UsageError(f"{path} has its own test set (x_test, y_test); leave out --test-split")
        return Data(path, "file", what + f", and its own test set of {table.x_test.shape[0]:,} rows",
                    table.x, table.y, table.x_test, table.y_test)
    split = DEFAULT_TEST_SPLIT if test_split is None else test_split
    if split == 0:
        return Data(path, "file", what + " (no test split)", table.x, table.y)
    train, test = datasets.split_rows(table.x.shape[0], split, seed)
    return Data(path, "file", what + f", {test.size:,} of them held out for testing (--test-split {split:g})",
                table.x[train], table.y[train], table.x[test], table.y[test])


def load_training_data(args) -> tuple:
    """(Data, a note saying why when it is the default job)."""
    note = None
    data = args.data
    if data is None:
        data, note = _default_data()
    if _is_dataset_name(data):
        if args.target is not None or args.test_split is not None:
            raise UsageError(f"--target and --test-split apply to .csv/.npz files; {data!r} is a built-in dataset "
                             "with its own test split")
        return load_named(data), note
    return load_file(data, args.target, args.test_split, args.seed), note


# ---- the network -----------------------------------------------------------------------------------
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
    import denso
    layers = []
    for width in args.layers if args.layers is not None else defaults["layers"]:
        layers.append(denso.Dense(width, activation=args.activation, l1=args.l1, l2=args.l2))
        if args.dropout:
            layers.append(denso.Dropout(args.dropout))
    layers.append(denso.Dense(outputs, l1=args.l1, l2=args.l2))
    model = denso.Sequential(layers, input_dim=n_features, seed=args.seed)
    lr = args.lr if args.lr is not None else defaults["lr"]
    metrics = ["accuracy"] if loss != "mse" else ["mae"]
    model.compile(denso.optim.get(args.optimizer, lr=lr), loss, metrics)
    return model


def architecture(model) -> str:
    """'784-256-128-10 (relu)'."""
    from .nn import Dense
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    widths = "-".join(str(w) for w in [model.input_dim] + [layer.units for layer in dense])
    hidden = {layer.activation for layer in dense[:-1]}
    return widths + (f" ({', '.join(sorted(hidden))})" if hidden else " (no hidden layer)")


def fold_standardization(model, scaler) -> None:
    """Make the model take raw features: fold x' = (x − mean)/std into the first Dense layer.

    W' = W / std (per input row), b' = b − (mean / std)·W. The optimizer is then rebuilt with the same
    settings, since its moment estimates belong to the old parametrisation.
    """
    from . import optim
    first = model.layers[0]
    weight = first.weight.data.astype(np.float64)
    shift = (scaler.mean / scaler.std) @ weight
    first.weight.data[...] = weight / scaler.std[:, None]
    if first.bias is not None:
        first.bias.data[...] = first.bias.data - shift
    else:
        raise ValueError("cannot fold standardisation into a first layer without a bias")
    model.compile(optim.get(model.optimizer.config()), model.loss.name, model.metrics)


# ---- output helpers --------------------------------------------------------------------------------
def say(*lines) -> None:
    """Report progress on stdout, flushed so it interleaves with the progress bar."""
    for line in lines:
        print(line)
    sys.stdout.flush()


def metrics_table(rows) -> str:
    """rows: [(label, logs dict)] → an aligned table with one column per metric."""
    from .progress import format_value
    keys = list(rows[0][1])
    width = max(len(label) for label, _ in rows) + 2
    lines = [" " * width + "".join(k.ljust(12) for k in keys).rstrip()]
    for label, logs in rows:
        lines.append(label.ljust(width) + "".join(format_value(logs[k]).ljust(12) for k in keys).rstrip())
    return "\n".join(lines)


def check_output_path(path: str, option: str) -> str:
    """Fail before any work when `path` cannot be written: its directory must exist."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is a directory; give a file name")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{option} {path!r}: the directory {directory!r} does not exist")
    if not os.access(directory, os.W_OK):
        raise PermissionError(f"{option} {path!r}: the directory {directory!r} is not writable")
    return path


def set_threads(args) -> None:
    if getattr(args, "threads", None) is not None:
        import denso
        denso.set_num_threads(args.threads)


# ---- train -----------------------------------------------------------------------------------------
def _split_validation(x, y, fraction_: float):
    """The last `fraction_` of the rows as validation data, as Sequential.fit(validation_split=) takes it."""
    if not fraction_:
        return (x, y), None
    n_val = int(round(x.shape[0] * fraction_))
    if n_val == 0 or n_val == x.shape[0]:
        raise UsageError(f"--validation-split {fraction_:g} leaves {n_val} of {x.shape[0]} rows for validation; it "
                         "must leave at least one row on each side")
    return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])


def _check_outputs(args) -> None:
    """Fail before training when the model or plot cannot be written, or matplotlib is missing."""
    if args.out:
        check_output_path(args.out, "--out")
    if args.plot:
        from .plotting import require_matplotlib
        check_output_path(args.plot, "--plot")
        require_matplotlib()


def _fit(args, model, train, val, scaler, epochs: int, batch_size: int):
    """model.fit on the (scaled) training rows with early stopping when asked; returns the History."""
    import denso
    scale = scaler.transform if scaler is not None else (lambda a: a)
    callbacks = []
    if args.early_stopping is not None:
        callbacks.append(denso.EarlyStopping("val_loss" if val else "loss", patience=args.early_stopping,
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
    from .datasets import Standardizer
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
    say(f"denso: data: {data.description}; {task}",
        f"denso: model: {architecture(model)}, {model.count_params():,} parameters, loss {loss}, "
        f"{args.optimizer} lr {model.optimizer.lr:g}, batch {batch_size}, {epochs} epochs"
        + (f", validation split {args.validation_split:g}" if val else "")
        + (f", early stopping after {args.early_stopping} epochs without improvement" if args.early_stopping else ""))
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


# ---- evaluate / predict / summary ------------------------------------------------------------------
def load_model_file(path: str):
    from .io import load_model
    return load_model(path)


def load_eval_data(data: str, target, model, need_target: bool) -> tuple:
    """(label, x, y) to evaluate or predict on: a named dataset's test split, or every row of a file."""
    from . import datasets
    if _is_dataset_name(data):
        if target is not None:
            raise UsageError(f"--target applies to .csv files; {data!r} is a built-in dataset")
        (_, _), (x, y) = datasets.load_dataset(data)
        label = f"{data} test split"
    else:
        if not os.path.exists(data):
            raise _missing(data)
        is_npz = data.lower().endswith(".npz")
        if is_npz and target is not None:
            raise UsageError("--target applies to CSV files; an .npz file holds its labels in the array 'y'")
        if target is None and not need_target and not is_npz:
            target = -1 if len(datasets.csv_columns(data)) == model.input_dim + 1 else None
        table = datasets.read_table(data, -1 if target is None and need_target else target)
        x, y, label = table.x, table.y, f"{data} (all rows)"
    if x.shape[1] != model.input_dim:
        raise ValueError(f"{label} has {x.shape[1]} feature columns, but the model takes {model.input_dim} inputs")
    return label, x, y


def cmd_evaluate(args) -> int:
    set_threads(args)
    model = load_model_file(args.model)
    if model.loss is None:
        raise ValueError(f"{args.model} holds a model that was never compiled: it has no loss to evaluate")
    label, x, y = load_eval_data(args.data, args.target, model, need_target=True)
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
    out = check_output_path(args.out, "--out") if args.out else None
    set_threads(args)
    model = load_model_file(args.model)
    label, x, _ = load_eval_data(args.data, args.target, model, need_target=False)
    names, table = prediction_columns(model, model.predict(x, batch_size=args.batch_size))
    integer = [n == "prediction" and model.loss is not None and model.loss.name != "mse" for n in names]
    fmt = ["%d" if is_int else "%.6g" for is_int in integer]
    if out is None:
        np.savetxt(sys.stdout, table, fmt=fmt, delimiter=",", header=",".join(names), comments="")
        return 0
    with open(out, "w") as f:
        np.savetxt(f, table, fmt=fmt, delimiter=",", header=",".join(names), comments="")
    say(f"denso: wrote {table.shape[0]:,} predictions for {label} to {out}")
    return 0


def cmd_summary(args) -> int:
    model = load_model_file(args.model)
    model.summary(print_fn=print)
    if model.loss is not None:
        say(f"Loss: {model.loss.name}; metrics: {', '.join(model.metrics) or 'none'}",
            f"Optimizer: {model.optimizer!r}",
            f"Trained: {model._epoch} epochs, {model._step:,} steps")
    else:
        say("Not compiled (no loss or optimizer saved)")
    return 0


# ---- experiment ------------------------------------------------------------------------------------
def load_experiments() -> dict:
    """denso.experiments.EXPERIMENTS, or a clear error when the package is missing."""
    try:
        module = importlib.import_module("denso.experiments")
    except ModuleNotFoundError as exc:
        if exc.name not in ("denso.experiments", "matplotlib") and not (exc.name or "").startswith("matplotlib."):
            raise
        if exc.name == "denso.experiments":
            raise ImportError("the experiments are not part of this installation (no module denso.experiments)") from None
        from .plotting import INSTALL_HINT
        raise ImportError(f"the experiments need matplotlib: {INSTALL_HINT}") from None
    experiments = getattr(module, "EXPERIMENTS", None)
    if not isinstance(experiments, dict):
        raise ImportError("denso.experiments does not define the EXPERIMENTS dict of name → run function")
    return experiments


def cmd_experiment(args) -> int:
    experiments = load_experiments()
    if args.list:
        width = max((len(n) for n in experiments), default=0) + 2
        for name, run in experiments.items():
            doc = (run.__doc__ or "").strip().splitlines()
            say(name.ljust(width) + (doc[0] if doc else ""))
        return 0
    if args.name is None:
        raise UsageError(f"name an experiment: {', '.join(experiments)} (or --list)")
    if args.name not in experiments:
        raise UsageError(f"unknown experiment {args.name!r}; choose one of {', '.join(experiments)}")
    out = args.out or os.path.join("denso-experiments", args.name)
    os.makedirs(out, exist_ok=True)
    set_threads(args)
    say(f"denso: running experiment {args.name!r}{' (small)' if args.small else ''} into {out}")
    result = experiments[args.name](out, small=args.small, seed=args.seed)
    if not isinstance(result, dict):
        raise TypeError(f"experiment {args.name!r} returned {type(result).__name__}, not a dict")
    if result.get("summary"):
        say(str(result["summary"]))
    for key, value in result.items():
        if key != "summary":
            say(f"denso: {key}: {value}")
    return 0


# ---- parser ----------------------------------------------------------------------------------------
EPILOG = """exit status: 0 success, 1 an error while running (missing or invalid file or data,
not a denso model, training diverged), 2 a bad command line, 130 interrupted."""

TRAIN_EXAMPLES = """examples:
  denso train                                  the default job (Fashion-MNIST, else two spirals)
  denso train --data spirals --layers 64,64 --epochs 100 --plot curves.png
  denso train --data houses.csv --target price --standardize --loss mse --out houses.npz
  denso train --data fashion-mnist --dropout 0.2 --early-stopping 3 --threads 4

datasets: fashion-mnist, mnist (found locally or downloaded), spirals, sine, cubic, abs (built in).
"""


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: 'denso train: error: ... (see denso train --help)'."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _add_threads(parser) -> None:
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="threads for the kernels (denso.set_num_threads; default: all cores)")


def _add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a dense network and save it", formatter_class=_formatter,
                       description="Train a dense network, report train/validation/test metrics and save the model. "
                       "With no options: the default job, a 784-256-128-10 ReLU network on Fashion-MNIST (Adam 1e-3, "
                       "batch 128, 10 epochs) when the dataset is installed, otherwise the built-in two-spirals problem.",
                       epilog=TRAIN_EXAMPLES + "\n" + EPILOG)
    d = p.add_argument_group("data")
    d.add_argument("--data", metavar="NAME|PATH", help="a dataset name (fashion-mnist, mnist, spirals, sine, cubic, "
                   "abs) or a .csv/.tsv/.npz file (npz: arrays x and y, optionally x_test and y_test)")
    d.add_argument("--target", metavar="COLUMN", help="the CSV label column, by name or 0-based index "
                   "(default: the last column)")
    d.add_argument("--test-split", type=fraction, metavar="F", help="fraction of a file's rows held out for the test "
                   f"metrics, chosen with --seed (default {DEFAULT_TEST_SPLIT}; 0: no test set)")
    d.add_argument("--standardize", action="store_true", help="scale features to zero mean and unit variance with "
                   "statistics of the training rows only; the saved model folds the scaling in and takes raw features")
    m = p.add_argument_group("network")
    m.add_argument("--layers", type=layer_widths, metavar="W1,W2", help="hidden layer widths, e.g. 256,128; "
                   "'none' for no hidden layer (default: 256,128 for the image datasets, 32,32 for the synthetic "
                   "ones, 64 for files)")
    m.add_argument("--activation", default="relu", choices=HIDDEN_ACTIVATIONS, help="hidden activation (default relu)")
    m.add_argument("--loss", default="auto", choices=LOSSES, help="auto: categorical_crossentropy for whole-number "
                   "labels 0..999, mse otherwise (default auto)")
    m.add_argument("--l1", type=non_negative_float, default=0.0, metavar="λ", help="L1 penalty λ·Σ|W| per layer (default 0)")
    m.add_argument("--l2", type=non_negative_float, default=0.0, metavar="λ", help="L2 penalty λ·ΣW² per layer (default 0)")
    m.add_argument("--dropout", type=fraction, default=0.0, metavar="RATE", help="dropout rate after each hidden layer "
                   "(default 0)")
    t = p.add_argument_group("training")
    t.add_argument("--optimizer", default="adam", choices=OPTIMIZERS, help="default adam")
    t.add_argument("--lr", type=positive_float, metavar="RATE", help="learning rate (default: 1e-3 for the image "
                   "datasets and files, 1e-2 for the synthetic ones)")
    t.add_argument("--batch-size", type=positive_int, metavar="N", help="default: 128 for images, 32 otherwise")
    t.add_argument("--epochs", type=positive_int, metavar="N", help="default: 10 for images, 60 spirals, 100 functions, "
                   "20 files")
    t.add_argument("--validation-split", type=fraction, default=0.1, metavar="F", help="last fraction of the training "
                   "rows held out for validation (default 0.1; 0: none)")
    t.add_argument("--early-stopping", type=non_negative_int, metavar="PATIENCE", help="stop after PATIENCE epochs "
                   "without a better validation loss and restore the best weights")
    t.add_argument("--seed", type=int, default=0, help="seed of the weights, shuffling, dropout and test split (default 0)")
    _add_threads(t)
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="0 quiet, 1 progress bar (default), "
                   "2 one line per epoch")
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="PATH", help="where to save the model (default: denso-<data>.npz here)")
    o.add_argument("--plot", metavar="PNG", help="save the loss/metric curves there (needs matplotlib: "
                   "pip install 'denso[plot]')")
    p.set_defaults(run=cmd_train)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the whole command line."""
    parser = Parser(prog="denso", formatter_class=_formatter, epilog=EPILOG,
                                     description="Train fast dense neural networks on the CPU.")
    parser.add_argument("--version", action="version", version=f"denso {_version()}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_train_parser(sub)

    data_help = ("a dataset name (its test split) or a .csv/.tsv/.npz file (all its rows)")
    p = sub.add_parser("evaluate", help="loss and metrics of a saved model on data", formatter_class=_formatter,
                       description="Load a model saved by `denso train` (or model.save) and report its loss and "
                       "metrics on DATA.", epilog="example:\n  denso evaluate denso-spirals.npz spirals\n\n" + EPILOG)
    p.add_argument("model", metavar="MODEL", help="a model file")
    p.add_argument("data", metavar="DATA", help=data_help)
    p.add_argument("--target", metavar="COLUMN", help="the CSV label column (default: the last column)")
    p.add_argument("--batch-size", type=positive_int, default=1024, metavar="N", help="default 1024")
    _add_threads(p)
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("predict", help="write a saved model's predictions as CSV", formatter_class=_formatter,
                       description="Predict DATA with a saved model. Columns: 'prediction' (the class, or the value), "
                       "then prob_0, prob_1, ... for classifiers.",
                       epilog="example:\n  denso predict model.npz new.csv --out preds.csv\n\n" + EPILOG)
    p.add_argument("model", metavar="MODEL", help="a model file")
    p.add_argument("data", metavar="DATA", help=data_help)
    p.add_argument("--out", metavar="PATH", help="CSV file to write (default: standard output)")
    p.add_argument("--target", metavar="COLUMN", help="a CSV column to leave out of the features (default: the last "
                   "column when the file has one column more than the model's inputs)")
    p.add_argument("--batch-size", type=positive_int, default=1024, metavar="N", help="default 1024")
    _add_threads(p)
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser("summary", help="layers, shapes and parameter counts of a saved model",
                       formatter_class=_formatter, description="Print a saved model's layer table and training state.",
                       epilog=EPILOG)
    p.add_argument("model", metavar="MODEL", help="a model file")
    p.set_defaults(run=cmd_summary)

    p = sub.add_parser("experiment", help="run one of the classic experiments", formatter_class=_formatter,
                       description="Run an experiment from denso.experiments; it writes its plots, tables and notes "
                       "into --out.", epilog="examples:\n  denso experiment --list\n  denso experiment NAME --small\n\n"
                       + EPILOG)
    p.add_argument("name", nargs="?", metavar="NAME", help="the experiment (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--out", metavar="DIR", help="output directory (default: denso-experiments/NAME)")
    p.add_argument("--small", action="store_true", help="a quick, reduced run")
    p.add_argument("--seed", type=int, default=0, help="default 0")
    _add_threads(p)
    p.set_defaults(run=cmd_experiment)
    return parser


def _version() -> str:
    try:
        from . import __version__
        return __version__
    except ImportError:
        return "unknown"


def _one_line(exc: BaseException) -> str:
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return text or type(exc).__name__


def main(argv=None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse already reported
        return exc.code if isinstance(exc.code, int) else 2
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"denso: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("denso: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (`denso predict ... | head`)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        except (OSError, ValueError):
            pass
        return 141
    except (ValueError, TypeError, OSError, ImportError, FloatingPointError) as exc:
        if os.environ.get("DENSO_TRACEBACK"):
            raise
        print(f"denso: error: {_one_line(exc)}", file=sys.stderr)
        return 1

