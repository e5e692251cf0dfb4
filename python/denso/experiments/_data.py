"""Data for the experiments: Fashion-MNIST when its files are installed, small seeded generators otherwise."""
from __future__ import annotations

import numpy as np

from .. import datasets


def _read_split(directory: str, split: str):
    """(x in [0, 1] float32 (n, 784), int64 labels) of one Fashion-MNIST split."""
    return datasets.read_split(directory, split, title="Fashion-MNIST")


def classification(n_train: int, n_test: int, seed: int, quick: bool = False):
    """((x_train, y_train), (x_test, y_test), source): a 10-class image problem.

    Fashion-MNIST when `datasets.fashion_mnist_dir()` finds it: a seeded random subset of the
    training split and of the test split. With `quick`, both subsets come from the (smaller,
    faster to read) test split, disjoint. Without the files: `mixture_classification`.
    """
    directory = datasets.fashion_mnist_dir()
    rng = np.random.default_rng(seed)
    if directory is None:
        x, y = mixture_classification(n_train + n_test, seed)
        return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:]), \
            "synthetic 10-class Gaussian mixture (Fashion-MNIST not installed)"
    if quick:
        x, y = _read_split(directory, "test")
        order = rng.permutation(x.shape[0])[:n_train + n_test]
        tr, te = order[:n_train], order[n_train:]
        return (x[tr], y[tr]), (x[te], y[te]), "Fashion-MNIST (subsets of the test split)"
    x_train, y_train = _read_split(directory, "train")
    x_test, y_test = _read_split(directory, "test")
    tr = rng.permutation(x_train.shape[0])[:n_train]
    te = rng.permutation(x_test.shape[0])[:n_test]
    return (x_train[tr], y_train[tr]), (x_test[te], y_test[te]), "Fashion-MNIST"


def mixture_classification(n: int, seed: int, features: int = 64, classes: int = 10, clusters: int = 3):
    """A seeded 10-class problem: each class is a mixture of `clusters` Gaussian blobs in `features`
    dimensions, with overlapping classes. Returns (x float32 (n, features), int64 labels)."""
    rng = np.random.default_rng(seed + 104729)
    centres = rng.normal(0.0, 1.0, size=(classes * clusters, features))
    labels = rng.integers(0, classes, size=n)
    which = labels * clusters + rng.integers(0, clusters, size=n)
    x = centres[which] + rng.normal(0.0, 1.4, size=(n, features))
    return x.astype(np.float32), labels.astype(np.int64)
