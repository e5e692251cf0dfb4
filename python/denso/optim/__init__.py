"""Optimizers (state and updates in C++) with PyTorch's update rules, and learning-rate schedules.

PyTorch style::

    opt = denso.optim.Adam(model.parameters(), lr=1e-3)
    loss.backward(); opt.step(); opt.zero_grad()

Keras style (the model binds its parameters later)::

    opt = denso.optim.get("adam", lr=1e-3)
    opt.bind(params)
"""
from __future__ import annotations

from . import schedules
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "get", "from_config", "schedules"]

_REGISTRY = {cls.name: cls for cls in (SGD, RMSprop, Adam, AdamW)}


def from_config(config: dict) -> Optimizer:
    """Rebuild an optimizer (without parameters) from ``opt.config()``."""
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError(f"`config` must be a dict with a 'name' key as returned by Optimizer.config(), "
                         f"got {config!r}")
    kwargs = {k: v for k, v in config.items() if k != "name"}
    return get(config["name"], **kwargs)


def get(identifier, **kwargs) -> Optimizer:
    """Resolve an optimizer: a name ("sgd", "rmsprop", "adam", "adamw"; any case) built with `kwargs`,
    a config dict (see :func:`from_config`), or an Optimizer instance returned as is.

    Example:
        >>> denso.optim.get("Adam", lr=1e-2)
        Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False)
    """
    if isinstance(identifier, Optimizer):
        if kwargs:
            raise TypeError(f"get() received an Optimizer instance and keyword arguments {sorted(kwargs)}; "
                            f"pass a name to build a new optimizer")
        return identifier
    if isinstance(identifier, dict):
        if kwargs:
            raise TypeError("get() received a config dict and keyword arguments; put them in the dict")
        return from_config(identifier)
    if isinstance(identifier, str):
        cls = _REGISTRY.get(identifier.strip().lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}; valid names are "
                             f"{', '.join(repr(n) for n in _REGISTRY)}")
        return cls(**kwargs)
    raise TypeError(f"`identifier` must be an optimizer name, a config dict or an Optimizer, "
                    f"got {type(identifier).__name__}")
