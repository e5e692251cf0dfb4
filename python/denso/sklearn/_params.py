"""Checking the estimators' parameters at fit time (scikit-learn's rule: __init__ only stores them).

Each check names the parameter, what it accepts and what came; the ranges are scikit-learn's own."""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from .._checks import is_integer, require_number, require_positive_int

HIDDEN_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
SOLVERS = ("adam", "sgd")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
FLAGS = ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping")


def _require_choice(value, name: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def hidden_layer_sizes(value) -> list:
    """scikit-learn's hidden_layer_sizes: one positive int or a sequence of them (may be empty)."""
    sizes = [value] if is_integer(value) else value
    try:
        sizes = list(sizes)
    except TypeError:
        raise TypeError(f"`hidden_layer_sizes` must be a positive int or a sequence of them, got {value!r}") from None
    for size in sizes:
        if not is_integer(size) or size <= 0:
            raise ValueError(f"`hidden_layer_sizes` must hold positive ints, got {value!r}")
    return [int(size) for size in sizes]


def solver(value) -> str:
    if value == "lbfgs":
        raise ValueError("`solver='lbfgs'` is not supported by denso.sklearn (it trains with mini-batch "
                         "gradient descent only); use solver='adam' or solver='sgd'")
    return _require_choice(value, "solver", SOLVERS)


def batch_size(value, n_samples: int) -> int:
    """'auto' is min(200, n_samples); an int larger than n_samples is clipped to it (with a warning)."""
    if value == "auto":
        return min(200, n_samples)
    if value > n_samples:
        warnings.warn(f"Got `batch_size`={value} larger than the number of samples ({n_samples}); "
                      "it is clipped to the number of samples")
    return int(min(value, n_samples))


def dtype(value) -> np.dtype:
    try:
        resolved = np.dtype(value)
    except TypeError:
        resolved = None
    if resolved not in (np.float32, np.float64):
        raise ValueError(f"`dtype` must be 'float32' or 'float64', got {value!r}")
    return resolved


def n_threads(value):
    if value is None:
        return None
    return require_positive_int(value, "n_threads")


def check(est) -> None:
    """Validate every parameter of `est` (an MLPClassifier or MLPRegressor); raise naming the first bad one."""
    hidden_layer_sizes(est.hidden_layer_sizes)
    _require_choice(est.activation, "activation", tuple(HIDDEN_ACTIVATIONS))
    solver(est.solver)
    _require_choice(est.learning_rate, "learning_rate", LEARNING_RATES)
    if est.batch_size != "auto" and (not is_integer(est.batch_size) or est.batch_size < 1):
        raise ValueError(f"`batch_size` must be 'auto' or a positive int, got {est.batch_size!r}")
    for name in FLAGS:
        if not isinstance(getattr(est, name), (bool, np.bool_)):
            raise TypeError(f"`{name}` must be True or False, got {getattr(est, name)!r}")
    if not isinstance(est.verbose, (bool, np.bool_, numbers.Integral)):
        raise TypeError(f"`verbose` must be a bool or an int, got {est.verbose!r}")
    require_number(est.alpha, "alpha", low=0.0)
    require_number(est.learning_rate_init, "learning_rate_init", low=0.0, low_open=True)
    require_number(est.power_t, "power_t", low=0.0)
    require_number(est.tol, "tol", low=0.0)
    require_number(est.momentum, "momentum", low=0.0, high=1.0)
    require_number(est.validation_fraction, "validation_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    require_number(est.beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
    require_number(est.beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
    require_number(est.epsilon, "epsilon", low=0.0, low_open=True)
    require_number(est.dropout, "dropout", low=0.0, high=1.0, high_open=True)
    for name in ("max_iter", "n_iter_no_change", "max_fun"):
        require_positive_int(getattr(est, name), name)
    dtype(est.dtype)
    n_threads(est.n_threads)
