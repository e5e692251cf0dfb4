"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (torch.optim.SGD)."""
from __future__ import annotations

from .._checks import require_number
from .optimizer import Optimizer, resolve_lr


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's update rule::

        g ← grad + weight_decay·θ                    (coupled L2, if weight_decay ≠ 0)
        b ← g at the first step, then b ← momentum·b + (1 − dampening)·g      (if momentum ≠ 0)
        g ← g + momentum·b (nesterov)  or  g ← b                               (if momentum ≠ 0)
        θ ← θ − lr·g

    The textbook moving-average momentum ``m = β·m + (1 − β)·g`` is ``SGD(momentum=β, dampening=β)``
    (except that, as in PyTorch, the first step takes ``m = g`` undampened).

    Args:
        params: iterable of parameters (``.data``/``.grad``), or None to :meth:`bind` later.
        lr: learning rate, >= 0 (default 1e-3); or `learning_rate`, Keras's name for it.
        momentum: momentum factor, >= 0.
        dampening: dampening of the momentum, >= 0.
        nesterov: Nesterov momentum; needs momentum > 0 and dampening = 0.
        weight_decay: L2 penalty added to the gradient, >= 0.

    Example:
        >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    """

    name = "sgd"
    kind = "sgd"

    def __init__(self, params=None, lr=None, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, *, learning_rate=None):
        self.momentum = require_number(momentum, "momentum", low=0.0)
        self.dampening = require_number(dampening, "dampening", low=0.0)
        self.nesterov = bool(nesterov)
        self.weight_decay = require_number(weight_decay, "weight_decay", low=0.0)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"`nesterov=True` requires `momentum` > 0 and `dampening` = 0, got "
                             f"momentum={self.momentum!r}, dampening={self.dampening!r}")
        super().__init__(params, resolve_lr(lr, learning_rate, 1e-3))

    def config(self) -> dict:
        return {"name": self.name, "lr": self.lr, "momentum": self.momentum, "dampening": self.dampening,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay}

    def _native_fields(self) -> dict:
        return {"momentum": self.momentum, "dampening": self.dampening, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}
