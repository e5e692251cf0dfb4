"""denso.viz: the DOT text of a graph holds each node's value and gradient and each edge's contribution,
checked against hand-derived derivatives and float64 central differences."""
import html
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import denso
from denso import Dense, Sequential, Tensor, viz
from denso.engines import graph_forward

NEEDS_GRAPHVIZ = "rendering needs the graphviz Python package and the `dot` program (pip install 'denso[viz]', " \
                 "apt-get install graphviz)"


def leaves(**values):
    return [Tensor(v, requires_grad=True, dtype="float64", name=n) for n, v in values.items()]


def abc_graph(a=3.0, b=1.0, c=-2.0):
    a, b, c = leaves(a=a, b=b, c=c)
    J = (a + 2 * b) * c
    J.name = "J"
    J.backward(record_edges=True)
    return J


def shown(dot: str, symbol: str) -> float:
    """The number a node label shows after `symbol = `."""
    match = re.search(re.escape(symbol) + r" = (-?[\d.e+-]+)(?:\\n|\")", dot)
    assert match, f"{symbol} not in\n{dot}"
    return float(match.group(1))


def central_difference(f, values: dict, name: str, eps=1e-6) -> float:
    up, down = dict(values), dict(values)
    up[name] += eps
    down[name] -= eps
    return (f(**up) - f(**down)) / (2 * eps)


def edges(dot: str) -> list:
    """[(from, to, label or None)] of every edge statement."""
    return [(m[0], m[1], m[2] or None) for m in re.findall(r"^\s*(n\d+) -> (n\d+)(?: \[label=\"([^\"]*)\"\])?;",
                                                            dot, re.MULTILINE)]


def node_id(dot: str, label_start: str) -> str:
    match = re.search(r"^\s*(n\d+) \[label=\"" + re.escape(label_start), dot, re.MULTILINE)
    assert match, f"no node labelled {label_start!r} in\n{dot}"
    return match.group(1)


def test_abc_graph_shows_value_and_every_partial_derivative():
    dot = viz.to_dot(abc_graph())
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert shown(dot, "J") == -10.0
    values = {"a": 3.0, "b": 1.0, "c": -2.0}
    hand = {"a": -2.0, "b": -4.0, "c": 5.0}  # ∂J/∂a = c, ∂J/∂b = 2c, ∂J/∂c = a + 2b
    for name, expected in hand.items():
        assert shown(dot, f"∂J/∂{name}") == expected
        fd = central_difference(lambda a, b, c: (a + 2 * b) * c, values, name)
        assert shown(dot, f"∂J/∂{name}") == pytest.approx(fd, abs=1e-7)
    assert shown(dot, "∂J/∂J") == 1.0
    # one node per op and per leaf: a, 2, b, mul, add, c, mul; edges follow the forward pass
    assert len(re.findall(r"^\s*n\d+ \[label=", dot, re.MULTILINE)) == 7
    a, add = node_id(dot, "a = 3"), node_id(dot, "add")
    assert (a, add, "∂J/∂a += -2") in edges(dot)


def test_a_value_used_twice_has_two_edges_whose_contributions_sum():
    x, = leaves(x=3.0)
    y = x * x
    y.backward(record_edges=True)
    dot = viz.to_dot(y)
    x_id, mul_id = node_id(dot, "x = 3"), node_id(dot, "mul")
    uses = [e for e in edges(dot) if e[:2] == (x_id, mul_id)]
    assert [label for _, _, label in uses] == ["∂J/∂x += 3", "∂J/∂x += 3"]
    assert shown(dot, "∂J/∂x") == 6.0 == float(x.grad)


def test_fan_out_through_two_ops_sums_both_paths():
    """J = (a + b)(b + 1): ∂J/∂b = (b + 1) + (a + b), one contribution per use of b."""
    a, b = leaves(a=2.0, b=0.5)
    J = (a + b) * (b + 1)
    J.backward(record_edges=True)
    dot = viz.to_dot(J)
    b_id = node_id(dot, "b = 0.5")
    sent = sorted(float(label.split("+= ")[1]) for src, _, label in edges(dot) if src == b_id)
    assert sent == [1.5, 2.5]                                   # b + 1 and a + b
    assert shown(dot, "∂J/∂b") == 4.0 == sum(sent)
    fd = central_difference(lambda a, b: (a + b) * (b + 1), {"a": 2.0, "b": 0.5}, "b")
    assert float(b.grad) == pytest.approx(fd, abs=1e-7)


def test_recording_edges_changes_no_gradient_and_is_off_by_default():
    x, w = leaves(x=[1.0, -2.0], w=[0.5, 3.0])
    plain = (denso.sigmoid(x * w) * x).sum()
    plain.backward()
    assert plain.edge_grads is None and "+=" not in viz.to_dot(plain)
    grads = x.grad.copy(), w.grad.copy()
    x.zero_grad()
    w.zero_grad()
    recorded = (denso.sigmoid(x * w) * x).sum()
    recorded.backward(record_edges=True)
    np.testing.assert_array_equal(x.grad, grads[0])
    np.testing.assert_array_equal(w.grad, grads[1])
    # x is used twice (in x*w and in the product): its two edge gradients add up to x.grad
    contributions = [g for node in viz._graph_nodes(recorded) if node.parents
                     for p, g in zip(node.parents, node.edge_grads) if p is x]
    assert len(contributions) == 2
    np.testing.assert_allclose(contributions[0] + contributions[1], x.grad, rtol=1e-15)


def test_values_and_grads_can_be_left_out():
    J = abc_graph()
    assert "= -10" not in viz.to_dot(J, values=False) and "∂J/∂a = -2" in viz.to_dot(J, values=False)
    bare = viz.to_dot(J, values=False, grads=False)
    assert "∂" not in bare and "-10" not in bare and "+=" not in bare
    assert "rankdir=TB" in viz.to_dot(J, rankdir="TB")
    with pytest.raises(ValueError, match="rankdir"):
        viz.to_dot(J, rankdir="sideways")
    with pytest.raises(TypeError, match="Tensor"):
        viz.to_dot(np.ones(2))


def test_dense_layer_is_one_node_with_its_weight_and_bias():
    x = Tensor(np.array([[1.0, -1.0]]), name="x")
    W = Tensor(np.array([[0.5, -1.0, 2.0], [1.0, 0.5, 0.0]]), requires_grad=True, name="W")
    b = Tensor(np.array([0.1, 0.2, -0.3]), requires_grad=True, name="b")
    out = denso.dense(x, W, b, activation="relu").sum()
    out.backward(record_edges=True)
    dot = viz.to_dot(out)
    assert "matmul" not in dot
    dense_id = node_id(dot, "dense(relu)")
    inputs = {src for src, dst, _ in edges(dot) if dst == dense_id}
    assert inputs == {node_id(dot, "x = [[1, -1]]\\nshape 1×2"), node_id(dot, "W =\\n[0.5, -1, 2]\\n[1, 0.5, 0]\\nshape 2×3"),
                      node_id(dot, "b = [0.1, 0.2, -0.3]\\nshape 3")}
    # relu(x·W + b) = relu([-0.4, -1.3, 1.7]): only the third unit passes a gradient
    assert "∂J/∂b = [0, 0, 1]" in dot and "∂J/∂W =\\n[0, 0, 1]\\n[0, 0, -1]" in dot   # a matrix: a line per row


def test_a_models_layers_are_drawn_as_dense_nodes_named_by_layer():
    model = Sequential([Dense(3, activation="relu"), Dense(2, activation="tanh"), Dense(2)], input_dim=2, seed=0)
    model.compile("sgd", "categorical_crossentropy")
    loss = model.loss(graph_forward(model, Tensor(np.ones((1, 2), dtype=np.float32))), None, np.array([1]), None)
    loss.backward(record_edges=True)
    dot = viz.to_dot(loss)
    assert "matmul" not in dot
    assert [line.split('"')[1].split("\\n")[0] for line in dot.splitlines() if '"dense' in line] == \
        ["dense(relu)", "dense(tanh)", "dense"]                 # the last one's softmax is fused in the loss
    for name in ("W1", "b1", "W2", "b2", "W3", "b3"):
        assert f"∂J/∂{name} =" in dot                           # small parameters show their gradients
    assert "categorical_crossentropy" in dot


def test_names_are_quoted_for_dot():
    x = Tensor(2.0, requires_grad=True, name='say "hi" \\ there')
    y = x * 3
    y.backward()
    dot = viz.to_dot(y)
    assert 'say \\"hi\\" \\\\ there = 2' in dot


def test_tensor_name_is_checked_and_changes_nothing():
    with pytest.raises(TypeError, match="`name` must be a string"):
        Tensor(1.0, name=3)
    assert Tensor(1.0).name is None and "name='w'" in repr(Tensor(1.0, name="w"))


def test_draw_writes_dot_text_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)          # `import graphviz` fails
    path = viz.draw(abc_graph(), tmp_path / "g.dot")
    with open(path, encoding="utf-8") as f:
        assert f.read() == viz.to_dot(abc_graph())


def test_draw_without_graphviz_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match=r"pip install 'denso\[viz\]' and apt-get install graphviz"):
        viz.draw(abc_graph(), tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
    with pytest.raises(ValueError, match=r"must end in one of \.svg"):
        viz.draw(abc_graph(), tmp_path / "g.jpeg")


def test_draw_without_dot_program_says_what_to_install(tmp_path, monkeypatch):
    pytest.importorskip("graphviz", reason=NEEDS_GRAPHVIZ)
    monkeypatch.setenv("PATH", str(tmp_path))                   # no `dot` on it
    with pytest.raises(FileNotFoundError, match="apt-get install graphviz"):
        viz.draw(abc_graph(), tmp_path / "g.svg")


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<svg"), (".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_draw_renders_with_graphviz(tmp_path, suffix, magic):
    pytest.importorskip("graphviz", reason=NEEDS_GRAPHVIZ)
    if shutil.which("dot") is None:
        pytest.skip(NEEDS_GRAPHVIZ)
    path = viz.draw(abc_graph(), tmp_path / f"g{suffix}")
    with open(path, "rb") as f:
        data = f.read()
    assert magic in data[:300]
    if suffix == ".svg":
        text = html.unescape(data.decode("utf-8"))
        for label in ("J = -10", "∂J/∂a = -2", "∂J/∂b = -4", "∂J/∂c = 5", "∂J/∂a += -2"):
            assert label in text, label


def test_readmes_committed_drawing_shows_the_abc_gradients():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "graph-abc.svg"), encoding="utf-8") as f:
        svg = html.unescape(f.read())
    for label in ("J = -10", "∂J/∂a = -2", "∂J/∂b = -4", "∂J/∂c = 5", "∂J/∂(a + 2*b) = -2", "∂J/∂c += 5"):
        assert label in svg, label


def test_import_denso_does_not_import_graphviz():
    code = "import sys, denso, denso.viz; print('graphviz' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"  # an editable install logs its rebuild first
