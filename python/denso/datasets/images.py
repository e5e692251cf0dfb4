"""Loading the IDX image datasets (MNIST, Fashion-MNIST): found locally or downloaded, then read."""
from __future__ import annotations

import numpy as np

from .catalog import IDX_FILES, how_to_get, spec
from .download import download_dataset
from .idx import read_idx
from .locations import dataset_dir, find_file, search_dirs


def read_split(directory: str, split: str, normalize: bool = True, title: str = "IDX dataset"):
    """(x, y) of one split ("train" or "test") of the IDX image files in `directory`.

    x is (n, pixels) float32 in [0, 1] (uint8 0-255 with normalize=False), y int64 labels.
    Raises ValueError when the images and labels do not pair up.
    """
    images, labels = (read_idx(find_file(directory, stem)) for stem in IDX_FILES[split])
    if images.shape[0] != labels.shape[0] or labels.ndim != 1:
        raise ValueError(f"{title} {split} split in {directory} has {images.shape[0]} images but labels "
                         f"of shape {labels.shape}")
    x = images.reshape(images.shape[0], -1)
    return ((x.astype(np.float32) / 255.0) if normalize else x), labels.astype(np.int64)


def _locate(name: str, path, allow_download: bool) -> str:
    """The directory holding dataset `name`, downloaded into the cache when it is nowhere and that is allowed."""
    dataset = spec(name)
    directory = dataset_dir(name, path)
    if directory is not None:
        return directory
    message = f"{dataset.title} files not found (looked in {', '.join(search_dirs(name, path))})"
    if path is not None or not allow_download:
        raise FileNotFoundError(f"{message}; {how_to_get(dataset)}")
    try:
        return download_dataset(name)
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise FileNotFoundError(f"{message}, and downloading them failed ({reason}); "
                                f"{how_to_get(dataset)}") from None


def load_idx_dataset(name: str, path=None, normalize: bool = True, download: bool = True):
    """((x_train, y_train), (x_test, y_test)) of an IDX image dataset ("fashion-mnist", "mnist").

    x is (n, pixels) float32 in [0, 1] (uint8 0-255 with normalize=False), y int64 labels. See
    denso.datasets for where the files are looked for and when they are downloaded (never when
    `path` is given or `download` is False).

    Raises FileNotFoundError saying how to get the files when they are not found and cannot be
    downloaded, ValueError when a file is damaged.
    """
    directory = _locate(name, path, download)
    title = spec(name).title
    return tuple(read_split(directory, split, normalize, title) for split in ("train", "test"))


def load_fashion_mnist(path=None, normalize: bool = True, download: bool = True):
    """Fashion-MNIST: ((x_train, y_train), (x_test, y_test)), 60,000 + 10,000 images of 28×28.

    x is (n, 784) float32 in [0, 1] (or uint8 with normalize=False), y int64 in 0..9
    (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot).

    Example:
        >>> (x, y), (x_test, y_test) = load_fashion_mnist()
        >>> x.shape, x_test.shape
        ((60000, 784), (10000, 784))
    """
    return load_idx_dataset("fashion-mnist", path, normalize, download)


def load_mnist(path=None, normalize: bool = True, download: bool = True):
    """MNIST handwritten digits: ((x_train, y_train), (x_test, y_test)), as load_fashion_mnist."""
    return load_idx_dataset("mnist", path, normalize, download)
