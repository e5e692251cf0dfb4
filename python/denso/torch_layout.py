"""How a Sequential maps onto a `torch.nn.Sequential`: the module list, its numbering, and `state_dict`.

The numbering rule (the module indices `denso.interop.to_torch` produces, hence the state_dict keys):
  * Dense → one Linear, followed by one module for its activation unless that is the identity. The last
    Dense runs predict()'s activation, so a model compiled with a cross-entropy loss (trained on logits)
    gets a Softmax or Sigmoid module after its last Linear;
  * Dropout → one Dropout;
  * GaussianNoise → no module (training-only augmentation; torch.nn has none).
`state_dict()` holds "<index>.weight" (torch's (out, in) layout: denso's W transposed) and "<index>.bias"
for each Linear, as numpy arrays. This module needs no torch; denso.interop builds the modules.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ._checks import as_float_array, require_finite, shape_str
from .functional import get_activation
from .nn import Dense, Dropout, GaussianNoise, Layer
from .plan import layer_activation


@dataclass(frozen=True)
class ModuleSpec:
    """One module of the torch.nn.Sequential: "linear", "activation" (canonical `activation` name) or
    "dropout", made from denso `layer`."""

    kind: str
    layer: Layer
    activation: str = ""


def torch_modules(model) -> list:
    """The ModuleSpecs of a model's torch.nn.Sequential, in order (their index is the module's number)."""
    specs = []
    for layer in model.layers:
        if isinstance(layer, Dense):
            specs.append(ModuleSpec("linear", layer))
            activation = get_activation(layer_activation(model, layer)).name
            if activation != "identity":
                specs.append(ModuleSpec("activation", layer, activation))
        elif isinstance(layer, Dropout):
            specs.append(ModuleSpec("dropout", layer))
        elif not isinstance(layer, GaussianNoise):
            raise ValueError(f"layer {layer.position} ({type(layer).__name__}) has no torch counterpart")
    return specs


def linear_indices(model) -> list:
    """[(module index, Dense layer)] of the Linear modules."""
    return [(i, spec.layer) for i, spec in enumerate(torch_modules(model)) if spec.kind == "linear"]


def torch_shapes(model) -> dict:
    """{key: shape} of the state_dict, in order."""
    shapes = {}
    for index, layer in linear_indices(model):
        shapes[f"{index}.weight"] = (layer.units, layer.input_dim)
        if layer.use_bias:
            shapes[f"{index}.bias"] = (layer.units,)
    return shapes


def state_dict(model) -> dict:
    """The weights as PyTorch names them: {"0.weight": W.T (out, in), "0.bias": b, ...}, numpy copies."""
    model._require_built("state_dict")
    out = {}
    for index, layer in linear_indices(model):
        out[f"{index}.weight"] = np.ascontiguousarray(layer.weight.data.T)
        if layer.use_bias:
            out[f"{index}.bias"] = layer.bias.data.copy()
    return out


def _as_numpy(value):
    """numpy view of an array-like; a torch tensor is detached and moved to the CPU first."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def load_state_dict(model, state_dict) -> None:
    """Load weights named and laid out as `state_dict()` writes them (numpy arrays or torch tensors)."""
    model._require_built("load_state_dict")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"`state_dict` must be a mapping of names to arrays, got {type(state_dict).__name__}")
    shapes = torch_shapes(model)
    missing = [k for k in shapes if k not in state_dict]
    unexpected = [k for k in state_dict if k not in shapes]
    if missing or unexpected:
        raise ValueError(f"`state_dict` keys do not match the model: missing {missing}, unexpected {unexpected}; "
                         f"expected {list(shapes)}")
    arrays = {}
    for key, shape in shapes.items():
        arr = _as_numpy(state_dict[key])
        if arr.shape != shape:
            raise ValueError(f"`state_dict[{key!r}]` must have shape {shape_str(shape)} (torch's "
                             f"{'(out, in)' if len(shape) == 2 else '(out,)'} layout), got {shape_str(arr.shape)}")
        arr = as_float_array(arr, f"state_dict[{key!r}]", model.dtype)
        require_finite(arr, f"state_dict[{key!r}]")
        arrays[key] = arr
    weights = []
    for index, layer in linear_indices(model):
        weights.append(arrays[f"{index}.weight"].T)
        if layer.use_bias:
            weights.append(arrays[f"{index}.bias"])
    model.set_weights(weights)
