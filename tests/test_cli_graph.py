"""`denso graph EXPR --values ... --out ...`: prints J and every partial derivative (checked against
hand-derived values and central differences), draws the graph, and refuses anything off its whitelist."""
import math
import re
import shutil
import sys

import pytest

from denso import cli
from denso.cli.expression import parse_values

NEEDS_GRAPHVIZ = "rendering needs the graphviz Python package and the `dot` program"


def error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def printed(out: str) -> dict:
    """{"J": value, "a": dJ/da, ...} from the command's output."""
    numbers = {"J": float(re.search(r"^J = .* = (\S+)$", out, re.MULTILINE).group(1))}
    numbers.update({m[0]: float(m[1]) for m in re.findall(r"^dJ/d(\w+) = (\S+)$", out, re.MULTILINE)})
    return numbers


def central_differences(f, values: dict, eps=1e-6) -> dict:
    grads = {}
    for name in values:
        up, down = dict(values, **{name: values[name] + eps}), dict(values, **{name: values[name] - eps})
        grads[name] = (f(**up) - f(**down)) / (2 * eps)
    return grads


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


CASES = [  # expression, values, the same function in Python (for the references)
    ("(a + 2*b) * c", {"a": 3.0, "b": 1.0, "c": -2.0}, lambda a, b, c: (a + 2 * b) * c),
    ("(1 + 4*x)**2", {"x": 3.0}, lambda x: (1 + 4 * x) ** 2),
    ("sigmoid(w*x + b)", {"w": 0.5, "x": 2.0, "b": -0.3}, lambda w, x, b: sigmoid(w * x + b)),
    ("tanh(x) / exp(y) - log(x*y) + relu(-x)", {"x": 0.7, "y": 1.3},
     lambda x, y: math.tanh(x) / math.exp(y) - math.log(x * y) + max(-x, 0.0)),
    ("-x**-1 + x/3", {"x": 2.0}, lambda x: -x ** -1 + x / 3),
]


@pytest.mark.parametrize("expression, values, f", CASES)
def test_prints_value_and_every_partial_derivative(tmp_path, capsys, expression, values, f):
    text = ",".join(f"{k}={v}" for k, v in values.items())
    out_path = tmp_path / "g.dot"
    assert cli.main(["graph", expression, "--values", text, "--out", str(out_path)]) == 0
    got = printed(capsys.readouterr().out)
    assert got["J"] == pytest.approx(f(**values), rel=1e-5)  # printed with 6 significant digits
    reference = central_differences(f, values)
    assert set(got) == {"J", *values}
    for name in values:
        assert got[name] == pytest.approx(reference[name], rel=1e-5, abs=1e-8), name
    assert out_path.read_text(encoding="utf-8").startswith("digraph")


def test_abc_example_matches_the_hand_derived_gradients(tmp_path, capsys):
    out_path = tmp_path / "abc.dot"
    assert cli.main(["graph", "(a + 2*b) * c", "--values", "a=3,b=1,c=-2", "--out", str(out_path)]) == 0
    out = capsys.readouterr().out
    assert printed(out) == {"J": -10.0, "a": -2.0, "b": -4.0, "c": 5.0}
    assert f"denso: graph written to {out_path}" in out
    dot = out_path.read_text(encoding="utf-8")
    for label in ("J = -10", "∂J/∂a = -2", "∂J/∂b = -4", "∂J/∂c = 5", "a + 2*b = 5", "∂J/∂(a + 2*b) = -2"):
        assert label in dot, label


def test_draws_svg_with_graphviz(tmp_path, capsys):
    pytest.importorskip("graphviz", reason=NEEDS_GRAPHVIZ)
    if shutil.which("dot") is None:
        pytest.skip(NEEDS_GRAPHVIZ)
    out_path = tmp_path / "x.svg"
    assert cli.main(["graph", "x*x", "--values", "x=3", "--out", str(out_path)]) == 0
    assert printed(capsys.readouterr().out) == {"J": 9.0, "x": 6.0}
    svg = out_path.read_text(encoding="utf-8")
    assert "<svg" in svg and svg.count("∂J/∂x += 3") == 2


def test_missing_graphviz_is_one_line_naming_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    assert cli.main(["graph", "x*x", "--values", "x=3", "--out", str(tmp_path / "x.svg")]) == 1
    captured = capsys.readouterr()
    line = error_line(captured.err)
    assert line.startswith("denso: error:")
    assert "pip install 'denso[viz]'" in line and "apt-get install graphviz" in line
    assert printed(captured.out) == {"J": 9.0, "x": 6.0}      # the derivatives are printed all the same


REFUSED = [
    ("__import__('os').system('touch pwned')", "is not allowed"),
    ("__import__('os')", "calling __import__ is not allowed"),
    ("x.__class__", "attribute access (x.__class__) is not allowed"),
    ("open('pwned', 'w')", "calling open is not allowed"),
    ("eval('1')", "calling eval is not allowed"),
    ("x[0]", "Subscript (x[0]) is not allowed"),
    ("(lambda: x)()", "is not allowed"),
    ("[x for x in (1, 2)]", "ListComp"),
    ("'text' * x", "the constant 'text' is not a number"),
    ("x if x else 1", "IfExp"),
    ("x == 1", "Compare"),
    ("sigmoid(x, 2)", "sigmoid takes one argument"),
    ("exp + x", "exp is a function"),
    ("x ** x", "the exponent of ** must be a number"),
    ("x +", "is not a valid expression"),
    ("x" + "+x" * 600, "at most 1000"),
    ("(x)", "the variable 'x' alone"),
]


@pytest.mark.parametrize("expression, message", REFUSED)
def test_refuses_everything_off_the_whitelist(tmp_path, monkeypatch, capsys, expression, message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["graph", expression, "--values", "x=1", "--out", "g.dot"]) == 2
    line = error_line(capsys.readouterr().err)
    assert line.startswith("denso: error:") and message in line, line
    assert list(tmp_path.iterdir()) == []                      # nothing ran, nothing was written


def test_variables_and_values_must_match(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["graph", "a*b + c", "--values", "a=2"]) == 2
    assert "no value for b, c: give every variable one, e.g. --values a=2,b=1,c=1" in error_line(capsys.readouterr().err)
    assert cli.main(["graph", "a*2", "--values", "a=2,d=1"]) == 2
    assert "--values names d, which EXPR does not use" in error_line(capsys.readouterr().err)
    assert cli.main(["graph", "2*3"]) == 2
    assert "no variables" in error_line(capsys.readouterr().err)
    assert cli.main(["graph", "x*J", "--values", "x=1,J=2"]) == 2
    assert "J is the name of the expression's value" in error_line(capsys.readouterr().err)
    assert cli.main(["graph", "x*x", "--values", "x=1", "--out", "g.jpeg"]) == 2
    assert "must end in one of .svg, .png, .pdf, .dot, .gv" in error_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, message", [("a", "NAME=NUMBER"), ("a=x", "must be a number"),
                                           ("a=nan", "must be finite"), ("a=1,a=2", "given twice"),
                                           ("1a=2", "NAME=NUMBER")])
def test_bad_values_are_a_usage_error(capsys, text, message):
    assert cli.main(["graph", "a*a", "--values", text]) == 2
    line = error_line(capsys.readouterr().err)
    assert "argument --values" in line and message in line


def test_values_parse():
    assert parse_values("a=3, b = -1.5,c=2e-3") == {"a": 3.0, "b": -1.5, "c": 0.002}


def test_undefined_values_print_as_nan_without_warnings(tmp_path, capsys):
    assert cli.main(["graph", "log(x)", "--values", "x=-1", "--out", str(tmp_path / "g.dot")]) == 0
    captured = capsys.readouterr()
    assert re.search(r"^J = log\(x\) = nan$", captured.out, re.MULTILINE) and captured.err == ""
