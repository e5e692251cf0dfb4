"""The classic backpropagation experiments, each one function writing a PNG, a CSV and a markdown table.

    >>> from denso.experiments import EXPERIMENTS
    >>> result = EXPERIMENTS["optimizers"]("out", small=True, seed=0)
    >>> result["summary"], result["png"], result["csv"], result["markdown"]

Every `run(out_dir, small=False, seed=0) -> dict` returns the paths it wrote ("png", "csv",
"markdown") and a one-line "summary" of the finding; QUESTIONS holds the question each one answers.
The markdown page puts a caption under the figure saying what to look at. `small=True` is a seconds-long version for
tests; the default runs take under two minutes each on two cores. Figures need matplotlib
(`pip install matplotlib`); nothing here is imported by `import denso`.

- batch-size: mini-batch size (1 … full batch) against throughput, time to a target training
  loss and test accuracy (Fashion-MNIST when installed, else a synthetic 10-class problem).
- optimizers: gradient descent, momentum, RMSprop and Adam on linear regression with a raw and a
  standardised feature: loss curves and (w, b) paths over the loss contours.
- vanishing-gradients: per-layer gradient norms of deep sigmoid, tanh and ReLU + He networks at
  initialisation and during the first epoch.
- universal-approximation: error of one hidden layer of growing width, and of the same units in
  two layers, fitting a 1-D function.
- regularization: none, L2, L1, dropout and early stopping on a network that overfits.
- lr-decay: constant learning rate against inverse-time, step and cosine decay.
"""
from __future__ import annotations

from . import (
    batch_size,
    lr_decay,
    optimizers,
    regularization,
    universal_approximation,
    vanishing_gradients,
)

_MODULES = (batch_size, optimizers, vanishing_gradients, universal_approximation, regularization, lr_decay)
EXPERIMENTS = {module.NAME: module.run for module in _MODULES}
QUESTIONS = {module.NAME: module.QUESTION for module in _MODULES}  # what `denso experiment --list` prints

__all__ = ["EXPERIMENTS", "QUESTIONS"]
