"""save_model / load_model: one versioned .npz file (JSON config + arrays), written atomically."""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "denso.model"
VERSION = 1


def save_model(model, path) -> None:
    """Write config, weights, compile settings and optimizer state to `path`.

    The file is written next to `path` under a temporary name, flushed to disk, then renamed over
    `path`: a crash leaves either the old file or the new one, never half of one.
    """
    model._require_built("save")
    path = os.fspath(path)
    header = {"format": FORMAT, "version": VERSION, "model": model.get_config(), "epoch": model._epoch, "compile": None}
    arrays = {"params": model._flat.data}
    if model.optimizer is not None:
        state = model.optimizer.state_dict()
        header["compile"] = {"loss": model.loss.name, "metrics": model.metrics,
                             "optimizer": model.optimizer.config(), "optimizer_state": _jsonable(state, arrays)}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".denso-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _jsonable(obj, arrays: dict):
    """Replace numpy arrays in a state dict by references into `arrays` (stored beside the header)."""
    if isinstance(obj, np.ndarray):
        key = f"state_{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, arrays) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _restore(obj, arrays):
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        return {k: _restore(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_restore(v, arrays) for v in obj]
    return obj


def load_model(path):
    """Rebuild a model saved with model.save(path): architecture, weights, and (if it was compiled)
    loss, metrics and optimizer state, so fit() resumes where it stopped.

    Raises ValueError for a file that is truncated, corrupted or not a denso model.
    """
    from . import optim
    from .model import Sequential
    from .nn import layer_from_config

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:  # our handle: closed on any error
            arrays = {k: npz[k] for k in npz.files}
        header = json.loads(bytes(arrays.pop("header")).decode())
    except (zipfile.BadZipFile, ValueError, KeyError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path!r} is not a readable denso model file (truncated, corrupted or another format): "
                         f"{exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a denso model file (format {header.get('format')!r})")
    if header.get("version") != VERSION:
        raise ValueError(f"{path!r} has denso model format version {header.get('version')}; "
                         f"this denso reads version {VERSION}")
    try:
        config = header["model"]
        model = Sequential([layer_from_config(c) for c in config["layers"]], input_dim=config["input_dim"],
                           seed=config["seed"], dtype=config["dtype"], name=config["name"])
        if arrays["params"].shape != model._flat.data.shape:
            raise ValueError(f"weights hold {arrays['params'].size} values, the architecture needs "
                             f"{model._flat.data.size}")
        model._flat.data[...] = arrays["params"]
        model._epoch = int(header["epoch"])
        compiled = header.get("compile")
        if compiled:
            model.compile(optim.get(compiled["optimizer"]), compiled["loss"], compiled["metrics"])
            model.optimizer.load_state_dict(_restore(compiled["optimizer_state"], arrays))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path!r} is a damaged denso model file: missing or invalid entry {exc}") from None
    return model
