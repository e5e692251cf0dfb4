"""Argument validation shared by the public API: messages name the argument, the expected and the received."""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import _core

_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def shape_str(shape) -> str:
    """Format a shape the way numpy prints it."""
    return str(tuple(int(s) for s in shape))


def as_float_array(x, name: str, dtype=None) -> np.ndarray:
    """One explicit conversion to a C-contiguous float32/float64 array (copies only when needed).

    Float32/float64 input keeps its dtype unless `dtype` is given; integers and bools become float64.
    Complex, object, string and other float widths raise TypeError.
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    # a byte-swapped float64 (e.g. read from a big-endian file) is still float64
    native = np.dtype(arr.dtype.newbyteorder("=").name) if kind == "f" else arr.dtype
    if kind in "iub":
        target = np.dtype(dtype) if dtype is not None else np.dtype(np.float64)
    elif kind == "f" and native in FLOAT_DTYPES:
        target = np.dtype(dtype) if dtype is not None else native
    else:
        raise TypeError(f"`{name}` must hold float32 or float64 numbers, got dtype {arr.dtype}")
    if target not in FLOAT_DTYPES:
        raise TypeError(f"`{name}` can only be converted to float32 or float64, got dtype={target}")
    return np.asarray(arr, dtype=target, order="C")  # keeps 0-d arrays 0-d, unlike ascontiguousarray


def require_ndim(arr: np.ndarray, name: str, ndim: int, what: str = "") -> None:
    """Raise ValueError unless `arr` has exactly `ndim` dimensions."""
    if arr.ndim != ndim:
        extra = f" ({what})" if what else ""
        raise ValueError(f"`{name}` must be {ndim}-D{extra}, got array of shape {shape_str(arr.shape)}")


def require_finite(arr: np.ndarray, name: str) -> None:
    """Raise ValueError naming the first NaN/inf entry of `arr`. C-contiguous float32/float64 arrays are
    scanned natively (no boolean array the size of `arr`: ~20 ms and 47 MB for Fashion-MNIST's x)."""
    if arr.dtype in _NATIVE_FLOATS and arr.flags.c_contiguous:
        finite = _core.all_finite(arr)
    else:
        finite = bool(np.isfinite(arr).all())
    if not finite:
        bad = np.argwhere(~np.isfinite(arr))[0]
        value = arr[tuple(bad)]
        raise ValueError(f"`{name}` must be finite, got {value} at index {tuple(int(i) for i in bad)}")


def as_labels(y, name: str, n_classes: int, n_rows: int) -> np.ndarray:
    """Integer class labels in [0, n_classes) as a C-contiguous int64 vector of length n_rows."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D vector of class labels, got array of shape {shape_str(arr.shape)}")
    if arr.dtype.kind == "f":
        require_finite(arr, name)
        if not np.array_equal(arr, np.round(arr)):
            raise ValueError(f"`{name}` holds class labels and must be whole numbers, got non-integer values")
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"`{name}` must hold integer class labels, got dtype {arr.dtype}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"`{name}` must have {n_rows} labels (one per row), got {arr.shape[0]}")
    labels = np.ascontiguousarray(arr, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)][0]
        raise ValueError(f"`{name}` must lie in [0, {n_classes}), got label {bad}")
    return labels


def is_integer(value) -> bool:
    """True for Python and numpy integers; False for bools, which are integers to Python but not to us."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    """True for Python and numpy real numbers (integers included); False for bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def bounds_error(value, low=None, high=None, low_open=False, high_open=False) -> str | None:
    """'must be >= low' (or '> low', '<= high', '< high') for a value outside the bounds, None inside them."""
    if low is not None and (value < low or (low_open and value == low)):
        return f"must be {'>' if low_open else '>='} {low}"
    if high is not None and (value > high or (high_open and value == high)):
        return f"must be {'<' if high_open else '<='} {high}"
    return None


def require_positive_int(value, name: str, minimum: int = 1) -> int:
    """An integer >= minimum (bools rejected, floats not truncated), else TypeError/ValueError naming it."""
    if not is_integer(value):
        raise TypeError(f"`{name}` must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _bounds_text(low, high, low_open: bool, high_open: bool) -> str:
    """' >= 0', ' > 0', ' <= 1', ' in [0, 1)', ... for a message; '' without bounds."""
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def require_number(value, name: str, low=None, high=None, low_open=False, high_open=False) -> float:
    """A finite real number within the bounds (open or closed at either end), else TypeError/ValueError
    naming it, what was expected and what came."""
    if not is_real(value):
        raise TypeError(f"`{name}` must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or bounds_error(value, low, high, low_open, high_open):
        raise ValueError(f"`{name}` must be a finite number{_bounds_text(low, high, low_open, high_open)}, "
                         f"got {value!r}")
    return value


def check_seed(value, name: str) -> int:
    """`value` as a seed: an integer in [0, 2**64) (bools and floats rejected, not truncated)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer in [0, 2**64), got {type(value).__name__} {value!r}")
    if not 0 <= int(value) < 2**64:
        raise ValueError(f"`{name}` must be an integer in [0, 2**64), got {value}")
    return int(value)


def require_probability_rows(arr: np.ndarray, name: str) -> None:
    """Each row of `arr` must be a distribution: entries >= 0 summing to 1 (within 1e-3, for float32
    and smoothed labels). Cross-entropy against anything else is not a loss (it can go negative)."""
    if arr.size == 0:
        return
    negative = arr < 0
    if negative.any():
        row, col = np.argwhere(negative)[0]
        raise ValueError(f"`{name}` must hold probability rows (entries >= 0 summing to 1), got {float(arr[row, col]):.6g} "
                         f"at index ({row}, {col})")
    sums = arr.sum(axis=1, dtype=np.float64)
    off = np.abs(sums - 1.0) > 1e-3
    if off.any():
        row = int(np.argmax(off))
        raise ValueError(f"`{name}` must hold probability rows (entries >= 0 summing to 1), got row {row} summing "
                         f"to {sums[row]:.6g}; pass integer labels or one-hot rows")
