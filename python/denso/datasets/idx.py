"""The IDX file format of MNIST and Fashion-MNIST: read_idx and write_idx (gzip-compressed or raw)."""
from __future__ import annotations

import gzip
import os

import numpy as np

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_CODES = {np.dtype(v).newbyteorder(">") if np.dtype(v).itemsize > 1 else np.dtype(v): k
             for k, v in IDX_DTYPES.items()}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (optionally .gz): checks the magic number, dimensions and the file size.

    Raises ValueError naming the file when it is truncated, too long or not IDX.
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read IDX file {path!r}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise ValueError(f"{path!r} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"{path!r} has a truncated IDX header ({ndim} dimensions, {len(raw)} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path!r} should hold {expected} bytes for shape {shape}, but holds {len(raw)} "
                         f"({'truncated' if len(raw) < expected else 'trailing data'})")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array) -> None:
    """Write `array` as an IDX file (gzip-compressed when `path` ends in .gz); read_idx reads it back.

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (stored big-endian, as IDX requires).
    """
    arr = np.asarray(array)
    big = arr.dtype.newbyteorder(">") if arr.dtype.itemsize > 1 else arr.dtype
    if big not in IDX_CODES or arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"IDX stores 1- to 255-D arrays of uint8, int8, int16, int32, float32 or float64, "
                         f"got a {arr.ndim}-D array of dtype {arr.dtype}")
    header = bytes([0, 0, IDX_CODES[big], arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    data = header + np.ascontiguousarray(arr, dtype=big).tobytes()
    path = os.fspath(path)
    with (gzip.open if path.endswith(".gz") else open)(path, "wb") as f:
        f.write(data)
