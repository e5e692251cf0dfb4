"""Lowering a built Sequential into a C++ Plan: typed layer specs, the loss kind, the optimizer config."""
from __future__ import annotations

from . import _core
from .functional import get_activation
from .nn import Dense, Dropout, GaussianNoise

_TRANSFORMS = {Dropout: (_core.TransformKind.dropout, "rate"),
               GaussianNoise: (_core.TransformKind.gaussian_noise, "stddev")}


def unsupported_reason(model) -> str | None:
    """Why the plan cannot run this model (None when it can)."""
    trailing = False
    for layer in model.layers:
        if not isinstance(layer, (Dense, Dropout, GaussianNoise)):
            return f"layer {type(layer).__name__} has no C++ implementation"
        trailing = not isinstance(layer, Dense)
    if trailing:
        return "Dropout/GaussianNoise after the last Dense layer"
    return None


def layer_activation(model, layer, predicting: bool = True) -> str:
    """The activation Dense `layer` runs: its own, except the last Dense of a compiled model, which runs what
    the loss leaves it: in predict() (`predicting`) the loss's probabilities (softmax/sigmoid for a
    from-logits cross-entropy), in training the identity where the loss fuses its own activation."""
    if layer is model.dense_layers()[-1] and model.loss is not None:
        pick = model.loss.predicted_activation if predicting else model.loss.trained_activation
        return pick(layer.activation)
    return layer.activation


def layer_specs(model, predicting: bool = False) -> list:
    """One DenseSpec per Dense layer, with the Dropout/GaussianNoise layers before it as input transforms.
    The last layer runs the activation the loss leaves it: identity when the loss fuses its own, or,
    `predicting`, what predict() returns (the loss's probabilities)."""
    specs, pending = [], []
    for layer in model.layers:
        if type(layer) in _TRANSFORMS:
            kind, attribute = _TRANSFORMS[type(layer)]
            pending.append(_core.InputTransform(kind, getattr(layer, attribute), layer.position))
            continue
        activation = layer_activation(model, layer, predicting)
        specs.append(_core.DenseSpec(
            in_features=layer.input_dim, out_features=layer.units, activation=get_activation(activation),
            alpha=layer.alpha, use_bias=layer.use_bias, l1=layer.l1, l2=layer.l2,
            weight_offset=layer.weight_offset, bias_offset=layer.bias_offset if layer.use_bias else 0,
            transforms=pending))
        pending = []
    return specs


def build_plan(model, max_batch: int, seed: int, labels: bool) -> "_core.Plan":
    """A Plan over the model's flat parameter/gradient buffers and its optimizer's state buffers; the loss
    kernel reads integer labels when `labels`."""
    flat = model.flat_parameter
    return _core.Plan(layer_specs(model), model.loss.kind(labels), model.optimizer.native_config(), max_batch,
                      seed, flat.data, flat.grad, model.optimizer.slot_buffers(0), **model.loss.plan_arguments())


def build_inference_plan(model) -> "_core.Plan":
    """A Plan that only predicts: its last layer runs what predict() returns (probabilities for
    cross-entropy models, raw outputs for uncompiled ones); no optimizer state; a 1-row training
    workspace (predict brings its own)."""
    flat = model.flat_parameter
    return _core.Plan(layer_specs(model, predicting=True), _core.LossKind.mse, _core.OptimizerConfig("sgd", 0.0), 1, 0,
                      flat.data, flat.grad, [])
