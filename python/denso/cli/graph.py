"""`denso graph EXPR --values a=3,b=1 --out graph.svg`: a scalar expression's graph, values and gradients."""
from __future__ import annotations

import numpy as np

from .. import viz
from .arguments import UsageError
from .expression import build
from .output import check_output_path, say


def cmd_graph(args) -> int:
    """Build EXPR at --values, run backward, print J and every ∂J/∂variable, draw the graph to --out."""
    try:
        viz.output_format(args.out, "--out")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    check_output_path(args.out, "--out")
    with np.errstate(all="ignore"):  # log(0), 1/0: the values show inf or nan, no numpy warnings
        J, variables = build(args.expression, args.values or {})
        J.backward(record_edges=True)
    say(f"J = {args.expression.strip()} = {_number(J.data)}")
    for name, tensor in variables.items():
        say(f"dJ/d{name} = {_number(tensor.grad)}")
    viz.draw(J, args.out, rankdir=args.rankdir)
    say(f"denso: graph written to {args.out}")
    return 0


def _number(value) -> str:
    return f"{float(value):.6g}"
