"""Every error case, matched by message: the public Python API and the raw denso._core kernels.

Messages name the argument, what was expected and what arrived. The public API converts
non-contiguous input (see test_ops_gradcheck.test_non_contiguous_inputs_match_contiguous); the
raw kernels reject it, and any wrong layout, dtype, shape, read-only or overlapping output.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import denso
from denso import Tensor, _core

Act = _core.Activation


def ro(a):
    """A read-only copy."""
    a = np.array(a)
    a.flags.writeable = False
    return a


def fortran(*shape):
    return np.asfortranarray(np.ones(shape))


def strided(n):
    return np.ones(2 * n)[::2]


def case(id, exc, message, fn):
    """One error case: `fn()` raises `exc` with `message` (matched literally) in its text."""
    return pytest.param(fn, exc, re.escape(message), id=id)


def check(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


# ================================================================ public Python API

X, W, B = np.ones((4, 3)), np.ones((3, 2)), np.ones(2)
Z, LABELS = np.ones((4, 3)), np.array([0, 1, 2, 0])

PUBLIC = [
    # unsupported dtypes
    case("tensor float16", TypeError, "`data` must hold float32 or float64 numbers, got dtype float16",
         lambda: Tensor(np.ones(3, np.float16))),
    case("tensor complex", TypeError, "`data` must hold float32 or float64 numbers, got dtype complex128",
         lambda: Tensor(np.ones(3, complex))),
    case("tensor object", TypeError, "got dtype object",
         lambda: Tensor(np.array([1.0, None]))),
    case("tensor strings", TypeError, "got dtype <U1",
         lambda: Tensor(["a", "b"])),
    case("tensor dtype=float16", TypeError, "`data` can only be converted to float32 or float64, got dtype=float16",
         lambda: Tensor([1.0], dtype=np.float16)),
    case("tensor dtype=int32", TypeError, "`data` can only be converted to float32 or float64, got dtype=int32",
         lambda: Tensor([1], dtype=np.int32)),
    case("operand complex", TypeError, "`operand` must hold float32 or float64 numbers, got dtype complex128",
         lambda: Tensor([1.0]) + np.ones(1, complex)),
    case("dense x float16", TypeError, "`x` must hold float32 or float64 numbers, got dtype float16",
         lambda: denso.dense(np.ones((4, 3), np.float16), W)),
    case("dense weight complex", TypeError, "`weight` must hold float32 or float64 numbers, got dtype complex128",
         lambda: denso.dense(X, np.ones((3, 2), complex))),
    case("dense bias object", TypeError, "`bias` must hold float32 or float64 numbers, got dtype object",
         lambda: denso.dense(X, W, np.array([1, None]))),
    case("relu float16", TypeError, "`x` must hold float32 or float64 numbers, got dtype float16",
         lambda: denso.relu(np.ones(3, np.float16))),
    case("mse pred float16", TypeError, "`pred` must hold float32 or float64 numbers, got dtype float16",
         lambda: denso.mse(np.ones(3, np.float16), np.ones(3))),
    case("mse target complex", TypeError, "`target` must hold float32 or float64 numbers, got dtype complex128",
         lambda: denso.mse(np.ones(3), np.ones(3, complex))),
    case("xent labels strings", TypeError, "`target` must hold integer class labels, got dtype <U1",
         lambda: denso.categorical_crossentropy(Z, np.array(list("abca")))),
    # wrong ndim and shapes
    case("dense x 1-D", ValueError, "`x` must be 2-D (batch × features), got array of shape (3,)",
         lambda: denso.dense(np.ones(3), W)),
    case("dense weight 3-D", ValueError, "`weight` must be 2-D (in × out), got array of shape (3, 2, 1)",
         lambda: denso.dense(X, np.ones((3, 2, 1)))),
    case("dense shape mismatch", ValueError, "`weight` must have 3 rows to match `x` of shape (4, 3), got shape (5, 2)",
         lambda: denso.dense(X, np.ones((5, 2)))),
    case("dense bias length", ValueError, "`bias` must have shape (2,) to match `weight`, got (3,)",
         lambda: denso.dense(X, W, np.ones(3))),
    case("dense bias 2-D", ValueError, "`bias` must have shape (2,) to match `weight`, got (1, 2)",
         lambda: denso.dense(X, W, np.ones((1, 2)))),
    case("mse pred 3-D", ValueError, "`pred` must be 1-D or 2-D (batch × outputs), got shape (2, 2, 2)",
         lambda: denso.mse(np.ones((2, 2, 2)), np.ones((2, 2, 2)))),
    case("mse target shape", ValueError, "`target` must have shape (4, 3) like `pred`, got (4, 2)",
         lambda: denso.mse(Z, np.ones((4, 2)))),
    case("mse empty", ValueError, "`pred` must hold at least one sample and one output, got shape (0, 3)",
         lambda: denso.mse(np.ones((0, 3)), np.ones((0, 3)))),
    case("bce logits 3-D", ValueError, "`logits` must be 1-D or 2-D",
         lambda: denso.binary_crossentropy(np.ones((2, 2, 2)), np.ones((2, 2, 2)))),
    case("bce target shape", ValueError, "`target` must have shape (4, 3) like `logits`, got (4,)",
         lambda: denso.binary_crossentropy(Z, np.ones(4))),
    case("xent logits 1-D", ValueError, "`logits` must be 2-D (batch × classes), got array of shape (3,)",
         lambda: denso.categorical_crossentropy(np.ones(3), [0])),
    case("xent label count", ValueError, "`target` must have 4 labels (one per row), got 3",
         lambda: denso.categorical_crossentropy(Z, [0, 1, 2])),
    case("xent one-hot shape", ValueError, "`target` must have shape (4, 3) like `logits`, got (4, 2)",
         lambda: denso.categorical_crossentropy(Z, np.ones((4, 2)))),
    case("xent empty batch", ValueError, "`logits` must hold at least one sample",
         lambda: denso.categorical_crossentropy(np.ones((0, 3)), np.array([], int))),
    case("xent no classes", ValueError, "`logits` must hold at least one sample and one output, got shape (2, 0)",
         lambda: denso.categorical_crossentropy(np.ones((2, 0)), np.ones((2, 0)))),
    case("softmax 0-D", ValueError, "softmax needs a tensor with at least one dimension",
         lambda: denso.softmax(Tensor(1.0))),
    case("matmul mismatch", ValueError, "matmul shape mismatch: `a` of shape (2, 3) and `b` of shape (4, 2)",
         lambda: Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 2)))),
    case("matmul batched mismatch", ValueError, "matmul shape mismatch: `a` of shape (4,) and `b` of shape (2, 3, 2)",
         lambda: Tensor(np.ones(4)) @ Tensor(np.ones((2, 3, 2)))),
    case("matmul 0-D", ValueError, "matmul needs operands with at least one dimension",
         lambda: Tensor(2.0) @ Tensor(np.ones(3))),
    case("broadcast mismatch", ValueError, "could not be broadcast together with shapes (2,3) (4,)",
         lambda: Tensor(np.ones((2, 3))) + Tensor(np.ones(4))),
    case("reshape", ValueError, "cannot reshape a tensor of shape (2, 3) (6 elements) into shape (4, 2)",
         lambda: Tensor(np.ones((2, 3))).reshape(4, 2)),
    case("transpose", ValueError, "`axes` must be a permutation of range(2), got (0, 0)",
         lambda: Tensor(np.ones((2, 3))).transpose(0, 0)),
    case("transpose out of range", ValueError, "`axes` must be a permutation of range(2), got (0, 2)",
         lambda: Tensor(np.ones((2, 3))).transpose(0, 2)),
    case("sum axis", ValueError, "`axis` 2 is out of range for a tensor with 2 dimensions",
         lambda: Tensor(np.ones((2, 3))).sum(axis=2)),
    case("mean axis", ValueError, "`axis` -3 is out of range for a tensor with 2 dimensions",
         lambda: Tensor(np.ones((2, 3))).mean(axis=(0, -3))),
    case("mean empty", ValueError, "mean over an empty axis of a tensor of shape (0, 3)",
         lambda: Tensor(np.ones((0, 3))).mean(axis=0)),
    case("item", ValueError, "item() needs a tensor with one element, got shape (2,)",
         lambda: Tensor(np.ones(2)).item()),
    # values
    case("mse target nan", ValueError, "`target` must be finite, got nan at index (1, 2)",
         lambda: denso.mse(np.ones((2, 3)), np.array([[1, 2, 3], [4, 5, np.nan]]))),
    case("bce target inf", ValueError, "`target` must be finite, got inf at index (1,)",
         lambda: denso.binary_crossentropy(np.ones(3), np.array([0, np.inf, 1]))),
    case("bce target above 1", ValueError,
         "`target` of binary_crossentropy must lie in [0, 1], got values in [0.0, 2.0]",
         lambda: denso.binary_crossentropy(np.ones(3), np.array([0, 2.0, 1]))),
    case("bce target below 0", ValueError,
         "`target` of binary_crossentropy must lie in [0, 1], got values in [-0.5, 1.0]",
         lambda: denso.binary_crossentropy(np.ones(2), np.array([-0.5, 1]))),
    case("xent label too large", ValueError, "`target` must lie in [0, 3), got label 3",
         lambda: denso.categorical_crossentropy(Z, [0, 1, 3, 0])),
    case("xent label negative", ValueError, "`target` must lie in [0, 3), got label -1",
         lambda: denso.categorical_crossentropy(Z, [0, -1, 2, 0])),
    case("xent label non-integer", ValueError,
         "`target` holds class labels and must be whole numbers, got non-integer values",
         lambda: denso.categorical_crossentropy(Z, [0, 1.5, 2, 0])),
    case("xent label nan", ValueError, "`target` must be finite, got nan at index (1,)",
         lambda: denso.categorical_crossentropy(Z, [0, np.nan, 2, 0])),
    case("xent probabilities nan", ValueError, "`target` must be finite, got nan at index (0, 0)",
         lambda: denso.categorical_crossentropy(Z, np.full((4, 3), np.nan))),
    case("unknown activation", ValueError,
         "unknown activation 'mish'; expected one of "
         "['elu', 'gelu', 'identity', 'leaky_relu', 'linear', 'relu', 'selu', 'sigmoid', 'silu', 'softmax', "
         "'softplus', 'step', 'swish', 'tanh']",
         lambda: denso.dense(X, W, activation="mish")),
    case("activation not a string", ValueError, "unknown activation 3",
         lambda: denso.dense(X, W, activation=3)),
    case("dense alpha negative", ValueError, "`alpha` must be a finite number >= 0, got -0.1",
         lambda: denso.dense(X, W, activation="leaky_relu", alpha=-0.1)),
    case("dense alpha nan", ValueError, "`alpha` must be a finite number >= 0, got nan",
         lambda: denso.dense(X, W, alpha=float("nan"))),
    case("dense alpha string", TypeError, "`alpha` must be a real number, got str 'big'",
         lambda: denso.dense(X, W, alpha="big")),
    case("leaky_relu alpha", ValueError, "`alpha` must be a finite number >= 0, got -1.0",
         lambda: denso.leaky_relu(X, -1)),
    case("pow tensor", TypeError, "`exponent` must be a real number (tensor exponents are not supported), got Tensor(",
         lambda: Tensor([1.0]) ** Tensor([2.0])),
    case("pow bool", TypeError, "`exponent` must be a real number",
         lambda: Tensor([1.0]) ** True),
    case("threads 0", ValueError, "`n` must be a number of threads in [1, 1024], got 0",
         lambda: denso.set_num_threads(0)),
    case("threads negative", ValueError, "`n` must be a number of threads in [1, 1024], got -2",
         lambda: denso.set_num_threads(-2)),
    case("threads huge", ValueError, "`n` must be a number of threads in [1, 1024], got 1000000000000",
         lambda: denso.set_num_threads(10**12)),
    case("threads string", TypeError, "`n` must be an integer number of threads, got str '2'",
         lambda: denso.set_num_threads("2")),
    case("threads float", TypeError, "`n` must be an integer number of threads, got float 2.0",
         lambda: denso.set_num_threads(2.0)),
    # backward
    case("backward non-scalar", ValueError,
         "backward() on a non-scalar tensor of shape (2, 3) needs an explicit `grad` of the same shape",
         lambda: (Tensor(np.ones((2, 3)), requires_grad=True) * 2).backward()),
    case("backward no grad", ValueError,
         "backward() needs a tensor that requires grad; none of its inputs had requires_grad=True",
         lambda: (Tensor(np.ones(3)) * 2).sum().backward()),
    case("backward grad shape", ValueError, "`grad` must have shape (2, 3) like the tensor, got (3, 2)",
         lambda: (Tensor(np.ones((2, 3)), requires_grad=True) * 2).backward(np.ones((3, 2)))),
    case("backward grad dtype", TypeError, "`grad` must hold float32 or float64 numbers, got dtype complex128",
         lambda: (Tensor(np.ones(2), requires_grad=True) * 2).backward(np.ones(2, complex))),
    # gradcheck
    case("gradcheck float", TypeError, "gradcheck's `f` must return a Tensor, got float",
         lambda: denso.gradcheck(lambda t: float(t.data.sum()), np.ones(2))),
    case("gradcheck ndarray", TypeError, "gradcheck's `f` must return a Tensor, got ndarray",
         lambda: denso.gradcheck(lambda t: t.data, np.ones(2))),
    case("gradcheck eps 0", ValueError, "`eps` must be a finite number > 0, got 0.0",
         lambda: denso.gradcheck(lambda t: t, np.ones(2), eps=0)),
    case("gradcheck eps negative", ValueError, "`eps` must be a finite number > 0, got -1e-06",
         lambda: denso.gradcheck(lambda t: t, np.ones(2), eps=-1e-6)),
    case("gradcheck no inputs", ValueError, "gradcheck needs at least one input tensor",
         lambda: denso.gradcheck(lambda: Tensor(1.0))),
]


@pytest.mark.parametrize("fn, exc, match", PUBLIC)
def test_public_api_error(fn, exc, match):
    check(fn, exc, match)


def test_backward_error_leaves_grads_untouched():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match="needs an explicit `grad`"):
        (x * 2).backward()
    assert x.grad is None


def test_no_grad_output_cannot_backward():
    x = Tensor(np.ones(3), requires_grad=True)
    with denso.no_grad():
        y = (x * 2).sum()
    with pytest.raises(ValueError, match="requires grad"):
        y.backward()


def test_python_api_accepts_what_it_can_convert():
    """Ints, bools, lists, Fortran order, byte-swapped floats and read-only arrays are converted, not rejected."""
    assert Tensor(np.array([1, 2], np.int32)).dtype == np.float64
    assert Tensor([True, False]).dtype == np.float64
    swapped = np.arange(3.0).astype(">f8")
    np.testing.assert_array_equal(Tensor(swapped).data, [0.0, 1.0, 2.0])
    out = denso.dense(swapped.reshape(1, 3), np.ones((3, 2)), activation="relu")
    np.testing.assert_array_equal(out.data, [[3.0, 3.0]])
    out = denso.dense(ro(np.ones((2, 3))), fortran(3, 2), ro(np.ones(2)))
    np.testing.assert_array_equal(out.data, np.full((2, 2), 4.0))


# ================================================================ raw denso._core kernels

def dense_forward(x=None, weight=None, bias=None, out=None, act=Act.relu, alpha=0.01):
    """dense_forward with valid float64 defaults (x 4×3, weight 3×2, bias 2, out 4×2) for the rest."""
    x = np.ones((4, 3)) if x is None else x
    weight = np.ones((3, 2)) if weight is None else weight
    bias = np.ones(2) if bias is None else bias
    out = np.empty((4, 2)) if out is None else out
    return _core.dense_forward(x, weight, None if bias is NO_BIAS else bias, out, act, alpha)


NO_BIAS = object()


def params(x=None, grad=None, grad_weight=None, grad_bias=None):
    x = np.ones((4, 3)) if x is None else x
    grad = np.ones((4, 2)) if grad is None else grad
    grad_weight = np.empty((3, 2)) if grad_weight is None else grad_weight
    grad_bias = np.empty(2) if grad_bias is None else grad_bias
    return _core.dense_backward_params(x, grad, grad_weight, grad_bias)


def input_grad(grad=None, weight=None, grad_input=None):
    grad = np.ones((4, 2)) if grad is None else grad
    weight = np.ones((3, 2)) if weight is None else weight
    grad_input = np.empty((4, 3)) if grad_input is None else grad_input
    return _core.dense_backward_input(grad, weight, grad_input)


def split(shape_a, shape_b, offset):
    """Two C-contiguous 2-D views into one buffer, the second starting `offset` elements in."""
    buf = np.zeros(int(np.prod(shape_a)) + int(np.prod(shape_b)) + offset)
    return buf[:np.prod(shape_a)].reshape(shape_a), buf[offset:offset + np.prod(shape_b)].reshape(shape_b)


def overlapping(shape_a, shape_b):
    return split(shape_a, shape_b, 1)


def labels_over(buf, n):
    """An int64 label vector (all zeros) stored in the first bytes of the float64 buffer `buf`."""
    return buf.reshape(-1).view(np.int64)[:n]


LOSSES = [("mse_loss", "pred"), ("bce_logits_loss", "logits"), ("softmax_xent_loss", "logits")]


def loss_cases(kernel: str, pred: str) -> list:
    """The error cases shared by the losses whose target is a matrix like the prediction."""
    k = getattr(_core, kernel)
    Z, Y = np.ones((4, 3)), np.ones((4, 3))
    return [
        case(f"{kernel} float16", TypeError, f"`{pred}` must have dtype float32 or float64, got float16",
             lambda: k(np.ones((4, 3), np.float16), Y)),
        case(f"{kernel} target dtype", TypeError,
             "`target` must have dtype float64 like the other operands, got float32",
             lambda: k(Z, np.ones((4, 3), np.float32))),
        case(f"{kernel} grad dtype", TypeError, "`grad` must have dtype float64 like the other operands, got float32",
             lambda: k(Z, Y, np.empty((4, 3), np.float32))),
        case(f"{kernel} grad list", TypeError, "`grad` must be a numpy array or None, got list",
             lambda: k(Z, Y, [0.0])),
        case(f"{kernel} 1-D", ValueError, f"`{pred}` must be 2-D, got array of shape (3,)",
             lambda: k(np.ones(3), np.ones(3))),
        case(f"{kernel} target shape", ValueError, "`target` must have shape (4, 3), got (4, 2)",
             lambda: k(Z, np.ones((4, 2)))),
        case(f"{kernel} grad shape", ValueError, "`grad` must have shape (4, 3), got (3, 4)",
             lambda: k(Z, Y, np.empty((3, 4)))),
        case(f"{kernel} target Fortran", ValueError, "`target` must be C-contiguous",
             lambda: k(Z, fortran(4, 3))),
        case(f"{kernel} grad read-only", ValueError, "`grad` is an output and must be writeable",
             lambda: k(Z, Y, ro(np.empty((4, 3))))),
        case(f"{kernel} grad overlaps {pred}", ValueError, f"`grad` must not share memory with `{pred}`",
             lambda: (lambda p, g: k(p, Y, g))(*overlapping((4, 3), (4, 3)))),
        case(f"{kernel} grad overlaps target", ValueError, "`grad` must not share memory with `target`",
             lambda: (lambda y, g: k(Z, y, g))(*overlapping((4, 3), (4, 3)))),
        case(f"{kernel} no rows", ValueError,
             f"`{pred}` must hold at least one sample and one output, got shape (0, 3)",
             lambda: k(np.ones((0, 3)), np.ones((0, 3)))),
        case(f"{kernel} no columns", ValueError,
             f"`{pred}` must hold at least one sample and one output, got shape (2, 0)",
             lambda: k(np.ones((2, 0)), np.ones((2, 0)))),
    ]

CORE = [
    # dtypes
    case("dense x float16", TypeError, "`x` must have dtype float32 or float64, got float16",
         lambda: dense_forward(x=np.ones((4, 3), np.float16))),
    case("dense x int", TypeError, "`x` must have dtype float32 or float64, got int64",
         lambda: dense_forward(x=np.ones((4, 3), np.int64))),
    case("dense x complex", TypeError, "`x` must have dtype float32 or float64, got complex128",
         lambda: dense_forward(x=np.ones((4, 3), complex))),
    case("dense x object", TypeError, "`x` must have dtype float32 or float64, got object",
         lambda: dense_forward(x=np.ones((4, 3), object))),
    case("dense x byte-swapped", TypeError, "`x` must have dtype float32 or float64, got >f8",
         lambda: dense_forward(x=np.ones((4, 3), ">f8"))),
    case("dense weight float32", TypeError, "`weight` must have dtype float64 like the other operands, got float32",
         lambda: dense_forward(weight=np.ones((3, 2), np.float32))),
    case("dense bias float32", TypeError, "`bias` must have dtype float64 like the other operands, got float32",
         lambda: dense_forward(bias=np.ones(2, np.float32))),
    case("dense out float32", TypeError, "`out` must have dtype float64 like the other operands, got float32",
         lambda: dense_forward(out=np.empty((4, 2), np.float32))),
    case("dense out float64 for float32", TypeError,
         "`out` must have dtype float32 like the other operands, got float64",
         lambda: dense_forward(x=np.ones((4, 3), np.float32), weight=np.ones((3, 2), np.float32),
                               bias=np.ones(2, np.float32))),
    case("dense bias list", TypeError, "`bias` must be a numpy array or None, got list",
         lambda: dense_forward(bias=[1.0, 2.0])),
    case("dense x list", TypeError, "incompatible function arguments",
         lambda: dense_forward(x=[[1.0, 2.0, 3.0]])),
    case("activation by name", TypeError, "incompatible function arguments",
         lambda: dense_forward(act="relu")),
    # ndim and shapes
    case("dense x 1-D", ValueError, "`x` must be 2-D, got array of shape (3,)",
         lambda: dense_forward(x=np.ones(3))),
    case("dense weight 3-D", ValueError, "`weight` must be 2-D, got array of shape (3, 2, 1)",
         lambda: dense_forward(weight=np.ones((3, 2, 1)))),
    case("dense bias 2-D", ValueError, "`bias` must be 1-D, got array of shape (1, 2)",
         lambda: dense_forward(bias=np.ones((1, 2)))),
    case("dense out 1-D", ValueError, "`out` must be 2-D, got array of shape (8,)",
         lambda: dense_forward(out=np.empty(8))),
    case("dense shape mismatch", ValueError, "`weight` must have 3 rows to match `x` of shape (4, 3), got (5, 2)",
         lambda: dense_forward(weight=np.ones((5, 2)))),
    case("dense bias length", ValueError, "`bias` must have shape (2,), got (3,)",
         lambda: dense_forward(bias=np.ones(3))),
    case("dense out shape", ValueError, "`out` must have shape (4, 2), got (2, 4)",
         lambda: dense_forward(out=np.empty((2, 4)))),
    # layout, read-only, overlap
    case("dense x Fortran", ValueError, "`x` must be C-contiguous (row-major); pass np.ascontiguousarray(...)",
         lambda: dense_forward(x=fortran(4, 3))),
    case("dense x strided", ValueError, "`x` must be C-contiguous",
         lambda: dense_forward(x=np.ones((8, 3))[::2])),
    case("dense weight transposed", ValueError, "`weight` must be C-contiguous",
         lambda: dense_forward(weight=np.ones((2, 3)).T)),
    case("dense bias strided", ValueError, "`bias` must be C-contiguous",
         lambda: dense_forward(bias=strided(2))),
    case("dense out transposed", ValueError, "`out` must be C-contiguous",
         lambda: dense_forward(out=np.empty((2, 4)).T)),
    case("dense out read-only", ValueError, "`out` is an output and must be writeable",
         lambda: dense_forward(out=ro(np.empty((4, 2))))),
    case("dense out is x", ValueError, "`out` must not share memory with `x`",
         lambda: (lambda a: dense_forward(x=a, weight=np.ones((3, 3)), bias=np.ones(3), out=a))(np.ones((4, 3)))),
    case("dense out overlaps weight", ValueError, "`out` must not share memory with `weight`",
         lambda: (lambda o, w: dense_forward(weight=w, out=o))(*overlapping((4, 2), (3, 2)))),
    case("dense out overlaps bias", ValueError, "`out` must not share memory with `bias`",
         lambda: (lambda o: dense_forward(bias=o[1], out=o))(np.empty((4, 2)))),
    case("dense alpha negative", ValueError, "`alpha` of leaky_relu must be >= 0, got -0.5",
         lambda: dense_forward(act=Act.leaky_relu, alpha=-0.5)),
    case("dense alpha nan", ValueError, "`alpha` of leaky_relu must be >= 0, got nan",
         lambda: dense_forward(act=Act.leaky_relu, alpha=float("nan"))),
    # activation_forward / activation_backward
    case("act z int", TypeError, "`z` must have dtype float32 or float64, got int64",
         lambda: _core.activation_forward(np.ones((2, 3), int), np.empty((2, 3)), Act.relu)),
    case("act out dtype", TypeError, "`out` must have dtype float64 like the other operands, got float32",
         lambda: _core.activation_forward(np.ones((2, 3)), np.empty((2, 3), np.float32), Act.relu)),
    case("act z 3-D", ValueError, "`z` must be 2-D, got array of shape (2, 3, 1)",
         lambda: _core.activation_forward(np.ones((2, 3, 1)), np.empty((2, 3)), Act.relu)),
    case("act out shape", ValueError, "`out` must have shape (2, 3), got (3, 2)",
         lambda: _core.activation_forward(np.ones((2, 3)), np.empty((3, 2)), Act.tanh)),
    case("act z Fortran", ValueError, "`z` must be C-contiguous",
         lambda: _core.activation_forward(fortran(2, 3), np.empty((2, 3)), Act.tanh)),
    case("act out read-only", ValueError, "`out` is an output and must be writeable",
         lambda: _core.activation_forward(np.ones((2, 3)), ro(np.empty((2, 3))), Act.tanh)),
    case("act out overlaps z", ValueError, "`out` must not share memory with `z`",
         lambda: (lambda z, o: _core.activation_forward(z, o, Act.softmax))(*overlapping((2, 3), (2, 3)))),
    case("act alpha", ValueError, "`alpha` of leaky_relu must be >= 0, got -1",
         lambda: _core.activation_forward(np.ones((2, 3)), np.empty((2, 3)), Act.leaky_relu, -1.0)),
    case("act bwd out float16", TypeError, "`out` must have dtype float32 or float64, got float16",
         lambda: _core.activation_backward(np.ones((2, 3), np.float16), np.ones((2, 3)), Act.relu)),
    case("act bwd grad dtype", TypeError, "`grad` must have dtype float64 like the other operands, got float32",
         lambda: _core.activation_backward(np.ones((2, 3)), np.ones((2, 3), np.float32), Act.relu)),
    case("act bwd grad shape", ValueError, "`grad` must have shape (2, 3), got (2, 2)",
         lambda: _core.activation_backward(np.ones((2, 3)), np.ones((2, 2)), Act.relu)),
    case("act bwd grad read-only", ValueError, "`grad` is an output and must be writeable",
         lambda: _core.activation_backward(np.ones((2, 3)), ro(np.ones((2, 3))), Act.relu)),
    case("act bwd grad Fortran", ValueError, "`grad` must be C-contiguous",
         lambda: _core.activation_backward(np.ones((2, 3)), fortran(2, 3), Act.relu)),
    case("act bwd grad is out", ValueError, "`grad` must not share memory with `out`",
         lambda: (lambda a: _core.activation_backward(a, a, Act.sigmoid))(np.ones((2, 3)))),
    case("act bwd alpha", ValueError, "`alpha` of leaky_relu must be >= 0, got -0.1",
         lambda: _core.activation_backward(np.ones((2, 3)), np.ones((2, 3)), Act.leaky_relu, -0.1)),
    # dense_backward_params
    case("params x complex", TypeError, "`x` must have dtype float32 or float64, got complex128",
         lambda: params(x=np.ones((4, 3), complex))),
    case("params grad dtype", TypeError, "`grad` must have dtype float64 like the other operands, got float32",
         lambda: params(grad=np.ones((4, 2), np.float32))),
    case("params grad_bias dtype", TypeError,
         "`grad_bias` must have dtype float64 like the other operands, got float32",
         lambda: params(grad_bias=np.empty(2, np.float32))),
    case("params grad_bias list", TypeError, "`grad_bias` must be a numpy array or None, got list",
         lambda: params(grad_bias=[0.0, 0.0])),
    case("params grad rows", ValueError, "`grad` must have 4 rows like `x`, got shape (3, 2)",
         lambda: params(grad=np.ones((3, 2)))),
    case("params grad_weight shape", ValueError, "`grad_weight` must have shape (3, 2), got (2, 3)",
         lambda: params(grad_weight=np.empty((2, 3)))),
    case("params grad_bias shape", ValueError, "`grad_bias` must have shape (2,), got (3,)",
         lambda: params(grad_bias=np.empty(3))),
    case("params grad_weight read-only", ValueError, "`grad_weight` is an output and must be writeable",
         lambda: params(grad_weight=ro(np.empty((3, 2))))),
    case("params grad_bias read-only", ValueError, "`grad_bias` is an output and must be writeable",
         lambda: params(grad_bias=ro(np.empty(2)))),
    case("params grad_weight transposed", ValueError, "`grad_weight` must be C-contiguous",
         lambda: params(grad_weight=np.empty((2, 3)).T)),
    case("params grad_bias strided", ValueError, "`grad_bias` must be C-contiguous",
         lambda: params(grad_bias=strided(2))),
    case("params grad_weight overlaps x", ValueError, "`grad_weight` must not share memory with `x`",
         lambda: (lambda x, dw: params(x=x, grad_weight=dw))(*overlapping((4, 3), (3, 2)))),
    case("params grad_weight overlaps grad", ValueError, "`grad_weight` must not share memory with `grad`",
         lambda: (lambda g, dw: params(grad=g, grad_weight=dw))(*overlapping((4, 2), (3, 2)))),
    case("params grad_bias overlaps grad", ValueError, "`grad_bias` must not share memory with `grad`",
         lambda: (lambda g: params(grad=g, grad_bias=g[0]))(np.ones((4, 2)))),
    case("params grad_bias overlaps x", ValueError, "`grad_bias` must not share memory with `x`",
         lambda: (lambda x: params(x=x, grad_bias=x[1, :2]))(np.ones((4, 3)))),
    case("params grad_bias overlaps grad_weight", ValueError, "`grad_bias` must not share memory with `grad_weight`",
         lambda: (lambda dw: params(grad_weight=dw, grad_bias=dw[2]))(np.empty((3, 2)))),
    # dense_backward_input
    case("input grad object", TypeError, "`grad` must have dtype float32 or float64, got object",
         lambda: input_grad(grad=np.ones((4, 2), object))),
    case("input weight dtype", TypeError, "`weight` must have dtype float64 like the other operands, got float32",
         lambda: input_grad(weight=np.ones((3, 2), np.float32))),
    case("input weight columns", ValueError, "`weight` must have 2 columns to match `grad`, got shape (3, 4)",
         lambda: input_grad(weight=np.ones((3, 4)))),
    case("input grad_input shape", ValueError, "`grad_input` must have shape (4, 3), got (3, 4)",
         lambda: input_grad(grad_input=np.empty((3, 4)))),
    case("input grad_input read-only", ValueError, "`grad_input` is an output and must be writeable",
         lambda: input_grad(grad_input=ro(np.empty((4, 3))))),
    case("input grad_input Fortran", ValueError, "`grad_input` must be C-contiguous",
         lambda: input_grad(grad_input=fortran(4, 3))),
    case("input overlaps grad", ValueError, "`grad_input` must not share memory with `grad`",
         lambda: (lambda g, dx: input_grad(grad=g, grad_input=dx))(*overlapping((4, 2), (4, 3)))),
    case("input overlaps weight", ValueError, "`grad_input` must not share memory with `weight`",
         lambda: (lambda w, dx: input_grad(weight=w, grad_input=dx))(*overlapping((3, 2), (4, 3)))),
    # losses with a matrix target
    *[c for kernel, pred in LOSSES for c in loss_cases(kernel, pred)],
    # softmax cross-entropy with labels
    case("labels float", TypeError, "`labels` must have dtype int64 like the other operands, got float64",
         lambda: _core.softmax_xent_labels_loss(np.ones((4, 3)), np.array([0.0, 1, 2, 0]))),
    case("labels int32", TypeError, "`labels` must have dtype int64 like the other operands, got int32",
         lambda: _core.softmax_xent_labels_loss(np.ones((4, 3)), np.array([0, 1, 2, 0], np.int32))),
    case("labels list", TypeError, "incompatible function arguments",
         lambda: _core.softmax_xent_labels_loss(np.ones((4, 3)), [0, 1, 2, 0])),
    case("labels 2-D", ValueError, "`labels` must be 1-D, got array of shape (4, 1)",
         lambda: _core.softmax_xent_labels_loss(np.ones((4, 3)), np.zeros((4, 1), np.int64))),
    case("labels count", ValueError, "`labels` must have 4 entries (one per row of `logits`), got shape (3,)",
         lambda: _core.softmax_xent_labels_loss(np.ones((4, 3)), np.zeros(3, np.int64))),
    case("labels too large", ValueError, "`labels` must lie in [0, 3), got 3 at index 1",
         lambda: _core.softmax_xent_labels_loss(np.ones((4, 3)), np.array([0, 3, 1, 0]))),
    case("labels negative", ValueError, "`labels` must lie in [0, 3), got -1 at index 0",
         lambda: _core.softmax_xent_labels_loss(np.ones((4, 3)), np.array([-1, 0, 1, 0]))),
    case("labels strided", ValueError, "`labels` must be C-contiguous",
         lambda: _core.softmax_xent_labels_loss(np.ones((4, 3)), np.zeros(8, np.int64)[::2])),
    case("labels no rows", ValueError, "`logits` must hold at least one sample, got 0 rows",
         lambda: _core.softmax_xent_labels_loss(np.ones((0, 3)), np.zeros(0, np.int64))),
    case("labels grad dtype", TypeError, "`grad` must have dtype float64 like the other operands, got float32",
         lambda: _core.softmax_xent_labels_loss(np.ones((4, 3)), np.zeros(4, np.int64), np.empty((4, 3), np.float32))),
    case("labels grad read-only", ValueError, "`grad` is an output and must be writeable",
         lambda: _core.softmax_xent_labels_loss(np.ones((4, 3)), np.zeros(4, np.int64), ro(np.empty((4, 3))))),
    case("labels grad is logits", ValueError, "`grad` must not share memory with `logits`",
         lambda: (lambda z: _core.softmax_xent_labels_loss(z, np.zeros(4, np.int64), z))(np.ones((4, 3)))),
    case("labels grad overlaps labels", ValueError, "`grad` must not share memory with `labels`",
         lambda: (lambda g: _core.softmax_xent_labels_loss(np.ones((4, 3)), labels_over(g, 4), g))(np.zeros((4, 3)))),
    # threads
    case("threads 0", ValueError, "`n` must be a number of threads in [1, 1024], got 0",
         lambda: _core.set_num_threads(0)),
]


@pytest.mark.parametrize("fn, exc, match", CORE)
def test_core_error(fn, exc, match):
    check(fn, exc, match)


def test_core_rejection_leaves_outputs_untouched():
    out = np.full((4, 2), 7.0)
    with pytest.raises(ValueError, match="must have 3 rows"):
        _core.dense_forward(np.ones((4, 3)), np.ones((5, 2)), None, out, Act.relu)
    np.testing.assert_array_equal(out, 7.0)


def test_core_in_place_activation_is_allowed():
    z = np.array([[-1.0, 2.0]])
    _core.activation_forward(z, z, Act.relu)  # `out` may be `z` itself
    np.testing.assert_array_equal(z, [[0.0, 2.0]])


BAD_VALUES = "[None, [1.0], 3.0, 'x', object(), np.zeros(()), np.zeros((0, 0)), np.zeros(5), np.zeros((2, 2, 2)), " \
             "np.ones((4, 3), np.float16), np.ones((4, 3), bool), np.ones((3, 4)).T, np.ones((4, 3), '>f8')]"


def test_core_never_crashes_on_bad_arguments():
    """Every kernel, every argument replaced by junk: a Python exception or success, never a crash.

    Runs in a subprocess so that a segfault fails this test instead of killing the run.
    """
    script = textwrap.dedent(f"""
        import numpy as np
        from denso import _core
        A = _core.Activation
        good = {{
            "dense_forward": [np.ones((4, 3)), np.ones((3, 2)), np.ones(2), np.empty((4, 2)), A.softmax, 0.1],
            "activation_forward": [np.ones((4, 3)), np.empty((4, 3)), A.sigmoid, 0.1],
            "activation_backward": [np.ones((4, 3)), np.ones((4, 3)), A.softmax, 0.1],
            "dense_backward_params": [np.ones((4, 3)), np.ones((4, 2)), np.empty((3, 2)), np.empty(2), True],
            "dense_backward_input": [np.ones((4, 2)), np.ones((3, 2)), np.empty((4, 3)), False],
            "mse_loss": [np.ones((4, 3)), np.ones((4, 3)), np.empty((4, 3))],
            "bce_logits_loss": [np.ones((4, 3)), np.ones((4, 3)), np.empty((4, 3))],
            "softmax_xent_loss": [np.ones((4, 3)), np.ones((4, 3)), np.empty((4, 3))],
            "softmax_xent_labels_loss": [np.ones((4, 3)), np.zeros(4, np.int64), np.empty((4, 3))],
        }}
        calls, accepted = 0, set()
        for name, args in good.items():
            getattr(_core, name)(*args)  # the baseline is valid
            for i in range(len(args)):
                for bad in {BAD_VALUES}:
                    trial = list(args)
                    trial[i] = bad
                    calls += 1
                    try:
                        getattr(_core, name)(*trial)
                        accepted.add((name, i))
                    except (TypeError, ValueError):
                        pass
        print(calls, sorted(accepted))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.stderr[-2000:]}"
    calls, accepted = result.stdout.strip().splitlines()[-1].split(" ", 1)  # last line: an editable build may talk
    assert int(calls) == 35 * 13  # 35 arguments over the 9 kernels, 13 junk values each
    # only optional arrays (None) and the scalar alpha/accumulate (numbers) may take any of the junk
    assert ast.literal_eval(accepted) == [
        ("activation_backward", 3), ("activation_forward", 3), ("bce_logits_loss", 2),
        ("dense_backward_input", 3), ("dense_backward_params", 3), ("dense_backward_params", 4),
        ("dense_forward", 2), ("dense_forward", 5), ("mse_loss", 2), ("softmax_xent_labels_loss", 2),
        ("softmax_xent_loss", 2)]
