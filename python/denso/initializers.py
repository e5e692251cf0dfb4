"""Weight initializers: Glorot/Xavier, He/Kaiming and LeCun (uniform and normal), zeros, ones, constant.

Every initializer is a callable `init(shape, rng, dtype) -> np.ndarray`:

- `shape` is `(fan_in, fan_out)` for a weight matrix W of shape (in, out) (samples are rows),
  or `(n,)` for a bias, whose fans are both taken as n (as Keras does);
- `rng` is a `np.random.Generator`, so a seeded model is reproducible;
- `dtype` is float32 or float64. Random values are drawn in float64 and then cast, so the same
  seed gives the same numbers (up to rounding) in both dtypes.

The scales, with fan_in and fan_out the fans of the shape:

=============== ======================== =================================
name            uniform on [-l, l]       normal N(0, s²)
=============== ======================== =================================
glorot (Xavier) l = √(6 / (in + out))    s = √(2 / (in + out))
he (Kaiming)    l = √(6 / in)            s = √(2 / in)
lecun           l = √(3 / in)            s = √(1 / in)
=============== ======================== =================================

All three uniform forms have variance l²/3, equal to the matching normal's s². The normal forms
are plain normals: Keras draws from a *truncated* normal (rescaled so the variance still matches);
we do not truncate.

Names resolve through `get()`, and `serialize()`/`deserialize()` turn an initializer into JSON
data and back so a model config can be saved.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ._checks import FLOAT_DTYPES, require_number, shape_str


def _fans(shape: tuple) -> tuple:
    """(fan_in, fan_out) of a (in, out) weight shape or an (n,) bias shape."""
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


def _check(shape, dtype) -> tuple:
    """Validate an initializer's shape and dtype; return (shape tuple, numpy dtype)."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or len(shape) not in (1, 2):
        raise ValueError(f"`shape` must be (fan_in, fan_out) for a weight or (n,) for a bias, got {shape!r}")
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
            raise ValueError(f"`shape` must hold positive integers, got {tuple(shape)!r}")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"`dtype` must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"`dtype` must be float32 or float64, got {dt}")
    return tuple(int(s) for s in shape), dt


def _check_rng(rng) -> None:
    """Raise TypeError unless `rng` is a numpy Generator."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")


def _uniform(shape, rng, dtype, limit_of) -> np.ndarray:
    """Uniform on [-limit, limit] with limit = limit_of(fan_in, fan_out)."""
    shape, dt = _check(shape, dtype)
    _check_rng(rng)
    limit = limit_of(*_fans(shape))
    return rng.uniform(-limit, limit, size=shape).astype(dt)


def _normal(shape, rng, dtype, std_of) -> np.ndarray:
    """N(0, std²) with std = std_of(fan_in, fan_out), not truncated."""
    shape, dt = _check(shape, dtype)
    _check_rng(rng)
    std = std_of(*_fans(shape))
    return rng.normal(0.0, std, size=shape).astype(dt)


_ARGS = """
    Args:
        shape: (fan_in, fan_out) for a weight matrix, (n,) for a bias.
        rng: {rng}
        dtype: float32 or float64.

    Example:
"""


def _named(name: str, init, summary: str, example: str, rng: str = "a `np.random.Generator`."):
    """`init` under its public name, with a docstring made of `summary`, the shared Args block and `example`."""
    init.__name__ = init.__qualname__ = name
    init.__doc__ = summary.rstrip() + "\n" + _ARGS.format(rng=rng) + example
    return init


def _fan_scaled(name: str, draw, scale_of, summary: str, example: str):
    """The initializer `name(shape, rng, dtype)`: `draw` (_uniform or _normal) at scale_of(fan_in, fan_out).

    The six fan-scaled initializers differ only in their distribution and their scale.
    """
    def init(shape, rng, dtype=np.float64) -> np.ndarray:
        return draw(shape, rng, dtype, scale_of)

    return _named(name, init, summary, example)


def _filled(name: str, value: float, summary: str, example: str):
    """The initializer `name(shape, rng=None, dtype)` filling every entry with `value`."""
    def init(shape, rng=None, dtype=np.float64) -> np.ndarray:
        return Constant(value)(shape, rng, dtype)

    return _named(name, init, summary, example, rng="ignored (may be None).")


glorot_uniform = _fan_scaled(
    "glorot_uniform", _uniform, lambda fan_in, fan_out: math.sqrt(6.0 / (fan_in + fan_out)),
    """Glorot/Xavier uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)).

    Keeps the variance of activations and of gradients roughly constant across layers for
    tanh/sigmoid-like activations (Glorot & Bengio, 2010). Keras's default kernel initializer.
    """, """\
        >>> W = glorot_uniform((784, 128), np.random.default_rng(0), np.float32)
        >>> W.shape, W.dtype, bool(np.abs(W).max() <= np.sqrt(6 / (784 + 128)))
        ((784, 128), dtype('float32'), True)
    """)

he_uniform = _fan_scaled(
    "he_uniform", _uniform, lambda fan_in, fan_out: math.sqrt(6.0 / fan_in),
    "He/Kaiming uniform: U(-l, l) with l = sqrt(6 / fan_in); suited to ReLU layers.", """\
        >>> bool(np.abs(he_uniform((100, 10), np.random.default_rng(0))).max() <= np.sqrt(6 / 100))
        True
    """)

lecun_uniform = _fan_scaled(
    "lecun_uniform", _uniform, lambda fan_in, fan_out: math.sqrt(3.0 / fan_in),
    "LeCun uniform: U(-l, l) with l = sqrt(3 / fan_in), i.e. variance 1 / fan_in.", """\
        >>> bool(np.abs(lecun_uniform((300, 10), np.random.default_rng(0))).max() <= np.sqrt(3 / 300))
        True
    """)

glorot_normal = _fan_scaled(
    "glorot_normal", _normal, lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out)),
    """Glorot/Xavier normal: N(0, s²) with s = sqrt(2 / (fan_in + fan_out)).

    A plain normal: Keras's GlorotNormal draws from a truncated normal (cut at 2 standard
    deviations and rescaled to the same variance); we do not truncate.
    """, """\
        >>> bool(abs(glorot_normal((256, 256), np.random.default_rng(0)).std() - np.sqrt(2 / 512)) < 1e-3)
        True
    """)

he_normal = _fan_scaled(
    "he_normal", _normal, lambda fan_in, fan_out: math.sqrt(2.0 / fan_in),
    """He/Kaiming normal: N(0, s²) with s = sqrt(2 / fan_in); suited to ReLU layers (He et al., 2015).

    A plain normal (Keras truncates, see `glorot_normal`).
    """, """\
        >>> bool(abs(he_normal((512, 512), np.random.default_rng(0)).std() - np.sqrt(2 / 512)) < 1e-3)
        True
    """)

lecun_normal = _fan_scaled(
    "lecun_normal", _normal, lambda fan_in, fan_out: math.sqrt(1.0 / fan_in),
    "LeCun normal: N(0, s²) with s = sqrt(1 / fan_in) (plain normal; Keras truncates).", """\
        >>> bool(abs(lecun_normal((400, 400), np.random.default_rng(0)).std() - np.sqrt(1 / 400)) < 1e-3)
        True
    """)


zeros = _filled(
    "zeros", 0.0, "All zeros; the default bias initializer. `rng` is accepted for the common signature and unused.",
    """\
        >>> zeros((3,), None, np.float32)
        array([0., 0., 0.], dtype=float32)
    """)

ones = _filled(
    "ones", 1.0, "All ones. `rng` is accepted for the common signature and unused.", """\
        >>> ones((2,), None)
        array([1., 1.])
    """)


class Constant:
    """An initializer filling every entry with `value`; made by `constant(value)`."""

    def __init__(self, value: float):
        self.value = require_number(value, "value")

    def __call__(self, shape, rng=None, dtype=np.float64) -> np.ndarray:
        """Fill an array of `shape` and `dtype` with the value (`rng` is unused)."""
        shape, dt = _check(shape, dtype)
        return np.full(shape, self.value, dtype=dt)

    def __eq__(self, other) -> bool:
        return isinstance(other, Constant) and other.value == self.value

    __hash__ = None

    def __repr__(self) -> str:
        return f"constant({self.value!r})"


def constant(value: float) -> Constant:
    """An initializer that fills every entry with `value` (e.g. a small positive bias for ReLU).

    Args:
        value: a finite number.

    Example:
        >>> init = constant(0.1)
        >>> init((3,), None, np.float64)
        array([0.1, 0.1, 0.1])
        >>> serialize(init)
        {'class_name': 'Constant', 'config': {'value': 0.1}}
    """
    return Constant(value)


_NAMED = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "lecun_uniform": lecun_uniform,
    "lecun_normal": lecun_normal,
    "zeros": zeros,
    "ones": ones,
}
_ALIASES = {
    "xavier_uniform": "glorot_uniform",
    "xavier_normal": "glorot_normal",
    "kaiming_uniform": "he_uniform",
    "kaiming_normal": "he_normal",
    "zero": "zeros",
    "one": "ones",
}
# Lookup key: lower case without underscores, so "he_normal", "HeNormal" and "HE_NORMAL" all match.
_LOOKUP = {name.replace("_", ""): name for name in _NAMED}
_LOOKUP.update({alias.replace("_", ""): name for alias, name in _ALIASES.items()})


def _canonical_name(name: str):
    """The registered name a string refers to, or None."""
    return _LOOKUP.get(name.lower().replace("_", ""))


def get(identifier):
    """Resolve an initializer: a name, a serialised dict, or any callable (returned as is).

    Names are case-insensitive and ignore underscores, so "he_normal", "HeNormal" and
    "kaiming_normal" are the same initializer.

    Args:
        identifier: one of "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
            "lecun_uniform", "lecun_normal", "zeros", "ones" (aliases: "xavier_*", "kaiming_*");
            a dict made by `serialize`; or a callable `init(shape, rng, dtype)`.

    Example:
        >>> get("HeNormal") is he_normal
        True
        >>> get(constant(0.5))
        constant(0.5)
    """
    if isinstance(identifier, str):
        name = _canonical_name(identifier)
        if name is None:
            raise ValueError(f"unknown initializer {identifier!r}; expected one of {sorted(_NAMED)} "
                             "or constant(value)")
        return _NAMED[name]
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"`initializer` must be a name, a callable init(shape, rng, dtype) or a dict from "
                    f"serialize(), got {type(identifier).__name__}: {identifier!r}")


def serialize(init):
    """JSON-ready form of an initializer: its name, or a dict for `constant(value)`.

    Args:
        init: a named initializer (function or name) or a `constant(...)`.

    Raises:
        ValueError: for a user-defined callable, which cannot be saved by name.

    Example:
        >>> serialize(he_normal), serialize("Kaiming_Normal")
        ('he_normal', 'he_normal')
        >>> serialize(constant(2))
        {'class_name': 'Constant', 'config': {'value': 2.0}}
    """
    init = get(init)
    if isinstance(init, Constant):
        return {"class_name": "Constant", "config": {"value": init.value}}
    for name, fn in _NAMED.items():
        if init is fn:
            return name
    raise ValueError(f"cannot serialize the custom initializer {init!r}: only the named initializers "
                     f"{sorted(_NAMED)} and constant(value) can be saved to a config; pass one of "
                     "those, or re-create the model in code and load only its weights")


def deserialize(obj):
    """The initializer that `serialize` described: a name or {"class_name": ..., "config": {...}}.

    Args:
        obj: a string name, or a dict with "class_name" ("Constant" or a registered name in any
            spelling get() accepts) and an optional "config" dict.

    Example:
        >>> deserialize({"class_name": "Constant", "config": {"value": 0.1}})
        constant(0.1)
        >>> deserialize("glorot_uniform") is glorot_uniform
        True
    """
    if isinstance(obj, str):
        return get(obj)
    if not isinstance(obj, dict) or not isinstance(obj.get("class_name"), str):
        raise ValueError(f"`obj` must be an initializer name or a dict with a 'class_name' string, got {obj!r}")
    config = obj.get("config") or {}
    if not isinstance(config, dict):
        raise ValueError(f"`obj['config']` must be a dict, got {config!r}")
    if obj["class_name"].lower() == "constant":
        if set(config) != {"value"}:
            raise ValueError(f"a Constant initializer's config must be {{'value': number}}, got {config!r}")
        return Constant(config["value"])
    if config:
        raise ValueError(f"initializer {obj['class_name']!r} takes no config, got {config!r}")
    return get(obj["class_name"])


def initialize(init, shape, rng, dtype) -> np.ndarray:
    """Resolve `init`, call it, and check the result: a C-contiguous array of `shape` and `dtype`.

    The model calls this so a user callable that returns the wrong shape fails with a clear message.

    Args:
        init: anything `get` accepts.
        shape: (fan_in, fan_out) or (n,).
        rng: a `np.random.Generator`.
        dtype: float32 or float64.

    Example:
        >>> initialize("zeros", (2, 3), np.random.default_rng(0), np.float32).shape
        (2, 3)
    """
    fn = get(init)
    shape, dt = _check(shape, dtype)
    _check_rng(rng)
    out = np.asarray(fn(shape, rng, dt))
    if out.shape != shape:
        raise ValueError(f"initializer {init!r} must return an array of shape {shape_str(shape)}, "
                         f"got shape {shape_str(out.shape)}")
    if out.dtype.kind not in "fiu":
        raise TypeError(f"initializer {init!r} must return real numbers, got dtype {out.dtype}")
    out = np.ascontiguousarray(out, dtype=dt)
    if not np.isfinite(out).all():
        raise ValueError(f"initializer {init!r} returned non-finite values")
    return out
