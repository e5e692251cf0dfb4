"""load_model: a Sequential rebuilt from a model file (denso.io reads and checks the file).

Nothing is allocated for the model before the file has shown it can back it: the header's
architecture gives the parameter count (layer objects know their parameter shapes without
allocating), and the declared shape and dtype of `params` and of every optimizer state array must
match it before the model is built and the arrays are read.
"""
from __future__ import annotations

import math
import os

import numpy as np

from . import optim
from .io import ModelFile, array_references, restore_arrays
from .model import Sequential
from .nn import layer_from_config

_DTYPES = ("float32", "float64")
MAX_LAYERS = 10_000
MAX_PARAMETERS = 1 << 40  # far beyond any model a machine holds; keeps absurd headers' numbers out of messages
_MAX_STATE_ARRAYS = 8  # per flat parameter buffer: Adam with AMSGrad keeps 3


def load_model(path):
    """Rebuild a model saved with model.save(path): architecture, weights, and (if it was compiled)
    loss, metrics and optimizer state, so fit() resumes where it stopped.

    Raises FileNotFoundError for a missing file and ValueError naming the file for one that is
    truncated, corrupted, hostile (a zip bomb, a header whose architecture the stored weights do
    not match, non-finite or non-float weights) or not a denso model.
    """
    path = os.fspath(path)
    with ModelFile(path) as f:
        header = f.header
        config, epoch, compiled = _parts(f, header)
        layers, count = _architecture(f, config)
        dtype = np.dtype(config["dtype"])
        _check_flat_entry(f, "params", count, dtype)
        state_names = array_references(compiled["optimizer_state"]) if compiled else []
        for name in state_names:
            if not isinstance(name, str) or name in ("header", "params") or name not in f.names:
                raise f.error(f"its optimizer state refers to {_preview(name)}, which is not one of its state "
                              f"entries (it holds {sorted(f.names)})")
        if len(set(state_names)) != len(state_names) or len(state_names) > _MAX_STATE_ARRAYS:
            raise f.error(f"its optimizer state must refer to at most {_MAX_STATE_ARRAYS} distinct arrays, "
                          f"each once; it refers to {state_names[:20]}")
        for name in state_names:
            _check_flat_entry(f, name, count, dtype)
        unused = sorted(set(f.names) - {"header", "params", *state_names})
        if unused:
            raise f.error(f"entries {unused} are not referred to by its header")

        model = _invalid_entry(f, "model", lambda: Sequential(
            layers, input_dim=config["input_dim"], seed=config["seed"], dtype=dtype, name=config["name"]))
        params = model.flat_parameter.data
        f.read("params", out=params)
        _require_finite(f, "params", params)
        arrays = {}
        for name in state_names:
            arrays[name] = f.read(name, out=np.empty(count, dtype))
            _require_finite(f, name, arrays[name])
    model.epochs_trained = epoch
    if compiled:
        def restore():
            model.compile(optim.get(compiled["optimizer"]), compiled["loss"], compiled["metrics"])
            model.optimizer.load_state_dict(restore_arrays(compiled["optimizer_state"], arrays))
        _invalid_entry(f, "compile", restore)
    return model


def _parts(f: ModelFile, header: dict) -> tuple:
    """(model config, epoch, compile settings or None), their types checked."""
    config = header.get("model")
    if not isinstance(config, dict):
        raise f.error(f"its header's 'model' must be an object, got {_kind(config)}")
    for key, kinds in (("layers", list), ("input_dim", int), ("seed", int), ("dtype", str), ("name", str)):
        value = config.get(key)
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise f.error(f"its header's model {key!r} must be a {kinds.__name__}, got {_kind(value)}")
    if config["dtype"] not in _DTYPES:
        raise f.error(f"its header's model dtype must be one of {_DTYPES}, got {config['dtype'][:40]!r}")
    if not 1 <= len(config["layers"]) <= MAX_LAYERS:
        raise f.error(f"its header's model must have 1 to {MAX_LAYERS} layers, got {len(config['layers'])}")
    epoch = header.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch < 2**63:
        raise f.error(f"its header's 'epoch' must be a non-negative integer, got {_kind(epoch)}")
    compiled = header.get("compile")
    if compiled is not None:
        if not isinstance(compiled, dict):
            raise f.error(f"its header's 'compile' must be an object or null, got {_kind(compiled)}")
        for key, kinds, want in (("loss", (str, dict), "str or dict"), ("metrics", list, "list"),
                                 ("optimizer", dict, "dict"), ("optimizer_state", dict, "dict")):
            if not isinstance(compiled.get(key), kinds):
                raise f.error(f"its header's compile {key!r} must be a {want}, got {_kind(compiled.get(key))}")
    return config, epoch, compiled


def _architecture(f: ModelFile, config: dict) -> tuple:
    """(layers, parameter count) of the header's model; layers are built (shapes fixed) but hold no memory."""
    width = config["input_dim"]
    if width < 1:
        raise f.error(f"its header's model input_dim must be positive, got {width}")
    layers, count = [], 0
    for i, layer_config in enumerate(config["layers"]):
        if not isinstance(layer_config, dict):
            raise f.error(f"its header's layers[{i}] must be an object, got {_kind(layer_config)}")
        layer = _invalid_entry(f, f"layers[{i}]", lambda: layer_from_config(layer_config))
        width = layer.build(width)
        count += sum(math.prod(shape) for _, shape, _ in layer.parameter_shapes())
        if count > MAX_PARAMETERS:
            raise f.error(f"its header's architecture has more than {MAX_PARAMETERS:,} parameters")
        layers.append(layer)
    return layers, count


def _check_flat_entry(f: ModelFile, name: str, count: int, dtype: np.dtype) -> None:
    """Entry `name` must declare a 1-D array of `count` values of the model's `dtype`."""
    shape, declared, _ = f.declared(name)
    if declared.kind != "f" or declared.newbyteorder("=") != dtype:
        raise f.error(f"entry {name + '.npy'!r} holds {declared} values; expected {dtype} (the model's dtype)")
    if shape != (count,):
        raise f.error(f"entry {name + '.npy'!r} has shape {shape}; expected ({count},): the architecture in "
                      f"its header has {count:,} parameters")


def _require_finite(f: ModelFile, name: str, values: np.ndarray) -> None:
    bad = np.count_nonzero(~np.isfinite(values))
    if bad:
        raise f.error(f"entry {name + '.npy'!r} holds {bad:,} non-finite values (NaN or infinity) of "
                      f"{values.size:,}")


def _invalid_entry(f: ModelFile, where: str, build):
    """build(), with the errors a bad config raises turned into a ValueError naming the file."""
    try:
        return build()
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        what = f"missing entry {exc}" if isinstance(exc, KeyError) else " ".join(str(exc).split())[:300]
        raise f.error(f"its header's {where} is invalid: {what}") from None


def _preview(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value) -> str:
    return f"{type(value).__name__} {_preview(value)}"
