"""Drawing the computational graph: each op and leaf a node with its value and gradient.

`to_dot` returns Graphviz DOT text and needs nothing beyond denso; `draw` renders it to SVG, PNG or
PDF with the `graphviz` Python package and Graphviz's `dot` program (`pip install 'denso[viz]'`
and `apt-get install graphviz`). Neither is imported by `import denso`.

    >>> import denso.viz
    >>> a, b, c = (denso.Tensor(v, requires_grad=True, name=n) for v, n in ((3.0, "a"), (1.0, "b"), (-2.0, "c")))
    >>> J = (a + 2 * b) * c
    >>> J.name = "J"
    >>> J.backward(record_edges=True)     # edges then show the gradient each use sent back
    >>> denso.viz.draw(J, "graph.svg")
"""
from __future__ import annotations

import os

import numpy as np

from .autograd import Tensor

INSTALL_HINT = ("drawing the graph needs the graphviz Python package and Graphviz's `dot` program: "
                "pip install 'denso[viz]' and apt-get install graphviz (or the package of your system "
                "that provides `dot`)")
RANKDIRS = ("LR", "RL", "TB", "BT")
TEXT_FORMATS = ("dot", "gv")
IMAGE_FORMATS = ("svg", "png", "pdf")
SHOWN_VALUES = 6  # arrays of up to this many values show them; larger ones show their shape only

_STYLE = {  # what kind of node → Graphviz attributes
    "op": 'shape=box, style="rounded,filled", fillcolor="#dbe9f6"',
    "parameter": 'shape=ellipse, style=filled, fillcolor="#fff2c2"',
    "constant": 'shape=ellipse, style=filled, fillcolor="#eeeeee"',
}


def to_dot(tensor: Tensor, values: bool = True, grads: bool = True, rankdir: str = "LR") -> str:
    """Graphviz DOT source of the graph that produced `tensor`.

    One node per op (headed by its op, e.g. "mul" or "dense(relu)") and per leaf, showing its
    shape and, for scalars and arrays of up to 6 values, the forward value (`a = 3`, with the
    tensor's name when it has one) and, after backward(), the gradient (`∂J/∂a = -2`, J being
    `tensor`'s name, "J" when it has none; `grad` on unnamed nodes). Edges run in the direction of the
    forward pass; a value used twice has two outgoing edges. After `backward(record_edges=True)`
    each edge is labelled with the gradient that use sent back (`∂J/∂x += 3`): the node's gradient
    is their sum. Ops record their inputs only when one of them requires a gradient.

    Args:
        tensor: the output whose graph is drawn.
        values: show the forward values.
        grads: show the gradients (on nodes and, when recorded, on edges).
        rankdir: layout direction, "LR" (left to right), "RL", "TB" or "BT".
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"`tensor` must be a denso Tensor, got {type(tensor).__name__}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"`rankdir` must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    nodes = _graph_nodes(tensor)
    ids = {id(node): f"n{i}" for i, node in enumerate(nodes)}
    output = _symbol(tensor.name or "J")
    lines = ["digraph denso {", f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=10, fontcolor="#c0392b"];']
    for node in nodes:
        label = _node_lines(node, output, values, grads)
        style = _STYLE[_kind(node)]
        if len(label) > 3:  # a tall label fits a box better than an ellipse
            style = style.replace("shape=ellipse, style=filled", 'shape=box, style="rounded,filled"')
        bold = ", penwidth=2" if node is tensor else ""
        lines.append(f"  {ids[id(node)]} [label={_quote(chr(10).join(label))}, {style}{bold}];")
    for node in nodes:
        sent = node.edge_grads if grads and node.grad is not None else None
        for i, parent in enumerate(node.parents):
            text = _edge_label(parent, sent[i] if sent is not None else None, output)
            attrs = f" [label={_quote(text)}]" if text else ""
            lines.append(f"  {ids[id(parent)]} -> {ids[id(node)]}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def output_format(path: str, name: str) -> str:
    """The format draw() writes for `path` (its suffix, lower case), or ValueError naming `name`."""
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if fmt not in TEXT_FORMATS + IMAGE_FORMATS:
        raise ValueError(f"{name} must end in one of {', '.join('.' + f for f in IMAGE_FORMATS + TEXT_FORMATS)}, "
                         f"got {path!r}")
    return fmt


def draw(tensor: Tensor, path, values: bool = True, grads: bool = True, rankdir: str = "LR") -> str:
    """Write the drawing of `tensor`'s graph (see to_dot) to `path`; returns the path.

    The format follows the suffix: .svg, .png or .pdf are rendered by Graphviz (`pip install
    'denso[viz]'` and `apt-get install graphviz`; without them an ImportError or
    FileNotFoundError says what to install), .dot or .gv write the DOT text itself.
    """
    path = os.fspath(path)
    fmt = output_format(path, "`path`")
    text = to_dot(tensor, values, grads, rankdir)
    if fmt in TEXT_FORMATS:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path
    data = render(text, fmt)
    with open(path, "wb") as f:
        f.write(data)
    return path


def render(dot_text: str, fmt: str) -> bytes:
    """DOT text rendered by Graphviz's `dot` into `fmt` ("svg", "png", "pdf")."""
    try:
        import graphviz
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    try:
        return graphviz.Source(dot_text).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise FileNotFoundError(f"Graphviz's `dot` program was not found; {INSTALL_HINT}") from None


def _graph_nodes(root: Tensor) -> list:
    """Every tensor `root` was computed from (constants too), each after its parents; iterative."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.parents) if id(p) not in seen)
    return order


def _kind(node: Tensor) -> str:
    if node.parents or node.label:
        return "op"
    return "parameter" if node.requires_grad else "constant"


def _node_lines(node: Tensor, output: str, values: bool, grads: bool) -> list:
    """The label of a node: what it is, its shape, value and gradient."""
    name, kind = node.name, _kind(node)
    show_value = values and node.size <= SHOWN_VALUES
    bare_constant = kind == "constant" and name is None and show_value  # the 2 of 2*b: its value says it all
    if kind == "op":
        lines = [node.label]
    elif name is not None:
        lines = [] if show_value else [name]  # the value line then starts with the name
    else:
        lines = [] if bare_constant else ["leaf" if kind == "parameter" else "constant"]
    if show_value:
        lines += _value_lines("" if bare_constant else name or "value", node.data)
    if node.ndim:
        lines.append("shape " + "×".join(str(n) for n in node.shape))
    if grads and node.grad is not None and node.size <= SHOWN_VALUES:
        lines += _value_lines(f"∂{output}/∂{_symbol(name)}" if name else "grad", node.grad)
    return lines


def _edge_label(parent: Tensor, grad, output: str) -> str:
    """The gradient one use of `parent` sent back along this edge, when recorded and small."""
    if grad is None or np.size(grad) > SHOWN_VALUES:
        return ""
    target = f"∂{output}/∂{_symbol(parent.name)}" if parent.name else "grad"
    return "\n".join(_value_lines(target, grad, "+="))


def _value_lines(prefix: str, array, sign: str = "=") -> list:
    """`prefix = value` on one line, or a matrix of several rows as one line per row under `prefix =`."""
    array = np.asarray(array)
    if array.ndim == 2 and array.shape[0] > 1:
        rows = [_format(row) for row in array]
        return [f"{prefix} {sign}"] + rows if prefix else rows
    return [f"{prefix} {sign} {_format(array)}" if prefix else _format(array)]


def _symbol(name: str) -> str:
    """A name as the denominator of ∂J/∂·: parenthesised when it is an expression (∂J/∂(a + 2*b))."""
    return name if name.isidentifier() else f"({name})"


def _format(array) -> str:
    """A scalar as 4 significant digits; a small array as nested lists of them."""
    array = np.asarray(array)
    if array.ndim == 0:
        return _number(float(array))
    if array.ndim == 1:
        return "[" + ", ".join(_number(float(v)) for v in array) + "]"
    return "[" + ", ".join(_format(row) for row in array) + "]"


def _number(value: float) -> str:
    text = f"{value:.4g}"
    return "0" if text == "-0" else text


def _quote(text: str) -> str:
    """A DOT string literal: backslashes and quotes escaped, lines separated by DOT's \\n."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n") + '"'
