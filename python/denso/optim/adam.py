"""Adam (optionally AMSGrad) and AdamW (torch.optim.Adam / torch.optim.AdamW)."""
from __future__ import annotations

from .._checks import require_number
from .optimizer import Optimizer, resolve_lr


def _check_betas(betas) -> tuple:
    """`betas` as a pair of floats, each in [0, 1)."""
    try:
        pair = tuple(betas)
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise ValueError(f"`betas` must be a pair (beta1, beta2), got {betas!r}")
    return tuple(require_number(b, f"betas[{i}]", low=0.0, high=1.0, high_open=True) for i, b in enumerate(pair))


class Adam(Optimizer):
    """Adam, with PyTorch's update rule (t counts this parameter's steps from 1)::

        g ← grad + weight_decay·θ                    (coupled L2, if weight_decay ≠ 0)
        m ← β1·m + (1 − β1)·g
        v ← β2·v + (1 − β2)·g²
        v̂max ← max(v̂max, v) and use it for v below   (amsgrad)
        θ ← θ − lr·m̂ / (sqrt(v̂) + eps),  m̂ = m/(1 − β1^t),  v̂ = v/(1 − β2^t)

    eps is added after the bias correction, exactly as torch computes it.

    Args:
        params: iterable of parameters (``.data``/``.grad``), or None to :meth:`bind` later.
        lr: learning rate, >= 0 (default 1e-3); or `learning_rate`, Keras's name for it.
        betas: (beta1, beta2), each in [0, 1): decay rates of the first and second moments.
        eps: added to the denominator, >= 0.
        weight_decay: L2 penalty added to the gradient, >= 0 (see :class:`AdamW` for decoupled decay).
        amsgrad: keep the running maximum of v (AMSGrad).
        epsilon_hat: add eps to sqrt(v) before the bias correction, θ ← θ − lr·sqrt(1 − β2^t)/(1 − β1^t)
            · m/(sqrt(v) + eps) (Keras's and scikit-learn's form), instead of to sqrt(v̂) (PyTorch's).

    Example:
        >>> opt = Adam(model.parameters(), lr=1e-3, amsgrad=True)
    """

    name = "adam"
    kind = "adam"
    decoupled_weight_decay = False

    def __init__(self, params=None, lr=None, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, epsilon_hat: bool = False, learning_rate=None):
        self.betas = _check_betas(betas)
        self.eps = require_number(eps, "eps", low=0.0)
        self.weight_decay = require_number(weight_decay, "weight_decay", low=0.0)
        self.amsgrad = bool(amsgrad)
        self.epsilon_hat = bool(epsilon_hat)
        super().__init__(params, resolve_lr(lr, learning_rate, 1e-3))

    def config(self) -> dict:
        return {"name": self.name, "lr": self.lr, "betas": list(self.betas), "eps": self.eps,
                "weight_decay": self.weight_decay, "amsgrad": self.amsgrad, "epsilon_hat": self.epsilon_hat}

    def _native_fields(self) -> dict:
        return {"beta1": self.betas[0], "beta2": self.betas[1], "eps": self.eps, "weight_decay": self.weight_decay,
                "amsgrad": self.amsgrad, "decoupled_weight_decay": self.decoupled_weight_decay,
                "epsilon_hat": self.epsilon_hat}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's rule::

        θ ← θ·(1 − lr·weight_decay)                  (before the Adam step; not added to the gradient)
        then the Adam update of :class:`Adam` with weight_decay = 0.

    Args:
        params: iterable of parameters (``.data``/``.grad``), or None to :meth:`bind` later.
        lr: learning rate, >= 0 (default 1e-3); or `learning_rate`, Keras's name for it.
        betas: (beta1, beta2), each in [0, 1).
        eps: added to the denominator, >= 0.
        weight_decay: decoupled decay rate, >= 0 (default 1e-2, as in torch).
        amsgrad: keep the running maximum of v (AMSGrad).
        epsilon_hat: add eps to sqrt(v) before the bias correction, θ ← θ − lr·sqrt(1 − β2^t)/(1 − β1^t)
            · m/(sqrt(v) + eps) (Keras's and scikit-learn's form), instead of to sqrt(v̂) (PyTorch's).

    Example:
        >>> opt = AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    """

    name = "adamw"
    decoupled_weight_decay = True

    def __init__(self, params=None, lr=None, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, epsilon_hat: bool = False, learning_rate=None):
        super().__init__(params, resolve_lr(lr, learning_rate, 1e-3), betas, eps, weight_decay, amsgrad,
                         epsilon_hat=epsilon_hat)
