"""The IDX file format of MNIST and Fashion-MNIST: read_idx and write_idx (gzip-compressed or raw)."""
from __future__ import annotations

import gzip
import math
import os
import zlib

import numpy as np

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_CODES = {np.dtype(v).newbyteorder(">") if np.dtype(v).itemsize > 1 else np.dtype(v): k
             for k, v in IDX_DTYPES.items()}


MAX_IDX_BYTES = 1 << 30  # the largest data read_idx reads unless told otherwise (MNIST's images: 47 MB)


def read_idx(path, max_bytes: int | None = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file (optionally .gz): checks the magic number, dimensions and the file size.

    The header declares the shape; exactly that much data is read (a .gz file is inflated no
    further), so a small .gz that inflates to gigabytes costs no more than its header declares.

    Args:
        path: the file; names ending in .gz are gzip-compressed.
        max_bytes: the largest data size (in bytes, after decompression) the header may declare;
            None for no limit.

    Raises ValueError naming the file when it is truncated, too long, declares more than
    `max_bytes` or is not IDX.
    """
    path = os.fspath(path)
    compressed = path.endswith(".gz")
    try:
        with (gzip.open if compressed else open)(path, "rb") as f:
            return _read_idx_stream(path, f, None if compressed else os.fstat(f.fileno()).st_size, max_bytes)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"cannot read IDX file {path!r}: {exc}") from None


def _read_idx_stream(path: str, f, file_size, max_bytes) -> np.ndarray:
    """The array in open IDX stream `f` (`file_size`: its length when known, None for a .gz)."""
    magic = f.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_DTYPES:
        raise ValueError(f"{path!r} is not an IDX file (bad magic number {magic.hex() or 'empty'})")
    ndim = magic[3]
    dims = f.read(4 * ndim)
    if ndim == 0 or len(dims) < 4 * ndim:
        raise ValueError(f"{path!r} has a truncated IDX header ({ndim} dimensions, {4 + len(dims)} bytes)")
    shape = tuple(int.from_bytes(dims[4 * i:4 * i + 4], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[magic[2]])
    header = 4 + 4 * ndim
    size = math.prod(shape) * dtype.itemsize
    expected = header + size
    if max_bytes is not None and size > max_bytes:
        raise ValueError(f"{path!r} declares shape {shape} of {dtype.name}: {size:,} bytes of data, more than "
                         f"the {max_bytes:,} read_idx reads by default; pass max_bytes=None (or a larger limit) "
                         f"if the file is really that large")
    if file_size is not None and file_size != expected:
        raise ValueError(f"{path!r} should hold {expected} bytes for shape {shape}, but holds {file_size} "
                         f"({'truncated' if file_size < expected else 'trailing data'})")
    data = np.empty(size, dtype=np.uint8)
    view, done = memoryview(data), 0
    while done < size:
        n = f.readinto(view[done:done + (1 << 24)])
        if not n:
            raise ValueError(f"{path!r} should hold {expected} bytes for shape {shape}, but holds {header + done} "
                             f"(truncated)")
        done += n
    if f.read(1):
        raise ValueError(f"{path!r} should hold {expected} bytes for shape {shape}, but holds more "
                         f"(trailing data); it was not read further")
    array = data.view(dtype).reshape(shape)
    if not dtype.isnative:  # IDX stores big-endian: swap in place rather than copy
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


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
