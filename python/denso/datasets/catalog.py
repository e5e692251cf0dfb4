"""The IDX image datasets denso knows: their file names, canonical URLs and published checksums."""
from __future__ import annotations

import dataclasses

FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_FILES = FASHION_MNIST_FILES  # MNIST uses the same four file names


@dataclasses.dataclass(frozen=True)
class IdxDataset:
    """Where an IDX dataset comes from: its canonical base URL and the MD5 of each published file."""

    name: str          # directory name, e.g. "fashion-mnist"
    title: str         # for messages, e.g. "Fashion-MNIST"
    base_url: str      # file URL = base_url + file name
    md5: dict          # "train-images-idx3-ubyte.gz" → hex digest
    apt_package: str | None = None


# The published checksums of the canonical .gz files (Zalando's and Yann LeCun's originals; the
# MNIST files are served from PyTorch's mirror because the original site refuses scripted downloads).
DATASETS = {
    "fashion-mnist": IdxDataset(
        "fashion-mnist", "Fashion-MNIST", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
         "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
         "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
         "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
        apt_package="dataset-fashion-mnist"),
    "mnist": IdxDataset(
        "mnist", "MNIST", "https://ossci-datasets.s3.amazonaws.com/mnist/",
        {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
         "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
         "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
         "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}),
}


def spec(name: str) -> IdxDataset:
    """The IdxDataset registered as `name`, or ValueError listing the known names."""
    if name not in DATASETS:
        raise ValueError(f"unknown IDX dataset {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[name]


def how_to_get(dataset: IdxDataset) -> str:
    """'get them with `apt-get install ...` or download the four files from ...' for error messages."""
    ways = [f"`apt-get install {dataset.apt_package}`"] if dataset.apt_package else []
    ways.append(f"download the four files from {dataset.base_url} into $DENSO_DATA/{dataset.name}")
    return "get them with " + " or ".join(ways)
