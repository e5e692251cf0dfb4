"""PyTorch interop: a Sequential as a torch.nn.Sequential and back, and the optimizer state with it.

    module = denso.interop.to_torch(model)          # Linear + activation modules, same outputs as predict
    model = denso.interop.from_torch(module)        # a denso Sequential with the same weights
    opt = denso.interop.to_torch_optimizer(model, module)   # torch.optim.<same> with the model's state

The module numbering (and so the state_dict keys) is described in denso.torch_layout. torch is imported
by these functions only (`import denso` never imports it).
"""
from __future__ import annotations

import numpy as np

from .functional import ACTIVATIONS
from .model import Sequential
from .nn import Dense, Dropout
from .torch_layout import linear_indices, torch_modules

# denso activation → (torch.nn module name, the Dense attribute passed as its argument, fixed arguments):
# the one table both directions read.
_TORCH_ACTIVATIONS = {
    "relu": ("ReLU", None, {}), "sigmoid": ("Sigmoid", None, {}), "tanh": ("Tanh", None, {}),
    "selu": ("SELU", None, {}), "softplus": ("Softplus", None, {}), "swish": ("SiLU", None, {}),
    "gelu": ("GELU", None, {}), "softmax": ("Softmax", None, {"dim": -1}),
    "leaky_relu": ("LeakyReLU", "negative_slope", {}), "elu": ("ELU", "alpha", {}),
}
_DENSO_ACTIVATION = {module: name for name, (module, _, _) in _TORCH_ACTIVATIONS.items()}
SUPPORTED_MODULES = ("Linear", "Dropout", "Identity") + tuple(module for module, _, _ in _TORCH_ACTIVATIONS.values())
# What makes an activation module's settings something denso cannot reproduce ("" when it can).
_UNSUPPORTED_SETTINGS = {
    "LeakyReLU": lambda m: "a negative negative_slope" if m.negative_slope < 0 else "",
    "Softmax": lambda m: "" if m.dim in (-1, 1) else f"dim={m.dim} (denso's is over features)",
    "GELU": lambda m: "" if m.approximate == "none" else f"approximate={m.approximate!r}",
    "ELU": lambda m: "" if m.alpha >= 0 else f"a negative alpha ({m.alpha})",
    "Softplus": lambda m: "" if m.beta == 1 else f"beta={m.beta} (denso's softplus has beta 1)",
}
_TORCH_OPTIMIZERS = {"sgd": "SGD", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}


def _require_torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError("denso.interop needs PyTorch: pip install torch "
                          "(the CPU wheel: --index-url https://download.pytorch.org/whl/cpu)") from exc
    return torch


def _torch_dtype(torch, dtype: np.dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


# ---- denso → torch ------------------------------------------------------------------------------------------
def _activation_module(nn, name: str, layer: Dense):
    """The torch.nn module computing denso's activation `name` (canonical), or ValueError."""
    if name not in _TORCH_ACTIVATIONS:
        raise ValueError(f"layer {layer.position} (Dense) has activation {name!r}, which torch.nn has no module "
                         f"for; convertible activations: identity, {', '.join(sorted(_TORCH_ACTIVATIONS))}")
    module, argument, fixed = _TORCH_ACTIVATIONS[name]
    kwargs = dict(fixed, **({argument: layer.alpha} if argument else {}))
    return getattr(nn, module)(**kwargs)


def _linear(torch, layer: Dense, dtype):
    linear = torch.nn.Linear(layer.input_dim, layer.units, bias=layer.use_bias, dtype=dtype)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.weight.data.T)))
        if layer.use_bias:
            linear.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
    return linear


def to_torch(model):
    """A `torch.nn.Sequential` (in eval mode, the model's dtype) whose output equals `model.predict`.

    Modules follow denso.torch_layout: Linear (weights transposed to torch's (out, in)) and one module per
    activation (the last one is predict()'s: Softmax/Sigmoid for a from-logits cross-entropy model, so
    `module[:-1]` gives the logits torch's losses take), Dropout for Dropout; GaussianNoise, an identity in
    inference, gets no module. The `step` activation has no torch.nn module and raises ValueError.
    """
    torch = _require_torch()
    model._require_built("to_torch")
    dtype = _torch_dtype(torch, model.dtype)
    modules = []
    for spec in torch_modules(model):
        if spec.kind == "linear":
            modules.append(_linear(torch, spec.layer, dtype))
        elif spec.kind == "dropout":
            modules.append(torch.nn.Dropout(p=spec.layer.rate))
        else:
            modules.append(_activation_module(torch.nn, spec.activation, spec.layer))
    return torch.nn.Sequential(*modules).eval()


# ---- torch → denso ------------------------------------------------------------------------------------------
def _activation_name(nn, name: str, child):
    """(denso activation, alpha) for an activation module, None for a module that is not one; ValueError for
    an activation module whose settings denso cannot reproduce."""
    module = type(child).__name__
    if module not in _DENSO_ACTIVATION or type(child) is not getattr(nn, module):
        return None
    reason = _UNSUPPORTED_SETTINGS.get(module, lambda m: "")(child)
    if reason:
        raise ValueError(f"from_torch: module {name!r} ({child!r}) is not supported: {reason}")
    activation = _DENSO_ACTIVATION[module]
    argument = _TORCH_ACTIVATIONS[activation][1]
    return activation, float(getattr(child, argument)) if argument else 0.01


def _read_modules(torch, module) -> tuple:
    """([Dense/Dropout layer], [(name, Linear, Dense)], dtype) from the children of a torch.nn.Sequential."""
    nn = torch.nn
    entries, dtype = [], None  # [name, Linear, activation, alpha] per Linear; a Dropout rate per Dropout
    for name, child in module.named_children():
        if type(child) is nn.Linear:
            if dtype is not None and child.weight.dtype != dtype:
                raise ValueError(f"from_torch: module {name!r} is {child.weight.dtype}, earlier ones {dtype}")
            dtype = child.weight.dtype
            entries.append([name, child, None, 0.01])
        elif type(child) is nn.Dropout:
            entries.append(child.p)
        elif type(child) is not nn.Identity:
            activation = _activation_name(nn, name, child)
            if activation is None:
                raise ValueError(f"from_torch: module {name!r} ({child!r}) is not supported; supported modules: "
                                 f"{', '.join(SUPPORTED_MODULES)}")
            if not entries or not isinstance(entries[-1], list) or entries[-1][2] is not None:
                raise ValueError(f"from_torch: module {name!r} ({type(child).__name__}) must follow a Linear "
                                 f"directly (denso runs one activation per Dense layer)")
            entries[-1][2:] = activation
    layers, linears = [], []
    for entry in entries:
        if isinstance(entry, list):
            name, linear, activation, alpha = entry
            layers.append(Dense(linear.out_features, activation, use_bias=linear.bias is not None, alpha=alpha))
            linears.append((name, linear, layers[-1]))
        else:
            layers.append(Dropout(entry))
    return layers, linears, dtype


def from_torch(module, input_dim=None) -> Sequential:
    """A denso Sequential (uncompiled, built) computing what the `torch.nn.Sequential` `module` computes.

    Children may be Linear, ReLU, LeakyReLU (slope >= 0), Sigmoid, Tanh, Softmax (over the features),
    Dropout, Identity (and GELU, ELU, SELU, Softplus, SiLU where denso has the activation); an activation
    must directly follow a Linear. Anything else raises ValueError naming the module.

    Args:
        module: a torch.nn.Sequential.
        input_dim: the input width; by default the first Linear's in_features (must agree when given).
    """
    torch = _require_torch()
    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(f"`module` must be a torch.nn.Sequential, got {type(module).__name__}")
    layers, linears, dtype = _read_modules(torch, module)
    if not linears:
        raise ValueError("from_torch: `module` has no Linear layer")
    width = linears[0][1].in_features
    if input_dim is not None and input_dim != width:
        raise ValueError(f"`input_dim` must be the first Linear's in_features {width}, got {input_dim!r}")
    for (name, linear, _), (_, before, _) in zip(linears[1:], linears[:-1]):
        if linear.in_features != before.out_features:
            raise ValueError(f"from_torch: module {name!r} takes {linear.in_features} features but the Linear "
                             f"before it gives {before.out_features}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"from_torch: Linear weights must be float32 or float64, got {dtype}")
    model = Sequential(layers, input_dim=width, seed=0, dtype="float64" if dtype == torch.float64 else "float32")
    weights = []
    for _, linear, layer in linears:
        weights.append(linear.weight.detach().cpu().numpy().T)
        if layer.use_bias:
            weights.append(linear.bias.detach().cpu().numpy())
    model.set_weights(weights)
    return model


# ---- optimizer state ----------------------------------------------------------------------------------------
def _parameter_slices(model, module) -> list:
    """[(torch parameter, denso offset, denso shape)] for every weight and bias of `module`, checked against
    the model's layout."""
    pairs = []
    for index, layer in linear_indices(model):
        linear = module[index] if index < len(module) else None
        expected = f"Linear({layer.input_dim}, {layer.units}, bias={layer.use_bias})"
        if (type(linear).__name__ != "Linear" or tuple(linear.weight.shape) != (layer.units, layer.input_dim)
                or (linear.bias is not None) != layer.use_bias):
            raise ValueError(f"`module` does not match the model: module[{index}] must be {expected}, got "
                             f"{linear!r}; pass the module denso.interop.to_torch(model) returned")
        pairs.append((linear.weight, layer.weight_offset, (layer.input_dim, layer.units)))
        if layer.use_bias:
            pairs.append((linear.bias, layer.bias_offset, (layer.units,)))
    return pairs


def _torch_layout(flat: np.ndarray, offset: int, shape: tuple) -> np.ndarray:
    """A copy of the (in, out) block at `offset` of a flat buffer, transposed to torch's (out, in)."""
    block = flat[offset:offset + int(np.prod(shape))].reshape(shape)
    return np.array(block.T, order="C")


def _torch_optimizer_class(torch, optimizer):
    config = optimizer.config()
    if optimizer.name not in _TORCH_OPTIMIZERS:
        raise ValueError(f"optimizer {optimizer.name!r} has no torch.optim counterpart")
    if config.get("epsilon_hat"):
        raise ValueError("Adam(epsilon_hat=True) (eps before the bias correction) has no torch.optim form")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k not in ("name", "epsilon_hat")}
    return getattr(torch.optim, _TORCH_OPTIMIZERS[optimizer.name]), kwargs


def to_torch_optimizer(model, module):
    """A torch.optim optimizer over `module` (from `to_torch(model)`) that continues the model's training:
    the same class (SGD, RMSprop, Adam, AdamW) and hyperparameters, and the state of the model's optimizer
    mapped to each torch parameter (denso's state names are torch's: step, exp_avg, exp_avg_sq,
    max_exp_avg_sq, square_avg, grad_avg, momentum_buffer; moments transposed like the weights).

    One more step in torch then equals one more denso step on the same batch (for the loss torch is given:
    denso's l1/l2 penalties are not part of the module).
    """
    torch = _require_torch()
    model._require_built("to_torch_optimizer")
    model.require_compiled("to_torch_optimizer")
    cls, kwargs = _torch_optimizer_class(torch, model.optimizer)
    pairs = _parameter_slices(model, module)
    optimizer = cls([param for param, _, _ in pairs], **kwargs)
    state = model.optimizer.state[0]
    if state["step"] == 0:
        return optimizer  # untrained: torch starts its state on the first step, as denso does
    step_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32  # torch's rule
    for param, offset, shape in pairs:
        entry = optimizer.state[param]
        if model.optimizer.name != "sgd":  # torch's SGD keeps no step count
            entry["step"] = torch.tensor(float(state["step"]), dtype=step_dtype)
        for slot in model.optimizer.slot_names():
            entry[slot] = torch.from_numpy(_torch_layout(state[slot], offset, shape))
    return optimizer
