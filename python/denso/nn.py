"""Layers: Dense, Dropout, GaussianNoise. Modules hold state; the maths lives in functional.py."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _core, initializers
from ._checks import require_number, require_positive_int
from .autograd import Tensor
from .functional import dense, get_activation
from .ops import add, as_tensor, mul


@dataclass(frozen=True)
class TrainingStream:
    """The random stream of one training step. Dropout masks and noise are keyed by (seed, step, the
    layer's position in its model, the row's position in its batch), so they do not depend on threads,
    engine or batch split. `row_offset`: the position of the first row (a data-parallel shard's)."""

    seed: int
    step: int
    row_offset: int = 0


class Layer:
    """Base class: build(input_dim) fixes shapes; forward(x, stream) builds the graph, with `stream`
    None in inference and the step's TrainingStream in training."""

    has_parameters = False
    position = 0  # index in the model (set by Sequential.add): keys the layer's random stream

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


class Dense(Layer):
    """Fully connected layer: A = g(X·W + b), with W of shape (in, out).

    Args:
        units: output width.
        activation: None/"identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "step".
        use_bias: whether to add a bias vector.
        kernel_initializer: name ("glorot_uniform", "he_normal", ...) or callable(shape, rng, dtype).
        bias_initializer: name or callable; "zeros" by default.
        l1, l2: penalties l1·Σ|W| and l2·ΣW² added to the loss (weights only, not the bias).
        alpha: leaky_relu's negative slope.

    Shape: (batch, in) → (batch, units). Parameters: units · (in + 1) with a bias.

    Example:
        >>> model = Sequential([Dense(64, activation="relu"), Dense(10)], input_dim=784)
    """

    has_parameters = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", l1=0.0, l2=0.0, alpha=0.01):
        self.units = require_positive_int(units, "units")
        self.activation = activation if activation is not None else "identity"
        get_activation(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.l1 = require_number(l1, "l1", low=0.0)
        self.l2 = require_number(l2, "l2", low=0.0)
        self.alpha = require_number(alpha, "alpha", low=0.0)
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
        return {"class": "Dense", "units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "l1": self.l1, "l2": self.l2, "alpha": self.alpha}


class Dropout(Layer):
    """Inverted dropout: in training, each input is zeroed with probability `rate` and the rest are
    scaled by 1/(1 − rate); in inference it is the identity. Masks come from a counter-based
    generator keyed by (seed, layer position, step), so they do not depend on thread count.

    Args:
        rate: drop probability in [0, 1).
    """

    def __init__(self, rate):
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
        return {"class": "Dropout", "rate": self.rate}


class GaussianNoise(Layer):
    """Data augmentation: adds N(0, stddev²) noise to its input in training, identity in inference.

    Args:
        stddev: standard deviation of the noise (>= 0).
    """

    def __init__(self, stddev):
        self.stddev = require_number(stddev, "stddev", low=0.0)

    def forward(self, x, stream=None):
        if stream is None or self.stddev == 0.0:
            return x
        noise = np.zeros((x.shape[0], int(np.prod(x.shape[1:]))), dtype=x.dtype)
        _core.gaussian_noise_forward(stream.seed, self.position, stream.step, self.stddev, noise, stream.row_offset)
        return add(x, Tensor(noise.reshape(x.shape)))

    def get_config(self) -> dict:
        return {"class": "GaussianNoise", "stddev": self.stddev}


LAYERS = {"Dense": Dense, "Dropout": Dropout, "GaussianNoise": GaussianNoise}


def layer_from_config(config: dict) -> Layer:
    """Rebuild a layer from get_config() output."""
    config = dict(config)
    cls = LAYERS.get(config.pop("class", None))
    if cls is None:
        raise ValueError(f"unknown layer class in config: {config!r}; expected one of {sorted(LAYERS)}")
    if cls is Dense:
        config["kernel_initializer"] = initializers.deserialize(config["kernel_initializer"])
        config["bias_initializer"] = initializers.deserialize(config["bias_initializer"])
    return cls(**config)
