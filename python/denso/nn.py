"""Layers: Dense, Dropout, GaussianNoise. Modules hold state; the maths lives in functional.py."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _core, initializers
from ._checks import require_number, require_positive_int
from .autograd import Tensor
from .functional import default_alpha, dense, get_activation
from .ops import add, as_tensor, mul


@dataclass(frozen=True)
class TrainingStream:
    """The random stream of one training step. Dropout masks and noise are keyed by (seed, step, the
    layer's position in its model, the row's position in its batch), so they do not depend on threads,
    engine or batch split. `row_offset`: the position of the first row (a data-parallel shard's)."""

    seed: int
    step: int
    row_offset: int = 0


def declared_input_dim(input_dim, input_shape) -> int | None:
    """The input width a layer declares with Keras's `input_dim=13` or `input_shape=(13,)` (None: none);
    both given must agree, and denso's layers take flat rows, so a shape has exactly one entry."""
    shape_dim = None
    if input_shape is not None:
        if isinstance(input_shape, (int, np.integer)) and not isinstance(input_shape, bool):
            input_shape = (input_shape,)
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 1:
            raise ValueError(f"`input_shape` must be (features,): denso's layers take flat rows, got {input_shape!r}; "
                             f"flatten x to (samples, features) and pass input_shape=(features,) or input_dim=features")
        shape_dim = require_positive_int(input_shape[0], "input_shape[0]")
    if input_dim is not None:
        input_dim = require_positive_int(input_dim, "input_dim")
        if shape_dim is not None and shape_dim != input_dim:
            raise ValueError(f"`input_dim`={input_dim} and `input_shape`={tuple(input_shape)!r} disagree; "
                             "pass one of them")
        return input_dim
    return shape_dim


class Layer:
    """Base class: build(input_dim) fixes shapes; forward(x, stream) builds the graph, with `stream`
    None in inference and the step's TrainingStream in training.

    `input_dim` (set from Keras's `input_dim=`/`input_shape=` arguments) is the width the layer declares
    for its input, or None: the first layer's builds the model, a later one's is checked at build."""

    has_parameters = False
    position = 0  # index in the model (set by Sequential.add): keys the layer's random stream
    declared_input_dim = None

    def build(self, input_dim: int) -> int:
        """Fix the input width; returns the output width."""
        self.input_dim = self.output_dim = input_dim
        return input_dim

    def parameter_shapes(self) -> list:
        """[(name, shape, initializer)] of the parameters, in storage order."""
        return []

    def parameters(self) -> list:
        return []

    def forward(self, x: Tensor, stream: TrainingStream | None = None) -> Tensor:
        raise NotImplementedError

    def __call__(self, x, training: bool = False) -> Tensor:
        return self.forward(as_tensor(x), TrainingStream(0, 0) if training else None)

    def get_config(self) -> dict:
        raise NotImplementedError

    def _with_input(self, config: dict) -> dict:
        """`config` plus the declared input width, when the layer has one."""
        if self.declared_input_dim is not None:
            config["input_dim"] = self.declared_input_dim
        return config


class Dense(Layer):
    """Fully connected layer: A = g(X·W + b), with W of shape (in, out).

    Args:
        units: output width.
        activation: None/"identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "step", "gelu",
            "elu", "selu", "softplus", "swish" (or "silu").
        use_bias: whether to add a bias vector.
        kernel_initializer: name ("glorot_uniform", "he_normal", ...) or callable(shape, rng, dtype).
        bias_initializer: name or callable; "zeros" by default.
        l1, l2: penalties l1·Σ|W| and l2·ΣW² added to the loss (weights only, not the bias).
        alpha: leaky_relu's negative slope (default 0.01) or elu's α (default 1.0).
        input_dim / input_shape: Keras's way to give the first layer the input width (13 or (13,));
            the model is then built at once. On a later layer it must match the width before it.

    Shape: (batch, in) → (batch, units). Parameters: units · (in + 1) with a bias.

    Example:
        >>> model = Sequential([Dense(64, activation="relu"), Dense(10)], input_dim=784)
    """

    has_parameters = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", l1=0.0, l2=0.0, alpha=None, *, input_dim=None, input_shape=None):
        self.units = require_positive_int(units, "units")
        self.activation = activation if activation is not None else "identity"
        get_activation(self.activation)
        self.declared_input_dim = declared_input_dim(input_dim, input_shape)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.l1 = require_number(l1, "l1", low=0.0)
        self.l2 = require_number(l2, "l2", low=0.0)
        self.alpha = default_alpha(self.activation) if alpha is None else require_number(alpha, "alpha", low=0.0)
        self.weight = self.bias = None
        self.weight_offset = self.bias_offset = None  # where weight and bias lie in the model's flat buffer

    def build(self, input_dim: int) -> int:
        self.input_dim, self.output_dim = input_dim, self.units
        return self.units

    def parameter_shapes(self) -> list:
        shapes = [("weight", (self.input_dim, self.units), self.kernel_initializer)]
        if self.use_bias:
            shapes.append(("bias", (self.units,), self.bias_initializer))
        return shapes

    def parameters(self) -> list:
        return [p for p in (self.weight, self.bias) if p is not None]

    def forward(self, x, stream=None, activation=None):
        """g(x·W + b); `activation` overrides the layer's own (the loss-fused last layer runs "identity")."""
        if self.weight is None:
            raise ValueError("this Dense layer has no weights yet: build the model (or give input_dim) first")
        return dense(x, self.weight, self.bias, activation or self.activation, self.alpha)

    def get_config(self) -> dict:
        return self._with_input({
            "class": "Dense", "units": self.units, "activation": self.activation, "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "l1": self.l1, "l2": self.l2, "alpha": self.alpha})


class Dropout(Layer):
    """Inverted dropout: in training, each input is zeroed with probability `rate` and the rest are
    scaled by 1/(1 − rate); in inference it is the identity. Masks come from a counter-based
    generator keyed by (seed, layer position, step), so they do not depend on thread count.

    Args:
        rate: drop probability in [0, 1).
        input_dim / input_shape: the input width, when it is the model's first layer (as Dense's).
    """

    def __init__(self, rate, *, input_dim=None, input_shape=None):
        self.declared_input_dim = declared_input_dim(input_dim, input_shape)
        self.rate = require_number(rate, "rate", low=0.0)
        if self.rate >= 1.0:
            raise ValueError(f"`rate` must be < 1 (it is the probability of dropping a unit), got {self.rate}")

    def forward(self, x, stream=None):
        if stream is None or self.rate == 0.0:
            return x
        data = np.array(x.data, order="C", copy=True).reshape(x.shape[0], -1)
        mask = np.empty_like(data)
        _core.dropout_forward(stream.seed, self.position, stream.step, self.rate, data, mask, stream.row_offset)
        return mul(x, Tensor(mask.reshape(x.shape)))

    def get_config(self) -> dict:
        return self._with_input({"class": "Dropout", "rate": self.rate})


class GaussianNoise(Layer):
    """Data augmentation: adds N(0, stddev²) noise to its input in training, identity in inference.

    Args:
        stddev: standard deviation of the noise (>= 0).
        input_dim / input_shape: the input width, when it is the model's first layer (as Dense's).
    """

    def __init__(self, stddev, *, input_dim=None, input_shape=None):
        self.declared_input_dim = declared_input_dim(input_dim, input_shape)
        self.stddev = require_number(stddev, "stddev", low=0.0)

    def forward(self, x, stream=None):
        if stream is None or self.stddev == 0.0:
            return x
        noise = np.zeros((x.shape[0], int(np.prod(x.shape[1:]))), dtype=x.dtype)
        _core.gaussian_noise_forward(stream.seed, self.position, stream.step, self.stddev, noise, stream.row_offset)
        return add(x, Tensor(noise.reshape(x.shape)))

    def get_config(self) -> dict:
        return self._with_input({"class": "GaussianNoise", "stddev": self.stddev})


LAYERS = {"Dense": Dense, "Dropout": Dropout, "GaussianNoise": GaussianNoise}


def layer_from_config(config: dict) -> Layer:
    """Rebuild a layer (unbuilt, without weights) from get_config() output."""
    if not isinstance(config, dict):
        raise TypeError(f"a layer config must be a dict as returned by get_config(), got {type(config).__name__}")
    config = dict(config)
    cls = LAYERS.get(config.pop("class", None))
    if cls is None:
        raise ValueError(f"unknown layer class in config: {config!r}; expected one of {sorted(LAYERS)}")
    if cls is Dense:
        config["kernel_initializer"] = initializers.deserialize(config["kernel_initializer"])
        config["bias_initializer"] = initializers.deserialize(config["bias_initializer"])
    return cls(**config)
