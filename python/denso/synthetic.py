"""Synthetic problems for fast tests and experiments: two spirals, noisy 1-D functions.

Every generator is a pure function of its arguments (and `seed`): the same call gives the same
arrays on every machine. Inputs are float32 rows, as the model expects.
"""
from __future__ import annotations

import numpy as np

from ._checks import require_number, require_positive_int


def two_spirals(n_samples: int = 1000, noise: float = 0.5, turns: float = 1.75, seed: int = 0):
    """Two interleaved spirals in the plane, a classic problem no linear model can separate.

    Points of class 0 lie on the spiral r = θ for θ in [π/2, π/2 + 2π·turns]; class 1 is the same
    spiral turned by π. Gaussian noise of standard deviation `noise` is added to both coordinates,
    and the coordinates are scaled to lie roughly in [-1, 1]. Classes alternate and samples are
    shuffled, so any slice of the arrays holds both classes.

    Args:
        n_samples: number of points (half per class, the odd one to class 0).
        noise: standard deviation of the noise before scaling, where neighbouring arms are π apart
            (>= 0; up to about 0.5 the classes stay separable).
        turns: how many times each arm winds around the origin (> 0).
        seed: seed of the generator.

    Returns:
        (x, y): x float32 (n_samples, 2), y int64 (n_samples,) with labels 0 and 1.

    Example:
        >>> x, y = two_spirals(200, seed=0)
        >>> x.shape, y.shape, sorted(set(y.tolist()))
        ((200, 2), (200,), [0, 1])
    """
    n_samples = require_positive_int(n_samples, "n_samples", minimum=2)
    noise = require_number(noise, "noise", low=0.0)
    turns = require_number(turns, "turns", low=0.0, low_open=True)
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples, dtype=np.int64) % 2
    theta = np.pi / 2 + np.sqrt(rng.uniform(0.0, 1.0, n_samples)) * 2 * np.pi * turns  # uniform along the arc
    angle = theta + np.pi * y
    x = np.stack([theta * np.cos(angle), theta * np.sin(angle)], axis=1)
    x += rng.normal(0.0, noise, x.shape)
    x /= np.pi / 2 + 2 * np.pi * turns
    order = rng.permutation(n_samples)
    return x[order].astype(np.float32), y[order]


def _sine(x):
    return np.sin(2 * np.pi * x)


def _cubic(x):
    return 4 * x ** 3 - 3 * x


def _abs(x):
    return 2 * np.abs(x) - 1


# name → (function on [-1, 1], one-line description)
FUNCTIONS = {
    "sine": (_sine, "sin(2πx): one full period"),
    "cubic": (_cubic, "4x³ - 3x: the third Chebyshev polynomial, two turning points"),
    "abs": (_abs, "2|x| - 1: a kink at 0 that smooth activations must round off"),
}


def noisy_function(function="sine", n_samples: int = 500, noise: float = 0.1, low: float = -1.0, high: float = 1.0,
                   seed: int = 0):
    """Samples of a 1-D function plus Gaussian noise, for regression.

    x is drawn uniformly from [low, high]; y = f(x) + N(0, noise²).

    Args:
        function: a name in FUNCTIONS ("sine", "cubic", "abs") or a callable mapping an array to
            an array of the same shape.
        n_samples: number of points.
        noise: standard deviation of the additive noise (>= 0).
        low, high: the interval x is drawn from.
        seed: seed of the generator.

    Returns:
        (x, y): both float32 of shape (n_samples, 1).

    Example:
        >>> x, y = noisy_function("sine", 100, noise=0.0)
        >>> bool(np.allclose(y, np.sin(2 * np.pi * x), atol=1e-6))
        True
    """
    f = function_by_name(function)
    n_samples = require_positive_int(n_samples, "n_samples")
    noise = require_number(noise, "noise", low=0.0)
    low, high = require_number(low, "low"), require_number(high, "high")
    if high <= low:
        raise ValueError(f"`high` must be > `low`, got low={low}, high={high}")
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, (n_samples, 1))
    clean = np.asarray(f(x), dtype=np.float64)
    if clean.shape != x.shape:
        raise ValueError(f"`function` must return an array shaped like its input {x.shape}, got {clean.shape}")
    y = clean + rng.normal(0.0, noise, x.shape)
    return x.astype(np.float32), y.astype(np.float32)


def function_by_name(function):
    """The callable for a FUNCTIONS name (a callable is returned as is)."""
    if callable(function):
        return function
    if isinstance(function, str) and function in FUNCTIONS:
        return FUNCTIONS[function][0]
    raise ValueError(f"unknown function {function!r}; expected a callable or one of {sorted(FUNCTIONS)}")
