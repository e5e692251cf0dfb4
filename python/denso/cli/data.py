"""The data a command works on: a named dataset or a .csv/.npz file, split into train and test rows."""
from __future__ import annotations

import contextlib
import dataclasses
import os

import numpy as np

from .. import datasets, synthetic
from .arguments import UsageError

DEFAULT_TEST_SPLIT = 0.2

# Training defaults per kind of data; any option given on the command line wins.
DEFAULTS = {
    "fashion-mnist": {"layers": (256, 128), "epochs": 10, "batch_size": 128, "lr": 1e-3},
    "mnist": {"layers": (256, 128), "epochs": 10, "batch_size": 128, "lr": 1e-3},
    "spirals": {"layers": (32, 32), "epochs": 60, "batch_size": 32, "lr": 1e-2},
    "function": {"layers": (32, 32), "epochs": 100, "batch_size": 32, "lr": 1e-2},
    "file": {"layers": (64,), "epochs": 20, "batch_size": 32, "lr": 1e-3},
}


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
    directory = datasets.fashion_mnist_dir()
    if directory is not None:
        return "fashion-mnist", f"default job: Fashion-MNIST, found in {directory}"
    looked = ", ".join(datasets.search_dirs("fashion-mnist"))
    return "spirals", (f"default job: Fashion-MNIST is not installed (looked in {looked}), so training on the built-in "
                       "two-spirals problem instead; for Fashion-MNIST run `apt-get install dataset-fashion-mnist` "
                       "or `denso train --data fashion-mnist` (downloads it)")


def _is_dataset_name(data: str) -> bool:
    return data in datasets.NAMES and not os.path.exists(data)


def _missing(data: str) -> Exception:
    if os.path.splitext(data)[1] or os.sep in data:
        return FileNotFoundError(f"no such file: {data!r}")
    return FileNotFoundError(f"{data!r} is neither a dataset name ({', '.join(datasets.NAMES)}) nor an existing file")


def _existing_table_file(path: str, target) -> bool:
    """Check that `path` exists and that --target fits its kind; True for an .npz file."""
    if not os.path.exists(path):
        raise _missing(path)
    is_npz = path.lower().endswith(".npz")
    if is_npz and target is not None:
        raise UsageError("--target applies to CSV files; an .npz file holds its labels in the array 'y'")
    return is_npz


@contextlib.contextmanager
def reading(what: str):
    """Any failure while reading `what` (a data file or dataset) becomes one ValueError naming it.

    The readers raise FileNotFoundError/ValueError for the files they reject; should anything else
    escape them on a bad file, the command line still reports it in one line (the original stays
    attached as __cause__ for DENSO_TRACEBACK=1).
    """
    try:
        yield
    except (UsageError, ValueError, OSError):
        raise
    except MemoryError:
        raise ValueError(f"not enough memory to read {what}") from None
    except Exception as exc:
        raise ValueError(f"cannot read {what}: {type(exc).__name__}: {exc}") from exc


def load_named(name: str) -> Data:
    """A named dataset with its own test split."""
    with reading(f"dataset {name!r}"):
        (x, y), (x_test, y_test) = datasets.load_dataset(name)
    kind = name if name in DEFAULTS else "function" if name in synthetic.FUNCTIONS else "file"
    return Data(name, kind, datasets.NAMES[name], x, y, x_test, y_test)


def held_out_rows(n: int, test_split: float, seed: int) -> tuple:
    """(train rows, test rows) of a file with n rows: the one split `train` and `evaluate --test-split` share.

    datasets.split_rows: a permutation seeded with --seed, its last round(n·test_split) rows held out.
    """
    try:
        return datasets.split_rows(n, test_split, seed)
    except ValueError as exc:  # a fraction that leaves one side empty: a bad command line for this data
        raise UsageError(str(exc).replace("`test_split`", "--test-split")) from None


def load_file(path: str, target, test_split, seed: int) -> Data:
    """A .csv/.npz file; its rows are split into train and test unless it carries a test set."""
    is_npz = _existing_table_file(path, target)
    with reading(f"data file {path!r}"):
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
    train, test = held_out_rows(table.x.shape[0], split, seed)
    return Data(path, "file", what + f", {test.size:,} of them held out for testing (--test-split {split:g}, "
                f"--seed {seed})", table.x[train], table.y[train], table.x[test], table.y[test])


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


def load_eval_data(data: str, target, model, need_target: bool, test_split=None, seed: int = 0) -> tuple:
    """(label, x, y) to evaluate or predict on: a named dataset's test split, or every row of a file.

    With `test_split` (evaluate --test-split), only the rows of a file that `denso train` held out
    for testing with the same --test-split and --seed (held_out_rows).
    """
    if _is_dataset_name(data):
        if target is not None or test_split is not None:
            raise UsageError(f"--target and --test-split apply to .csv/.npz files; {data!r} is a built-in dataset "
                             "(evaluated on its own test split)")
        with reading(f"dataset {data!r}"):
            (_, _), (x, y) = datasets.load_dataset(data)
        label = f"{data} test split"
    else:
        is_npz = _existing_table_file(data, target)
        if target is None and not need_target and not is_npz:
            # predict: the last column is the target when the file has one column more than the model's inputs
            with reading(f"data file {data!r}"):
                target = -1 if len(datasets.csv_columns(data)) == model.input_dim + 1 else None
        with reading(f"data file {data!r}"):
            table = datasets.read_table(data, -1 if target is None and need_target else target)
        x, y, label = table.x, table.y, f"{data} (all rows)"
        if test_split is not None:
            if table.x_test is not None:
                raise UsageError(f"{data} has its own test set (x_test, y_test), which train used; leave out "
                                 "--test-split")
            if test_split == 0:
                raise UsageError("--test-split 0 holds out no rows; give the fraction `denso train` held out "
                                 f"(its default: {DEFAULT_TEST_SPLIT})")
            _, test = held_out_rows(x.shape[0], test_split, seed)
            x, y = x[test], y[test]
            label = (f"{data} test split (--test-split {test_split:g}, --seed {seed}: {test.size:,} of "
                     f"{table.x.shape[0]:,} rows)")
    if x.shape[1] != model.input_dim:
        raise ValueError(f"{label} has {x.shape[1]} feature columns, but the model takes {model.input_dim} inputs")
    return label, x, y
