"""Argument types of the command line (text → checked value) and the --threads option shared by the commands."""
from __future__ import annotations

import argparse

import numpy as np

import denso
from .._checks import bounds_error


class UsageError(Exception):
    """A command line that parses but makes no sense (exit status 2)."""


def _number(text: str, low=None, high=None, low_open=False, high_open=False, integer=False):
    """`text` as an int or float inside the bounds, else ArgumentTypeError quoting the text as typed."""
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if integer else 'a number'}, got {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    problem = bounds_error(value, low, high, low_open, high_open)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem}, got {text}")
    return value


def positive_int(text):
    """An integer >= 1."""
    return _number(text, low=1, integer=True)


def non_negative_int(text):
    """An integer >= 0."""
    return _number(text, low=0, integer=True)


def positive_float(text):
    """A number > 0."""
    return _number(text, low=0, low_open=True)


def non_negative_float(text):
    """A number >= 0."""
    return _number(text, low=0)


def fraction(text):
    """A number in [0, 1)."""
    return _number(text, low=0, high=1, high_open=True)


def layer_widths(text):
    """'256,128' → (256, 128); '' or 'none' → () (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths such as 256,128, got {text!r}") from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"layer widths must be >= 1, got {text!r}")
    return widths


def add_threads(parser) -> None:
    """Declare --threads on `parser` (a command or an argument group)."""
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="threads for the kernels (denso.set_num_threads; default: all cores)")


def set_threads(args) -> None:
    """Apply --threads, when it was given."""
    if getattr(args, "threads", None) is not None:
        denso.set_num_threads(args.threads)  # looked up at call time: the public setter
