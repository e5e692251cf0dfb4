"""The graph engine: gradient accumulation, broadcasting adjoints, deep graphs, grad modes."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import denso
from denso import Tensor, no_grad
from denso.autograd import unbroadcast


def leaf(data, dtype=np.float64):
    return Tensor(np.asarray(data, dtype=dtype), requires_grad=True)


# ---------------------------------------------------------------- accumulation (fan-out)

def test_x_times_x_gives_2x():
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, -4.0, 6.0])


def test_shared_subexpressions_sum_all_paths():
    """J = (a + 2b)·c: dJ/da = c, dJ/db = 2c, dJ/dc = a + 2b (b reaches J through two adds)."""
    a, b, c = leaf([1.0, 2.0]), leaf([3.0, -1.0]), leaf([0.5, 4.0])
    J = ((a + b + b) * c).sum()
    J.backward()
    np.testing.assert_array_equal(a.grad, c.data)
    np.testing.assert_array_equal(b.grad, 2 * c.data)
    np.testing.assert_array_equal(c.grad, a.data + 2 * b.data)


def test_scalar_tensors_accumulation():
    a, b, c = leaf(2.0), leaf(-3.0), leaf(5.0)
    J = (a + 2 * b) * c
    J.backward()
    assert (a.grad, b.grad, c.grad) == (5.0, 10.0, -4.0)


def test_diamond_graph():
    """y = 2x feeds both terms of z = y·y + y: dz/dx = (2y + 1)·2."""
    x = leaf([0.5, -1.5])
    y = x * 2
    z = (y * y + y).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad, (2 * y.data + 1) * 2)
    np.testing.assert_array_equal(y.grad, 2 * y.data + 1)  # intermediate: its gradient of this call


def test_tensor_used_in_many_ops():
    x = leaf([1.0, 2.0])
    out = (x * 3 + x.exp() - x / 2 + x ** 2).sum()
    out.backward()
    np.testing.assert_allclose(x.grad, 3 + np.exp(x.data) - 0.5 + 2 * x.data, rtol=1e-15)


# ---------------------------------------------------------------- broadcasting adjoints

@pytest.mark.parametrize("shape_a, shape_b", [
    ((3, 1), (1, 4)),
    ((5, 4), (4,)),
    ((2, 3, 4), (3, 1)),
    ((4,), ()),
    ((2, 1, 3), (1, 5, 1)),
])
def test_broadcast_gradients_are_summed_back(rng, shape_a, shape_b):
    a, b = leaf(rng.standard_normal(shape_a)), leaf(rng.standard_normal(shape_b))
    out = a * b
    G = rng.standard_normal(out.shape)
    out.backward(G)
    full_a = np.broadcast_to(b.data, out.shape) * G   # d/da before reduction
    full_b = np.broadcast_to(a.data, out.shape) * G
    np.testing.assert_allclose(a.grad, _reduce_to(full_a, shape_a), rtol=1e-12)
    np.testing.assert_allclose(b.grad, _reduce_to(full_b, shape_b), rtol=1e-12)
    assert a.grad.shape == shape_a and b.grad.shape == shape_b


def _reduce_to(g, shape):
    """Independent reference: sum g over every axis where `shape` (right-aligned) is 1 or missing."""
    padded = (1,) * (g.ndim - len(shape)) + tuple(shape)
    axes = tuple(i for i, (n, m) in enumerate(zip(padded, g.shape)) if n == 1 and m != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def test_unbroadcast():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_array_equal(unbroadcast(g, (4,)), g.sum(axis=(0, 1)))
    np.testing.assert_array_equal(unbroadcast(g, ()), g.sum())
    assert unbroadcast(g, (2, 3, 4)) is g


def test_python_numbers_and_arrays_on_either_side(rng):
    x = leaf(rng.standard_normal((2, 3)))
    arr, left = rng.standard_normal(3), rng.standard_normal(2)
    out = (2.0 - x) * arr + 1 / (x + 5) + left @ x  # ndarray ⊕ Tensor dispatches to the Tensor
    assert isinstance(out, Tensor)
    out.sum().backward()
    # left @ x has shape (3,) and is broadcast over out's 2 rows: d/dx[i, j] of that term is 2·left[i]
    expected = -arr - 1 / (x.data + 5) ** 2 + 2 * left[:, None]
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_number_adopts_tensor_dtype():
    """Python and numpy scalars take the tensor's dtype (float32 stays float32, as in torch)."""
    x = leaf([1.0, 2.0], np.float32)
    y = (x * 2 + 1) / 3.0 - 0.5 + np.float64(0.25) + 1.5 * x ** 2
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_precision_gradient_has_parent_dtype():
    x32, x64 = leaf([1.0, 2.0], np.float32), leaf([3.0, 4.0])
    out = x32 * x64
    assert out.dtype == np.float64  # numpy promotion
    out.sum().backward()
    assert x32.grad.dtype == np.float32 and x64.grad.dtype == np.float64
    np.testing.assert_array_equal(x32.grad, [3.0, 4.0])


# ---------------------------------------------------------------- deep graphs

def test_chain_of_10000_ops():
    """backward() is iterative: no RecursionError, exact result, recursion limit untouched."""
    limit = sys.getrecursionlimit()
    x = leaf([1.0, 2.0])
    y = x
    for i in range(10_000):
        y = y * 1.0001 if i % 2 else y + 0.5
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001 ** 5000] * 2, rtol=1e-12)
    np.testing.assert_allclose(y.data, _chain_value(x.data), rtol=1e-12)
    assert sys.getrecursionlimit() == limit


def _chain_value(x):
    y = x.copy()
    for i in range(10_000):
        y = y * 1.0001 if i % 2 else y + 0.5
    return y


def test_deep_chain_of_kernel_ops():
    x = leaf([[0.3, -0.2]])
    y = x
    for _ in range(10_000):
        y = denso.tanh(y)
    y.sum().backward()
    ref_y, ref_grad = x.data.copy(), np.ones_like(x.data)
    for _ in range(10_000):
        ref_y = np.tanh(ref_y)
        ref_grad *= 1 - ref_y ** 2
    np.testing.assert_allclose(y.data, ref_y, rtol=1e-10)
    np.testing.assert_allclose(x.grad, ref_grad, rtol=1e-9)


def test_wide_fan_in():
    x = leaf([1.0])
    total = x
    for _ in range(10_000):
        total = total + x
    total.backward()
    np.testing.assert_array_equal(x.grad, [10_001.0])


# ---------------------------------------------------------------- backward semantics

def test_scalar_seed_is_one_and_one_element_tensors_count_as_scalars():
    x = leaf([[2.0]])
    y = x * 3
    assert y.shape == (1, 1)
    y.backward()
    np.testing.assert_array_equal(x.grad, [[3.0]])


def test_non_scalar_backward_with_explicit_grad(rng):
    x = leaf(rng.standard_normal((2, 3)))
    G = rng.standard_normal((2, 3))
    (x * 3).backward(G)
    np.testing.assert_allclose(x.grad, 3 * G, rtol=1e-15)
    x.zero_grad()
    (x * 3).backward(Tensor(G))  # a Tensor seed works too
    np.testing.assert_allclose(x.grad, 3 * G, rtol=1e-15)


def test_backward_twice_accumulates_on_leaves_only():
    x = leaf([1.0, 2.0])
    h = x * x
    loss = (h * 3).sum()
    loss.backward()
    loss.backward()
    np.testing.assert_array_equal(x.grad, 2 * (6 * x.data))
    np.testing.assert_array_equal(h.grad, [3.0, 3.0])  # intermediate keeps its latest call's gradient


def test_zero_grad_forgets():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    x.zero_grad()
    assert x.grad is None
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 5.0])


def test_requires_grad_propagates_only_from_leaves_that_need_it():
    a, b = leaf([1.0, 2.0]), Tensor([3.0, 4.0])
    c = Tensor([5.0, 6.0])
    assert not (b * c).requires_grad and (b * c).is_leaf
    out = a * b + c
    assert out.requires_grad and not out.is_leaf
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, b.data)
    assert b.grad is None and c.grad is None


def test_intermediate_grad_available(rng):
    x = leaf(rng.standard_normal(3))
    h = x.exp()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data, rtol=1e-15)
    np.testing.assert_allclose(x.grad, 2 * h.data * h.data, rtol=1e-15)


def test_grad_shapes_follow_tensors(rng):
    W = leaf(rng.standard_normal((4, 3)))
    b = leaf(np.zeros(3))
    x = rng.standard_normal((5, 4))
    loss = denso.categorical_crossentropy(denso.dense(x, W, b, "tanh"), [0, 1, 2, 0, 1])
    loss.backward()
    assert W.grad.shape == (4, 3) and b.grad.shape == (3,)


# ---------------------------------------------------------------- grad modes, detach

def test_no_grad_records_nothing_and_restores():
    x = leaf([1.0, 2.0])
    assert denso.is_grad_enabled()
    with no_grad():
        assert not denso.is_grad_enabled()
        y = x * 2 + denso.relu(x)
        with no_grad():
            pass
        assert not denso.is_grad_enabled()  # nested exit keeps the outer mode
    assert denso.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and y._parents == ()
    np.testing.assert_array_equal(y.data, [3.0, 6.0])  # values are still computed
    with pytest.raises(ValueError, match="requires grad"):
        y.sum().backward()


def test_no_grad_restores_after_exception():
    with pytest.raises(RuntimeError, match="boom"):
        with no_grad():
            raise RuntimeError("boom")
    assert denso.is_grad_enabled()


def test_no_grad_as_decorator():
    @no_grad()
    def infer(t):
        return t * 2

    x = leaf([1.0])
    assert not infer(x).requires_grad
    assert denso.is_grad_enabled()


def test_parameter_update_under_no_grad():
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    with no_grad():
        w.data -= 0.1 * w.grad  # an SGD step in place keeps w a leaf
    np.testing.assert_allclose(w.data, [0.8, 1.6], rtol=1e-15)
    assert w.is_leaf and w.requires_grad


def test_detach_shares_data_and_stops_gradient():
    x = leaf([1.0, 2.0, 3.0])
    d = x.detach()
    assert np.shares_memory(d.data, x.data)
    assert not d.requires_grad and d.is_leaf
    (d * x).sum().backward()  # only the direct path to x counts
    np.testing.assert_array_equal(x.grad, x.data)
    assert d.grad is None


def test_tensor_construction():
    t = Tensor([1, 2, 3])
    assert t.dtype == np.float64 and not t.requires_grad and t.grad is None
    assert Tensor(np.arange(3, dtype=np.float32)).dtype == np.float32
    assert Tensor([1.0], dtype=np.float32).dtype == np.float32
    assert Tensor(np.asfortranarray(np.ones((2, 3)))).data.flags.c_contiguous
    assert Tensor(3.5).shape == () and Tensor(3.5).item() == 3.5
    assert len(Tensor(np.zeros((4, 2)))) == 4
    assert "requires_grad=True" in repr(leaf([1.0]))


# ---------------------------------------------------------------- edge points of single ops

def test_power_at_zero():
    x = leaf([0.0, 2.0])
    (x ** 0).sum().backward()  # constant: zero gradient, not 0 · 0^(−1) = nan
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    x.zero_grad()
    (x ** 2 + x ** 1).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 5.0])


def test_vector_dot_vector():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([4.0, -5.0, 6.0])
    out = a @ b
    assert out.shape == () and out.item() == 12.0
    out.backward()
    np.testing.assert_array_equal(a.grad, b.data)
    np.testing.assert_array_equal(b.grad, a.data)


def test_negative_transpose_axes():
    x = leaf(np.arange(24.0).reshape(2, 3, 4))
    y = x.transpose(0, -1, -2)
    np.testing.assert_array_equal(y.data, x.data.transpose(0, 2, 1))
    G = np.arange(24.0).reshape(2, 4, 3)
    y.backward(G)
    np.testing.assert_array_equal(x.grad, G.transpose(0, 2, 1))


@pytest.mark.parametrize("op", [denso.relu, denso.tanh, denso.softmax])
def test_activations_of_empty_tensors(op):
    x = leaf(np.empty((2, 0)))
    y = op(x)
    assert y.shape == (2, 0)
    y.sum().backward()
    assert x.grad.shape == (2, 0)


# ---------------------------------------------------------------- the engine is a leaf module

def test_autograd_imports_no_op_and_ops_attach_on_import_denso():
    """denso.autograd loads with only _checks and the native core below it (no functional/ops), and `import denso` afterwards
    attaches the operators to that same Tensor class. The package's __init__ would import
    everything, so the subprocess first loads denso.autograd under a bare package module."""
    script = textwrap.dedent(f"""
        import sys, types
        bare = types.ModuleType("denso")
        bare.__path__ = [{str(Path(denso.autograd.__file__).parent)!r}]
        sys.modules["denso"] = bare
        import denso.autograd
        engine = denso.autograd.Tensor
        loaded = sorted(m for m in sys.modules if m.startswith("denso."))
        assert loaded == ["denso._checks", "denso._core", "denso.autograd"], loaded
        assert "__add__" not in vars(engine)
        del sys.modules["denso"]
        import denso
        assert denso.Tensor is engine
        assert (denso.Tensor([1.0, 2.0]) * 2 + 1).relu().sum().item() == 8.0
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_tensor_operators_and_methods_after_import_denso():
    a, b = np.array([[1.0, -2.0], [3.0, 4.0]]), np.array([[0.5, 2.0], [-1.0, 3.0]])
    x, y = Tensor(a), Tensor(b)
    cases = {
        "x + y": (x + y, a + b), "2 + x": (2 + x, 2 + a), "x - y": (x - y, a - b), "2 - x": (2 - x, 2 - a),
        "x * y": (x * y, a * b), "2 * x": (2 * x, 2 * a), "x / y": (x / y, a / b), "2 / x": (2 / x, 2 / a),
        "x ** 2": (x ** 2, a ** 2), "-x": (-x, -a), "x @ y": (x @ y, a @ b), "b @ x": (b @ x, b @ a),
        "x[1]": (x[1], a[1]), "x.sum(0)": (x.sum(0), a.sum(0)), "x.mean()": (x.mean(), a.mean()),
        "y.exp()": (y.exp(), np.exp(b)), "x.T": (x.T, a.T), "x.transpose(1, 0)": (x.transpose(1, 0), a.T),
        "x.reshape(4)": (x.reshape(4), a.reshape(4)), "x.relu()": (x.relu(), np.maximum(a, 0)),
        "x.softmax()": (x.softmax(), np.exp(a) / np.exp(a).sum(-1, keepdims=True)),
        "x.log_softmax()": (x.log_softmax(), a - np.log(np.exp(a).sum(-1, keepdims=True))),
        "y.exp().log()": (y.exp().log(), b), "x.tanh()": (x.tanh(), np.tanh(a)),
        "x.sigmoid()": (x.sigmoid(), 1 / (1 + np.exp(-a))),
        "x.leaky_relu(0.1)": (x.leaky_relu(0.1), np.where(a > 0, a, 0.1 * a)),
    }
    for text, (got, expected) in cases.items():
        assert isinstance(got, Tensor), text
        np.testing.assert_allclose(got.data, expected, rtol=1e-12, err_msg=text)
