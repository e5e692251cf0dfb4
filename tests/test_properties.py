"""Property-based tests (hypothesis) of the public API and the bindings: for random shapes, dtypes,
values and hyperparameters, every result equals a numpy reference computed in float64 from the same
inputs, and every bad argument raises TypeError or ValueError (never a crash).

Each test draws few examples (the whole file runs in a few seconds) and stores nothing on disk.
"""
import math
import os

import numpy as np
import pytest
from conftest import assert_close, tol

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis (the test extra)")
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import denso  # noqa: E402
from denso import Dense, Sequential, _core, metrics  # noqa: E402

# DENSO_PROPERTY_EXAMPLES=1000 for a deeper search than the default run makes.
FAST = settings(max_examples=int(os.environ.get("DENSO_PROPERTY_EXAMPLES", "40")), deadline=None, database=None)
FLOAT_DTYPES = st.sampled_from([np.dtype(np.float32), np.dtype(np.float64)])
ACTIVATIONS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "step"]


def arrays(dtype, shape, lo=-3.0, hi=3.0, subnormal=True):
    """Finite values in [lo, hi], representable in `dtype`."""
    return hnp.arrays(dtype, shape, elements=st.floats(lo, hi, allow_nan=False, allow_infinity=False,
                                                        allow_subnormal=subnormal,
                                                        width=8 * np.dtype(dtype).itemsize))


def activate(z, name, alpha=0.01):
    """The float64 reference of an activation (softmax over rows)."""
    if name == "identity":
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, alpha * z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "step":
        return (z > 0).astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@st.composite
def dense_problem(draw):
    dtype = draw(FLOAT_DTYPES)
    n, k, m = draw(st.integers(1, 9)), draw(st.integers(1, 12)), draw(st.integers(1, 10))
    x = draw(arrays(dtype, (n, k)))
    w = draw(arrays(dtype, (k, m)))
    b = draw(st.none() | arrays(dtype, (m,)))
    return dtype, x, w, b, draw(st.sampled_from(ACTIVATIONS)), draw(st.floats(0.0, 0.5))


@FAST
@given(dense_problem())
def test_dense_forward_equals_numpy(problem):
    dtype, x, w, b, act, alpha = problem
    z = x.astype(np.float64) @ w.astype(np.float64) + (0.0 if b is None else b.astype(np.float64))
    # Rounding in x·W is relative to the products' magnitudes; outputs of the bounded activations move
    # at most as much as z does (their slopes are <= 1), softmax's at most twice as much.
    scale = float((np.abs(x).astype(np.float64) @ np.abs(w) + (0 if b is None else np.abs(b))).max()) + 1.0
    if act == "step":  # a z within rounding of 0 may land on either side of the jump
        assume(np.all(np.abs(z) > 100 * tol(dtype) * scale))
    expected = activate(z, act, alpha)
    out = np.full(z.shape, np.nan, dtype)
    _core.dense_forward(x, w, b, out, getattr(_core.Activation, act), alpha)
    assert out.dtype == dtype
    assert_close(out, expected, dtype, scale=2 * scale)
    public = denso.dense(x, w, b, activation=act if act != "identity" else None, alpha=alpha)
    assert public.data.dtype == dtype
    assert_close(public.data, expected, dtype, scale=2 * scale)


@FAST
@given(dtype=FLOAT_DTYPES, shape=st.tuples(st.integers(1, 6), st.integers(1, 9)), data=st.data(),
       exponent=st.integers(-30, 30))
def test_softmax_rows_sum_to_one_and_equal_numpy_at_any_scale(dtype, shape, data, exponent):
    limit = 30 if dtype == np.float32 else 300  # |x| up to 1e30 (float32) and 1e300 (float64)
    exponent = exponent * limit // 30
    x = (data.draw(arrays(dtype, shape, -1.0, 1.0)).astype(np.float64) * 10.0 ** exponent).astype(dtype)
    assert np.all(np.isfinite(x))
    p = denso.softmax(x).data
    assert p.dtype == dtype and p.shape == shape
    assert np.all(p >= 0) and np.all(p <= 1)
    assert_close(p.astype(np.float64).sum(axis=1), np.ones(shape[0]), dtype, scale=shape[1])
    assert_close(p, activate(x.astype(np.float64), "softmax"), dtype, scale=1.0)
    out = np.empty_like(x)
    _core.activation_forward(x, out, _core.Activation.softmax)
    assert_close(out, p.astype(np.float64), dtype, scale=1.0)  # bit equality: see the address test below


def at_offset(a, offset):
    """A copy of `a` whose data starts `offset` elements after a 64-byte boundary."""
    buf = np.empty(a.size + 64, a.dtype)
    start = (-buf.ctypes.data % 64) // a.itemsize + offset
    view = buf[start:start + a.size].reshape(a.shape)
    view[...] = a
    return view


@pytest.mark.parametrize("act", ["sigmoid", "softmax"])
def test_transcendental_activations_do_not_depend_on_buffer_addresses(act):
    x = np.linspace(-4.0, 4.0, 8 * 97).reshape(8, 97)
    results = []
    for x_offset in range(8):
        for out_offset in range(8):
            out = at_offset(np.zeros_like(x), out_offset)
            _core.activation_forward(at_offset(x, x_offset), out, getattr(_core.Activation, act))
            results.append(out.copy())
    assert all(np.array_equal(results[0], r) for r in results[1:])


@FAST
@given(dtype=FLOAT_DTYPES, shape=st.tuples(st.integers(1, 5), st.integers(1, 19)), data=st.data(),
       offsets=st.tuples(st.integers(0, 7), st.integers(0, 7)),
       act=st.sampled_from(["relu", "leaky_relu", "step"]))
def test_exact_activations_do_not_depend_on_buffer_addresses(dtype, shape, data, offsets, act):
    x = data.draw(arrays(dtype, shape, subnormal=False))  # subnormal inputs: see the relu test below
    aligned, shifted = np.zeros(shape, dtype), at_offset(np.zeros(shape, dtype), offsets[1])
    _core.activation_forward(at_offset(x, 0), aligned, getattr(_core.Activation, act))
    _core.activation_forward(at_offset(x, offsets[0]), shifted, getattr(_core.Activation, act))
    np.testing.assert_array_equal(shifted, aligned)


# The loss kernels: value against numpy, gradient against float64 central differences of the value.
def _mse(z, t):
    return float(np.mean((z - t) ** 2))


def _bce(z, t):
    return float(np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))))


def _xent(z, t):
    log_p = z - z.max(axis=1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    return float(-np.mean((t * log_p).sum(axis=1)))


def _xent_labels(z, labels):
    return _xent(z, np.eye(z.shape[1])[labels])


@st.composite
def loss_problem(draw):
    dtype = draw(FLOAT_DTYPES)
    kind = draw(st.sampled_from(["mse", "bce", "xent", "xent_labels"]))
    n, k = draw(st.integers(1, 6)), draw(st.integers(1 if kind in ("mse", "bce") else 2, 5))
    z = draw(arrays(dtype, (n, k), -4.0, 4.0))
    if kind == "mse":
        t = draw(arrays(dtype, (n, k), -4.0, 4.0))
    elif kind == "bce":
        t = draw(arrays(dtype, (n, k), 0.0, 1.0))
    elif kind == "xent":
        raw = draw(arrays(np.float64, (n, k), 0.0, 1.0)) + 1e-3
        t = (raw / raw.sum(axis=1, keepdims=True)).astype(dtype)
    else:
        t = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.int64)
    return dtype, kind, z, t


LOSSES = {"mse": (_core.mse_loss, _mse), "bce": (_core.bce_logits_loss, _bce),
          "xent": (_core.softmax_xent_loss, _xent), "xent_labels": (_core.softmax_xent_labels_loss, _xent_labels)}


@FAST
@given(loss_problem())
def test_loss_kernels_equal_numpy_and_their_gradients_equal_finite_differences(problem):
    dtype, kind, z, t = problem
    kernel, reference = LOSSES[kind]
    z64 = z.astype(np.float64)
    t64 = t if kind == "xent_labels" else t.astype(np.float64)
    grad = np.full(z.shape, np.nan, dtype)
    value = kernel(z, t, grad)
    assert isinstance(value, float)
    scale = 1.0 + float(np.abs(z64).max()) * (1.0 + float(np.abs(t64).max()))
    assert value == pytest.approx(reference(z64, t64), rel=tol(dtype), abs=tol(dtype) * scale ** 2)
    assert kernel(z, t) == value  # the gradient is optional and changes nothing
    # Central differences of the float64 reference: error O(h²) ~ 1e-10 for these smooth losses.
    h, numeric = 1e-5, np.empty(z.shape)
    for idx in np.ndindex(*z.shape):
        up, down = z64.copy(), z64.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (reference(up, t64) - reference(down, t64)) / (2 * h)
    np.testing.assert_allclose(grad.astype(np.float64), numeric, rtol=max(tol(dtype), 1e-7),
                               atol=max(tol(dtype), 1e-8) * scale)


@FAST
@given(n=st.integers(1, 40), k=st.integers(1, 5), data=st.data())
def test_accuracy_and_mse_metrics_equal_numpy(n, k, data):
    y_pred = data.draw(arrays(np.float64, (n, k), 0.0, 1.0))
    if k == 1:  # binary: probabilities against 0/1 labels at a threshold
        labels = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
        threshold = data.draw(st.floats(0.0, 1.0))
        expected = np.mean((y_pred[:, 0] > threshold) == (labels == 1))
        assert metrics.accuracy(labels, y_pred, threshold=threshold) == pytest.approx(expected, abs=1e-15)
    else:       # multi-class: argmax of each row against integer labels or one-hot rows
        labels = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
        expected = np.mean(y_pred.argmax(axis=1) == labels)
        assert metrics.accuracy(labels, y_pred) == pytest.approx(expected, abs=1e-15)
        assert metrics.accuracy(np.eye(k)[labels], y_pred) == pytest.approx(expected, abs=1e-15)
    y_true = data.draw(arrays(np.float64, (n, k), -5.0, 5.0))
    assert metrics.mean_squared_error(y_true, y_pred) == pytest.approx(np.mean((y_true - y_pred) ** 2),
                                                                       rel=1e-12, abs=1e-15)
    assert metrics.mean_absolute_error(y_true, y_pred) == pytest.approx(np.mean(np.abs(y_true - y_pred)),
                                                                        rel=1e-12, abs=1e-15)


@st.composite
def architecture(draw):
    depth = draw(st.integers(1, 3))
    layers = [(draw(st.integers(1, 7)), draw(st.sampled_from(ACTIVATIONS[:-1])), draw(st.booleans()))
              for _ in range(depth)]
    return draw(st.integers(1, 6)), layers, draw(st.integers(0, 2**31 - 1))


@FAST
@given(arch=architecture(), rows=st.integers(1, 12), data=st.data())
def test_predict_equals_a_numpy_forward_over_get_weights(arch, rows, data):
    input_dim, layers, seed = arch
    model = Sequential([Dense(units, activation=None if act == "identity" else act, use_bias=bias)
                        for units, act, bias in layers], input_dim=input_dim, seed=seed, dtype="float64")
    x = data.draw(arrays(np.float64, (rows, input_dim)))
    weights = iter(model.get_weights())
    a = x
    for units, act, bias in layers:
        w = next(weights)
        assert w.shape == (a.shape[1], units)
        a = a @ w
        if bias:
            b = next(weights)
            assert b.shape == (units,)
            a = a + b
        a = activate(a, act)
    assert next(weights, None) is None
    out = model.predict(x)
    assert out.shape == (rows, layers[-1][0]) and out.dtype == np.float64
    np.testing.assert_allclose(out, a, rtol=1e-10, atol=1e-10)


@FAST
@given(n=st.integers(0, 3000), seed=st.integers(0, 2**64 - 1), epoch=st.integers(0, 2**64 - 1))
def test_shuffled_indices_is_a_permutation(n, seed, epoch):
    out = np.full(n, -1, dtype=np.int64)
    _core.shuffled_indices(seed, epoch, out)
    np.testing.assert_array_equal(np.sort(out), np.arange(n))
    again = np.empty(n, dtype=np.int64)
    _core.shuffled_indices(seed, epoch, again)
    np.testing.assert_array_equal(again, out)  # a function of (seed, epoch)


# The optimizer update against numpy transcriptions of torch.optim's documented algorithms.
def torch_sgd(p, g, state, step, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, **_):
    if weight_decay:
        g = g + weight_decay * p
    if momentum:
        state["b"] = g.copy() if step == 1 else momentum * state["b"] + (1 - dampening) * g
        g = g + momentum * state["b"] if nesterov else state["b"]
    return p - lr * g


def torch_rmsprop(p, g, state, step, lr, alpha, eps, momentum=0.0, weight_decay=0.0, centered=False, **_):
    if weight_decay:
        g = g + weight_decay * p
    state["v"] = alpha * state.get("v", 0.0) + (1 - alpha) * g * g
    avg = state["v"]
    if centered:
        state["ga"] = alpha * state.get("ga", 0.0) + (1 - alpha) * g
        avg = avg - state["ga"] ** 2
    avg = np.sqrt(avg) + eps
    if momentum > 0:
        state["b"] = momentum * state.get("b", 0.0) + g / avg
        return p - lr * state["b"]
    return p - lr * g / avg


def torch_adam(p, g, state, step, lr, beta1, beta2, eps, weight_decay=0.0, amsgrad=False,
               decoupled_weight_decay=False, **_):
    if weight_decay and decoupled_weight_decay:
        p = p * (1 - lr * weight_decay)
    elif weight_decay:
        g = g + weight_decay * p
    state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * g * g
    v = state["v"]
    if amsgrad:
        state["vmax"] = np.maximum(state.get("vmax", 0.0), v)
        v = state["vmax"]
    m_hat = state["m"] / (1 - beta1 ** step)
    v_hat = v / (1 - beta2 ** step)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


@st.composite
def optimizer_config(draw):
    kind = draw(st.sampled_from(["sgd", "rmsprop", "adam"]))
    fields = {"lr": draw(st.floats(0.0, 0.5)), "weight_decay": draw(st.sampled_from([0.0, 1e-3, 0.05]))}
    if kind == "sgd":
        fields["momentum"] = draw(st.sampled_from([0.0, 0.5, 0.9, 0.99]))
        fields["nesterov"] = fields["momentum"] > 0 and draw(st.booleans())
        fields["dampening"] = 0.0 if fields["nesterov"] else draw(st.sampled_from([0.0, 0.1, 0.5]))
    elif kind == "rmsprop":
        fields.update(alpha=draw(st.floats(0.5, 0.999)), eps=draw(st.sampled_from([1e-8, 1e-6, 1e-3])),
                      momentum=draw(st.sampled_from([0.0, 0.5, 0.9])), centered=draw(st.booleans()))
    else:
        fields.update(beta1=draw(st.floats(0.0, 0.99)), beta2=draw(st.floats(0.5, 0.9999)),
                      eps=draw(st.sampled_from([1e-8, 1e-6, 1e-3])), amsgrad=draw(st.booleans()),
                      decoupled_weight_decay=draw(st.booleans()))
    return kind, fields


@FAST
@given(config=optimizer_config(), n=st.integers(1, 50), steps=st.integers(1, 4), data=st.data())
def test_optimizer_update_equals_torch_formulas(config, n, steps, data):
    kind, fields = config
    native = _core.OptimizerConfig(kind, **fields)
    param = data.draw(arrays(np.float64, (n,)))
    slots = [np.zeros(n) for _ in range(_core.optimizer_slot_count(native))]
    expected_slots = {"sgd": int(fields.get("momentum", 0) != 0),
                      "rmsprop": 1 + int(fields.get("centered", False)) + int(fields.get("momentum", 0) > 0),
                      "adam": 2 + int(fields.get("amsgrad", False))}[kind]
    assert len(slots) == expected_slots
    reference = {"sgd": torch_sgd, "rmsprop": torch_rmsprop, "adam": torch_adam}[kind]
    expected, state = param.copy(), {}
    for step in range(1, steps + 1):
        grad = data.draw(arrays(np.float64, (n,)))
        expected = reference(expected, grad, state, step, **fields)
        _core.optimizer_update(native, step, param, grad, slots)
        # Adam's and RMSprop's steps divide by sqrt(v) + eps: relative rounding of ~1e-15 per step.
        np.testing.assert_allclose(param, expected, rtol=1e-11, atol=1e-11 * (1 + float(np.abs(expected).max())))


# Bad arguments: wrong dtypes, non-contiguous views, wrong shapes. The call raises TypeError or
# ValueError, and leaves the process alive; a valid call gives numpy's answer.
BAD_DTYPES = [np.float32, np.float64, np.int32, np.int64, np.float16, np.complex64, np.bool_]


@st.composite
def maybe_bad_array(draw, shape):
    dtype = draw(st.sampled_from(BAD_DTYPES))
    bad_shape = draw(st.booleans()) and len(shape) > 0
    if bad_shape:
        shape = tuple(max(0, s + draw(st.integers(-1, 2))) for s in shape)
        if draw(st.booleans()):
            shape = shape + (2,)
    layout = draw(st.sampled_from(["c", "strided", "fortran", "readonly"]))
    base = np.ones(tuple(2 * s for s in shape) if layout == "strided" else shape, dtype=dtype)
    if layout == "strided":
        base = base[tuple(slice(None, None, 2) for _ in shape)]
    elif layout == "fortran":
        base = np.asfortranarray(base)
    elif layout == "readonly":
        base.flags.writeable = False
    return base


def _usable(arr, dtype, writeable=False):
    """The binding accepts the array's dtype and layout (shapes are checked by each test)."""
    return arr.dtype == dtype and arr.flags.c_contiguous and (arr.flags.writeable or not writeable)


@FAST
@given(n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4), data=st.data())
def test_dense_forward_rejects_bad_arguments_cleanly(n, k, m, data):
    x = data.draw(maybe_bad_array((n, k)))
    w = data.draw(maybe_bad_array((k, m)))
    b = data.draw(st.none() | maybe_bad_array((m,)))
    out = data.draw(maybe_bad_array((n, m)))
    dtype = x.dtype
    ok = (dtype in (np.float32, np.float64) and x.ndim == 2 and w.ndim == 2 and out.ndim == 2
          and w.shape[0] == x.shape[1] and out.shape == (x.shape[0], w.shape[1])
          and (b is None or b.shape == (w.shape[1],))
          and _usable(x, dtype) and _usable(w, dtype) and (b is None or _usable(b, dtype))
          and _usable(out, dtype, writeable=True))
    if not ok:
        with pytest.raises((TypeError, ValueError)):
            _core.dense_forward(x, w, b, out, _core.Activation.identity)
        return
    _core.dense_forward(x, w, b, out, _core.Activation.identity)  # all ones: every entry is k (+ 1)
    np.testing.assert_array_equal(out, x.shape[1] + (0 if b is None else 1))


@FAST
@given(n=st.integers(1, 4), k=st.integers(1, 4), data=st.data())
def test_loss_kernels_reject_bad_arguments_cleanly(n, k, data):
    z = data.draw(maybe_bad_array((n, k)))
    t = data.draw(maybe_bad_array((n, k)))
    grad = data.draw(st.none() | maybe_bad_array((n, k)))
    dtype = z.dtype
    ok = (dtype in (np.float32, np.float64) and z.ndim == 2 and z.size > 0 and t.shape == z.shape
          and (grad is None or grad.shape == z.shape)
          and _usable(z, dtype) and _usable(t, dtype) and (grad is None or _usable(grad, dtype, writeable=True)))
    if not ok:
        with pytest.raises((TypeError, ValueError)):
            _core.mse_loss(z, t, grad)
        return
    assert _core.mse_loss(z, t, grad) == 0.0  # all ones against all ones
    if grad is not None:
        np.testing.assert_array_equal(grad, 0.0)


@FAST
@given(n=st.integers(1, 6), data=st.data())
def test_optimizer_update_rejects_bad_arguments_cleanly(n, data):
    native = _core.OptimizerConfig("adam", lr=0.1)
    param = data.draw(maybe_bad_array((n,)))
    grad = data.draw(maybe_bad_array((n,)))
    slots = [data.draw(maybe_bad_array((n,))) for _ in range(data.draw(st.integers(1, 3)))]
    step = data.draw(st.integers(-1, 3))
    dtype = param.dtype
    # Flat buffers: any shape holding as many values as `param`, C-contiguous, of param's dtype.
    ok = (dtype in (np.float32, np.float64) and step >= 1 and len(slots) == 2
          and _usable(param, dtype, writeable=True) and _usable(grad, dtype) and grad.size == param.size
          and all(_usable(s, dtype, writeable=True) and s.size == param.size for s in slots))
    if not ok:
        with pytest.raises((TypeError, ValueError)):
            _core.optimizer_update(native, step, param, grad, slots)
        return
    flat = lambda a: a.astype(np.float64).ravel()  # noqa: E731  (the binding reads every buffer flat)
    before, state = flat(param), {"m": flat(slots[0]), "v": flat(slots[1])}  # all ones
    _core.optimizer_update(native, step, param, grad, slots)
    expected = torch_adam(before, flat(grad), state, step, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    assert_close(slots[0].ravel(), state["m"], dtype, scale=1.0)
    assert_close(slots[1].ravel(), state["v"], dtype, scale=1.0)
    assert_close(param.ravel(), expected, dtype, scale=1.0)


@FAST
@given(n=st.integers(0, 6), dtype=st.sampled_from(BAD_DTYPES + [np.uint64, np.int32]),
       layout=st.sampled_from(["c", "strided", "2d", "readonly"]))
def test_shuffled_indices_rejects_bad_buffers_cleanly(n, dtype, layout):
    out = np.zeros(2 * n if layout == "strided" else n, dtype=dtype)
    if layout == "strided":
        out = out[::2]
    elif layout == "2d":
        out = out.reshape(1, n)
    elif layout == "readonly":
        out.flags.writeable = False
    if np.dtype(dtype) == np.int64 and layout == "c":
        _core.shuffled_indices(1, 2, out)
        np.testing.assert_array_equal(np.sort(out), np.arange(n))
        return
    if n <= 1 and layout == "strided" and np.dtype(dtype) == np.int64:
        assume(False)  # a 0- or 1-element view is contiguous
    with pytest.raises((TypeError, ValueError)):
        _core.shuffled_indices(1, 2, out)


def test_relu_of_a_negative_subnormal_is_zero_at_every_address():
    x = np.array([[-1.0] * 17 + [-2.225073858507203e-309], [-2.225073858507203e-309] * 18])
    for offset in range(8):
        out = np.full_like(x, np.nan)
        _core.activation_forward(at_offset(x, offset), out, _core.Activation.relu)
        assert np.all(out == 0.0), (offset, out)
