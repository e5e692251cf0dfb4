"""The computational graph: Tensor, reverse-mode backward(), no_grad().

A Tensor wraps a numpy array. An op that makes a Tensor records its parents and a closure that
maps the output's gradient to one gradient per parent (local derivatives only). backward() visits
the graph once in reverse topological order and *sums* the contributions reaching each node, so a
value used twice (x * x) receives both.

This module is the leaf of the graph API and defines no op. ops.py and functional.py attach
Tensor's operators and methods (x + y, x @ w, x.sum(), x.relu(), ...) through attach() when they
are imported, which `import denso` does; so nothing here imports back up into them.
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

from ._checks import as_float_array, shape_str


class _GradMode(threading.local):
    """Whether ops record the graph, per thread (as PyTorch's grad mode): one thread's no_grad()
    leaves every other thread's graphs alone."""

    enabled = True


_grad_mode = _GradMode()


@contextlib.contextmanager
def no_grad():
    """Context (or decorator) in which ops of this thread record no graph: for inference and
    parameter updates. Other threads keep recording."""
    previous, _grad_mode.enabled = _grad_mode.enabled, False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def is_grad_enabled() -> bool:
    """Whether ops of the calling thread currently record the graph."""
    return _grad_mode.enabled


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` over the axes numpy broadcasting added or stretched to reach `shape`."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class Tensor:
    """An n-dimensional float32/float64 array that remembers how it was computed.

    Args:
        data: array-like; Python numbers, ints and bools become float64 unless `dtype` is given.
        requires_grad: whether backward() should compute `.grad` for this tensor.
        dtype: optional float32/float64 to convert to.
        name: optional label for drawings of the graph (`denso.viz`); it changes no computation.

    Operators (+ - * / ** @, indexing) and the methods sum, mean, exp, log, reshape, transpose
    and T come from ops.py; relu, leaky_relu, sigmoid, tanh, softmax, log_softmax from functional.py.

    Example:
        >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([2., 4., 6.])
    """

    __array_priority__ = 100.0  # numpy defers `ndarray + Tensor` to Tensor.__radd__
    # Defaults for tensors unpickled from before these attributes existed.
    name = None
    _label = ""
    _edge_grads = None

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = as_float_array(data, "data", dtype)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = _check_name(name)
        self._parents = ()
        self._backward = None
        self._op = ""

    @classmethod
    def _from_op(cls, data: np.ndarray, parents: tuple, backward, op: str, label: str = "") -> "Tensor":
        """Output of an op: records parents and closure only if some parent needs a gradient.

        `label` is what drawings call the node when it says more than `op` (a fused dense layer
        is one node "dense(relu)", not a matmul, an add and a relu)."""
        out = cls.__new__(cls)
        out.data, out.grad, out._op, out._label, out.name = data, None, op, label, None
        out.requires_grad = _grad_mode.enabled and any(p.requires_grad for p in parents)
        out._parents = parents if out.requires_grad else ()
        out._backward = backward if out.requires_grad else None
        return out

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    dtype = property(lambda self: self.data.dtype)
    is_leaf = property(lambda self: self._backward is None)

    @property
    def label(self) -> str:
        """What drawings call the op that made this tensor ("" for a leaf): e.g. "mul", "dense(relu)"."""
        return self._label or self._op

    @property
    def parents(self) -> tuple:
        """The tensors this one was computed from (empty for a leaf, or when nothing needed a gradient)."""
        return self._parents

    @property
    def edge_grads(self):
        """After backward(record_edges=True): the gradient this node sent to each of its parents, in the
        order of `parents` (None where none flowed); a parent used twice appears twice. Else None."""
        return self._edge_grads

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        op = f", op={self._op}" if self._op else ""
        name = f", name={self.name!r}" if self.name else ""
        return f"Tensor({np.array2string(self.data, separator=', ')}{grad}{op}{name})"

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {shape_str(self.shape)}")
        return float(self.data.reshape(()))

    def detach(self) -> "Tensor":
        """A tensor sharing this data with no history (gradients stop here)."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    def backward(self, grad=None, record_edges: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` that requires it.

        A one-element output seeds with 1; otherwise `grad` (same shape as self) is required.
        Leaf gradients add up across calls (call zero_grad() between steps); intermediate
        tensors get their gradient of this call in `.grad` for inspection. With `record_edges`,
        every op node also keeps the gradient it sent to each parent in `.edge_grads` (what
        drawings label the edges with: a value used twice receives, and sums, two of them).
        """
        if not self.requires_grad:
            raise ValueError("backward() needs a tensor that requires grad; none of its inputs had requires_grad=True")
        seed = _seed_gradient(self, grad)
        grads = {id(self): seed}
        for node in reversed(_topological_order(self)):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None:
                node.grad = g if node.grad is None else node.grad + g
                continue
            node.grad = g
            sent = [] if record_edges else None
            for parent, pg in zip(node._parents, node._backward(g)):
                if pg is not None and parent.requires_grad:
                    pg = _fit_gradient(pg, parent, node._op)
                    key = id(parent)
                    grads[key] = pg if key not in grads else grads[key] + pg
                else:
                    pg = None
                if sent is not None:
                    sent.append(pg)
            node._edge_grads = None if sent is None else tuple(sent)  # never stale from an earlier call

    __hash__ = object.__hash__  # tensors are graph nodes, hashed by identity


def _check_name(name):
    """A tensor's optional name: None or a string."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"`name` must be a string or None, got {type(name).__name__} {name!r}")
    return name


def attach(**methods) -> None:
    """Add operators and methods to Tensor: `attach(__add__=add)` makes `x + y` call add(x, y)."""
    for name, method in methods.items():
        setattr(Tensor, name, method)


def _seed_gradient(out: Tensor, grad) -> np.ndarray:
    """The upstream gradient that starts backward(): ones for a scalar, else the caller's."""
    if grad is None:
        if out.data.size != 1:
            raise ValueError(
                f"backward() on a non-scalar tensor of shape {shape_str(out.shape)} needs an explicit `grad` "
                "of the same shape")
        return np.ones_like(out.data)
    seed = as_float_array(grad.data if isinstance(grad, Tensor) else grad, "grad", out.dtype)
    if seed.shape != out.shape:
        raise ValueError(f"`grad` must have shape {shape_str(out.shape)} like the tensor, got {shape_str(seed.shape)}")
    return seed


def _fit_gradient(grad: np.ndarray, parent: Tensor, op: str) -> np.ndarray:
    """Reduce a parent's gradient over broadcast axes and check it now has the parent's shape."""
    grad = unbroadcast(np.asarray(grad), parent.shape)
    if grad.shape != parent.shape:
        raise RuntimeError(f"internal error: op {op!r} produced a gradient of shape {shape_str(grad.shape)} "
                           f"for an input of shape {shape_str(parent.shape)}")
    return grad.astype(parent.dtype, copy=False)


def _topological_order(root: Tensor) -> list:
    """Nodes that require grad, each after all of its parents (iterative: no recursion limit)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in node._parents if p.requires_grad and id(p) not in visited)
    return order

