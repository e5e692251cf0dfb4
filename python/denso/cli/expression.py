"""A scalar expression typed on the command line, built as a Tensor graph without `eval`.

The text is parsed by `ast` and walked over a whitelist: numbers, variables, + - * / **, unary
minus and a few denso functions. Anything else (attribute access, subscripts, other calls, lambdas,
comprehensions, strings, ...) is refused with a UsageError that says what is allowed.
"""
from __future__ import annotations

import argparse
import ast
import math

from .. import functional, ops
from ..autograd import Tensor
from .arguments import UsageError

FUNCTIONS = {"exp": ops.exp, "log": ops.log, "relu": functional.relu, "leaky_relu": functional.leaky_relu,
             "sigmoid": functional.sigmoid, "tanh": functional.tanh}
OPERATORS = {ast.Add: ops.add, ast.Sub: ops.sub, ast.Mult: ops.mul, ast.Div: ops.div}
MAX_LENGTH = 1000  # characters; keeps the tree shallow enough for the recursive walk
MAX_NAME = 40  # longer sub-expressions leave their node named by its op only
ALLOWED = f"numbers, variables, + - * / **, unary minus and the functions {', '.join(FUNCTIONS)}"


def parse_values(text: str) -> dict:
    """--values "a=3,b=1,c=-2" → {"a": 3.0, "b": 1.0, "c": -2.0} (argparse type)."""
    values = {}
    for item in (part.strip() for part in text.split(",")):
        name, sep, number = (s.strip() for s in item.partition("="))
        if not sep or not name.isidentifier():
            raise argparse.ArgumentTypeError(f"expected NAME=NUMBER pairs separated by commas, got {item!r}")
        try:
            value = float(number)
        except ValueError:
            raise argparse.ArgumentTypeError(f"the value of {name} must be a number, got {number!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"the value of {name} must be finite, got {number!r}")
        if name in values:
            raise argparse.ArgumentTypeError(f"{name} is given twice")
        values[name] = value
    return values


def build(text: str, values: dict) -> tuple:
    """(J, {name: variable Tensor}) for the expression `text` at `values`.

    Every variable is a leaf that requires a gradient; every op node is named after its
    sub-expression as typed (the root "J"), so a drawing reads like the formula.
    """
    if len(text) > MAX_LENGTH:
        raise UsageError(f"EXPR is {len(text)} characters long; at most {MAX_LENGTH} are allowed")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise UsageError(f"EXPR {text!r} is not a valid expression: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise UsageError("EXPR is nested too deeply") from None
    names = _variable_names(tree)
    missing = [n for n in names if n not in values]
    if missing:
        raise UsageError(f"no value for {', '.join(missing)}: give every variable one, e.g. --values "
                         + ",".join(f"{n}={values.get(n, 1):g}" for n in names))
    unused = [n for n in values if n not in names]
    if unused:
        raise UsageError(f"--values names {', '.join(unused)}, which EXPR does not use (its variables: "
                         f"{', '.join(names) or 'none'})")
    if not names:
        raise UsageError("EXPR has no variables to differentiate; write one, e.g. \"x**2\" with --values x=3")
    variables = {n: Tensor(values[n], requires_grad=True, dtype="float64", name=n) for n in names}
    try:
        out = _Builder(variables, text.strip()).visit(tree.body)
    except RecursionError:
        raise UsageError("EXPR is nested too deeply") from None
    if any(out is v for v in variables.values()):
        raise UsageError(f"EXPR is the variable {out.name!r} alone: there is nothing to differentiate through; "
                         "write an expression of it, e.g. \"2*x\" or \"x**2\"")
    out.name = "J"
    return out, variables


def _variable_names(tree) -> list:
    """The variables of the expression, in order of first use; refuses every node off the whitelist."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    first = {}
    for node in ast.walk(tree):
        _check_node(node)
        if isinstance(node, ast.Name) and id(node) not in called:
            if node.id in FUNCTIONS:
                raise UsageError(f"{node.id} is a function: call it, as in {node.id}(x)")
            if node.id == "J":
                raise UsageError("J is the name of the expression's value; call the variable something else")
            first[node.id] = min(first.get(node.id, (math.inf, 0)), (node.lineno, node.col_offset))
    return sorted(first, key=first.get)


_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Constant, ast.Load,
          ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)


def _check_node(node) -> None:
    """UsageError unless `node` is on the whitelist (calls only of FUNCTIONS, with one argument)."""
    if isinstance(node, ast.Attribute):
        raise UsageError(f"attribute access ({ast.unparse(node)}) is not allowed in EXPR; it may use {ALLOWED}")
    if not isinstance(node, _NODES):
        shown = f" ({ast.unparse(node)})" if isinstance(node, ast.expr) else ""
        raise UsageError(f"{type(node).__name__}{shown} is not allowed in EXPR; it may use {ALLOWED}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise UsageError(f"calling {ast.unparse(node.func)} is not allowed; EXPR may call only "
                             f"{', '.join(FUNCTIONS)}")
        if len(node.args) != 1 or node.keywords:
            raise UsageError(f"{node.func.id} takes one argument, got {ast.unparse(node)}")
    if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, (int, float))):
        raise UsageError(f"the constant {node.value!r} is not a number")


class _Builder:
    """Walks a checked tree, building Tensors (the checks above already refused everything else)."""

    def __init__(self, variables: dict, text: str):
        self.variables, self.text = variables, text

    def visit(self, node) -> Tensor:
        if isinstance(node, ast.Name):
            return self.variables[node.id]
        number = _number(node)
        if number is not None:
            return Tensor(number, dtype="float64")
        if isinstance(node, ast.UnaryOp):
            out = self.visit(node.operand)
            out = ops.neg(out) if isinstance(node.op, ast.USub) else out
        elif isinstance(node, ast.Call):
            out = FUNCTIONS[node.func.id](self.visit(node.args[0]))
        elif isinstance(node.op, ast.Pow):
            exponent = _number(node.right)
            if exponent is None:
                raise UsageError(f"the exponent of ** must be a number, got {ast.unparse(node.right)}")
            out = ops.power(self.visit(node.left), exponent)
        else:
            out = OPERATORS[type(node.op)](self.visit(node.left), self.visit(node.right))
        segment = ast.get_source_segment(self.text, node)
        if out.name is None and segment and len(segment) <= MAX_NAME:
            out.name = segment  # the sub-expression as typed names its node in drawings
        return out


def _number(node):
    """The float a literal (or a signed literal, -2) stands for, else None."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if not isinstance(node, ast.Constant):
        return None
    try:
        return sign * float(node.value)
    except OverflowError:
        raise UsageError(f"the number {node.value} is too large") from None
