"""Fused losses (raw kernels and the public functions): value and gradient vs numpy float64.

The references are written from the textbook definitions through np.logaddexp, which is exact
and stable in float64 at any logit, and their gradients are confirmed by central differences.
"""
from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close

import denso
from denso import Tensor, _core


def mse_ref(p, y):
    p, y = np.asarray(p, np.float64), np.asarray(y, np.float64)
    return np.mean((p - y) ** 2), 2 * (p - y) / p.size


def bce_ref(z, y):
    """−[y log σ(z) + (1−y) log(1−σ(z))], with log σ(z) = −log(1 + e^−z)."""
    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    loss = y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z)
    sigma = np.exp(-np.logaddexp(0.0, -z))
    return loss.mean(), (sigma - y) / z.size


def xent_ref(z, y):
    """mean over rows of −Σ_j y_j log softmax(z)_j; y one-hot or probability rows.

    Shifting by the row max first keeps log_p exact at logits ~1e4 (z − lse with lse ≈ 1e4 would
    round at 1e4·u ≈ 2e-12, above the float64 tolerance).
    """
    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.logaddexp.reduce(shifted, axis=1, keepdims=True)
    loss = -(y * log_p).sum(axis=1).mean()
    return loss, (np.exp(log_p) * y.sum(axis=1, keepdims=True) - y) / z.shape[0]


def numeric_grad(f, z, eps=1e-6):
    """Central differences of the float64 scalar f at z."""
    z = np.array(z, dtype=np.float64)
    grad = np.empty_like(z)
    for i in np.ndindex(z.shape):
        orig = z[i]
        z[i] = orig + eps
        plus = f(z)
        z[i] = orig - eps
        minus = f(z)
        z[i] = orig
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def one_hot(labels, classes):
    return np.eye(classes)[labels]


def probability_rows(rng, shape):
    e = rng.random(shape) + 0.05
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("ref", [mse_ref, bce_ref, xent_ref], ids=["mse", "bce", "xent"])
def test_references_gradients_are_right(rng, ref):
    """The hand-written reference gradients agree with differentiating the reference values."""
    z = rng.standard_normal((4, 3)) * 2
    y = probability_rows(rng, (4, 3))
    auto = ref(z, y)[1]
    numeric = numeric_grad(lambda v: ref(v, y)[0], z)
    np.testing.assert_allclose(auto, numeric, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- raw kernels

KERNELS = [
    ("mse", _core.mse_loss, mse_ref, lambda rng, s: rng.standard_normal(s)),
    ("bce", _core.bce_logits_loss, bce_ref, lambda rng, s: rng.random(s)),
    ("xent", _core.softmax_xent_loss, xent_ref, probability_rows),
]


@pytest.mark.parametrize("name, kernel, ref, make_target", KERNELS, ids=[k[0] for k in KERNELS])
def test_kernel_value_and_gradient(rng, dtype, name, kernel, ref, make_target):
    Z = (rng.standard_normal((8, 5)) * 3).astype(dtype)
    Y = make_target(rng, (8, 5)).astype(dtype)
    grad = np.full_like(Z, np.nan)
    value = kernel(Z, Y, grad)
    assert isinstance(value, float)
    ref_value, ref_grad = ref(Z, Y)
    assert_close(value, ref_value, dtype)
    assert_close(grad, ref_grad, dtype)
    assert kernel(Z, Y) == value  # gradient optional; the value does not depend on it


def test_kernel_labels_equal_one_hot(rng, dtype):
    Z = (rng.standard_normal((6, 4)) * 3).astype(dtype)
    labels = np.array([0, 3, 1, 1, 2, 3])
    g_labels, g_onehot = np.empty_like(Z), np.empty_like(Z)
    v_labels = _core.softmax_xent_labels_loss(Z, labels, g_labels)
    v_onehot = _core.softmax_xent_loss(Z, one_hot(labels, 4).astype(dtype), g_onehot)
    ref_value, ref_grad = xent_ref(Z, one_hot(labels, 4))
    assert_close(v_labels, ref_value, dtype)
    assert_close(g_labels, ref_grad, dtype)
    assert_close(v_labels, v_onehot, dtype)
    assert_close(g_labels, g_onehot.astype(np.float64), dtype)


# ---------------------------------------------------------------- public functions

def _value_and_grad(loss_fn, logits, target):
    z = Tensor(logits, requires_grad=True)
    loss = loss_fn(z, target)
    assert loss.shape == () and loss.dtype == z.dtype
    loss.backward()
    return loss.item(), z.grad


@pytest.mark.parametrize("shape", [(8,), (8, 3)], ids=["1d", "2d"])
def test_mse(rng, dtype, shape):
    p, y = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    value, grad = _value_and_grad(denso.mse, p, y)
    ref_value, ref_grad = mse_ref(p, y)
    assert_close(value, ref_value, dtype)
    assert_close(grad, ref_grad, dtype)


def test_mse_is_mean_over_all_elements():
    """Like torch.nn.MSELoss(reduction='mean'): divide by batch × outputs, not by batch."""
    p, y = np.array([[1.0, 2.0], [3.0, 5.0]]), np.zeros((2, 2))
    assert denso.mse(p, y).item() == (1 + 4 + 9 + 25) / 4


@pytest.mark.parametrize("shape", [(8,), (8, 3)], ids=["1d", "2d"])
def test_binary_crossentropy(rng, dtype, shape):
    z = (rng.standard_normal(shape) * 3).astype(dtype)
    y = rng.random(shape).astype(dtype)  # soft targets in [0, 1]
    y.flat[:2] = [0, 1]
    value, grad = _value_and_grad(denso.binary_crossentropy, z, y)
    ref_value, ref_grad = bce_ref(z, y)
    assert_close(value, ref_value, dtype)
    assert_close(grad, ref_grad, dtype)


def test_categorical_crossentropy_labels_one_hot_and_probabilities(rng, dtype):
    z = (rng.standard_normal((7, 4)) * 3).astype(dtype)
    labels = rng.integers(0, 4, size=7)
    by_label = _value_and_grad(denso.categorical_crossentropy, z, labels)
    by_one_hot = _value_and_grad(denso.categorical_crossentropy, z, one_hot(labels, 4))
    ref_value, ref_grad = xent_ref(z, one_hot(labels, 4))
    for value, grad in (by_label, by_one_hot):
        assert_close(value, ref_value, dtype)
        assert_close(grad, ref_grad, dtype)

    probs = probability_rows(rng, (7, 4))
    value, grad = _value_and_grad(denso.categorical_crossentropy, z, probs)
    ref_value, ref_grad = xent_ref(z, probs)
    assert_close(value, ref_value, dtype)
    assert_close(grad, ref_grad, dtype)


def test_categorical_crossentropy_label_dtypes_agree(rng):
    z = rng.standard_normal((5, 3))
    labels = np.array([2, 0, 1, 1, 0])
    expected = denso.categorical_crossentropy(z, labels).item()
    for y in (labels.astype(np.int32), labels.astype(np.uint8), labels.astype(np.float64), labels.tolist()):
        assert denso.categorical_crossentropy(z, y).item() == expected


def test_losses_scale_upstream_gradient(rng):
    z = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    (denso.categorical_crossentropy(z, [0, 1, 2, 0]) * 3.0).backward()
    np.testing.assert_allclose(z.grad, 3 * xent_ref(z.data, one_hot([0, 1, 2, 0], 3))[1], rtol=1e-12)


def test_loss_without_grad_records_no_graph(rng):
    z = Tensor(rng.standard_normal((4, 3)))
    loss = denso.categorical_crossentropy(z, [0, 1, 2, 0])
    assert not loss.requires_grad
    assert_close(loss.item(), xent_ref(z.data, one_hot([0, 1, 2, 0], 3))[0], np.float64)


# ---------------------------------------------------------------- stability at extreme logits

BIG = 1e4


def test_bce_extreme_logits_exact(dtype):
    z = np.array([BIG, BIG, -BIG, -BIG, 0.0], dtype=dtype)
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0], dtype=dtype)
    value, grad = _value_and_grad(denso.binary_crossentropy, z, y)
    # per-element losses: 0, 1e4, 1e4, 0, log 2; gradients (σ(z) − y)/5: 0, 1/5, −1/5, 0, −1/10
    assert_close(value, (2 * BIG + np.log(2)) / 5, dtype)
    assert_close(grad, [0.0, 0.2, -0.2, 0.0, -0.1], dtype)


def test_categorical_crossentropy_extreme_logits_exact(dtype):
    z = np.array([[BIG, -BIG, 0.0], [BIG, -BIG, 0.0], [-BIG, -BIG, -BIG]], dtype=dtype)
    labels = np.array([0, 1, 2])
    value, grad = _value_and_grad(denso.categorical_crossentropy, z, labels)
    # row losses: 0, 2e4, log 3; gradients (softmax − one-hot)/3
    assert_close(value, (2 * BIG + np.log(3)) / 3, dtype)
    expected = np.array([[0, 0, 0], [1, -1, 0], [1 / 3, 1 / 3, -2 / 3]]) / 3
    assert_close(grad, expected, dtype)
    onehot_value, onehot_grad = _value_and_grad(denso.categorical_crossentropy, z, one_hot(labels, 3))
    assert_close(onehot_value, value, dtype)
    assert_close(onehot_grad, grad.astype(np.float64), dtype)


@pytest.mark.parametrize("loss", ["bce", "xent_labels", "xent_probs"])
def test_large_logits_match_reference(rng, dtype, loss):
    """Logits near ±1e4 that do not saturate against each other (rows within a few units)."""
    z = (rng.standard_normal((6, 4)) * 2 + rng.choice([-BIG, BIG], size=(6, 1))).astype(dtype)
    z[0, 1] = z[0, 0] - 1  # two close large logits: probabilities 0.73 / 0.27 need lse to full precision
    if loss == "bce":
        y = rng.random((6, 4)).astype(dtype)
        value, grad = _value_and_grad(denso.binary_crossentropy, z, y)
        ref_value, ref_grad = bce_ref(z, y)
    elif loss == "xent_labels":
        labels = rng.integers(0, 4, size=6)
        value, grad = _value_and_grad(denso.categorical_crossentropy, z, labels)
        ref_value, ref_grad = xent_ref(z, one_hot(labels, 4))
    else:
        y = probability_rows(rng, (6, 4)).astype(dtype)
        value, grad = _value_and_grad(denso.categorical_crossentropy, z, y)
        ref_value, ref_grad = xent_ref(z, y)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert_close(value, ref_value, dtype)
    assert_close(grad, ref_grad, dtype)


def test_mse_large_values_finite(dtype):
    p = np.array([[1e4, -1e4]], dtype=dtype)
    value, grad = _value_and_grad(denso.mse, p, np.zeros((1, 2)))
    assert_close(value, 1e8, dtype)
    assert_close(grad, [[1e4, -1e4]], dtype)
