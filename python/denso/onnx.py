"""ONNX export: a graph that computes exactly what `model.predict` returns.

    denso.onnx.export(model, "model.onnx")        # or model.to_onnx("model.onnx", opset=17)

The graph has one input, "input" (batch, input_dim), and one output, "output" (batch, output_dim), both
of the model's dtype (float32 or float64); the batch axis ("batch") is dynamic. Each Dense layer becomes
a Gemm (denso's W is already (in, out), so transB=0) or a lone MatMul when it has no bias, followed by
its activation's ops (ACTIVATION_OPS); Dropout and GaussianNoise act only in training and leave no node.
The last Dense runs predict()'s activation: for a model compiled with a cross-entropy loss (which trains
on logits) that is the softmax or sigmoid, so the output is probabilities; the graph's doc string says so.

`import denso` does not import onnx: it is imported here, when a graph is built (`pip install denso[onnx]`).
"""
from __future__ import annotations

import math
import os

import numpy as np

from ._core import __version__
from .functional import get_activation
from .nn import Dense, Dropout, GaussianNoise
from .plan import layer_activation

INPUT_NAME = "input"
OUTPUT_NAME = "output"
BATCH_AXIS = "batch"
DEFAULT_OPSET = 17
MIN_OPSET = 13  # Softmax(axis=-1) means "over the last axis" from opset 13 on
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_GAMMA = 1.0507009873554804934193349852946


def _require_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError("ONNX export needs the onnx package: pip install 'denso[onnx]' "
                          "(or pip install onnx onnxruntime)") from exc
    return onnx


class _GraphBuilder:
    """Collects nodes and initializers; every value gets a fresh name under the current layer's prefix."""

    def __init__(self, onnx, dtype: np.dtype, opset: int):
        self.onnx, self.dtype, self.opset = onnx, np.dtype(dtype), opset
        self.nodes, self.initializers, self.prefix, self._count = [], [], "", 0

    def name(self, what: str) -> str:
        self._count += 1
        return f"{self.prefix}{what}_{self._count}"

    def node(self, op: str, inputs: list, **attributes) -> str:
        out = self.name(op.lower())
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=out, **attributes))
        return out

    def array(self, name: str, values) -> str:
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(values, dtype=self.dtype), name))
        return name

    def const(self, value: float) -> str:
        """A scalar of the graph's dtype (exact in float64, unlike a float32 node attribute)."""
        return self.array(self.name("const"), value)

    @property
    def double(self) -> bool:
        return self.dtype == np.float64


# ---- activations: f(graph, x, alpha) -> output name (x itself for the identity) ------------------------------
def _leaky_relu(g, x, alpha):
    if not g.double or float(np.float32(alpha)) == alpha:
        return g.node("LeakyRelu", [x], alpha=float(alpha))
    # ONNX attributes are float32: a float64 graph spells it with an exact double constant
    return g.node("Where", [g.node("Greater", [x, g.const(0.0)]), x, g.node("Mul", [x, g.const(alpha)])])


def _exp_minus_one_below_zero(g, x, scale: float):
    """x where x > 0, else scale·(exp(x) − 1), in elementary ops with double-exact constants."""
    below = g.node("Mul", [g.node("Sub", [g.node("Exp", [x]), g.const(1.0)]), g.const(scale)])
    return g.node("Where", [g.node("Greater", [x, g.const(0.0)]), x, below])


def _elu(g, x, alpha):
    # float64: onnxruntime has no double kernel for Elu, Selu or Softplus, so those are spelt out
    return _exp_minus_one_below_zero(g, x, alpha) if g.double else g.node("Elu", [x], alpha=float(alpha))


def _selu(g, x, alpha):
    if g.double:
        return g.node("Mul", [_exp_minus_one_below_zero(g, x, _SELU_ALPHA), g.const(_SELU_GAMMA)])
    return g.node("Selu", [x], alpha=_SELU_ALPHA, gamma=_SELU_GAMMA)


def _softplus(g, x, alpha):
    if not g.double:
        return g.node("Softplus", [x])
    # max(x, 0) + log(1 + exp(−|x|)): no overflow at large |x|
    tail = g.node("Log", [g.node("Add", [g.const(1.0), g.node("Exp", [g.node("Neg", [g.node("Abs", [x])])])])])
    return g.node("Add", [g.node("Relu", [x]), tail])


def _gelu(g, x, alpha):
    """The exact (erf) GELU: the Gelu op from opset 20, else 0.5·x·(1 + erf(x/√2))."""
    if g.opset >= 20:
        return g.node("Gelu", [x])
    erf = g.node("Erf", [g.node("Mul", [x, g.const(1.0 / math.sqrt(2.0))])])
    return g.node("Mul", [g.node("Mul", [x, g.const(0.5)]), g.node("Add", [erf, g.const(1.0)])])


def _step(g, x, alpha):
    """Heaviside step as denso computes it: 1 where x > 0, else 0 (x = 0 gives 0)."""
    return g.node("Cast", [g.node("Greater", [x, g.const(0.0)])],
                  to=g.onnx.helper.np_dtype_to_tensor_dtype(g.dtype))


ACTIVATION_OPS = {
    "identity": lambda g, x, alpha: x,
    "relu": lambda g, x, alpha: g.node("Relu", [x]),
    "leaky_relu": _leaky_relu,
    "sigmoid": lambda g, x, alpha: g.node("Sigmoid", [x]),
    "tanh": lambda g, x, alpha: g.node("Tanh", [x]),
    "softmax": lambda g, x, alpha: g.node("Softmax", [x], axis=-1),
    "step": _step,
    "gelu": _gelu,
    "elu": _elu,
    "selu": _selu,
    "softplus": _softplus,
    "swish": lambda g, x, alpha: g.node("Mul", [x, g.node("Sigmoid", [x])]),  # also denso's "silu"
}
"""ONNX spelling of each activation, keyed by its canonical name (denso's `Activation` enum member)."""


def activation_ops(name: str):
    """The builder of activation `name` (any alias denso accepts); ValueError if it has no ONNX spelling."""
    canonical = get_activation(name).name
    if canonical not in ACTIVATION_OPS:
        raise ValueError(f"activation {name!r} has no ONNX export; exportable: {sorted(ACTIVATION_OPS)}")
    return ACTIVATION_OPS[canonical]


# ---- the model -------------------------------------------------------------------------------------------------
def _dense(g, layer: Dense, x: str) -> str:
    """x·W + b as one Gemm (W stays (in, out): transB=0), or a lone MatMul without a bias."""
    weight = g.array(f"{g.prefix}weight", layer.weight.data)
    if not layer.use_bias:
        return g.node("MatMul", [x, weight])
    return g.node("Gemm", [x, weight, g.array(f"{g.prefix}bias", layer.bias.data)])


def output_description(model) -> str:
    """What the graph's output holds (the graph's doc string)."""
    last = model.dense_layers()[-1]
    activation = get_activation(layer_activation(model, last)).name
    loss = model.loss
    if loss is not None and loss.fused_activation is not None:
        what = (f"{activation} probabilities: the model was compiled with {loss.name}, which trains on logits, "
                f"and predict() returns the probabilities")
    else:
        what = f"the last Dense layer's output (activation {activation})"
    widths = "-".join(str(w) for w in [model.input_dim] + [d.units for d in model.dense_layers()])
    return (f"denso Sequential {model.name!r} {widths} ({model.dtype.name}). Input {INPUT_NAME!r}: "
            f"({BATCH_AXIS}, {model.input_dim}). Output {OUTPUT_NAME!r}: ({BATCH_AXIS}, {model.output_dim}), "
            f"equal to model.predict(input): {what}.")


def _check_opset(opset, onnx) -> int:
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"`opset` must be an integer in [{MIN_OPSET}, {newest}] (the installed onnx supports up "
                         f"to {newest}), got {opset!r}")
    return int(opset)


def ir_version_for(opset: int, onnx) -> int:
    """The oldest IR version that carries `opset`: pinned, since newer onnx releases write an IR that older
    runtimes refuse (onnx 1.23 writes IR 14 by default; opset 17 needs only IR 8)."""
    return min(ir for _, ir, ai_onnx, *_ in onnx.helper.VERSION_TABLE if ai_onnx >= opset)


def _layers_to_nodes(g, model) -> str:
    """Append every layer's nodes; returns the name of the last value."""
    x = INPUT_NAME
    for layer in model.layers:
        if isinstance(layer, (Dropout, GaussianNoise)):
            continue  # training only: the identity in inference
        if not isinstance(layer, Dense):
            raise ValueError(f"layer {layer.position} ({type(layer).__name__}) has no ONNX export; exportable "
                             f"layers: Dense, Dropout, GaussianNoise")
        g.prefix = f"layer{layer.position}."
        build = activation_ops(layer_activation(model, layer))
        x = build(g, _dense(g, layer, x), layer.alpha)
    return x


def _rename_value(nodes: list, old: str, new: str) -> None:
    """Every use of value `old` (a node output, never the graph input: a Dense always adds a node) as `new`."""
    for node in nodes:
        for values in (node.input, node.output):
            for i, value in enumerate(values):
                if value == old:
                    values[i] = new


def to_proto(model, opset: int = DEFAULT_OPSET):
    """The ONNX ModelProto of a built model (checked with `onnx.checker.check_model(full_check=True)`)."""
    onnx = _require_onnx()
    opset = _check_opset(opset, onnx)
    if not getattr(model, "built", False):
        raise ValueError("ONNX export needs a built model: pass input_dim to Sequential(...) or call build() / fit()")
    g = _GraphBuilder(onnx, model.dtype, opset)
    _rename_value(g.nodes, _layers_to_nodes(g, model), OUTPUT_NAME)
    elem = onnx.helper.np_dtype_to_tensor_dtype(model.dtype)
    graph = onnx.helper.make_graph(
        g.nodes, model.name, [onnx.helper.make_tensor_value_info(INPUT_NAME, elem, [BATCH_AXIS, model.input_dim])],
        [onnx.helper.make_tensor_value_info(OUTPUT_NAME, elem, [BATCH_AXIS, model.output_dim])],
        g.initializers, doc_string=output_description(model))
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   ir_version=ir_version_for(opset, onnx), producer_name="denso",
                                   producer_version=__version__, doc_string=graph.doc_string)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model, path, opset: int = DEFAULT_OPSET):
    """Write `model` as an ONNX file at `path` (see the module doc for the graph); returns the ModelProto.

    Args:
        model: a built Sequential (compiled or not).
        path: file to write.
        opset: the ai.onnx opset, in [13, the installed onnx's newest]; the IR version is the oldest that
            carries it (IR 8 for the default opset 17).
    """
    proto = to_proto(model, opset)
    _require_onnx().save_model(proto, os.fspath(path))
    return proto
