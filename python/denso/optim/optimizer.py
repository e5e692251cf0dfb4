"""The Optimizer base class: argument validation, parameter binding and state buffers.

The update itself is one C++ pass per parameter, ``denso._core.optimizer_update`` with the optimizer's
bound ``OptimizerConfig`` — the very call the compiled plan makes; this class only checks its
arguments, owns the state arrays and counts steps.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .._checks import require_number
from .._memory import aligned_zeros

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _describe(obj) -> str:
    """`type value` for error messages, with long reprs cut short."""
    text = repr(obj)
    return f"{type(obj).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def resolve_lr(lr, learning_rate, default: float):
    """The learning rate given as `lr` or under Keras's name `learning_rate` (`default` when neither is);
    both at once is a TypeError."""
    if lr is not None and learning_rate is not None:
        raise TypeError(f"pass the learning rate once, as `lr` or as its Keras name `learning_rate`, "
                        f"got lr={lr!r} and learning_rate={learning_rate!r}")
    chosen = lr if lr is not None else learning_rate
    return default if chosen is None else chosen


class Optimizer:
    """Base class of denso's optimizers (PyTorch-style update rules and usage).

    Args:
        params: iterable of parameters, objects with ``.data`` (a C-contiguous, writeable float32 or
            float64 numpy array, updated in place) and ``.grad`` (an array of the same shape and
            dtype, or None to skip that parameter this step), e.g. ``denso.Tensor``. May be omitted
            and given later with :meth:`bind` (Keras-style: the model binds its parameters).
        lr: learning rate, a number >= 0. Settable at any time (``opt.lr = 0.01``), e.g. by a schedule.
            Every optimizer also takes it under Keras's name, ``learning_rate=`` (one or the other).

    Hyperparameters other than ``lr`` are fixed at construction: they decide which state buffers
    exist. State buffers (numpy arrays of the parameter's dtype, zeroed) are allocated when the
    parameters are bound; each parameter counts its own steps, advanced only when it has a gradient.

    Example:
        >>> opt = denso.optim.Adam(model.parameters(), lr=1e-3)
        >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    name = ""  # registry name used by denso.optim.get and config()
    kind = ""  # the C++ OptimizerKind this optimizer runs as

    def __init__(self, params=None, lr: float = 1e-3):
        self.lr = lr
        self._params: list | None = None
        self.state: list[dict] = []
        self._native = _core.OptimizerConfig(self.kind, self.lr, **self._native_fields())
        self._fixed = frozenset(self.config()) - {"name", "lr"}
        if params is not None:
            self.bind(params)

    @property
    def learning_rate(self) -> float:
        """Keras's name for `lr` (readable and settable)."""
        return self.lr

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self.lr = value

    def __setattr__(self, key, value):
        if key == "lr":
            value = require_number(value, "lr", low=0.0)
        elif key in getattr(self, "_fixed", ()):
            raise AttributeError(f"`{key}` is fixed when the optimizer is created (only `lr` may change); "
                                 f"create a new {type(self).__name__} to change it")
        object.__setattr__(self, key, value)

    # ---- subclass interface ---------------------------------------------------------------------

    def config(self) -> dict:
        """Hyperparameters as a JSON-serialisable dict; ``denso.optim.get(opt.config())`` rebuilds it."""
        raise NotImplementedError

    def _native_fields(self) -> dict:
        """The fields of the C++ ``OptimizerConfig`` this optimizer sets besides kind and lr."""
        raise NotImplementedError

    def slot_names(self) -> tuple:
        """Names of the per-parameter state buffers, in the order of the C++ ``slots`` argument (the
        C++ update names them: ``_core.optimizer_slot_names``)."""
        return tuple(_core.optimizer_slot_names(self._native))

    def native_config(self) -> "_core.OptimizerConfig":
        """A copy of the C++ config this optimizer updates with, at the current ``lr``."""
        return _core.OptimizerConfig(self.kind, self.lr, **self._native_fields())

    def _config(self) -> "_core.OptimizerConfig":
        """The optimizer's own C++ config (built once: only ``lr`` changes), at the current ``lr``."""
        self._native.lr = self.lr
        return self._native

    # ---- binding and state ----------------------------------------------------------------------

    def slot_count(self) -> int:
        """Number of state buffers per parameter (= ``_core.optimizer_slot_count(native_config())``)."""
        return len(self.slot_names())

    @property
    def params(self) -> list | None:
        """The bound parameters (None until bound)."""
        return self._params

    def bind(self, params) -> "Optimizer":
        """Attach `params` and allocate zeroed state for each; rebinding discards the old state."""
        params = _as_param_list(params)
        for i, p in enumerate(params):
            _check_data(i, p)
        self._params = params
        self.state = [self._new_state(p.data) for p in params]
        return self

    def _new_state(self, data: np.ndarray) -> dict:
        state = {"step": 0}
        for slot in self.slot_names():
            state[slot] = aligned_zeros(data.shape, data.dtype)
        return state

    def slot_buffers(self, index: int) -> list:
        """State buffers of parameter `index` in C++ slot order (the arrays themselves, not copies)."""
        self._require_bound("slot_buffers")
        return [self.state[index][slot] for slot in self.slot_names()]

    def _require_bound(self, what: str) -> list:
        if self._params is None:
            raise ValueError(f"{type(self).__name__}.{what}() needs parameters: pass them to the "
                             f"constructor or call bind(params) first")
        return self._params

    # ---- the training-loop API ------------------------------------------------------------------

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place. Returns `closure()` if given."""
        params = self._require_bound("step")
        loss = closure() if closure is not None else None
        for i, p in enumerate(params):
            grad = p.grad
            if grad is None:
                continue
            data = _check_data(i, p)
            _check_grad(i, data, grad)
            state = self.state[i]
            _core.optimizer_update(self._config(), state["step"] + 1, data, grad, self.slot_buffers(i))
            state["step"] += 1
        return loss

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Zero every gradient in place (so views into a shared gradient buffer stay valid), or set
        ``.grad = None`` with `set_to_none` (PyTorch's default)."""
        for p in self._require_bound("zero_grad"):
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad[...] = 0

    def state_dict(self) -> dict:
        """Copies of the step counts and state buffers plus ``config()``, for saving and resuming.

        Layout: ``{"name": str, "config": dict, "state": [{"step": int, <slot>: ndarray, ...}, ...]}``
        with one entry per bound parameter (none before binding), slots named as in :meth:`slot_names`.
        """
        state = [{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()} for s in self.state]
        return {"name": self.name, "config": self.config(), "state": state}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore step counts, state buffers (copied into the existing arrays) and ``lr``.

        The other hyperparameters must match this optimizer's; buffers must match the parameters.
        """
        name, config, states = _unpack_state_dict(state_dict)
        params = self._require_bound("load_state_dict") if states or self._params is not None else []
        if name != self.name:
            raise ValueError(f"state_dict was saved from a {name!r} optimizer, this is {self.name!r}")
        mine = self.config()
        diff = {k: (config.get(k), v) for k, v in mine.items() if k != "lr" and _normalise(config.get(k)) != v}
        if diff:
            pairs = ", ".join(f"{k}: saved {a!r} vs {b!r}" for k, (a, b) in diff.items())
            raise ValueError(f"state_dict hyperparameters differ from this optimizer's ({pairs})")
        if len(states) != len(params):
            raise ValueError(f"state_dict holds state for {len(states)} parameters, this optimizer has "
                             f"{len(params)}")
        for i, (saved, state) in enumerate(zip(states, self.state)):
            _check_saved_state(i, saved, state, self.slot_names())
        self.lr = config["lr"]
        for saved, state in zip(states, self.state):
            state["step"] = int(saved["step"])
            for slot in self.slot_names():
                np.copyto(state[slot], saved[slot])

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_native"]  # a C++ struct: rebuilt from the hyperparameters
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__["_native"] = _core.OptimizerConfig(self.kind, self.lr, **self._native_fields())
        # Arrays of their own, writeable (a joblib memmap is not) and cache-line aligned (pickle drops that).
        for slots in self.state:
            for key, value in slots.items():
                if isinstance(value, np.ndarray):
                    fresh = aligned_zeros(value.shape, value.dtype)
                    fresh[...] = value
                    slots[key] = fresh

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v!r}"
                         for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _as_param_list(params) -> list:
    """`params` as a non-empty list of distinct parameter objects."""
    if isinstance(params, numbers.Number):
        raise TypeError(f"`params` must be an iterable of parameters, got {_describe(params)}; "
                        f"to set the learning rate without parameters pass lr=...")
    if isinstance(params, (np.ndarray, dict, str)) or hasattr(params, "data") or not hasattr(params, "__iter__"):
        raise TypeError(f"`params` must be an iterable of parameters (objects with .data and .grad), "
                        f"got {_describe(params)}")
    params = list(params)
    if not params:
        raise ValueError("`params` is empty: the optimizer got no parameters to update")
    seen = set()
    for i, p in enumerate(params):
        if id(p) in seen:
            raise ValueError(f"`params` holds the same parameter twice (params[{i}]); each may appear once")
        seen.add(id(p))
    return params


def _check_data(i: int, p) -> np.ndarray:
    """The parameter's ``.data``, checked to be a writeable C-contiguous float32/float64 array."""
    if not hasattr(p, "data") or not hasattr(p, "grad"):
        raise TypeError(f"params[{i}] must have .data and .grad attributes (e.g. a denso.Tensor), "
                        f"got {_describe(p)}")
    data = p.data
    if not isinstance(data, np.ndarray) or data.dtype not in _FLOAT_DTYPES:
        what = f"dtype {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
        raise TypeError(f"params[{i}].data must be a float32 or float64 numpy array, got {what}")
    if not data.flags.c_contiguous:
        raise ValueError(f"params[{i}].data must be C-contiguous to be updated in place, got a strided view "
                         f"of shape {data.shape}")
    if not data.flags.writeable:
        raise ValueError(f"params[{i}].data must be writeable: it is updated in place")
    return data


def _check_grad(i: int, data: np.ndarray, grad) -> None:
    """Raise unless `grad` is a C-contiguous array with the dtype and shape of `data`."""
    if not isinstance(grad, np.ndarray):
        raise TypeError(f"params[{i}].grad must be a numpy array or None, got {_describe(grad)}")
    if grad.dtype != data.dtype:
        raise TypeError(f"params[{i}].grad must have the parameter's dtype {data.dtype}, got {grad.dtype}")
    if grad.shape != data.shape:
        raise ValueError(f"params[{i}].grad must have the parameter's shape {data.shape}, got {grad.shape}")
    if not grad.flags.c_contiguous:
        raise ValueError(f"params[{i}].grad must be C-contiguous; pass np.ascontiguousarray(grad)")


def _normalise(value):
    """Config values as config() writes them (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value


def _unpack_state_dict(state_dict) -> tuple:
    if (not isinstance(state_dict, dict) or not {"name", "config", "state"} <= set(state_dict)
            or not isinstance(state_dict["config"], dict) or "lr" not in state_dict["config"]):
        raise ValueError("`state_dict` must be a dict with keys 'name', 'config' and 'state' as returned by "
                         "Optimizer.state_dict()")
    return state_dict["name"], state_dict["config"], list(state_dict["state"])


def _check_saved_state(i: int, saved: dict, state: dict, slots: tuple) -> None:
    missing = [k for k in ("step", *slots) if k not in saved]
    if missing:
        raise ValueError(f"state_dict state[{i}] lacks {missing}")
    step = saved["step"]
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"state_dict state[{i}]['step'] must be a non-negative integer, got {step!r}")
    for slot in slots:
        arr = np.asarray(saved[slot])
        if arr.shape != state[slot].shape or arr.dtype != state[slot].dtype:
            raise ValueError(f"state_dict state[{i}][{slot!r}] must have shape {state[slot].shape} and dtype "
                             f"{state[slot].dtype}, got shape {arr.shape} and dtype {arr.dtype}")
