"""The raw C++ kernels in denso._core against numpy float64 references.

Each kernel writes into caller-owned arrays; the references below recompute the same maths in
float64 from the same (exactly upcast) inputs, written independently of the kernels' formulas
(softmax's backward uses the full Jacobian, the kernels a Jacobian-vector product).
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from conftest import assert_close, tol

import denso
from denso import _core

Act = _core.Activation
ACTIVATIONS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "step"]
ALPHA = 0.2  # leaky_relu slope used throughout (0.01 would hide a wrong branch in the tolerance)


def act_ref(name: str, z: np.ndarray) -> np.ndarray:
    """g(z) in float64, row-wise for softmax."""
    z = np.asarray(z, dtype=np.float64)
    if name == "identity":
        return z.copy()
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, ALPHA * z)
    if name == "sigmoid":
        return np.exp(-np.logaddexp(0.0, -z))
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "step":
        return (z > 0).astype(np.float64)
    raise AssertionError(name)


def act_grad_ref(name: str, z: np.ndarray, g: np.ndarray) -> np.ndarray:
    """dL/dz = g ⊙ g'(z) in float64 (softmax: gᵀJ with the full Jacobian J = diag(p) − p pᵀ)."""
    z, g = np.asarray(z, dtype=np.float64), np.asarray(g, dtype=np.float64)
    if name == "identity":
        return g.copy()
    if name == "relu":
        return g * (z > 0)                        # relu'(0) = 0
    if name == "leaky_relu":
        return g * np.where(z > 0, 1.0, ALPHA)    # leaky_relu'(0) = alpha
    if name == "sigmoid":
        s = act_ref("sigmoid", z)
        return g * s * (1 - s)
    if name == "tanh":
        return g * (1 - np.tanh(z) ** 2)
    if name == "softmax":
        p = act_ref("softmax", z)
        jac = p[:, :, None] * np.eye(z.shape[1]) - p[:, :, None] * p[:, None, :]
        return np.einsum("ni,nij->nj", g, jac)
    if name == "step":
        return np.zeros_like(g)                   # zero almost everywhere
    raise AssertionError(name)


def random_matrix(rng, shape, dtype, away_from_zero=False):
    m = rng.standard_normal(shape)
    if away_from_zero:  # keeps kinks (relu, step) out of reach of float32 rounding
        m = np.where(np.abs(m) < 0.05, np.sign(m) * 0.05 + m, m)
    return m.astype(dtype)


# ---------------------------------------------------------------- dense_forward

@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_dense_forward_matches_reference(rng, dtype, act, use_bias):
    X, W = random_matrix(rng, (7, 5), dtype), random_matrix(rng, (5, 4), dtype)
    b = random_matrix(rng, 4, dtype) if use_bias else None
    Z = X.astype(np.float64) @ W.astype(np.float64) + (0 if b is None else b.astype(np.float64))
    if act == "step":  # a GEMM rounding can flip a z within u·|X||W| of 0; keep the data away from it
        assert np.abs(Z).min() > 1e-3
    out = np.full((7, 4), np.nan, dtype=dtype)
    _core.dense_forward(X, W, b, out, getattr(Act, act), ALPHA)
    assert out.dtype == dtype
    # GEMM rounding is relative to the magnitude of its terms, Σ|x||w| (+|b|), not of the result
    scale = (np.abs(X.astype(np.float64)) @ np.abs(W.astype(np.float64))).max() + (0 if b is None else np.abs(b).max())
    assert_close(out, act_ref(act, Z), dtype, scale=scale, err_msg=act)


def test_dense_forward_known_values():
    X = np.array([[1.0, 2.0], [-3.0, 0.5]])
    W = np.array([[1.0, -1.0, 0.0], [2.0, 0.5, 1.0]])
    b = np.array([0.5, 0.0, -1.0])
    out = np.empty((2, 3))
    _core.dense_forward(X, W, b, out, Act.identity)
    np.testing.assert_array_equal(out, [[5.5, 0.0, 1.0], [-1.5, 3.25, -0.5]])
    _core.dense_forward(X, W, b, out, Act.relu)
    np.testing.assert_array_equal(out, [[5.5, 0.0, 1.0], [0.0, 3.25, 0.0]])
    _core.dense_forward(X, W, b, out, Act.leaky_relu, 0.1)
    np.testing.assert_allclose(out, [[5.5, 0.0, 1.0], [-0.15, 3.25, -0.05]], rtol=1e-15)
    _core.dense_forward(X, W, b, out, Act.step)
    np.testing.assert_array_equal(out, [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])  # step(0) = 0


def test_dense_forward_empty_batch(dtype):
    out = np.empty((0, 3), dtype=dtype)
    _core.dense_forward(np.empty((0, 2), dtype), np.ones((2, 3), dtype), np.ones(3, dtype), out, Act.softmax)
    assert out.shape == (0, 3)


# ---------------------------------------------------------------- activations

@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_forward_and_backward(rng, dtype, act):
    Z = random_matrix(rng, (6, 5), dtype, away_from_zero=True) * 3
    A = np.full_like(Z, np.nan)
    _core.activation_forward(Z, A, getattr(Act, act), ALPHA)
    assert_close(A, act_ref(act, Z), dtype, err_msg=act)

    dA = random_matrix(rng, (6, 5), dtype)
    G = dA.copy()
    _core.activation_backward(A, G, getattr(Act, act), ALPHA)   # derivative recovered from A
    # g' is evaluated from the float-rounded output A the kernel keeps, so the reference's scale is |dA|
    assert_close(G, act_grad_ref(act, Z, dA), dtype, scale=np.abs(dA).max(), err_msg=act)


def test_activation_forward_in_place(rng, dtype):
    Z = random_matrix(rng, (4, 3), dtype)
    expected = act_ref("softmax", Z)
    _core.activation_forward(Z, Z, Act.softmax)     # `out` may be `z`
    assert_close(Z, expected, dtype)


@pytest.mark.parametrize("act, expected_grad", [
    ("relu", 0.0),          # relu'(0) = 0: PyTorch's convention
    ("leaky_relu", ALPHA),  # the negative branch includes 0
    ("step", 0.0),
])
def test_derivative_at_exactly_zero(act, expected_grad):
    Z = np.zeros((2, 3))
    A = np.empty_like(Z)
    _core.activation_forward(Z, A, getattr(Act, act), ALPHA)
    np.testing.assert_array_equal(A, np.zeros_like(Z))
    G = np.full_like(Z, 3.0)
    _core.activation_backward(A, G, getattr(Act, act), ALPHA)
    np.testing.assert_array_equal(G, np.full_like(Z, 3.0 * expected_grad))


def test_saturating_activations_stay_finite(dtype):
    Z = np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]], dtype=dtype)
    for act, expected in [("sigmoid", [0, 0, 0.5, 1, 1]), ("tanh", [-1, -1, 0, 1, 1])]:
        A = np.empty_like(Z)
        _core.activation_forward(Z, A, getattr(Act, act))
        np.testing.assert_allclose(A[0], expected, rtol=0, atol=tol(dtype), err_msg=act)
    A = np.empty_like(Z)
    _core.activation_forward(Z, A, Act.softmax)  # shifted by the max: exp never overflows
    np.testing.assert_array_equal(A, [[0, 0, 0, 0, 1]])


def test_softmax_rows_are_independent_and_sum_to_one(rng, dtype):
    Z = random_matrix(rng, (5, 4), dtype) * 10
    Z[2] += 500.0  # a shift of one row changes nothing (shift invariance)
    A = np.empty_like(Z)
    _core.activation_forward(Z, A, Act.softmax)
    assert_close(A.sum(axis=1), np.ones(5), dtype)
    assert_close(A, act_ref("softmax", Z), dtype)


# ---------------------------------------------------------------- dense backward

@pytest.mark.parametrize("accumulate", [False, True], ids=["overwrite", "accumulate"])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_dense_backward_params(rng, dtype, accumulate, use_bias):
    X, G = random_matrix(rng, (9, 5), dtype), random_matrix(rng, (9, 3), dtype)
    Xd, Gd = X.astype(np.float64), G.astype(np.float64)
    if accumulate:
        dW0, db0 = random_matrix(rng, (5, 3), dtype), random_matrix(rng, 3, dtype)
    else:  # NaN start: an "overwrite" that secretly added would propagate it
        dW0, db0 = np.full((5, 3), np.nan, dtype), np.full(3, np.nan, dtype)
    dW, db = dW0.copy(), db0.copy()
    _core.dense_backward_params(X, G, dW, db if use_bias else None, accumulate)

    base_W = dW0.astype(np.float64) if accumulate else 0.0
    scale_W = (np.abs(Xd).T @ np.abs(Gd)).max() + (np.abs(dW0).max() if accumulate else 0.0)
    assert_close(dW, base_W + Xd.T @ Gd, dtype, scale=scale_W)
    if use_bias:
        base_b = db0.astype(np.float64) if accumulate else 0.0
        scale_b = np.abs(Gd).sum(axis=0).max() + (np.abs(db0).max() if accumulate else 0.0)
        assert_close(db, base_b + Gd.sum(axis=0), dtype, scale=scale_b)
    else:
        np.testing.assert_array_equal(db, db0, "untouched when grad_bias is None")


@pytest.mark.parametrize("accumulate", [False, True], ids=["overwrite", "accumulate"])
def test_dense_backward_input(rng, dtype, accumulate):
    G, W = random_matrix(rng, (9, 3), dtype), random_matrix(rng, (5, 3), dtype)
    dX0 = random_matrix(rng, (9, 5), dtype) if accumulate else np.full((9, 5), np.nan, dtype)
    dX = dX0.copy()
    _core.dense_backward_input(G, W, dX, accumulate)
    Gd, Wd = G.astype(np.float64), W.astype(np.float64)
    base = dX0.astype(np.float64) if accumulate else 0.0
    scale = (np.abs(Gd) @ np.abs(Wd).T).max() + (np.abs(dX0).max() if accumulate else 0.0)
    assert_close(dX, base + Gd @ Wd.T, dtype, scale=scale)


def test_accumulating_twice_doubles():
    X, G = np.arange(6.0).reshape(3, 2), np.arange(12.0).reshape(3, 4) / 7
    dW, db = np.zeros((2, 4)), np.zeros(4)
    for _ in range(2):
        _core.dense_backward_params(X, G, dW, db, accumulate=True)
    np.testing.assert_allclose(dW, 2 * X.T @ G, rtol=1e-15)
    np.testing.assert_allclose(db, 2 * G.sum(axis=0), rtol=1e-15)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_dense_forward_backward_chain_matches_reference(rng, act):
    """forward → activation_backward → params/input backward equals the float64 chain rule."""
    X, W = random_matrix(rng, (6, 4), np.float64), random_matrix(rng, (4, 3), np.float64)
    b = random_matrix(rng, 3, np.float64)
    dA = random_matrix(rng, (6, 3), np.float64)
    A = np.empty((6, 3))
    _core.dense_forward(X, W, b, A, getattr(Act, act), ALPHA)
    G = dA.copy()
    _core.activation_backward(A, G, getattr(Act, act), ALPHA)
    dW, db, dX = np.empty((4, 3)), np.empty(3), np.empty((6, 4))
    _core.dense_backward_params(X, G, dW, db)
    _core.dense_backward_input(G, W, dX)
    dZ = act_grad_ref(act, X @ W + b, dA)
    assert_close(dW, X.T @ dZ, np.float64, scale=(np.abs(X).T @ np.abs(dZ)).max() + 1e-300)
    assert_close(db, dZ.sum(axis=0), np.float64, scale=np.abs(dZ).sum(axis=0).max() + 1e-300)
    assert_close(dX, dZ @ W.T, np.float64, scale=(np.abs(dZ) @ np.abs(W).T).max() + 1e-300)


# ---------------------------------------------------------------- threads

def test_set_and_get_num_threads(restore_threads):
    for n in (1, 2, 3):
        denso.set_num_threads(n)
        assert denso.get_num_threads() == n


def _dense_round_trip(X, W, b, dA, act):
    A = np.empty((X.shape[0], W.shape[1]), X.dtype)
    _core.dense_forward(X, W, b, A, act, ALPHA)
    G = dA.copy()
    _core.activation_backward(A, G, act, ALPHA)
    dW, db, dX = np.empty_like(W), np.empty_like(b), np.empty_like(X)
    _core.dense_backward_params(X, G, dW, db)
    _core.dense_backward_input(G, W, dX)
    return A, dW, db, dX


@pytest.mark.parametrize("act", ["tanh", "softmax"])
def test_results_do_not_depend_on_thread_count(rng, dtype, act, restore_threads):
    # big enough that Eigen splits the GEMMs and the elementwise passes (≥ 2^18 values) go parallel
    X, W = random_matrix(rng, (1024, 64), dtype), random_matrix(rng, (64, 320), dtype) * 0.2
    b, dA = random_matrix(rng, 320, dtype), random_matrix(rng, (1024, 320), dtype)
    Xd, Wd, bd = X.astype(np.float64), W.astype(np.float64), b.astype(np.float64)
    A = act_ref(act, Xd @ Wd + bd)
    if act == "tanh":
        dZ = dA * (1 - A ** 2)
    else:  # the JVP form: a full Jacobian would be 1024 × 320 × 320 (test_activation_forward_and_backward uses it)
        dZ = A * (dA - (dA * A).sum(axis=1, keepdims=True))
    reference = [A, Xd.T @ dZ, dZ.sum(axis=0), dZ @ Wd.T]
    scales = [(np.abs(Xd) @ np.abs(Wd)).max() + np.abs(bd).max(), (np.abs(Xd).T @ np.abs(dZ)).max(),
              np.abs(dZ).sum(axis=0).max(), (np.abs(dZ) @ np.abs(Wd).T).max()]
    results = {}
    for n in (1, 2):
        denso.set_num_threads(n)
        results[n] = _dense_round_trip(X, W, b, dA, getattr(Act, act))
    for i, name in enumerate(["A", "dW", "db", "dX"]):
        for n in (1, 2):  # only the reduction order may differ between thread counts
            assert_close(results[n][i], reference[i], dtype, scale=scales[i], err_msg=f"{name}, {n} threads")


def _call_with_ticker(fn):
    """Run fn() while a Python thread records a timestamp about every millisecond."""
    ticks, stop = [], threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        time.sleep(0.02)
        start = time.perf_counter()
        fn()
        end = time.perf_counter()
    finally:
        stop.set()
        thread.join()
    return ticks, start, end


def test_gil_is_released_during_a_large_gemm(restore_threads):
    """A Python thread keeps running while the main thread is inside dense_forward.

    With the GIL held for the whole call, the ticker could only run in the few milliseconds
    around the call (thread switches happen at bytecode boundaries, every 5 ms at most); so
    require ticks in the middle half of a call that lasts well over those boundary windows.
    """
    denso.set_num_threads(1)  # the ticker then has a core to itself on small machines
    rng = np.random.default_rng(0)
    n = 1200
    for _ in range(5):  # grow the GEMM until one call clearly outlasts the boundary windows
        X, W, out = rng.standard_normal((n, n)), rng.standard_normal((n, n)), np.empty((n, n))
        ticks, start, end = _call_with_ticker(lambda: _core.dense_forward(X, W, None, out, Act.identity))
        if end - start > 0.1:
            break
        n = int(n * 1.5)
    duration = end - start
    assert duration > 0.1, f"the GEMM took only {duration:.3f}s even at n = {n}; too short to tell"
    middle = [t for t in ticks if start + duration / 4 < t < end - duration / 4]
    assert len(middle) >= 3, f"the Python thread ticked {len(middle)} times in the middle of a {duration:.2f}s GEMM"
    np.testing.assert_allclose(out[:2, :2], X[:2] @ W[:, :2], rtol=1e-10)
