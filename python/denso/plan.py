"""Lowering a built Sequential into a C++ Plan: layer specs, loss kind, optimizer config."""
from __future__ import annotations

import numpy as np

from . import _core
from .functional import get_activation
from .nn import Dense, Dropout, GaussianNoise


def unsupported_reason(model) -> str | None:
    """Why the plan cannot run this model (None when it can)."""
    if model.dtype.name not in ("float32", "float64"):
        return f"dtype {model.dtype} is not float32/float64"
    trailing = False
    for layer in model.layers:
        if not isinstance(layer, (Dense, Dropout, GaussianNoise)):
            return f"layer {type(layer).__name__} has no C++ implementation"
        trailing = not isinstance(layer, Dense)
    if trailing:
        return "Dropout/GaussianNoise after the last Dense layer"
    return None


def layer_specs(model) -> list:
    """One dict per Dense layer, with the Dropout/GaussianNoise layers before it as input transforms."""
    specs, pending = [], []
    dense_layers = [layer for layer in model.layers if isinstance(layer, Dense)]
    for index, layer in enumerate(model.layers):
        if isinstance(layer, Dropout):
            pending.append(("dropout", layer.rate, index))
            continue
        if isinstance(layer, GaussianNoise):
            pending.append(("gaussian_noise", layer.stddev, index))
            continue
        weight_offset, bias_offset = model._offsets[index]
        activation = layer.activation
        last = layer is dense_layers[-1]
        if last and model.loss is not None and model.loss.check_output_activation(layer.activation):
            activation = "identity"   # fused into the loss
        specs.append({
            "in": layer.input_dim, "out": layer.units, "activation": get_activation(activation),
            "alpha": layer.alpha, "use_bias": layer.use_bias, "l1": layer.l1, "l2": layer.l2,
            "weight_offset": weight_offset, "bias_offset": bias_offset if layer.use_bias else 0,
            "transforms": pending,
        })
        pending = []
    return specs


def build_plan(model, max_batch: int, seed: int, labels) -> "_core.Plan":
    """A Plan over the model's flat parameter/gradient buffers and its optimizer's state buffers."""
    optimizer = model.optimizer
    return _core.Plan(layer_specs(model), model.loss.plan_kind(labels), optimizer.kernel_config(), max_batch,
                      seed, model._flat.data, model._flat.grad, model._optimizer_slots())


def build_inference_plan(model) -> "_core.Plan":
    """A Plan that only predicts: no optimizer state, a 1-row training workspace (predict brings its
    own). Uncompiled models return raw outputs."""
    kind = "mse" if model.loss is None else model.loss.plan_kind(np.empty(0) if model.loss.probabilities else None)
    return _core.Plan(layer_specs(model), kind, {"kind": "sgd"}, 1, 0, model._flat.data, model._flat.grad, [])
