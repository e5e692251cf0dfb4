"""A table's rows split into train and test sets (optionally standardised): load_csv, load_npz."""
from __future__ import annotations

import os

import numpy as np

from .._checks import require_number
from ..standardization import Standardizer
from .tables import read_table


def split_rows(n: int, test_split: float, seed: int = 0):
    """(train indices, test indices): a seeded permutation with the last `test_split` fraction as test.

    With test_split 0 the rows keep their order and the test set is empty.
    """
    test_split = require_number(test_split, "test_split", low=0.0)
    if test_split >= 1.0:
        raise ValueError(f"`test_split` must be in [0, 1), got {test_split}")
    if test_split == 0.0:
        return np.arange(n), np.arange(0)
    n_test = int(round(n * test_split))
    if n_test == 0 or n_test == n:
        raise ValueError(f"`test_split`={test_split} leaves {n_test} of {n} rows for testing; it must leave at "
                         "least one row on each side")
    order = np.random.default_rng(seed).permutation(n)
    return order[:n - n_test], order[n - n_test:]


def load_csv(path, target=-1, test_split: float = 0.0, standardize: bool = False, seed: int = 0):
    """Load a numeric CSV file: ((x_train, y_train), (x_test, y_test)).

    The first row is a header when any of its fields is not a number (otherwise columns are named
    "0", "1", ...). Every other field must be a finite number: an empty or non-numeric field raises
    ValueError naming its row and column. A target column whose values are all whole numbers gives
    int64 labels; otherwise y is float64.

    Args:
        path: a .csv file (comma-separated; .tsv files are tab-separated).
        target: the label column, by name or 0-based index (negative counts from the end; default
            the last column), or None for a file without labels (y is then None).
        test_split: fraction of the rows held out as the test set, chosen by a permutation seeded
            with `seed` (0: no test set, rows keep their order, the test arrays are empty).
        standardize: scale each feature to zero mean and unit variance with the mean and standard
            deviation of the *training* rows only (the test rows are transformed with them).
        seed: seed of the train/test permutation.

    Returns:
        ((x_train, y_train), (x_test, y_test)): x float32 (n, features), y int64/float64 (n,).

    Example:
        >>> (x, y), (x_test, y_test) = load_csv("iris.csv", target="species", test_split=0.2, standardize=True)
    """
    table = read_table(path, target)
    if os.path.splitext(os.fspath(path))[1].lower() == ".npz":
        raise ValueError(f"{os.fspath(path)!r} is an .npz file; use load_npz")
    return _split_table(table.x, table.y, test_split, standardize, seed)


def load_npz(path, test_split: float = 0.0, standardize: bool = False, seed: int = 0):
    """Load arrays x (or X) and y from an .npz file: ((x_train, y_train), (x_test, y_test)).

    When the file also holds x_test and y_test, those are the test set (and `test_split` must be 0);
    otherwise the rows are split as in load_csv. `standardize` as in load_csv.
    """
    table = read_table(path)
    if os.path.splitext(os.fspath(path))[1].lower() != ".npz":
        raise ValueError(f"{os.fspath(path)!r} is not an .npz file; use load_csv")
    if table.x_test is None:
        return _split_table(table.x, table.y, test_split, standardize, seed)
    if test_split:
        raise ValueError(f"{os.fspath(path)!r} has its own test set (x_test, y_test); `test_split` must be 0")
    return _standardized((table.x, table.y), (table.x_test, table.y_test), standardize)


def _split_table(x, y, test_split, standardize, seed):
    train, test = split_rows(x.shape[0], test_split, seed)
    pick = (lambda rows: None) if y is None else (lambda rows: y[rows])
    return _standardized((x[train], pick(train)), (x[test], pick(test)), standardize)


def _standardized(train, test, standardize):
    if standardize:
        scaler = Standardizer().fit(train[0])
        train, test = (scaler.transform(train[0]), train[1]), (scaler.transform(test[0]), test[1])
    return train, test
