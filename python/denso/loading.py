"""load_model: a Sequential rebuilt from a model file (denso.io reads and checks the file)."""
from __future__ import annotations

import os

from . import optim
from .io import read_model_file, restore_arrays
from .model import Sequential
from .nn import layer_from_config


def load_model(path):
    """Rebuild a model saved with model.save(path): architecture, weights, and (if it was compiled)
    loss, metrics and optimizer state, so fit() resumes where it stopped.

    Raises ValueError for a file that is truncated, corrupted or not a denso model.
    """
    path = os.fspath(path)
    header, arrays = read_model_file(path)
    try:
        config = header["model"]
        model = Sequential([layer_from_config(c) for c in config["layers"]], input_dim=config["input_dim"],
                           seed=config["seed"], dtype=config["dtype"], name=config["name"])
        params = model.flat_parameter.data
        if arrays["params"].shape != params.shape:
            raise ValueError(f"{path!r} holds {arrays['params'].size} weights, its architecture needs {params.size}")
        params[...] = arrays["params"]
        model.epochs_trained = int(header["epoch"])
        compiled = header.get("compile")
        if compiled:
            model.compile(optim.get(compiled["optimizer"]), compiled["loss"], compiled["metrics"])
            model.optimizer.load_state_dict(restore_arrays(compiled["optimizer_state"], arrays))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path!r} is a damaged denso model file: missing or invalid entry {exc}") from None
    return model
