"""How many threads denso's kernels use: its own pool (the GEMMs, OpenBLAS inside it, the elementwise
passes). The default is DENSO_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs this process may run on."""
from __future__ import annotations

import numbers

from . import _core

MAX_THREADS = 1024


def set_num_threads(n: int) -> None:
    """Use `n` threads (1 to 1024) from now on. The workers start at once: if the system refuses some
    (a process or memory limit), RuntimeError says how many denso uses instead."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"`n` must be an integer number of threads, got {type(n).__name__} {n!r}")
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"`n` must be a number of threads in [1, {MAX_THREADS}], got {n}")
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    """The threads the kernels use."""
    return _core.get_num_threads()
