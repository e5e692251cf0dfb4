"""Holding out the last rows of a data set for validation (Keras's `validation_split` rule)."""
from __future__ import annotations

from ._checks import require_number


def holdout(arrays: tuple, fraction: float, *, name: str = "validation_split") -> tuple:
    """Split every array of `arrays` into its first rows (training) and its last rows (validation).

    The last `round(n * fraction)` rows are held out, before any shuffling, as Keras's
    `validation_split` does. Entries may be None (say, the labels of a regression); they stay None
    on both sides.

    Args:
        arrays: a tuple of arrays with the same number of rows n, or None entries.
        fraction: the share of the rows to hold out, in [0, 1); 0 holds out nothing.
        name: what the caller calls `fraction`, for the error messages.

    Returns:
        (train, validation): two tuples shaped like `arrays`; validation is None when fraction is 0.

    Raises:
        ValueError when the fraction leaves no row on one side, or the arrays' row counts differ.

    Example:
        >>> (x_tr, y_tr), (x_val, y_val) = holdout((np.arange(10), None), 0.2)
        >>> x_tr.tolist(), x_val.tolist(), y_val
        ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9], None)
    """
    fraction = require_number(fraction, name, low=0.0)
    if fraction >= 1.0:
        raise ValueError(f"`{name}` must be in [0, 1), got {fraction}")
    rows = {a.shape[0] for a in arrays if a is not None}
    if len(rows) != 1:
        raise ValueError(f"`arrays` must hold at least one array, all with the same number of rows, got "
                         f"{sorted(rows) if rows else 'only None'}")
    if fraction == 0.0:
        return tuple(arrays), None
    n = rows.pop()
    n_val = int(round(n * fraction))
    if n_val == 0 or n_val == n:
        raise ValueError(f"`{name}`={fraction} leaves {n_val} of {n} samples for "
                         "validation; it must leave at least one sample on each side")
    cut = n - n_val
    train = tuple(None if a is None else a[:cut] for a in arrays)
    return train, tuple(None if a is None else a[cut:] for a in arrays)
