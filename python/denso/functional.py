"""Ops whose forward and backward run in the C++ kernels: activations, the fused dense layer, losses.

Activations keep their output A and recover each derivative from it (relu: A > 0, sigmoid: A(1 − A),
tanh: 1 − A², elu: A + α below 0, softplus: 1 − e^−A, softmax: the Jacobian-vector product
A ⊙ (g − ⟨g, A⟩)); gelu and swish are not monotone, so their nodes also keep the input Z
(`_core.needs_preactivation`).
Losses take logits and are batch means; their gradient comes fused from the kernel.
"""
from __future__ import annotations

import numpy as np

from . import _core
from ._checks import (as_float_array, as_labels, require_finite, require_ndim, require_number,
                      require_probability_rows, shape_str)
from .autograd import Tensor, attach
from .ops import as_tensor, transpose

ACTIVATIONS = {
    "identity": _core.Activation.identity,
    "linear": _core.Activation.identity,
    "relu": _core.Activation.relu,
    "leaky_relu": _core.Activation.leaky_relu,
    "sigmoid": _core.Activation.sigmoid,
    "tanh": _core.Activation.tanh,
    "softmax": _core.Activation.softmax,
    "step": _core.Activation.step,
    "gelu": _core.Activation.gelu,
    "elu": _core.Activation.elu,
    "selu": _core.Activation.selu,
    "softplus": _core.Activation.softplus,
    "swish": _core.Activation.swish,
    "silu": _core.Activation.swish,
}

# `alpha` when none is given: leaky_relu's negative slope, elu's α (Keras's and PyTorch's defaults).
DEFAULT_ALPHA = {_core.Activation.elu: 1.0}


def default_alpha(activation) -> float:
    """The `alpha` an activation runs with when none is given (0.01: leaky_relu's slope; elu: 1.0)."""
    return DEFAULT_ALPHA.get(get_activation(activation), 0.01)


def _alpha(activation, alpha) -> float:
    """`alpha` checked (>= 0), or the activation's default for None."""
    return default_alpha(activation) if alpha is None else require_number(alpha, "alpha", low=0.0)


def get_activation(name) -> "_core.Activation":
    """Resolve an activation name (None means identity); unknown names list the valid ones."""
    if name is None:
        return _core.Activation.identity
    if isinstance(name, _core.Activation):
        return name
    if isinstance(name, str) and name.lower() in ACTIVATIONS:
        return ACTIVATIONS[name.lower()]
    raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")


def _rows(data: np.ndarray) -> np.ndarray:
    """A C-contiguous 2-D (rows, last axis) view of `data` for the row-wise kernels."""
    rows = int(np.prod(data.shape[:-1]))  # not -1: numpy cannot infer it when the last axis is empty
    return np.ascontiguousarray(data).reshape(rows, data.shape[-1] if data.ndim else 1)


def _activation(x, act, alpha: float, name: str) -> Tensor:
    """Apply a kernel activation along the last axis (elementwise ones do not care)."""
    x = as_tensor(x, name="x")
    z = _rows(x.data)
    out = np.empty_like(z)
    _core.activation_forward(z, out, act, alpha)
    pre = z if _core.needs_preactivation(act) else None

    def backward(g):
        grad = np.array(_rows(g), copy=True)
        _core.activation_backward(out, grad, act, alpha, pre)
        return (grad.reshape(x.shape),)

    return Tensor._from_op(out.reshape(x.shape), (x,), backward, name)


def relu(x) -> Tensor:
    """max(x, 0); the derivative at exactly 0 is taken as 0."""
    return _activation(x, _core.Activation.relu, 0.0, "relu")


def leaky_relu(x, alpha: float = 0.01) -> Tensor:
    """x for x > 0, alpha·x otherwise (alpha >= 0 so the sign of the output identifies the branch)."""
    alpha = require_number(alpha, "alpha", low=0.0)
    return _activation(x, _core.Activation.leaky_relu, alpha, "leaky_relu")


def sigmoid(x) -> Tensor:
    """1 / (1 + exp(−x)), saturating to exactly 0 or 1 without overflow warnings."""
    return _activation(x, _core.Activation.sigmoid, 0.0, "sigmoid")


def tanh(x) -> Tensor:
    return _activation(x, _core.Activation.tanh, 0.0, "tanh")


def step(x) -> Tensor:
    """Heaviside step (1 where x > 0). Its derivative is zero almost everywhere, so gradients
    through it are zero: a step network cannot be trained by backpropagation."""
    return _activation(x, _core.Activation.step, 0.0, "step")


def gelu(x) -> Tensor:
    """x·Φ(x) = ½x(1 + erf(x/√2)), the exact form (PyTorch's approximate='none', Keras's approximate=False)."""
    return _activation(x, _core.Activation.gelu, 0.0, "gelu")


def elu(x, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha·(exp(x) − 1) otherwise (alpha >= 0); the derivative at 0 is alpha, as PyTorch's."""
    alpha = require_number(alpha, "alpha", low=0.0)
    return _activation(x, _core.Activation.elu, alpha, "elu")


def selu(x) -> Tensor:
    """λ·elu(x, α) with α = 1.6732632423543772, λ = 1.0507009873554805 (self-normalising)."""
    return _activation(x, _core.Activation.selu, 0.0, "selu")


def softplus(x) -> Tensor:
    """log(1 + exp(x)), computed as max(x, 0) + log1p(exp(−|x|)): no overflow for large x."""
    return _activation(x, _core.Activation.softplus, 0.0, "softplus")


def swish(x) -> Tensor:
    """x·sigmoid(x) (also called silu)."""
    return _activation(x, _core.Activation.swish, 0.0, "swish")


silu = swish


def _check_axis(axis, ndim: int) -> int:
    """`axis` as a non-negative axis of an ndim-dimensional tensor (negative counts from the end)."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"`axis` must be an integer, got {type(axis).__name__} {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"`axis` must be in [{-ndim}, {ndim - 1}] for a tensor with {ndim} dimensions, got {axis}")
    return int(axis) % ndim


def softmax(x, axis: int = -1) -> Tensor:
    """exp(x) / Σ exp(x) along `axis`, shifted by the max for stability."""
    x = as_tensor(x, name="x")
    if x.ndim == 0:
        raise ValueError("softmax needs a tensor with at least one dimension")
    axis = _check_axis(axis, x.ndim)
    if axis == x.ndim - 1:
        return _activation(x, _core.Activation.softmax, 0.0, "softmax")
    perm = list(range(x.ndim))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    return transpose(softmax(transpose(x, perm), -1), perm)


def log_softmax(x, axis: int = -1) -> Tensor:
    """x − logsumexp(x) along `axis`; d/dx: g − softmax(x) · Σ g."""
    x = as_tensor(x, name="x")
    if x.ndim == 0:
        raise ValueError("log_softmax needs a tensor with at least one dimension")
    axis = _check_axis(axis, x.ndim)
    shifted = x.data - x.data.max(axis=axis, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(g):
        return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)

    return Tensor._from_op(out, (x,), backward, "log_softmax")


def _common_dtype(*tensors: Tensor) -> np.dtype:
    return np.result_type(*(t.dtype for t in tensors if t is not None))


def _kernel_array(t: Tensor, dtype) -> np.ndarray:
    """A C-contiguous array of `dtype` for a kernel (copies only if needed)."""
    return np.ascontiguousarray(t.data, dtype=dtype)


def _dense_operands(x, weight, bias) -> tuple:
    """(x, weight, bias) as Tensors, checked: x (batch, in), weight (in, out), bias (out,) or None."""
    x, weight = as_tensor(x, name="x"), as_tensor(weight, name="weight")
    bias = None if bias is None else as_tensor(bias, name="bias")
    require_ndim(x.data, "x", 2, "batch × features")
    require_ndim(weight.data, "weight", 2, "in × out")
    if weight.shape[0] != x.shape[1]:
        raise ValueError(f"`weight` must have {x.shape[1]} rows to match `x` of shape {shape_str(x.shape)}, "
                         f"got shape {shape_str(weight.shape)}")
    if bias is not None and bias.shape != (weight.shape[1],):
        raise ValueError(f"`bias` must have shape ({weight.shape[1]},) to match `weight`, got {shape_str(bias.shape)}")
    return x, weight, bias


def dense(x, weight, bias=None, activation=None, alpha=None) -> Tensor:
    """One fused graph node: g(x @ weight + bias), forward and backward in C++.

    Args:
        x: (batch, in) input.
        weight: (in, out) weight matrix (samples are rows, so W is in × out, not PyTorch's out × in).
        bias: (out,) bias or None.
        activation: a name of `ACTIVATIONS` ("identity"/None, "relu", "leaky_relu", "sigmoid", "tanh",
            "softmax", "step", "gelu", "elu", "selu", "softplus", "swish"/"silu").
        alpha: leaky_relu's negative slope or elu's α (>= 0; None: 0.01 for leaky_relu, 1.0 for elu).

    Shape: (batch, in) → (batch, out).

    Example:
        >>> W = Tensor(np.ones((3, 2)), requires_grad=True)
        >>> dense(np.ones((4, 3)), W, activation="relu").shape
        (4, 2)
    """
    act = get_activation(activation)
    alpha = _alpha(act, alpha)
    x, weight, bias = _dense_operands(x, weight, bias)
    dtype = _common_dtype(x, weight, bias)
    X, W = _kernel_array(x, dtype), _kernel_array(weight, dtype)
    b = None if bias is None else _kernel_array(bias, dtype)
    out = np.empty((X.shape[0], W.shape[1]), dtype=dtype)
    pre = np.empty_like(out) if _core.needs_preactivation(act) else None   # Z, for gelu's and swish's g'
    _core.dense_forward(X, W, b, out, act, alpha, pre)

    def backward(g):
        grad = np.array(g, dtype=dtype, order="C", copy=True)   # G = dA ⊙ g'(Z), formed in place
        _core.activation_backward(out, grad, act, alpha, pre)
        dW = np.empty_like(W) if weight.requires_grad else None
        db = np.empty(W.shape[1], dtype=dtype) if bias is not None and bias.requires_grad else None
        if dW is not None or db is not None:
            _core.dense_backward_params(X, grad, dW if dW is not None else np.empty_like(W), db)
        dX = None
        if x.requires_grad:
            dX = np.empty_like(X)
            _core.dense_backward_input(grad, W, dX)
        return (dX, dW, db) if bias is not None else (dX, dW)

    parents = (x, weight, bias) if bias is not None else (x, weight)
    label = "dense" if act == _core.Activation.identity else f"dense({act.name})"  # one node in drawings
    return Tensor._from_op(out, parents, backward, "dense", label)


def _loss_node(value: float, dtype, grad: np.ndarray, parent: Tensor, name: str) -> Tensor:
    """A scalar loss node whose gradient w.r.t. `parent` is the kernel's `grad` times upstream."""
    return Tensor._from_op(np.asarray(value, dtype=dtype), (parent,),
                           lambda g: (grad.reshape(parent.shape) * g,), name)


def _prediction_and_target(pred, target, pred_name: str) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """Prediction as 2-D kernel array and a finite target of the same shape and dtype."""
    pred = as_tensor(pred, name=pred_name)
    if pred.ndim not in (1, 2):
        raise ValueError(f"`{pred_name}` must be 1-D or 2-D (batch × outputs), got shape {shape_str(pred.shape)}")
    t = target.data if isinstance(target, Tensor) else target
    y = as_float_array(t, "target", pred.dtype)
    if y.shape != pred.shape:
        raise ValueError(f"`target` must have shape {shape_str(pred.shape)} like `{pred_name}`, "
                         f"got {shape_str(y.shape)}")
    if pred.size == 0:
        raise ValueError(f"`{pred_name}` must hold at least one sample and one output, got shape "
                         f"{shape_str(pred.shape)}")
    require_finite(y, "target")
    rows = pred.shape[0]
    return pred, _kernel_array(pred, pred.dtype).reshape(rows, -1), y.reshape(rows, -1)


def _row_weights(weights, dtype):
    """Per-row loss weights (sample_weight) as a C-contiguous 1-D array of the kernel's dtype, or None;
    the kernel checks their count and that they are finite and >= 0."""
    if weights is None:
        return None
    w = np.ascontiguousarray(as_float_array(weights, "weights", dtype))
    require_ndim(w, "weights", 1, "one weight per row")
    return w


def mse(pred, target, weights=None, total=None) -> Tensor:
    """Mean squared error over all elements (PyTorch's MSELoss): mean((pred − target)²); with per-row
    `weights`, the weighted mean Σ_r w_r·mean_j (pred − target)²_rj / Σ_r w_r. Every loss takes
    `total`: a number that replaces Σ_r w_r (the rows, without weights) as the divisor — these rows
    are a shard of a larger batch whose total that is.

    Shape: pred and target both (batch,) or (batch, outputs).
    """
    pred, P, Y = _prediction_and_target(pred, target, "pred")
    grad = np.empty_like(P) if pred.requires_grad else None
    value = _core.mse_loss(P, Y, grad, _row_weights(weights, P.dtype), total)
    return _loss_node(value, P.dtype, grad, pred, "mse")


def mae(pred, target, weights=None, total=None) -> Tensor:
    """Mean absolute error over all elements (PyTorch's L1Loss): mean(|pred − target|), weighted per row
    by `weights` as mse. The subgradient at pred == target is 0, as PyTorch's.

    Shape: pred and target both (batch,) or (batch, outputs).
    """
    pred, P, Y = _prediction_and_target(pred, target, "pred")
    grad = np.empty_like(P) if pred.requires_grad else None
    value = _core.mae_loss(P, Y, grad, _row_weights(weights, P.dtype), total)
    return _loss_node(value, P.dtype, grad, pred, "mae")


def huber(pred, target, weights=None, delta: float = 1.0, total=None) -> Tensor:
    """Huber loss (PyTorch's HuberLoss(delta), Keras's Huber(delta)), mean over all elements: with
    d = pred − target, d²/2 where |d| <= delta and delta·(|d| − delta/2) beyond; weighted per row by
    `weights` as mse.

    Shape: pred and target both (batch,) or (batch, outputs).
    """
    delta = require_number(delta, "delta", low=0.0, low_open=True)
    pred, P, Y = _prediction_and_target(pred, target, "pred")
    grad = np.empty_like(P) if pred.requires_grad else None
    value = _core.huber_loss(P, Y, grad, _row_weights(weights, P.dtype), delta, total)
    return _loss_node(value, P.dtype, grad, pred, "huber")


def binary_crossentropy(logits, target, weights=None, total=None) -> Tensor:
    """Binary cross-entropy computed from logits (the sigmoid is fused and stable), mean over all elements
    (weighted per row by `weights`, as mse).

    Shape: logits and target both (batch,) or (batch, outputs); targets in [0, 1].
    """
    logits, Z, Y = _prediction_and_target(logits, target, "logits")
    if Y.size and (Y.min() < 0 or Y.max() > 1):
        raise ValueError(f"`target` of binary_crossentropy must lie in [0, 1], got values in [{Y.min()}, {Y.max()}]")
    grad = np.empty_like(Z) if logits.requires_grad else None
    value = _core.bce_logits_loss(Z, Y, grad, _row_weights(weights, Z.dtype), total)
    return _loss_node(value, Z.dtype, grad, logits, "binary_crossentropy")


def categorical_crossentropy(logits, target, weights=None, total=None) -> Tensor:
    """Softmax cross-entropy computed from logits (log-sum-exp stable), mean over the batch.

    Args:
        logits: (batch, classes) unnormalised scores.
        target: (batch,) integer class labels in [0, classes), or (batch, classes) one-hot /
            probability rows.
        weights: optional (batch,) row weights >= 0: the mean becomes Σ w·loss / Σ w.
        total: optional divisor replacing Σ w (or the rows): a shard of a batch with that total.
    """
    logits = as_tensor(logits, name="logits")
    require_ndim(logits.data, "logits", 2, "batch × classes")
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if np.ndim(t) == 1:
        if logits.shape[0] == 0:
            raise ValueError("`logits` must hold at least one sample, got shape (0, ...)")
        labels = as_labels(t, "target", logits.shape[1], logits.shape[0])
        Z = _kernel_array(logits, logits.dtype)
        grad = np.empty_like(Z) if logits.requires_grad else None
        value = _core.softmax_xent_labels_loss(Z, labels, grad, _row_weights(weights, Z.dtype), total)
    else:
        logits, Z, Y = _prediction_and_target(logits, t, "logits")
        require_probability_rows(Y, "target")
        grad = np.empty_like(Z) if logits.requires_grad else None
        value = _core.softmax_xent_loss(Z, Y, grad, _row_weights(weights, Z.dtype), total)
    return _loss_node(value, Z.dtype, grad, logits, "categorical_crossentropy")


attach(relu=relu, leaky_relu=leaky_relu, sigmoid=sigmoid, tanh=tanh, softmax=softmax, log_softmax=log_softmax,
       gelu=gelu, elu=elu, selu=selu, softplus=softplus, swish=swish, silu=silu)
