"""Reading numeric tables from CSV (.csv, .tsv) and .npz files, with errors that name the bad row and column."""
from __future__ import annotations

import csv
import dataclasses
import itertools
import os
import re
import zipfile
import zlib

import numpy as np


@dataclasses.dataclass
class Table:
    """Rows read from a CSV or .npz file: features x (n, d) float32, target y (n,) or None."""

    x: np.ndarray
    y: np.ndarray | None
    feature_names: list
    target_name: str | None
    x_test: np.ndarray | None = None   # an .npz may carry its own test split
    y_test: np.ndarray | None = None


def read_table(path, target=-1) -> Table:
    """Read a .csv (or .tsv) or .npz file into a Table (see load_csv and load_npz for the rules).

    Raises FileNotFoundError for a missing file and ValueError for one that cannot be used.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a directory, not a data file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        return _read_npz(path)
    if ext in (".csv", ".tsv", ".txt"):
        return _read_csv(path, target, "\t" if ext == ".tsv" else ",")
    raise ValueError(f"{path!r}: unsupported file type {ext or '(no extension)'!r}; denso reads .csv, .tsv and .npz")


def _is_number(field: str) -> bool:
    try:
        float(field)
        return True
    except ValueError:
        return False


def _csv_rows(path: str, delimiter: str):
    """The rows of a CSV file as lists of stripped strings (blank lines skipped)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for row in csv.reader(f, delimiter=delimiter):
                if row and any(field.strip() for field in row):
                    yield [field.strip() for field in row]
    except UnicodeDecodeError:
        raise ValueError(f"{path!r} is not a text CSV file (it is not UTF-8)") from None
    except csv.Error as exc:
        raise ValueError(f"{path!r} is not a valid CSV file: {exc}") from None


# How many data rows _sniff_csv looks at to guess that every field is a whole number.
SNIFF_ROWS = 50
_WHOLE = re.compile(r"[+-]?\d{1,18}")


def _sniff_csv(path: str, delimiter: str):
    """(column names, whether the first row is a header, whether the first data rows hold whole numbers only).

    Reads the header and at most SNIFF_ROWS data rows; raises ValueError for a file without data rows.
    """
    rows = _csv_rows(path, delimiter)
    first = next(rows, None)
    if first is None:
        raise ValueError(f"{path!r} is empty")
    has_header = not all(_is_number(field) for field in first)
    sample = list(itertools.islice(rows, SNIFF_ROWS)) if has_header else [first] + list(
        itertools.islice(rows, SNIFF_ROWS - 1))
    rows.close()
    if has_header and not sample:
        raise ValueError(f"{path!r} has a header but no data rows")
    names = first if has_header else [str(i) for i in range(len(first))]
    if has_header and len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"{path!r} has two columns named {dup!r}")
    whole = all(_WHOLE.fullmatch(field) for row in sample for field in row)
    return names, has_header, whole


def _csv_header(path: str, delimiter: str):
    """(column names, whether the first row is a header); raises ValueError for a file without data rows."""
    return _sniff_csv(path, delimiter)[:2]


def csv_columns(path) -> list:
    """The column names of a CSV file ("0", "1", ... when it has no header)."""
    path = os.fspath(path)
    return _csv_header(path, "\t" if path.lower().endswith(".tsv") else ",")[0]


def _target_index(path: str, names: list, target) -> int | None:
    """The column index of `target` (a name, or an integer index that may be negative), or None."""
    if target is None:
        return None
    if isinstance(target, str) and target in names:
        return names.index(target)
    try:
        index = int(target)
    except (TypeError, ValueError):
        index = None
    if index is not None and -len(names) <= index < len(names):
        return index % len(names)
    shown = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
    raise ValueError(f"{path!r} has no target column {target!r}; its columns are {shown} "
                     f"(give a name or a 0-based index)")


def _diagnose_csv(path: str, delimiter: str, names: list, has_header: bool):
    """Scan the file to name the first bad field; raises ValueError (returns if nothing is found)."""
    rows = _csv_rows(path, delimiter)
    if has_header:
        next(rows)
    for line, row in enumerate(rows, start=2 if has_header else 1):
        if len(row) != len(names):
            raise ValueError(f"{path!r} row {line} has {len(row)} fields, but the file has {len(names)} columns")
        for name, field in zip(names, row):
            where = f"{path!r} row {line}, column {name!r}"
            if field == "":
                raise ValueError(f"{where} is empty; denso needs every value (fill or drop missing values first)")
            if not _is_number(field):
                raise ValueError(f"{where} holds {field!r}, which is not a number; denso reads numeric columns only "
                                 "(encode categories as numbers first)")


# Fractional tables at least this big go to pandas' C reader when pandas is installed; smaller ones
# skip its ~0.5 s import.
PANDAS_MIN_BYTES = 16 << 20


def _pandas_or_none():
    import importlib.util
    if importlib.util.find_spec("pandas") is None:
        return None
    import pandas
    return pandas


def _parse_floats(path: str, delimiter: str, has_header: bool) -> np.ndarray:
    """Every data field as a 2-D float64 array: by pandas' C reader for files of PANDAS_MIN_BYTES or
    more when pandas is installed (2-3x faster than np.loadtxt on fractional values), else by
    np.loadtxt. A file pandas refuses (a bad field, "nan", a ragged row) goes to np.loadtxt, so the
    values accepted and the errors raised are np.loadtxt's either way."""
    pandas = _pandas_or_none() if os.path.getsize(path) >= PANDAS_MIN_BYTES else None
    if pandas is not None:
        try:
            return pandas.read_csv(path, sep=delimiter, header=None, skiprows=int(has_header), dtype=np.float64,
                                   engine="c", na_filter=False, quotechar='"', encoding="utf-8-sig").to_numpy()
        except (ValueError, OverflowError):
            pass
    return np.loadtxt(path, dtype=np.float64, **_loadtxt_options(delimiter, has_header))


def _loadtxt_options(delimiter: str, has_header: bool) -> dict:
    return dict(delimiter=delimiter, skiprows=int(has_header), ndmin=2, encoding="utf-8-sig", quotechar='"',
                comments=None)


def _load_numbers(path: str, delimiter: str, has_header: bool, whole: bool) -> np.ndarray:
    """Every data field as a 2-D array.

    When the sniffed rows hold whole numbers only, the fields are parsed as int64 by np.loadtxt first
    (about five times faster than parsing floats, and faster than pandas: MNIST-style pixel tables);
    a field further down that is not a whole number (or overflows int64) makes it parse the file
    again as float64 (_parse_floats). Raises ValueError from the float64 parse.
    """
    if whole:
        try:
            return np.loadtxt(path, dtype=np.int64, **_loadtxt_options(delimiter, has_header))
        except (ValueError, OverflowError):
            pass
    return _parse_floats(path, delimiter, has_header)


def _columns_except(data: np.ndarray, index: int | None) -> np.ndarray:
    """The columns of data other than `index`, as float32 (through float64, as the text would round)."""
    if data.dtype.kind == "i" and np.abs(data).max(initial=0) > 2**24:
        data = data.astype(np.float64)  # float32 cannot hold every such integer: round as a float64 parse would
    if index is None:
        return data.astype(np.float32)
    x = np.empty((data.shape[0], data.shape[1] - 1), dtype=np.float32)
    x[:, :index] = data[:, :index]  # two slices: much faster than fancy-indexing the column list
    x[:, index:] = data[:, index + 1:]
    return x


def _read_csv(path: str, target, delimiter: str) -> Table:
    names, has_header, whole = _sniff_csv(path, delimiter)
    index = _target_index(path, names, target)
    try:
        data = _load_numbers(path, delimiter, has_header, whole)
    except ValueError as exc:
        _diagnose_csv(path, delimiter, names, has_header)
        raise ValueError(f"{path!r} could not be read as numbers: {exc}") from None
    if data.shape[1] != len(names):
        _diagnose_csv(path, delimiter, names, has_header)
        raise ValueError(f"{path!r} has {data.shape[1]} columns of data but {len(names)} header names")
    if data.dtype.kind == "f":
        bad = ~np.isfinite(data)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ValueError(f"{path!r} row {row + 1 + has_header}, column {names[col]!r} is {data[row, col]}; "
                             "denso needs finite numbers")
    features = [i for i in range(len(names)) if i != index]
    if not features:
        raise ValueError(f"{path!r} has no feature columns besides the target {names[index]!r}")
    y = None
    if index is not None:
        y = data[:, index].copy()
        if y.dtype.kind == "i":
            if np.abs(y).max(initial=0) >= 2**53:
                y = y.astype(np.float64)  # as a float64 parse gives it: too large for exact whole-number labels
        elif np.array_equal(y, np.round(y)) and np.abs(y).max(initial=0) < 2**53:
            y = y.astype(np.int64)
    return Table(_columns_except(data, index), y, [names[i] for i in features],
                 None if index is None else names[index])


def _read_npz(path: str) -> Table:
    try:
        with open(path, "rb") as f:
            if f.read(6) == b"\x93NUMPY":
                raise ValueError("it holds a single .npy array, not an .npz archive of named arrays")
            f.seek(0)
            with np.load(f, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, NotImplementedError, RuntimeError,
            zlib.error) as exc:
        raise ValueError(f"{path!r} is not a readable .npz file: {exc}") from None
    if {"header", "params"} <= set(arrays):
        raise ValueError(f"{path!r} is a denso model file, not a data file")

    def pick(*keys):
        return next((arrays[k] for k in keys if k in arrays), None)

    x, y = pick("x", "X"), pick("y", "Y")
    if x is None or y is None:
        raise ValueError(f"{path!r} must hold arrays named 'x' (or 'X') and 'y'; it holds {sorted(arrays) or 'none'}")
    x_test, y_test = pick("x_test", "X_test"), pick("y_test", "Y_test")
    if (x_test is None) != (y_test is None):
        raise ValueError(f"{path!r} must hold both 'x_test' and 'y_test', or neither")
    x, y = _npz_pair(path, x, y, "")
    if x_test is not None:
        x_test, y_test = _npz_pair(path, x_test, y_test, "_test")
        if x_test.shape[1] != x.shape[1]:
            raise ValueError(f"{path!r}: 'x_test' has {x_test.shape[1]} columns but 'x' has {x.shape[1]}")
    return Table(x, y, [str(i) for i in range(x.shape[1])], "y", x_test, y_test)


def _npz_pair(path: str, x, y, suffix: str):
    """Checked (x float32 2-D, y 1-D/2-D) from an .npz file."""
    for name, arr in ((f"x{suffix}", x), (f"y{suffix}", y)):
        if arr.dtype.kind not in "iubf":
            raise ValueError(f"{path!r}: {name!r} must hold numbers, got dtype {arr.dtype}")
        if arr.size and not np.isfinite(arr).all():
            raise ValueError(f"{path!r}: {name!r} holds NaN or infinite values")
    if x.ndim != 2:
        raise ValueError(f"{path!r}: 'x{suffix}' must be 2-D (samples × features), got shape {x.shape}")
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise ValueError(f"{path!r}: 'y{suffix}' must have one row per row of 'x{suffix}' ({x.shape[0]}), "
                         f"got shape {y.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{path!r}: 'x{suffix}' has no rows")
    if y.dtype.kind == "f" and np.array_equal(y, np.round(y)) and y.ndim == 1:
        y = y.astype(np.int64)
    return x.astype(np.float32), y
