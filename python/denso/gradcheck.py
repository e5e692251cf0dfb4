"""Gradient checking: autodiff against central finite differences, in float64."""
from __future__ import annotations

import numpy as np

from ._checks import require_number
from .autograd import Tensor, no_grad


def gradcheck(f, *tensors, eps: float = 1e-6, seed: int = 0) -> float:
    """Largest relative error between backward() and central differences over all inputs.

    `f(*tensors)` must return a Tensor. Every input is copied to float64 with requires_grad=True;
    a non-scalar output is reduced to Σ out ⊙ R with a fixed random R, so every output entry is
    checked. Each entry's error is |auto − numeric| / max(|auto|, |numeric|, 1e-4): relative for
    gradients of ordinary size, absolute near zero, where finite differences carry ~1e-10 of noise.

    Args:
        f: function of the tensors returning a Tensor.
        tensors: the inputs (Tensors or arrays); the originals are left untouched.
        eps: finite-difference step (float64).
        seed: seed of the random projection R.

    Example:
        >>> gradcheck(lambda x: (x * x).sum(), Tensor(np.random.rand(3))) < 1e-8
        True
    """
    eps = require_number(eps, "eps", low=0.0, low_open=True)
    if not tensors:
        raise ValueError("gradcheck needs at least one input tensor")
    inputs = [Tensor(np.array(t.data if isinstance(t, Tensor) else t, dtype=np.float64), requires_grad=True)
              for t in tensors]
    out = _checked_output(f(*inputs))
    weights = np.ones_like(out.data) if out.size == 1 else np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(weights)
    worst = 0.0
    for t in inputs:
        auto = np.zeros_like(t.data) if t.grad is None else t.grad
        numeric = _numeric_gradient(f, inputs, t, weights, eps)
        scale = np.maximum(np.maximum(np.abs(auto), np.abs(numeric)), 1e-4)
        worst = max(worst, float((np.abs(auto - numeric) / scale).max(initial=0.0)))
    return worst


def _checked_output(out) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck's `f` must return a Tensor, got {type(out).__name__}")
    return out


def _numeric_gradient(f, inputs, target: Tensor, weights: np.ndarray, eps: float) -> np.ndarray:
    """(J(x + eps·e_i) − J(x − eps·e_i)) / 2eps for every entry i of `target`, J = Σ f ⊙ weights."""
    grad = np.empty_like(target.data)
    flat, gflat = target.data.reshape(-1), grad.reshape(-1)
    with no_grad():
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = float((f(*inputs).data * weights).sum())
            flat[i] = original - eps
            minus = float((f(*inputs).data * weights).sum())
            flat[i] = original
            gflat[i] = (plus - minus) / (2 * eps)
    return grad
