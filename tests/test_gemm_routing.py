"""The matrix products on both engines (OpenBLAS and Eigen) and both sides of every routing threshold,
on 1 and 2 threads, against float64 numpy: whichever engine a shape goes to, the numbers are the same."""
import numpy as np
import pytest
from conftest import assert_close

import denso
from denso import _core

IN, OUT = 784, 256
ROWS = [1, 2, 3, 15, 16, 17, 64, 200]


def _engines(rows):
    """The engine of each of the layer's three products at this batch size."""
    return {_core.gemm_engine(False, False, rows, OUT, IN),    # X·W
            _core.gemm_engine(True, False, IN, OUT, rows),     # Xᵀ·G
            _core.gemm_engine(False, True, rows, IN, OUT)}     # G·Wᵀ


def test_both_engines_are_exercised_when_the_build_has_openblas():
    engines = set().union(*(_engines(r) for r in ROWS))
    if "none" in _core.blas_info():
        assert engines == {"eigen"}
    else:
        assert engines == {"eigen", "openblas"}
        assert _core.gemm_engine(False, False, 1, OUT, IN) == "eigen"        # a matrix-vector pass
        assert _core.gemm_engine(False, False, 2, OUT, IN) == "openblas"
        assert _core.gemm_engine(False, True, 15, IN, OUT) == "eigen"        # B transposed, few rows
        assert _core.gemm_engine(False, True, 16, IN, OUT) == "openblas"
        assert _core.gemm_engine(False, False, 64, 8, 8) == "eigen"          # too small to pack


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_products_match_numpy_on_every_engine(rows, dtype, threads, restore_threads):
    denso.set_num_threads(threads)
    rng = np.random.default_rng(rows)
    X = rng.standard_normal((rows, IN)).astype(dtype)
    W = (rng.standard_normal((IN, OUT)) / np.sqrt(IN)).astype(dtype)
    G = rng.standard_normal((rows, OUT)).astype(dtype)
    Xd, Wd, Gd = X.astype(np.float64), W.astype(np.float64), G.astype(np.float64)

    A = np.full((rows, OUT), np.nan, dtype)
    _core.dense_forward(X, W, None, A, _core.Activation.identity)
    assert_close(A, Xd @ Wd, dtype, scale=(np.abs(Xd) @ np.abs(Wd)).max())

    for accumulate in (False, True):
        dW0 = rng.standard_normal((IN, OUT)).astype(dtype)
        dW = dW0.copy() if accumulate else np.full((IN, OUT), np.nan, dtype)
        _core.dense_backward_params(X, G, dW, None, accumulate)
        base = dW0.astype(np.float64) if accumulate else 0.0
        assert_close(dW, base + Xd.T @ Gd, dtype, scale=(np.abs(Xd).T @ np.abs(Gd)).max() + 4)

        dX0 = rng.standard_normal((rows, IN)).astype(dtype)
        dX = dX0.copy() if accumulate else np.full((rows, IN), np.nan, dtype)
        _core.dense_backward_input(G, W, dX, accumulate)
        base = dX0.astype(np.float64) if accumulate else 0.0
        assert_close(dX, base + Gd @ Wd.T, dtype, scale=(np.abs(Gd) @ np.abs(Wd).T).max() + 4)
