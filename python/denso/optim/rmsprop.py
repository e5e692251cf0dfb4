"""RMSprop, optionally centered and with momentum (torch.optim.RMSprop)."""
from __future__ import annotations

from .._checks import require_number
from .optimizer import Optimizer, resolve_lr


class RMSprop(Optimizer):
    """RMSprop, with PyTorch's update rule::

        g ← grad + weight_decay·θ                    (coupled L2, if weight_decay ≠ 0)
        v ← alpha·v + (1 − alpha)·g²
        ḡ ← alpha·ḡ + (1 − alpha)·g;  d ← sqrt(v − ḡ²) + eps      (centered)
        d ← sqrt(v) + eps                                          (otherwise)
        b ← momentum·b + g/d;  θ ← θ − lr·b                       (if momentum > 0)
        θ ← θ − lr·g/d                                             (otherwise)

    Args:
        params: iterable of parameters (``.data``/``.grad``), or None to :meth:`bind` later.
        lr: learning rate, >= 0 (default 1e-2); or `learning_rate`, Keras's name for it.
        alpha: smoothing constant of the squared-gradient average, >= 0.
        eps: added to the denominator, >= 0.
        momentum: momentum factor, >= 0.
        centered: normalise by the estimated variance of the gradient instead of its second moment.
        weight_decay: L2 penalty added to the gradient, >= 0.

    Example:
        >>> opt = RMSprop(model.parameters(), lr=1e-3, centered=True)
    """

    name = "rmsprop"
    kind = "rmsprop"

    def __init__(self, params=None, lr=None, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0.0, centered: bool = False, weight_decay: float = 0.0, *, learning_rate=None):
        self.alpha = require_number(alpha, "alpha", low=0.0)
        self.eps = require_number(eps, "eps", low=0.0)
        self.momentum = require_number(momentum, "momentum", low=0.0)
        self.centered = bool(centered)
        self.weight_decay = require_number(weight_decay, "weight_decay", low=0.0)
        super().__init__(params, resolve_lr(lr, learning_rate, 1e-2))

    def config(self) -> dict:
        return {"name": self.name, "lr": self.lr, "alpha": self.alpha, "eps": self.eps,
                "momentum": self.momentum, "centered": self.centered, "weight_decay": self.weight_decay}

    def _native_fields(self) -> dict:
        return {"alpha": self.alpha, "eps": self.eps, "momentum": self.momentum, "centered": self.centered,
                "weight_decay": self.weight_decay}
