"""The `denso` command line (also `python -m denso`): train, evaluate, predict, summary, experiment, graph.

Exit status: 0 on success; 1 when something fails while running (a missing or unreadable file,
data that cannot be used, a file that is not a denso model, training that diverged); 2 for a bad
command line (unknown option, invalid value); 130 when interrupted; 141 when the reader of the
output closed it early (as for SIGPIPE). Errors are one line on stderr,
`denso: error: ...`; set DENSO_TRACEBACK=1 to get the Python traceback instead.

The modules: `arguments` (argument types, --threads), `parser` (the argparse parser), `data` (the
data a command works on), `output` (what the commands print and write), and one module per
kind of command: `train`, `saved_model` (evaluate, predict, summary), `experiment`, `graph` (with
`expression`, the whitelisted parser of its EXPR).
"""
from __future__ import annotations

import argparse
import os
import sys

from ..standardization import fold_standardization
# Every name the single-module cli.py had stays importable from denso.cli.
from .arguments import (UsageError, fraction, layer_widths, non_negative_float, non_negative_int, positive_float,
                        positive_int, set_threads)
from .data import DEFAULT_TEST_SPLIT, DEFAULTS, Data, load_eval_data, load_file, load_named, load_training_data
from .experiment import cmd_experiment, load_experiments
from .output import check_output_path, metrics_table, say
from .parser import EPILOG, HIDDEN_ACTIVATIONS, LOSSES, OPTIMIZERS, TRAIN_EXAMPLES, Parser, build_parser
from .saved_model import cmd_evaluate, cmd_predict, cmd_summary, load_model_file, prediction_columns
from .train import architecture, build_model, cmd_train, infer_task

__all__ = [
    "main", "build_parser", "Parser", "UsageError", "EPILOG", "TRAIN_EXAMPLES",
    "positive_int", "non_negative_int", "positive_float", "non_negative_float", "fraction", "layer_widths",
    "OPTIMIZERS", "LOSSES", "HIDDEN_ACTIVATIONS", "DEFAULT_TEST_SPLIT", "DEFAULTS",
    "Data", "load_named", "load_file", "load_training_data", "load_eval_data",
    "infer_task", "build_model", "architecture", "fold_standardization",
    "say", "metrics_table", "check_output_path", "set_threads", "load_model_file", "prediction_columns",
    "load_experiments", "cmd_train", "cmd_evaluate", "cmd_predict", "cmd_summary", "cmd_experiment",
]


def _one_line(exc: BaseException) -> str:
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return text or type(exc).__name__


def _run(args) -> int:
    """args.run(args), with every failure turned into one line on stderr and its exit status."""
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"denso: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("denso: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (`denso predict ... | head`)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        except (OSError, ValueError):
            pass
        return 141
    except (ValueError, TypeError, OSError, ImportError, FloatingPointError) as exc:
        if os.environ.get("DENSO_TRACEBACK"):
            raise
        print(f"denso: error: {_one_line(exc)}", file=sys.stderr)
        return 1


def main(argv=None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse already reported
        return exc.code if isinstance(exc.code, int) else 2
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    return _run(args)
