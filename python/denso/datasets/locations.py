"""Where the IDX datasets are looked for: $DENSO_DATA, the system directory, then denso's cache."""
from __future__ import annotations

import os

from .catalog import IDX_FILES, spec


def cache_dir() -> str:
    """denso's download cache: $XDG_CACHE_HOME/denso, or ~/.cache/denso."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "denso")


def system_data_dir() -> str:
    """Where system packages put datasets: $DENSO_SYSTEM_DATASETS, or /usr/share/datasets (Debian)."""
    return os.environ.get("DENSO_SYSTEM_DATASETS") or "/usr/share/datasets"


def search_dirs(name: str, path=None) -> list:
    """The directories looked in for dataset `name`, in order (only `path` when it is given)."""
    spec(name)
    if path is not None:
        return [os.fspath(path)]
    dirs = []
    if os.environ.get("DENSO_DATA"):
        dirs.append(os.path.join(os.environ["DENSO_DATA"], name))
    dirs += [os.path.join(system_data_dir(), name), os.path.join(cache_dir(), name)]
    return dirs


def find_file(directory: str, stem: str) -> str | None:
    """The path of `stem` in `directory`, compressed (stem.gz) or raw, or None."""
    for name in (stem + ".gz", stem):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def dataset_dir(name: str, path=None) -> str | None:
    """The first of search_dirs(name, path) that holds all four IDX files (.gz or raw), or None."""
    for directory in search_dirs(name, path):
        if all(find_file(directory, s) for pair in IDX_FILES.values() for s in pair):
            return directory
    return None


def fashion_mnist_dir(path=None) -> str | None:
    """The directory holding the Fashion-MNIST files (see denso.datasets for the order), or None."""
    return dataset_dir("fashion-mnist", path)


def mnist_dir(path=None) -> str | None:
    """The directory holding the MNIST files, or None."""
    return dataset_dir("mnist", path)
