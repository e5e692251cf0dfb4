"""`denso experiment`: list or run one of the classic experiments of denso.experiments."""
from __future__ import annotations

import importlib
import os
import sys
import textwrap

from .arguments import UsageError, set_threads
from .output import say
from ..plotting import INSTALL_HINT


def load_experiments() -> dict:
    """denso.experiments.EXPERIMENTS, or a clear error when the package is missing."""
    try:
        module = importlib.import_module("denso.experiments")
    except ModuleNotFoundError as exc:
        if exc.name not in ("denso.experiments", "matplotlib") and not (exc.name or "").startswith("matplotlib."):
            raise
        if exc.name == "denso.experiments":
            raise ImportError("the experiments are not part of this installation (no module denso.experiments)") from None
        raise ImportError(f"the experiments need matplotlib: {INSTALL_HINT}") from None
    experiments = getattr(module, "EXPERIMENTS", None)
    if not isinstance(experiments, dict):
        raise ImportError("denso.experiments does not define the EXPERIMENTS dict of name → run function")
    return experiments


def _list(experiments: dict) -> None:
    """Each experiment's name and the question it answers (denso.experiments.QUESTIONS; else the first
    line of its docstring), wrapped under the question column."""
    questions = getattr(sys.modules.get("denso.experiments"), "QUESTIONS", None) or {}
    width = max((len(n) for n in experiments), default=0) + 2
    for name, run in experiments.items():
        doc = (run.__doc__ or "").strip().splitlines()
        text = questions.get(name) or (doc[0] if doc else "")
        lines = textwrap.wrap(text, width=max(100 - width, 40)) or [""]
        say(name.ljust(width) + lines[0], *(" " * width + line for line in lines[1:]))


def cmd_experiment(args) -> int:
    """Run `denso experiment`; returns the exit status."""
    experiments = load_experiments()
    if args.list:
        _list(experiments)
        return 0
    if args.name is None:
        raise UsageError(f"name an experiment: {', '.join(experiments)} (or --list)")
    if args.name not in experiments:
        raise UsageError(f"unknown experiment {args.name!r}; choose one of {', '.join(experiments)}")
    out = args.out or os.path.join("denso-experiments", args.name)
    os.makedirs(out, exist_ok=True)
    set_threads(args)
    say(f"denso: running experiment {args.name!r}{' (small)' if args.small else ''} into {out}")
    result = experiments[args.name](out, small=args.small, seed=args.seed)
    if not isinstance(result, dict):
        raise TypeError(f"experiment {args.name!r} returned {type(result).__name__}, not a dict")
    if result.get("summary"):
        say(str(result["summary"]))
    for key, value in result.items():
        if key != "summary":
            say(f"denso: {key}: {value}")
    return 0
