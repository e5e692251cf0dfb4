"""Datasets: an IDX reader (MNIST / Fashion-MNIST files, gzip or raw) and their loaders."""
from __future__ import annotations

import gzip
import os

import numpy as np

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


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


def _find(directory: str, stem: str) -> str | None:
    for name in (stem + ".gz", stem):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def fashion_mnist_dir(path=None) -> str | None:
    """The first directory holding the Fashion-MNIST files: `path`, $DENSO_DATA/fashion-mnist, Debian's."""
    candidates = [path] if path is not None else []
    if os.environ.get("DENSO_DATA"):
        candidates.append(os.path.join(os.environ["DENSO_DATA"], "fashion-mnist"))
    candidates.append("/usr/share/datasets/fashion-mnist")
    for directory in candidates:
        if directory and all(_find(directory, s) for pair in FASHION_MNIST_FILES.values() for s in pair):
            return directory
    return None


def load_fashion_mnist(path=None, normalize=True):
    """((x_train, y_train), (x_test, y_test)) with x as (n, 784) float32 in [0, 1] (or uint8).

    Raises FileNotFoundError saying how to get the files when none of the locations has them.
    """
    directory = fashion_mnist_dir(path)
    if directory is None:
        raise FileNotFoundError("Fashion-MNIST files not found (looked in the given path, $DENSO_DATA/fashion-mnist "
                                "and /usr/share/datasets/fashion-mnist); install them with "
                                "`apt-get install dataset-fashion-mnist`")
    out = []
    for split in ("train", "test"):
        images, labels = (read_idx(_find(directory, s)) for s in FASHION_MNIST_FILES[split])
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"Fashion-MNIST {split} split has {images.shape[0]} images but {labels.shape[0]} labels")
        x = images.reshape(images.shape[0], -1)
        out.append(((x.astype(np.float32) / 255.0) if normalize else x, labels.astype(np.int64)))
    return tuple(out)
