"""Learning-rate schedules: callables ``schedule(t) -> lr`` of a 0-based epoch (or step) index t.

Each schedule is a pure function of t with validated arguments and a JSON-serialisable config::

    sched = InverseTimeDecay(0.1, decay_rate=0.5)
    opt.lr = sched(epoch)
    same = denso.optim.schedules.from_config(sched.get_config())
"""
from __future__ import annotations

import math

from .._checks import require_number, require_positive_int

__all__ = ["Schedule", "InverseTimeDecay", "StepDecay", "ExponentialDecay", "CosineDecay", "get", "from_config"]


class Schedule:
    """Base class: ``schedule(t)`` checks t (a finite number >= 0) and returns ``self.lr_at(t)``."""

    name = ""
    fields = None  # the constructor's arguments, in order: what config() records

    def __call__(self, t) -> float:
        return float(self.lr_at(require_number(t, "t", low=0.0)))

    def lr_at(self, t: float) -> float:
        """The learning rate at a validated t."""
        raise NotImplementedError

    def config(self) -> dict:
        """Arguments as a JSON-serialisable dict, with the schedule's ``name``."""
        if self.fields is None:
            raise NotImplementedError(f"{type(self).__name__} must set `fields` or define config()")
        return {"name": self.name, **{key: getattr(self, key) for key in self.fields}}

    def get_config(self) -> dict:
        """Alias of :meth:`config` (the Keras name)."""
        return self.config()

    @classmethod
    def from_config(cls, config: dict) -> "Schedule":
        """Rebuild a schedule from its config (the ``name`` key, if present, must match)."""
        config = dict(config)
        name = config.pop("name", cls.name)
        if cls is Schedule:
            return from_config({"name": name, **config})
        if name != cls.name:
            raise ValueError(f"config is for schedule {name!r}, not {cls.name!r}")
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.config() == self.config()

    __hash__ = None


class InverseTimeDecay(Schedule):
    """lr = lr0 / (1 + decay_rate·t).

    Args:
        lr0: initial learning rate, >= 0.
        decay_rate: decay per unit of t, >= 0.

    Example:
        >>> InverseTimeDecay(0.1, decay_rate=1.0)(3)
        0.025
    """

    name = "inverse_time_decay"
    fields = ("lr0", "decay_rate")

    def __init__(self, lr0: float, decay_rate: float):
        self.lr0 = require_number(lr0, "lr0", low=0.0)
        self.decay_rate = require_number(decay_rate, "decay_rate", low=0.0)

    def lr_at(self, t: float) -> float:
        return self.lr0 / (1.0 + self.decay_rate * t)


class StepDecay(Schedule):
    """lr = lr0 · gamma^floor(t / step_size): multiply by gamma every step_size epochs (torch StepLR).

    Args:
        lr0: initial learning rate, >= 0.
        step_size: epochs between decays, a positive integer.
        gamma: factor applied at each decay, > 0 (default 0.1).

    Example:
        >>> StepDecay(1.0, step_size=10, gamma=0.5)(25)
        0.25
    """

    name = "step_decay"
    fields = ("lr0", "step_size", "gamma")

    def __init__(self, lr0: float, step_size: int, gamma: float = 0.1):
        self.lr0 = require_number(lr0, "lr0", low=0.0)
        self.step_size = require_positive_int(step_size, "step_size")
        self.gamma = require_number(gamma, "gamma", low=0.0, low_open=True)

    def lr_at(self, t: float) -> float:
        return self.lr0 * self.gamma ** math.floor(t / self.step_size)


class ExponentialDecay(Schedule):
    """lr = lr0 · gamma^t (torch ExponentialLR).

    Args:
        lr0: initial learning rate, >= 0.
        gamma: factor per unit of t, > 0.

    Example (t need not be whole: the rate decays between epochs too, unlike StepDecay):
        >>> sched = ExponentialDecay(1.0, gamma=0.5)
        >>> sched(3), sched(3.5)
        (0.125, 0.08838834764831845)
    """

    name = "exponential_decay"
    fields = ("lr0", "gamma")

    def __init__(self, lr0: float, gamma: float):
        self.lr0 = require_number(lr0, "lr0", low=0.0)
        self.gamma = require_number(gamma, "gamma", low=0.0, low_open=True)

    def lr_at(self, t: float) -> float:
        return self.lr0 * self.gamma ** t


class CosineDecay(Schedule):
    """lr = lr_min + (lr0 − lr_min)·(1 + cos(π·t / t_max)) / 2 for t <= t_max, then lr_min.

    One half cosine from lr0 down to lr_min over t_max epochs, held at lr_min afterwards (Keras
    CosineDecay; torch's CosineAnnealingLR over its first half period).

    Args:
        lr0: initial learning rate, >= 0.
        t_max: epochs (or steps) to reach lr_min, a positive integer.
        lr_min: final learning rate, in [0, lr0].

    Example (halfway at t_max / 2, then held at lr_min from t_max on):
        >>> sched = CosineDecay(1.0, t_max=4)
        >>> sched(2), sched(10)
        (0.5, 0.0)
    """

    name = "cosine_decay"
    fields = ("lr0", "t_max", "lr_min")

    def __init__(self, lr0: float, t_max: int, lr_min: float = 0.0):
        self.lr0 = require_number(lr0, "lr0", low=0.0)
        self.t_max = require_positive_int(t_max, "t_max")
        self.lr_min = require_number(lr_min, "lr_min", low=0.0)
        if self.lr_min > self.lr0:
            raise ValueError(f"`lr_min` must not exceed `lr0`, got lr_min={self.lr_min!r} > lr0={self.lr0!r}")

    def lr_at(self, t: float) -> float:
        if t >= self.t_max:
            return self.lr_min
        return self.lr_min + (self.lr0 - self.lr_min) * (1.0 + math.cos(math.pi * t / self.t_max)) / 2.0


_REGISTRY = {cls.name: cls for cls in (InverseTimeDecay, StepDecay, ExponentialDecay, CosineDecay)}


def from_config(config: dict) -> Schedule:
    """Rebuild a schedule from ``schedule.config()``."""
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError(f"`config` must be a dict with a 'name' key as returned by Schedule.config(), "
                         f"got {config!r}")
    cls = _REGISTRY.get(config["name"])
    if cls is None:
        raise ValueError(f"Unknown schedule {config['name']!r}; valid names are "
                         f"{', '.join(repr(n) for n in _REGISTRY)}")
    return cls.from_config(config)


def get(identifier, **kwargs) -> Schedule:
    """Resolve a schedule: a name (any case) built with `kwargs`, a config dict, or a Schedule as is."""
    if isinstance(identifier, Schedule) and not kwargs:
        return identifier
    if isinstance(identifier, dict) and not kwargs:
        return from_config(identifier)
    if isinstance(identifier, str):
        return from_config({"name": identifier.strip().lower(), **kwargs})
    raise TypeError(f"`identifier` must be a schedule name, a config dict or a Schedule (without keyword "
                    f"arguments), got {type(identifier).__name__}")
