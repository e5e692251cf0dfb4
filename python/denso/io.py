"""The model file: one versioned .npz (a JSON header + arrays), written atomically, read and checked.

This module knows the file format, not the model classes: `save_model` reads a model through its
public attributes, `read_model_file` returns the header and arrays; denso.loading rebuilds models.
"""
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
    path = os.fspath(path)
    header = {"format": FORMAT, "version": VERSION, "model": model.get_config(), "epoch": model.epochs_trained,
              "compile": None}
    arrays = {"params": model.flat_parameter.data}
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


def restore_arrays(obj, arrays):
    """Undo _jsonable: put the arrays back where the header refers to them."""
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        return {k: restore_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [restore_arrays(v, arrays) for v in obj]
    return obj


def read_model_file(path) -> tuple:
    """(header dict, {name: array}) of a denso model file, its format and version checked.

    Raises FileNotFoundError for a missing file and ValueError for one that is truncated, corrupted
    or not a denso model.
    """
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
    return header, arrays
