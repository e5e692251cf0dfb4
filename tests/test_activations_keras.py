"""gelu, elu, selu, softplus and swish/silu: the C++ kernels against PyTorch's functions and analytic
derivatives, their pre-activation bookkeeping (gelu and swish need Z in backward), and the results'
independence from where a row lies in memory. Finite-difference checks are in test_ops_gradcheck.py
and plan == graph equality in test_plan.py."""
from __future__ import annotations

import math

import numpy as np
import pytest

import denso
from denso import Dense, Sequential, Tensor, _core

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
NAMES = ["gelu", "elu", "selu", "softplus", "swish", "silu"]


def _normal_cdf(z):
    return 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


# float64 references: value and derivative, written from the definitions.
REFERENCE = {
    "gelu": (lambda z: z * _normal_cdf(z),
             lambda z: _normal_cdf(z) + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(z)), lambda z: np.where(z > 0, 1.0, np.exp(z))),
    "selu": (lambda z: SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(z)),
             lambda z: SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(z))),
    "softplus": (lambda z: np.logaddexp(0.0, z), _sigmoid),
    "swish": (lambda z: z * _sigmoid(z), lambda z: _sigmoid(z) * (1 + z * (1 - _sigmoid(z)))),
}
REFERENCE["silu"] = REFERENCE["swish"]


def _forward_backward(name, z, upstream):
    t = Tensor(z, requires_grad=True)
    out = getattr(denso, name)(t)
    out.backward(upstream)
    return out.data, t.grad


@pytest.mark.parametrize("name", NAMES)
def test_value_and_derivative_equal_the_definitions_in_float64(name):
    z = np.concatenate([np.linspace(-12, 12, 97), [0.0, -1e-8, 1e-8, -40.0, 40.0]]).reshape(3, -1)
    upstream = np.random.default_rng(1).standard_normal(z.shape)
    value, grad = _forward_backward(name, z, upstream)
    f, df = REFERENCE[name]
    np.testing.assert_allclose(value, f(z), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(grad, upstream * df(z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_float32_follows_the_float64_definition(name):
    z = np.linspace(-9, 9, 200, dtype=np.float32).reshape(4, 50)
    value, grad = _forward_backward(name, z, np.ones_like(z))
    f, df = REFERENCE[name]
    z64 = z.astype(np.float64)
    assert value.dtype == grad.dtype == np.float32
    np.testing.assert_allclose(value, f(z64), rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(grad, df(z64), rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_and_gradients_equal_torch(name, dtype):
    torch = pytest.importorskip("torch", reason="torch is needed to compare with torch.nn.functional")
    functions = {"gelu": lambda t: torch.nn.functional.gelu(t, approximate="none"),
                 "elu": lambda t: torch.nn.functional.elu(t, alpha=1.0), "selu": torch.nn.functional.selu,
                 "softplus": torch.nn.functional.softplus, "swish": torch.nn.functional.silu,
                 "silu": torch.nn.functional.silu}
    z = np.random.default_rng(3).uniform(-8, 8, (6, 33)).astype(dtype)
    upstream = np.random.default_rng(4).standard_normal(z.shape).astype(dtype)
    value, grad = _forward_backward(name, z, upstream)
    zt = torch.tensor(z, requires_grad=True)
    out = functions[name](zt)
    out.backward(torch.tensor(upstream))
    tol = 1e-12 if dtype == "float64" else 3e-6
    np.testing.assert_allclose(value, out.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=tol, atol=tol)


def test_softplus_is_stable_at_large_inputs():
    z = np.array([[-800.0, -50.0, 0.0, 50.0, 800.0]])
    value, grad = _forward_backward("softplus", z, np.ones_like(z))
    np.testing.assert_allclose(value, [[0.0, math.exp(-50), math.log(2), 50.0, 800.0]], rtol=1e-15)
    np.testing.assert_allclose(grad, [[0.0, math.exp(-50), 0.5, 1.0, 1.0]], rtol=1e-14)


def test_elu_alpha_and_derivative_at_zero_follow_pytorch():
    """elu's derivative at exactly 0 is alpha (PyTorch takes the x <= 0 branch); Dense's elu defaults to
    alpha 1.0 (leaky_relu keeps 0.01)."""
    value, grad = _forward_backward("elu", np.zeros((1, 1)), np.ones((1, 1)))
    assert value[0, 0] == 0.0 and grad[0, 0] == 1.0
    t = Tensor(np.array([[0.0, -1.0]]), requires_grad=True)
    denso.elu(t, alpha=0.5).sum().backward()
    np.testing.assert_allclose(t.grad, [[0.5, 0.5 * math.exp(-1)]], rtol=1e-15)
    assert Dense(3, activation="elu").alpha == 1.0 and Dense(3, activation="leaky_relu").alpha == 0.01
    assert Dense(3, activation="elu", alpha=0.3).alpha == 0.3


def test_gelu_and_swish_backward_need_the_preactivation():
    z = np.linspace(-2, 2, 12).reshape(3, 4)
    out = np.empty_like(z)
    for act in (_core.Activation.gelu, _core.Activation.swish):
        assert _core.needs_preactivation(act)
        _core.activation_forward(z, out, act)
        with pytest.raises(ValueError, match="needs `z`, the pre-activation input, got None"):
            _core.activation_backward(out, np.ones_like(z), act)
    for act in (_core.Activation.elu, _core.Activation.selu, _core.Activation.softplus, _core.Activation.relu):
        assert not _core.needs_preactivation(act)
    with pytest.raises(ValueError, match="`alpha` of elu must be >= 0, got -1"):
        _core.activation_forward(z, out, _core.Activation.elu, -1.0)


def test_dense_kernel_writes_the_preactivation():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((7, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    out, pre = np.empty((7, 5)), np.empty((7, 5))
    _core.dense_forward(x, w, b, out, _core.Activation.swish, 0.0, pre)
    np.testing.assert_allclose(pre, x @ w + b, rtol=1e-13)
    np.testing.assert_allclose(out, REFERENCE["swish"][0](x @ w + b), rtol=1e-13)
    with pytest.raises(ValueError, match=r"`pre` must have shape \(7, 5\)"):
        _core.dense_forward(x, w, b, out, _core.Activation.swish, 0.0, np.empty((7, 4)))


@pytest.mark.parametrize("name", NAMES)
def test_results_do_not_depend_on_the_rows_address(name):
    """The same row computed at different offsets into memory (so Eigen's SIMD loops would peel
    differently) gives bit-identical values and gradients."""
    row = np.random.default_rng(6).uniform(-5, 5, 301)
    results = []
    for offset in range(4):
        buffer = np.zeros(offset + 301)
        buffer[offset:] = row
        value, grad = _forward_backward(name, buffer[offset:].reshape(1, -1), np.ones((1, 301)))
        results.append((value, grad))
    for value, grad in results[1:]:
        np.testing.assert_array_equal(value, results[0][0])
        np.testing.assert_array_equal(grad, results[0][1])


@pytest.mark.parametrize("name", ["gelu", "elu", "selu", "softplus", "swish", "silu"])
def test_dense_layers_take_the_names_and_predict_matches_numpy(name):
    model = Sequential([Dense(5, activation=name), Dense(2, activation=name)], input_dim=3, seed=2, dtype="float64")
    x = np.random.default_rng(7).standard_normal((9, 3))
    w1, b1, w2, b2 = model.get_weights()
    f = REFERENCE[name][0]
    expected = f(f(x @ w1 + b1) @ w2 + b2)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-12)
    np.testing.assert_allclose(model.predict(x, engine="graph"), expected, rtol=1e-12)
