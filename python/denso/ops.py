"""Array ops on Tensors, computed with numpy: arithmetic, reductions, shape changes and indexing.

Each op computes its output and returns Tensor._from_op(out, parents, backward), where
backward(g) returns one gradient per parent (None where no gradient flows). Broadcast axes are
summed away by the engine (autograd.unbroadcast), so closures may return broadcast-shaped gradients.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import as_float_array, shape_str
from .autograd import Tensor, attach


def as_tensor(x, like: Tensor | None = None, name: str = "operand") -> Tensor:
    """Tensors pass through; numbers and int arrays take `like`'s dtype; float arrays keep theirs."""
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    plain_number = isinstance(x, numbers.Real)  # Python and numpy scalars, like torch's "wrapped numbers"
    dtype = like.dtype if like is not None and (plain_number or arr.dtype.kind in "iub") else None
    return Tensor(as_float_array(arr, name, dtype))


def _binary(a, b) -> tuple[Tensor, Tensor]:
    """Both operands as Tensors; a plain number adopts the other operand's dtype."""
    if isinstance(a, Tensor):
        return a, as_tensor(b, a)
    b = as_tensor(b)
    return as_tensor(a, b), b


def add(a, b) -> Tensor:
    a, b = _binary(a, b)
    return Tensor._from_op(a.data + b.data, (a, b), lambda g: (g, g), "add")


def sub(a, b) -> Tensor:
    a, b = _binary(a, b)
    return Tensor._from_op(a.data - b.data, (a, b), lambda g: (g, -g), "sub")


def mul(a, b) -> Tensor:
    a, b = _binary(a, b)
    return Tensor._from_op(a.data * b.data, (a, b), lambda g: (g * b.data, g * a.data), "mul")


def div(a, b) -> Tensor:
    a, b = _binary(a, b)
    out = a.data / b.data
    return Tensor._from_op(out, (a, b), lambda g: (g / b.data, -g * out / b.data), "div")


def neg(a: Tensor) -> Tensor:
    return Tensor._from_op(-a.data, (a,), lambda g: (-g,), "neg")


def power(a: Tensor, exponent) -> Tensor:
    """a ** p for a scalar exponent p; d/da = p · a^(p−1)."""
    if isinstance(exponent, Tensor) or not isinstance(exponent, numbers.Real) or isinstance(exponent, bool):
        raise TypeError(f"`exponent` must be a real number (tensor exponents are not supported), got {exponent!r}")
    p = a.dtype.type(exponent)
    if p == 0:  # a ** 0 is constant; p · a^(p−1) would be 0 · inf = nan at a = 0
        return Tensor._from_op(np.ones_like(a.data), (a,), lambda g: (np.zeros_like(a.data),), "pow", "**0")
    return Tensor._from_op(a.data ** p, (a,), lambda g: (g * p * a.data ** (p - 1),), "pow", f"**{exponent:g}")


def exp(a: Tensor) -> Tensor:
    out = np.exp(a.data)
    return Tensor._from_op(out, (a,), lambda g: (g * out,), "exp")


def log(a: Tensor) -> Tensor:
    return Tensor._from_op(np.log(a.data), (a,), lambda g: (g / a.data,), "log")


def matmul(a, b) -> Tensor:
    """Matrix product with numpy's rules (1-D operands, batched stacks); dA = G·Bᵀ, dB = Aᵀ·G."""
    a, b = _binary(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul needs operands with at least one dimension; use * for scalars")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul shape mismatch: `a` of shape {shape_str(a.shape)} and `b` of shape "
                         f"{shape_str(b.shape)} (a's last axis must equal b's first matrix axis)")

    def backward(g):
        A = a.data[None, :] if a.ndim == 1 else a.data      # (…, m, k)
        B = b.data[:, None] if b.ndim == 1 else b.data      # (…, k, n)
        G = g                                               # b's axis first: 1-D @ 1-D has a 0-d g
        if b.ndim == 1:
            G = np.expand_dims(G, -1)
        if a.ndim == 1:
            G = np.expand_dims(G, -2)
        dA = G @ np.swapaxes(B, -1, -2)
        dB = np.swapaxes(A, -1, -2) @ G
        dA = dA[..., 0, :] if a.ndim == 1 else dA
        dB = dB[..., :, 0] if b.ndim == 1 else dB
        return _sum_to_ndim(dA, a.ndim), _sum_to_ndim(dB, b.ndim)

    return Tensor._from_op(a.data @ b.data, (a, b), backward, "matmul")


def _sum_to_ndim(grad: np.ndarray, ndim: int) -> np.ndarray:
    """Sum away leading batch axes a 1-D/2-D operand was broadcast over."""
    return grad.sum(axis=tuple(range(grad.ndim - ndim))) if grad.ndim > ndim else grad


def _normalize_axis(axis, ndim: int):
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    for ax in axes:
        if not -ndim <= ax < max(ndim, 1):
            raise ValueError(f"`axis` {ax} is out of range for a tensor with {ndim} dimensions")
    return tuple(ax % max(ndim, 1) for ax in axes)


def sum(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 (mirrors numpy)
    axes = _normalize_axis(axis, a.ndim)
    out = a.data.sum(axis=axes, keepdims=keepdims)

    def backward(g):
        if not keepdims and axes is not None:
            g = np.expand_dims(g, axes)
        return (np.broadcast_to(g, a.shape),)

    return Tensor._from_op(np.asarray(out), (a,), backward, "sum")


def mean(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    axes = _normalize_axis(axis, a.ndim)
    count = a.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
    if count == 0:
        raise ValueError(f"mean over an empty axis of a tensor of shape {shape_str(a.shape)}")
    return mul(sum(a, axis, keepdims), a.dtype.type(1.0 / count))


def reshape(a: Tensor, shape) -> Tensor:
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    try:
        out = a.data.reshape(shape)
    except ValueError:
        raise ValueError(f"cannot reshape a tensor of shape {shape_str(a.shape)} ({a.size} elements) "
                         f"into shape {shape}") from None
    return Tensor._from_op(out, (a,), lambda g: (g.reshape(a.shape),), "reshape")


def transpose(a: Tensor, axes=None) -> Tensor:
    if axes is not None:
        if sorted(ax % a.ndim if -a.ndim <= ax < a.ndim else ax for ax in axes) != list(range(a.ndim)):
            raise ValueError(f"`axes` must be a permutation of range({a.ndim}), got {tuple(axes)}")
        axes = tuple(ax % a.ndim for ax in axes)  # negative axes count from the end, as in numpy
    inverse = None if axes is None else tuple(np.argsort(axes))
    return Tensor._from_op(a.data.transpose(axes), (a,), lambda g: (g.transpose(inverse),), "transpose")


def getitem(a: Tensor, index) -> Tensor:
    """Basic and integer-array indexing; the gradient is scattered back (repeats add up)."""
    if isinstance(index, Tensor):  # its values are floats: take them as positions only if whole
        values = index.data
        if not np.array_equal(values, np.round(values)):
            bad = values[values != np.round(values)].flat[0]
            raise IndexError(f"a Tensor used as an index must hold whole numbers, got {bad}")
        index = values.astype(np.int64)
    out = a.data[index]

    def backward(g):
        grad = np.zeros_like(a.data)
        np.add.at(grad, index, g)
        return (grad,)

    return Tensor._from_op(np.array(out), (a,), backward, "getitem")  # a copy, never a view of `a`


def _reflected(op):
    """`op` with its operands swapped, for Python's reflected operators (2 + x calls x.__radd__(2))."""
    def method(self, other):
        return op(other, self)
    method.__name__ = f"r{op.__name__}"
    return method


def _reshape_method(self, *shape):
    """x.reshape(2, 3) or x.reshape((2, 3)), as numpy accepts both."""
    return reshape(self, shape[0] if len(shape) == 1 else shape)


def _transpose_method(self, *axes):
    """x.transpose() reverses the axes; x.transpose(1, 0) or x.transpose((1, 0)) permutes them."""
    return transpose(self, axes[0] if len(axes) == 1 else (axes or None))


attach(
    __add__=add, __radd__=_reflected(add), __sub__=sub, __rsub__=_reflected(sub),
    __mul__=mul, __rmul__=_reflected(mul), __truediv__=div, __rtruediv__=_reflected(div),
    __pow__=power, __neg__=neg, __matmul__=matmul, __rmatmul__=_reflected(matmul), __getitem__=getitem,
    sum=sum, mean=mean, exp=exp, log=log, reshape=_reshape_method, transpose=_transpose_method,
    T=property(lambda self: transpose(self, None)),
)
