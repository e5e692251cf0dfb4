"""The argparse parser of the whole command line: one sub-parser per command, each option documented."""
from __future__ import annotations

import argparse

from .arguments import (
    add_threads,
    fraction,
    layer_widths,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from .data import DEFAULT_TEST_SPLIT
from .experiment import cmd_experiment
from .expression import FUNCTIONS, parse_values
from .graph import cmd_graph
from .saved_model import cmd_evaluate, cmd_predict, cmd_summary
from .train import AUTO_MAX_CLASSES, AUTO_MAX_LABEL, TASKS, cmd_train
from .._core import __version__

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
LOSSES = ("auto", "categorical_crossentropy", "binary_crossentropy", "mse", "mae", "huber")
HIDDEN_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "identity", "gelu", "elu", "selu", "softplus", "swish")

EPILOG = """exit status: 0 success, 1 an error while running (missing or invalid file or data,
not a denso model, training diverged), 2 a bad command line, 130 interrupted."""

TRAIN_EXAMPLES = """examples:
  denso train                                  the default job (Fashion-MNIST, else two spirals)
  denso train --data spirals --layers 64,64 --epochs 100 --plot curves.png
  denso train --data examples/houses.csv --target price --standardize --out houses.npz
  denso train --data examples/diabetes.csv --task regression
  denso train --data fashion-mnist --dropout 0.2 --early-stopping 3 --threads 4

datasets: fashion-mnist, mnist (found locally or downloaded), spirals, sine, cubic, abs (built in).
"""

DATA_HELP = "a dataset name (its test split) or a .csv/.tsv/.npz file (all its rows)"


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: 'denso train: error: ... (see denso train --help)'."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _add_train_data(p) -> None:
    d = p.add_argument_group("data")
    d.add_argument("--data", metavar="NAME|PATH", help="a dataset name (fashion-mnist, mnist, spirals, sine, cubic, "
                   "abs) or a .csv/.tsv/.npz file (npz: arrays x and y, optionally x_test and y_test)")
    d.add_argument("--target", metavar="COLUMN", help="the CSV label column, by name or 0-based index "
                   "(default: the last column)")
    d.add_argument("--test-split", type=fraction, metavar="F", help="fraction of a file's rows held out for the test "
                   f"metrics, chosen with --seed (default {DEFAULT_TEST_SPLIT}; 0: no test set)")
    d.add_argument("--standardize", action="store_true", help="scale features, and the target of a regression, to "
                   "zero mean and unit variance with statistics of the training rows only; the saved model folds the "
                   "scaling in: it takes raw features and predicts raw targets")


def _add_train_network(p) -> None:
    m = p.add_argument_group("network")
    m.add_argument("--layers", type=layer_widths, metavar="W1,W2", help="hidden layer widths, e.g. 256,128; "
                   "'none' for no hidden layer (default: 256,128 for the image datasets, 32,32 for the synthetic "
                   "ones, 64 for files)")
    m.add_argument("--activation", default="relu", choices=HIDDEN_ACTIVATIONS, help="hidden activation (default relu)")
    m.add_argument("--task", default="auto", choices=TASKS, help="auto: classification when the target holds whole "
                   f"numbers 0..{AUTO_MAX_LABEL} with at most {AUTO_MAX_CLASSES} distinct values, regression otherwise "
                   "(default auto)")
    m.add_argument("--loss", default="auto", choices=LOSSES, help="auto: categorical_crossentropy for classification, "
                   "mse for regression (default auto); mae and huber (delta 1) are the other regression losses; an "
                   "explicit loss also sets the task")
    m.add_argument("--l1", type=non_negative_float, default=0.0, metavar="λ", help="L1 penalty λ·Σ|W| per layer (default 0)")
    m.add_argument("--l2", type=non_negative_float, default=0.0, metavar="λ", help="L2 penalty λ·ΣW² per layer (default 0)")
    m.add_argument("--dropout", type=fraction, default=0.0, metavar="RATE", help="dropout rate after each hidden layer "
                   "(default 0)")


def _add_train_training(p) -> None:
    t = p.add_argument_group("training")
    t.add_argument("--optimizer", default="adam", choices=OPTIMIZERS, help="default adam")
    t.add_argument("--lr", type=positive_float, metavar="RATE", help="learning rate (default: 1e-3 for the image "
                   "datasets and files, 1e-2 for the synthetic ones)")
    t.add_argument("--batch-size", type=positive_int, metavar="N", help="default: 128 for images, 32 otherwise")
    t.add_argument("--epochs", type=positive_int, metavar="N", help="default: 10 for images, 60 spirals, 100 functions, "
                   "20 files")
    t.add_argument("--validation-split", type=fraction, default=0.1, metavar="F", help="last fraction of the training "
                   "rows held out for validation (default 0.1; 0: none)")
    t.add_argument("--early-stopping", type=non_negative_int, metavar="PATIENCE", help="stop after PATIENCE epochs "
                   "without a better validation loss and restore the best weights")
    t.add_argument("--seed", type=int, default=0, help="seed of the weights, shuffling, dropout and test split (default 0)")
    add_threads(t)
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="0 quiet, 1 progress bar (default), "
                   "2 one line per epoch")


def _add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a dense network and save it", formatter_class=_formatter,
                       description="Train a dense network, report train/validation/test metrics and save the model. "
                       "With no options: the default job, a 784-256-128-10 ReLU network on Fashion-MNIST (Adam 1e-3, "
                       "batch 128, 10 epochs) when the dataset is installed, otherwise the built-in two-spirals problem.",
                       epilog=TRAIN_EXAMPLES + "\n" + EPILOG)
    _add_train_data(p)
    _add_train_network(p)
    _add_train_training(p)
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="PATH", help="where to save the model (default: denso-<data>.npz here)")
    o.add_argument("--plot", metavar="PNG", help="save the loss/metric curves there (needs matplotlib: "
                   "pip install 'denso[plot]')")
    p.set_defaults(run=cmd_train)


def _add_model_and_data(p, target_help: str, out_help: str | None = None) -> None:
    """The arguments evaluate and predict share: MODEL, DATA, (--out,) --target, --batch-size, --threads."""
    p.add_argument("model", metavar="MODEL", help="a model file")
    p.add_argument("data", metavar="DATA", help=DATA_HELP)
    if out_help:
        p.add_argument("--out", metavar="PATH", help=out_help)
    p.add_argument("--target", metavar="COLUMN", help=target_help)
    p.add_argument("--batch-size", type=positive_int, default=1024, metavar="N", help="default 1024")
    add_threads(p)


def _add_saved_model_parsers(sub) -> None:
    p = sub.add_parser("evaluate", help="loss and metrics of a saved model on data", formatter_class=_formatter,
                       description="Load a model saved by `denso train` (or model.save) and report its loss and "
                       "metrics on DATA: a dataset's test split, every row of a file, or with --test-split the rows "
                       "`denso train` held out for testing.", epilog="examples:\n  denso evaluate denso-spirals.npz "
                       "spirals\n  denso evaluate houses.npz examples/houses.csv --target price --test-split\n\n"
                       + EPILOG)
    _add_model_and_data(p, "the CSV label column (default: the last column)")
    p.add_argument("--test-split", type=fraction, nargs="?", const=DEFAULT_TEST_SPLIT, metavar="F",
                   help=f"evaluate only the rows `denso train --test-split F --seed S` held out for testing (the same "
                   f"seeded split); without F: {DEFAULT_TEST_SPLIT}, train's default")
    p.add_argument("--seed", type=int, default=0, help="the seed train split the rows with (default 0)")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("predict", help="write a saved model's predictions as CSV", formatter_class=_formatter,
                       description="Predict DATA with a saved model. Columns: 'prediction' (the class, or the value), "
                       "then prob_0, prob_1, ... for classifiers.",
                       epilog="example:\n  denso predict model.npz new.csv --out preds.csv\n\n" + EPILOG)
    _add_model_and_data(p, "a CSV column to leave out of the features (default: the last column when the file has "
                        "one column more than the model's inputs)", out_help="CSV file to write (default: standard output)")
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser("summary", help="layers, shapes and parameter counts of a saved model",
                       formatter_class=_formatter, description="Print a saved model's layer table and training state.",
                       epilog=EPILOG)
    p.add_argument("model", metavar="MODEL", help="a model file")
    p.set_defaults(run=cmd_summary)


def _add_experiment_parser(sub) -> None:
    p = sub.add_parser("experiment", help="run one of the classic experiments", formatter_class=_formatter,
                       description="Run an experiment from denso.experiments; it writes its plots, tables and notes "
                       "into --out.", epilog="examples:\n  denso experiment --list\n  denso experiment NAME --small\n\n"
                       + EPILOG)
    p.add_argument("name", nargs="?", metavar="NAME", help="the experiment (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--out", metavar="DIR", help="output directory (default: denso-experiments/NAME)")
    p.add_argument("--small", action="store_true", help="a quick, reduced run")
    p.add_argument("--seed", type=int, default=0, help="default 0")
    add_threads(p)
    p.set_defaults(run=cmd_experiment)


GRAPH_EXAMPLES = """examples:
  denso graph "(a + 2*b) * c" --values a=3,b=1,c=-2 --out graph.svg
  denso graph "(1 + 4*x)**2" --values x=1 --out chain.png
  denso graph "sigmoid(w*x + b)" --values w=2,x=1,b=-1 --out logistic.dot   (DOT text, no Graphviz needed)
"""


def _add_graph_parser(sub) -> None:
    p = sub.add_parser("graph", help="draw an expression's graph with values and gradients",
                       formatter_class=_formatter, description="Build EXPR as a computational graph at the values "
                       "given, run backward, print J and every partial derivative, and draw the graph: each "
                       "node with its value and gradient, each edge with the gradient it carries back. EXPR may "
                       f"use numbers, variables, + - * / **, unary minus and {', '.join(FUNCTIONS)}. Images "
                       "need Graphviz: pip install 'denso[viz]' and apt-get install graphviz.",
                       epilog=GRAPH_EXAMPLES + "\n" + EPILOG)
    p.add_argument("expression", metavar="EXPR", help='a scalar expression, e.g. "(a + 2*b) * c"')
    p.add_argument("--values", type=parse_values, metavar="NAME=V,...", help="the value of every variable, "
                   "e.g. a=3,b=1,c=-2")
    p.add_argument("--out", default="graph.svg", metavar="PATH", help="the drawing: .svg, .png or .pdf (rendered "
                   "by Graphviz), or .dot/.gv for the DOT text (default graph.svg)")
    p.add_argument("--rankdir", default="LR", choices=("LR", "TB"), help="left to right (default) or top to bottom")
    p.set_defaults(run=cmd_graph)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the whole command line."""
    parser = Parser(prog="denso", formatter_class=_formatter, epilog=EPILOG,
                    description="Train fast dense neural networks on the CPU.")
    parser.add_argument("--version", action="version", version=f"denso {_version()}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_train_parser(sub)
    _add_saved_model_parsers(sub)
    _add_experiment_parser(sub)
    _add_graph_parser(sub)
    return parser


def _version() -> str:
    try:
        return __version__
    except ImportError:
        return "unknown"
