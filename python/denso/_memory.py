"""Buffers the C++ passes stream through, aligned to a cache line.

numpy aligns large arrays to 16 bytes only; a 64-byte (AVX-512) vector op on such a buffer splits a
cache line every time, which made memory-bound passes (the optimizer update) up to 2x slower.
"""
from __future__ import annotations

import numpy as np

CACHE_LINE = 64


def aligned_zeros(shape, dtype) -> np.ndarray:
    """np.zeros(shape, dtype), C-contiguous, with its data at a multiple of 64 bytes."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    raw = np.zeros(count * dtype.itemsize + CACHE_LINE, dtype=np.uint8)
    start = -raw.ctypes.data % CACHE_LINE
    return raw[start:start + count * dtype.itemsize].view(dtype).reshape(shape)
