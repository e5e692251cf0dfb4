"""The named datasets of the command line's --data: the IDX image sets and the built-in synthetic problems."""
from __future__ import annotations

from .. import synthetic
from .catalog import DATASETS
from .images import load_idx_dataset

SYNTHETIC = {
    "spirals": "two interleaved spirals, 2 features, 2 classes (1500 train + 500 test points)",
    "sine": "y = sin(2πx) + noise, regression (800 train + 200 test points)",
    "cubic": "y = 4x³ − 3x + noise, regression (800 train + 200 test points)",
    "abs": "y = 2|x| − 1 + noise, regression (800 train + 200 test points)",
}
NAMES = {"fashion-mnist": "Fashion-MNIST: 28×28 clothing images, 10 classes (60,000 train + 10,000 test)",
         "mnist": "MNIST: 28×28 handwritten digits, 10 classes (60,000 train + 10,000 test)", **SYNTHETIC}


def load_dataset(name: str, download: bool = True):
    """A named dataset as ((x_train, y_train), (x_test, y_test)); names and contents in NAMES.

    The synthetic ones are fixed problems (generated with seed 0), so every call returns the same
    arrays.
    """
    if name in DATASETS:
        return load_idx_dataset(name, download=download)
    if name == "spirals":
        x, y = synthetic.two_spirals(2000, seed=0)
        return (x[:1500], y[:1500]), (x[1500:], y[1500:])
    if name in synthetic.FUNCTIONS:
        x, y = synthetic.noisy_function(name, 1000, noise=0.1, seed=0)
        return (x[:800], y[:800]), (x[800:], y[800:])
    raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(NAMES)}")
