"""Every op, one line per case: forward vs numpy, backward vs float64 central differences.

check_op runs the op on float64 inputs and compares the value with a numpy reference (1e-12),
repeats the forward in float32 (dtype kept, 1e-5), then asserts gradcheck < GRAD_TOL.

Why EPS = 1e-5 and GRAD_TOL = 1e-6: a float64 central difference of J = Σ f ⊙ R has absolute
error ≈ u·Σ|J terms|/eps + eps²·|J‴|/6. For these O(1) inputs of a few dozen entries
(Σ ≈ 10, u = 1.1e-16) that is smallest near eps = (3u·10)^(1/3) ≈ 1.5e-5, at ≈ 2e-10 (with
gradcheck's default eps = 1e-6 it is ≈ 1e-9, and gradcheck divides by max(|grad|, 1e-4)). Inputs
stay away from kinks (relu, step) and singularities (log, division, fractional powers); correct
ops here score ≤ 6e-8, a wrong one (factor, sign, transposed or un-summed broadcast axis)
≳ 1e-2. test_gradcheck_sensitivity pins both ends.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_close

import denso
from denso import Tensor
from denso import functional as F

GRAD_TOL = 1e-6
EPS = 1e-5
ALPHA = 0.2


def N(*shape):
    """Standard normal input of `shape`."""
    return lambda rng: rng.standard_normal(shape)


def P(*shape):
    """Positive input in [0.5, 2] (log, division, fractional powers)."""
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def NZ(*shape):
    """Normal input with |x| >= 0.1: central differences never straddle a kink at 0."""
    def make(rng):
        x = rng.standard_normal(shape)
        return np.where(np.abs(x) < 0.1, np.sign(x) * 0.1 + x, x)
    return make


def check_op(fn, ref, *inputs, rng, tol=GRAD_TOL):
    """fn(*Tensors) == ref(*arrays) in float64 and float32, and gradcheck(fn) < tol."""
    arrays = [make(rng) for make in inputs]
    out = fn(*(Tensor(a) for a in arrays))
    assert isinstance(out, Tensor) and out.dtype == np.float64
    expected = np.asarray(ref(*arrays), dtype=np.float64)
    assert_close(out.data, expected, np.float64)

    out32 = fn(*(Tensor(a, dtype=np.float32) for a in arrays))
    assert out32.dtype == np.float32, "float32 inputs give a float32 result"
    expected32 = np.asarray(ref(*(a.astype(np.float32).astype(np.float64) for a in arrays)))
    assert_close(out32.data, expected32, np.float32, scale=max(np.abs(expected32).max(initial=0), 1.0))

    err = denso.gradcheck(fn, *arrays, eps=EPS)
    assert err < tol, f"gradcheck relative error {err:.3g}"
    return err


# ---------------------------------------------------------------- numpy references

def np_softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(z, axis=-1):
    s = z - z.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def np_sigmoid(z):
    return 1 / (1 + np.exp(-z))


NP_ACT = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z > 0, z, ALPHA * z),
    "sigmoid": np_sigmoid,
    "tanh": np.tanh,
    "softmax": np_softmax,
    "step": lambda z: (z > 0).astype(z.dtype),
    "gelu": lambda z: 0.5 * z * (1 + np.vectorize(math.erf)(z / np.sqrt(2))),
    "elu": lambda z: np.where(z > 0, z, ALPHA * np.expm1(z)),
    "selu": lambda z: 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(z)),
    "softplus": lambda z: np.logaddexp(0, z),
    "swish": lambda z: z * np_sigmoid(z),
}

# Fixed targets for the losses (constants of the differentiated function).
_T = np.random.default_rng(7)
Y_REAL = _T.standard_normal((5, 3))
Y_BINARY = _T.random((5, 3))
Y_BINARY_1D = (_T.random(6) > 0.5).astype(float)
LABELS = np.array([0, 2, 1, 2, 0])
ONE_HOT = np.eye(3)[LABELS]
Y_PROB = _T.random((5, 3)) + 0.1
Y_PROB /= Y_PROB.sum(axis=1, keepdims=True)
X_CONST = _T.standard_normal((5, 4)).astype(np.float32)  # float32: float32 weights stay float32


def AWAY(target):
    """Predictions at least 0.1 from `target` (plus a normal step): |p − y| never straddles mae's kink."""
    def make(rng):
        step = rng.standard_normal(target.shape)
        return target + np.where(np.abs(step) < 0.1, np.sign(step) * 0.1 + step, step)
    return make


def np_huber(p, y, delta):
    d = np.abs(p - y)
    return np.where(d <= delta, 0.5 * d ** 2, delta * (d - 0.5 * delta)).mean()
MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])


def np_xent(z, y):
    return -(y * np_log_softmax(z)).sum(axis=1).mean()


def np_bce(z, y):
    return (y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)).mean()


# ---------------------------------------------------------------- the table

CASES = [
    # arithmetic and broadcasting
    ("add", lambda a, b: a + b, np.add, [N(3, 4), N(3, 4)]),
    ("add (3,1)+(1,4)", lambda a, b: a + b, np.add, [N(3, 1), N(1, 4)]),
    ("add (5,4)+(4,)", lambda a, b: a + b, np.add, [N(5, 4), N(4)]),
    ("add (2,3)+()", lambda a, b: a + b, np.add, [N(2, 3), N()]),
    ("add number", lambda a: a + 2.5, lambda a: a + 2.5, [N(2, 3)]),
    ("radd number", lambda a: 2.5 + a, lambda a: 2.5 + a, [N(2, 3)]),
    ("sub (3,1)-(1,4)", lambda a, b: a - b, np.subtract, [N(3, 1), N(1, 4)]),
    ("rsub number", lambda a: 1.0 - a, lambda a: 1.0 - a, [N(4)]),
    ("mul (5,4)*(4,)", lambda a, b: a * b, np.multiply, [N(5, 4), N(4)]),
    ("mul (2,1,3)*(4,1)", lambda a, b: a * b, np.multiply, [N(2, 1, 3), N(4, 1)]),
    ("mul x*x", lambda a: a * a, lambda a: a * a, [N(3, 4)]),
    ("div (3,4)/(4,)", lambda a, b: a / b, np.divide, [N(3, 4), P(4)]),
    ("div (3,1)/(1,4)", lambda a, b: a / b, np.divide, [N(3, 1), P(1, 4)]),
    ("rdiv number", lambda a: 2.0 / a, lambda a: 2.0 / a, [P(3, 4)]),
    ("neg", lambda a: -a, np.negative, [N(3, 4)]),
    ("pow 2", lambda a: a ** 2, lambda a: a ** 2, [N(3, 4)]),
    ("pow 3", lambda a: a ** 3, lambda a: a ** 3, [N(3, 4)]),
    ("pow 0", lambda a: a ** 0, lambda a: a ** 0, [N(3, 4)]),
    ("pow 0.5", lambda a: a ** 0.5, np.sqrt, [P(3, 4)]),
    ("pow -1", lambda a: a ** -1, lambda a: 1 / a, [P(3, 4)]),
    ("pow -1.5", lambda a: a ** -1.5, lambda a: a ** -1.5, [P(3, 4)]),
    ("exp", lambda a: a.exp(), np.exp, [N(3, 4)]),
    ("log", lambda a: a.log(), np.log, [P(3, 4)]),
    ("denso.exp", denso.exp, np.exp, [N(4)]),
    ("denso.log", denso.log, np.log, [P(4)]),
    # matmul: 1-D, 2-D, batched, broadcast batches
    ("matmul (3,4)@(4,2)", lambda a, b: a @ b, np.matmul, [N(3, 4), N(4, 2)]),
    ("matmul (4,)@(4,2)", lambda a, b: a @ b, np.matmul, [N(4), N(4, 2)]),
    ("matmul (3,4)@(4,)", lambda a, b: a @ b, np.matmul, [N(3, 4), N(4)]),
    ("matmul (4,)@(4,)", lambda a, b: a @ b, np.matmul, [N(4), N(4)]),
    ("matmul (2,3,4)@(2,4,5)", lambda a, b: a @ b, np.matmul, [N(2, 3, 4), N(2, 4, 5)]),
    ("matmul (2,3,4)@(4,5)", lambda a, b: a @ b, np.matmul, [N(2, 3, 4), N(4, 5)]),
    ("matmul (3,4)@(2,4,5)", lambda a, b: a @ b, np.matmul, [N(3, 4), N(2, 4, 5)]),
    ("matmul (1,3,4)@(2,4,2)", lambda a, b: a @ b, np.matmul, [N(1, 3, 4), N(2, 4, 2)]),
    ("matmul (4,)@(2,4,3)", lambda a, b: a @ b, np.matmul, [N(4), N(2, 4, 3)]),
    ("matmul (2,3,4)@(4,)", lambda a, b: a @ b, np.matmul, [N(2, 3, 4), N(4)]),
    ("denso.matmul", denso.matmul, np.matmul, [N(3, 4), N(4, 2)]),
    # reductions
    ("sum", lambda a: a.sum(), np.sum, [N(3, 4)]),
    ("sum axis=0", lambda a: a.sum(axis=0), lambda a: a.sum(axis=0), [N(3, 4)]),
    ("sum axis=-1 keepdims", lambda a: a.sum(-1, keepdims=True), lambda a: a.sum(-1, keepdims=True), [N(3, 4)]),
    ("sum axis=(0,2)", lambda a: a.sum(axis=(0, 2)), lambda a: a.sum(axis=(0, 2)), [N(2, 3, 4)]),
    ("sum axis=(0,2) keepdims", lambda a: a.sum((0, 2), True), lambda a: a.sum((0, 2), keepdims=True), [N(2, 3, 4)]),
    ("mean", lambda a: a.mean(), np.mean, [N(3, 4)]),
    ("mean axis=1", lambda a: a.mean(axis=1), lambda a: a.mean(axis=1), [N(3, 4)]),
    ("mean axis=(0,2)", lambda a: a.mean(axis=(0, 2)), lambda a: a.mean(axis=(0, 2)), [N(2, 3, 4)]),
    ("mean axis=(-1,0) keepdims", lambda a: a.mean((-1, 0), True), lambda a: a.mean((-1, 0), keepdims=True),
     [N(2, 3, 4)]),
    # shapes
    ("reshape", lambda a: a.reshape(3, 4), lambda a: a.reshape(3, 4), [N(2, 6)]),
    ("reshape -1", lambda a: a.reshape(-1), lambda a: a.reshape(-1), [N(2, 3, 2)]),
    ("reshape tuple", lambda a: a.reshape((4, 1, 3)), lambda a: a.reshape(4, 1, 3), [N(2, 6)]),
    (".T", lambda a: a.T, lambda a: a.T, [N(3, 4)]),
    ("transpose()", lambda a: a.transpose(), lambda a: a.transpose(), [N(2, 3, 4)]),
    ("transpose(1,0,2)", lambda a: a.transpose(1, 0, 2), lambda a: a.transpose(1, 0, 2), [N(2, 3, 4)]),
    ("transpose(-1,-2)", lambda a: a.transpose((0, -1, -2)), lambda a: a.transpose(0, 2, 1), [N(2, 3, 4)]),
    # indexing (repeated indices must add up)
    ("index int", lambda a: a[1], lambda a: a[1], [N(3, 4)]),
    ("index slice", lambda a: a[:, 1:3], lambda a: a[:, 1:3], [N(3, 4)]),
    ("index step", lambda a: a[::2, ::-1], lambda a: a[::2, ::-1], [N(3, 4)]),
    ("index repeats", lambda a: a[[0, 0, 2, 0]], lambda a: a[[0, 0, 2, 0]], [N(3, 4)]),
    ("index pairs", lambda a: a[[0, 2, 0], [1, 1, 1]], lambda a: a[[0, 2, 0], [1, 1, 1]], [N(3, 4)]),
    ("index mask", lambda a: a[MASK], lambda a: a[MASK], [N(3, 4)]),
    ("index None", lambda a: a[None, :, 1], lambda a: a[None, :, 1], [N(3, 4)]),
    ("index ...", lambda a: a[..., 0], lambda a: a[..., 0], [N(2, 3, 4)]),
    ("index Tensor", lambda a: a[Tensor([2, 0, 2])], lambda a: a[[2, 0, 2]], [N(3, 4)]),
    # kernel-backed activations
    ("relu", denso.relu, NP_ACT["relu"], [NZ(3, 4)]),
    ("relu method", lambda a: a.relu(), NP_ACT["relu"], [NZ(2, 3, 4)]),
    ("leaky_relu", lambda a: denso.leaky_relu(a, ALPHA), NP_ACT["leaky_relu"], [NZ(3, 4)]),
    ("leaky_relu method", lambda a: a.leaky_relu(ALPHA), NP_ACT["leaky_relu"], [NZ(5)]),
    ("sigmoid", denso.sigmoid, np_sigmoid, [N(3, 4)]),
    ("tanh", denso.tanh, np.tanh, [N(3, 4)]),
    ("tanh 1-D", lambda a: a.tanh(), np.tanh, [N(5)]),
    ("sigmoid 0-D", lambda a: a.sigmoid(), np_sigmoid, [N()]),
    ("step", denso.step, NP_ACT["step"], [NZ(3, 4)]),
    ("gelu", denso.gelu, NP_ACT["gelu"], [N(3, 4)]),
    ("elu", lambda a: denso.elu(a, ALPHA), NP_ACT["elu"], [NZ(3, 4)]),
    ("elu method alpha=1", lambda a: a.elu(), lambda z: np.where(z > 0, z, np.expm1(z)), [NZ(2, 3, 4)]),
    ("selu", denso.selu, NP_ACT["selu"], [NZ(3, 4)]),
    ("softplus", denso.softplus, NP_ACT["softplus"], [N(3, 4)]),
    ("softplus wide", denso.softplus, NP_ACT["softplus"], [lambda rng: rng.uniform(-6, 6, (4, 5))]),
    ("swish", denso.swish, NP_ACT["swish"], [N(3, 4)]),
    ("silu method", lambda a: a.silu(), NP_ACT["swish"], [N(5)]),
    ("softmax", denso.softmax, np_softmax, [N(3, 4)]),
    ("softmax axis=0", lambda a: a.softmax(axis=0), lambda a: np_softmax(a, 0), [N(3, 4)]),
    ("softmax axis=1 3-D", lambda a: denso.softmax(a, 1), lambda a: np_softmax(a, 1), [N(2, 3, 4)]),
    ("log_softmax", denso.log_softmax, np_log_softmax, [N(3, 4)]),
    ("log_softmax axis=0", lambda a: a.log_softmax(0), lambda a: np_log_softmax(a, 0), [N(3, 4)]),
    ("log_softmax 1-D", denso.log_softmax, np_log_softmax, [N(5)]),
    ("activation of transposed", lambda a: denso.softmax(a.T), lambda a: np_softmax(a.T), [N(3, 4)]),
    # fused dense layer: every activation, with and without bias, with x constant (dX skipped)
    *[(f"dense {act}", lambda x, W, b, act=act: denso.dense(x, W, b, act, alpha=ALPHA),
       lambda x, W, b, act=act: NP_ACT[act](x @ W + b), [N(5, 4), N(4, 3), N(3)]) for act in NP_ACT],
    *[(f"dense {act} no bias", lambda x, W, act=act: denso.dense(x, W, None, act, alpha=ALPHA),
       lambda x, W, act=act: NP_ACT[act](x @ W), [N(5, 4), N(4, 3)]) for act in ("identity", "tanh", "softmax")],
    ("dense constant x", lambda W, b: denso.dense(X_CONST, W, b, "sigmoid"),
     lambda W, b: np_sigmoid(X_CONST @ W + b), [N(4, 3), N(3)]),
    ("dense activation=None", lambda x, W: denso.dense(x, W), lambda x, W: x @ W, [N(5, 4), N(4, 3)]),
    # fused losses (targets are constants)
    ("mse 2-D", lambda p: denso.mse(p, Y_REAL), lambda p: ((p - Y_REAL) ** 2).mean(), [N(5, 3)]),
    ("mse 1-D", lambda p: denso.mse(p, Y_REAL[:, 0]), lambda p: ((p - Y_REAL[:, 0]) ** 2).mean(), [N(5)]),
    ("mae 2-D", lambda p: denso.mae(p, Y_REAL), lambda p: np.abs(p - Y_REAL).mean(), [AWAY(Y_REAL)]),
    ("mae 1-D", lambda p: denso.mae(p, Y_REAL[:, 0]), lambda p: np.abs(p - Y_REAL[:, 0]).mean(),
     [AWAY(Y_REAL[:, 0])]),
    ("huber", lambda p: denso.huber(p, Y_REAL), lambda p: np_huber(p, Y_REAL, 1.0), [N(5, 3)]),
    ("huber delta=0.3", lambda p: denso.huber(p, Y_REAL, delta=0.3), lambda p: np_huber(p, Y_REAL, 0.3), [N(5, 3)]),
    ("bce 2-D soft", lambda z: denso.binary_crossentropy(z, Y_BINARY), lambda z: np_bce(z, Y_BINARY), [N(5, 3)]),
    ("bce 1-D", lambda z: denso.binary_crossentropy(z, Y_BINARY_1D), lambda z: np_bce(z, Y_BINARY_1D), [N(6)]),
    ("xent labels", lambda z: denso.categorical_crossentropy(z, LABELS), lambda z: np_xent(z, ONE_HOT), [N(5, 3)]),
    ("xent one-hot", lambda z: denso.categorical_crossentropy(z, ONE_HOT), lambda z: np_xent(z, ONE_HOT), [N(5, 3)]),
    ("xent probabilities", lambda z: denso.categorical_crossentropy(z, Y_PROB), lambda z: np_xent(z, Y_PROB),
     [N(5, 3)]),
    # composites: fan-out through several ops, a two-layer network
    ("J=(a+2b)c", lambda a, b, c: ((a + 2 * b) * c).sum(), lambda a, b, c: ((a + 2 * b) * c).sum(),
     [N(3), N(3), N(3)]),
    ("logsumexp", lambda a: a.exp().sum(axis=1).log(), lambda a: np.log(np.exp(a).sum(axis=1)), [N(3, 4)]),
    ("log(softmax)", lambda a: F.softmax(a).log(), np_log_softmax, [N(3, 4)]),
    ("x*sigmoid(x)+tanh(x)", lambda a: a * a.sigmoid() + a.tanh(), lambda a: a * np_sigmoid(a) + np.tanh(a),
     [N(3, 4)]),
    ("mlp", lambda W1, b1, W2: denso.categorical_crossentropy(denso.dense(denso.dense(X_CONST, W1, b1, "tanh"), W2),
                                                              LABELS),
     lambda W1, b1, W2: np_xent(np.tanh(X_CONST @ W1 + b1) @ W2, ONE_HOT), [N(4, 6), N(6), N(6, 3)]),
]


@pytest.mark.parametrize("fn, ref, inputs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_op(rng, fn, ref, inputs):
    check_op(fn, ref, *inputs, rng=rng)


def test_step_gradient_is_zero(rng):
    x = Tensor(NZ(3, 4)(rng), requires_grad=True)
    denso.step(x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros((3, 4)))
    W = Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    denso.dense(x, W, activation="step").sum().backward()
    np.testing.assert_array_equal(W.grad, np.zeros((4, 2)))


def test_gradcheck_sensitivity(rng):
    """gradcheck is ~0 for an exact gradient and large for a wrong one (factor, axis)."""
    x = rng.standard_normal((3, 4))
    assert denso.gradcheck(lambda t: (t * t).sum(), x) < 1e-7  # ~ u·Σ|f|/eps / |grad| ≈ 3e-9

    def half_wrong_square(t):  # claims d(t²)/dt = t instead of 2t
        return Tensor._from_op(t.data ** 2, (t,), lambda g: (g * t.data,), "bad")

    assert denso.gradcheck(half_wrong_square, x) > 0.1

    def unsummed_broadcast(a, b):  # forgets that b was broadcast over rows: gradient of one row only
        return Tensor._from_op(a.data + b.data, (a, b), lambda g: (g, g[0]), "bad")

    assert denso.gradcheck(unsummed_broadcast, x, rng.standard_normal(4)) > 0.1


def test_gradcheck_leaves_inputs_untouched(rng):
    x = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    before = x.data.copy()
    denso.gradcheck(lambda t: t.exp().sum(), x)
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None


def test_gradcheck_float32_input_is_checked_in_float64(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    seen = []
    denso.gradcheck(lambda t: seen.append(t.dtype) or t.tanh().sum(), x)
    assert set(seen) == {np.dtype(np.float64)}


def test_non_contiguous_inputs_match_contiguous(rng):
    """The Python API copies strided/transposed/Fortran inputs to C order for the kernels."""
    base = rng.standard_normal((8, 6))
    x_strided, W_fortran = base[::2, ::2], np.asfortranarray(rng.standard_normal((3, 5)))
    b = rng.standard_normal(10)[::2]
    assert not (x_strided.flags.c_contiguous or W_fortran.flags.c_contiguous or b.flags.c_contiguous)
    got = denso.dense(x_strided, W_fortran, b, "tanh").data
    np.testing.assert_allclose(got, np.tanh(x_strided @ W_fortran + b), rtol=1e-12)
    np.testing.assert_allclose(denso.softmax(base.T).data, np_softmax(base.T), rtol=1e-12)
    z = base[:, ::3]
    assert denso.categorical_crossentropy(z, [0, 1] * 4).item() == pytest.approx(np_xent(z, np.eye(2)[[0, 1] * 4]),
                                                                                rel=1e-12)
    assert denso.mse(base.T, base.T * 0).item() == pytest.approx((base ** 2).mean(), rel=1e-12)


def test_read_only_inputs_are_accepted(rng):
    x, W = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    x.flags.writeable = False
    W.flags.writeable = False
    Wt = Tensor(W, requires_grad=True)
    denso.mse(denso.dense(x, Wt, activation="relu"), np.zeros((4, 2))).backward()
    assert Wt.grad.shape == (3, 2)
