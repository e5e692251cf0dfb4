"""Shared test helpers: seeded randomness, dtype parametrisation, the float tolerance table.

Every reference is computed in numpy float64 from the *same* inputs the code under test saw
(float32 inputs are upcast exactly), so a tolerance measures only the arithmetic of the code.
"""
from __future__ import annotations

import numpy as np
import pytest

import denso

DTYPES = (np.float32, np.float64)

# Largest relative error accepted against a float64 reference. float32 has u = 6e-8, so 1e-5 leaves
# room for length-~100 reductions (error ~ k·u); float64 (u = 1.1e-16) gets the same headroom at 1e-12.
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def tol(dtype) -> float:
    return TOL[np.dtype(dtype)]


def pytest_collection_modifyitems(config, items):
    """`slow` tests (stochastic claims about training outcomes, stated over several seeds) stay out of
    the default run: they run only when `-m` names them (`python -m pytest -m slow`)."""
    if "slow" in config.getoption("markexpr"):
        return
    skip = pytest.mark.skip(reason="slow: a training outcome over several seeds; run with -m slow")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed per test, so every run sees the same data."""
    return np.random.default_rng(20240917)


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    """Parametrise a test over float32 and float64."""
    return np.dtype(request.param)


@pytest.fixture
def restore_threads():
    """Put the thread count back after a test that changes it."""
    before = denso.get_num_threads()
    yield before
    denso.set_num_threads(before)


def assert_close(actual, expected, dtype, scale=None, err_msg=""):
    """`actual` within tol(dtype) of the float64 `expected`, relative to each entry and to `scale`.

    `scale` is the magnitude the computation worked at (default: max |expected|). Rounding in a sum
    is relative to the size of its terms, not of its result, so entries that cancel to near zero are
    judged against `scale` rather than against themselves.
    """
    actual, expected = np.asarray(actual), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}. {err_msg}"
    if scale is None:
        scale = float(np.abs(expected).max(initial=0.0))
    t = tol(dtype)
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=t, atol=t * scale, err_msg=err_msg)
