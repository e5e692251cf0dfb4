"""The model file: one versioned .npz (a JSON header + arrays), written atomically, read and checked.

This module knows the file format, not the model classes: `save_model` reads a model through its
public attributes, `ModelFile` opens a file and reads its header and arrays within limits;
denso.loading rebuilds models.

Reading is bounded: every size the archive declares is checked against the archive (a stored entry
must be backed by bytes of the file, a deflated one may not inflate more than MAX_INFLATION times)
and against what the caller expects before anything is allocated; the JSON header is limited to
MAX_HEADER_BYTES and MAX_JSON_DEPTH levels of nesting.
"""
from __future__ import annotations

import json
import math
import os
import re
import secrets
import stat
import time
import zipfile
import zlib

import numpy as np

FORMAT = "denso.model"
VERSION = 1

MAX_HEADER_BYTES = 1 << 20   # the JSON header (a real one is a few KB)
MAX_JSON_DEPTH = 32          # nesting of the JSON header (a real one has 6 levels)
MAX_ENTRIES = 16             # header, params and at most a few optimizer state arrays
MAX_INFLATION = 100          # a deflated entry above 1 MiB may inflate at most this many times
_INFLATION_FREE = 1 << 20
_NPY_HEADER_MAX = 4096       # the .npy header of one entry (numpy writes 128 bytes)
_ENTRY_NAME = re.compile(r"(header|params|state_\d{1,4})\.npy")
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated", zipfile.ZIP_BZIP2: "bzip2",
            zipfile.ZIP_LZMA: "lzma"}
_STALE_TMP_SECONDS = 15 * 60  # a temporary file of a save older than this is left over from a crash


# ---- writing ---------------------------------------------------------------------------------------
# The names a model file may have: denso writes one format, an .npz archive (a path without an
# extension is taken as it is). Other extensions name formats it does not write, and what to use instead.
SUFFIXES = (".npz", ".denso")
_OTHER_FORMATS = {
    ".h5": "Keras's HDF5", ".hdf5": "Keras's HDF5", ".keras": "Keras's .keras zip",
    ".onnx": "ONNX (export with model.to_onnx(path))", ".pt": "PyTorch's (see denso.interop.to_torch)",
    ".pth": "PyTorch's (see denso.interop.to_torch)", ".pkl": "pickle", ".pickle": "pickle", ".joblib": "joblib",
    ".json": "JSON (the architecture alone is model.get_config())",
}


def check_model_path(path) -> None:
    """ValueError unless `path` names a file denso writes: an extension of SUFFIXES, or none."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"`path` must be a string or path, got {type(path).__name__}")
    suffix = os.path.splitext(os.fsdecode(path))[1].lower()
    if suffix and suffix not in SUFFIXES:
        what = _OTHER_FORMATS.get(suffix, f"the {suffix} format")
        raise ValueError(f"cannot save to {os.fsdecode(path)!r}: denso does not write {what}. model.save writes "
                         f"denso's own format, an .npz archive read back by denso.load_model; name the file "
                         f"with .npz or .denso")


def save_model(model, path) -> None:
    """Write config, weights, compile settings and optimizer state to `path`.

    The file is written next to `path` (next to its target when `path` is a symbolic link, which
    stays a link) under the temporary name `.<name>.denso-<pid>.<random>.tmp`, flushed to disk, then renamed
    over it: a crash leaves either the old file or the new one, never half of one. A later save of
    the same file removes the temporary files such crashes left behind. An existing file keeps its
    permission bits; a new one gets 0666 minus the umask.
    """
    if not model.built:
        raise ValueError("save() needs a built model: pass input_dim to Sequential(...) or call build() / fit()")
    _write_atomically(os.fspath(path), _model_arrays(model))


def _model_arrays(model) -> dict:
    """The arrays of a model file: the flat parameters, the optimizer state and the JSON header."""
    header = {"format": FORMAT, "version": VERSION, "model": model.get_config(), "epoch": model.epochs_trained,
              "compile": None}
    arrays = {"params": model.flat_parameter.data}
    if model.optimizer is not None:
        state = model.optimizer.state_dict()
        header["compile"] = {"loss": model.loss.config(), "metrics": model.metrics,
                             "optimizer": model.optimizer.config(), "optimizer_state": _jsonable(state, arrays)}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    return arrays


def _write_atomically(path: str, arrays: dict) -> None:
    """np.savez(arrays) to a temporary file beside `path`'s target, then renamed over it (see save_model)."""
    target = os.path.realpath(path)  # write through a symbolic link to the file it points at
    directory, name = os.path.split(target)
    if os.path.isdir(target):
        raise IsADirectoryError(f"cannot save the model to {path!r}: it is a directory")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save the model to {path!r}: directory {directory!r} does not exist")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    _remove_stale_temporaries(directory, name)
    tmp = os.path.join(directory, f".{name}.denso-{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        _unlink_quietly(tmp)
        what = f"cannot save the model to {path!r}: {exc.strerror or exc}"
        raise (type(exc)(exc.errno, what) if exc.errno is not None else OSError(what)) from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _fsync_directory(directory)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there: rely on the age alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except (OverflowError, OSError):
        return False
    return True


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Delete the temporary files that saves of `name` left behind when they were killed.

    They are `.<name>.denso-<pid>.<random>.tmp` files whose process is gone or that were not written
    to for 15 minutes, and (from older versions of denso) `.denso-<random>.tmp` files that old.
    """
    ours = re.compile(re.escape(f".{name}.denso-") + r"(\d{1,10})\.[0-9a-f]{8}\.tmp")
    legacy = re.compile(r"\.denso-[a-z0-9_]{8}\.tmp")
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    now = time.time()
    for entry in entries:
        match = ours.fullmatch(entry)
        if match is None and not legacy.fullmatch(entry):
            continue
        stale = os.path.join(directory, entry)
        try:
            info = os.lstat(stale)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        old = now - info.st_mtime > _STALE_TMP_SECONDS
        if old or (match is not None and not _pid_alive(int(match.group(1)))):
            _unlink_quietly(stale)


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


def array_references(obj) -> list:
    """The entry names a header part refers to with {"__array__": name}, in order."""
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return [obj["__array__"]]
        return [name for v in obj.values() for name in array_references(v)]
    if isinstance(obj, list):
        return [name for v in obj for name in array_references(v)]
    return []


def restore_arrays(obj, arrays):
    """Undo _jsonable: put the arrays back where the header refers to them."""
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        return {k: restore_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [restore_arrays(v, arrays) for v in obj]
    return obj


# ---- reading ---------------------------------------------------------------------------------------
class ModelFile:
    """An open denso model file: `header` (the checked JSON header) and its arrays, read on demand.

    Opening checks the archive (entry names, encryption, compression method, declared sizes against
    the file) and reads the header; `declared(name)` gives an array's shape and dtype from its .npy
    header without reading its data, `read(name)` reads it. Raises FileNotFoundError for a missing
    file and ValueError naming the file for anything else that is wrong with it. Use as a context
    manager (or call close()).
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"no model file at {self.path!r}")
        self._file = open(self.path, "rb")
        try:
            self._size = os.fstat(self._file.fileno()).st_size
            self._zip = self._open_archive()
            self._entries = self._check_entries()
            self._declared = {}
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        zf = getattr(self, "_zip", None)
        if zf is not None:
            zf.close()
        self._file.close()

    def error(self, what: str) -> ValueError:
        """A ValueError saying what is wrong with this file."""
        return ValueError(f"{self.path!r} is not a readable denso model file: {what}")

    @property
    def names(self) -> list:
        """The names of the arrays in the file (entries without their .npy suffix)."""
        return list(self._entries)

    # -- the archive
    def _open_archive(self) -> zipfile.ZipFile:
        head = self._file.read(8)
        if head.startswith(b"\x93NUMPY"):
            raise self.error("it holds a single .npy array, not an .npz archive of a header and arrays")
        count = self._end_record_entries()
        if count is None:
            raise self.error(f"it is not a zip (.npz) archive (it starts with {head!r})")
        if count > MAX_ENTRIES:
            raise self.error(f"its archive lists {count} entries; a model file has at most {MAX_ENTRIES}")
        self._file.seek(0)
        try:
            return zipfile.ZipFile(self._file)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            raise self.error(f"its zip archive is damaged ({exc})") from None

    def _end_record_entries(self):
        """The entry count of the zip's end-of-central-directory record (None if there is none),
        read before zipfile parses the whole directory."""
        tail = min(self._size, 22 + 0xFFFF)
        self._file.seek(self._size - tail)
        data = self._file.read(tail)
        at = data.rfind(b"PK\x05\x06")
        if at < 0 or len(data) - at < 22:
            return None
        return int.from_bytes(data[at + 10:at + 12], "little")

    def _check_entries(self) -> dict:
        infos = self._zip.infolist()
        if len(infos) > MAX_ENTRIES:
            raise self.error(f"its archive lists {len(infos)} entries; a model file has at most {MAX_ENTRIES}")
        entries = {}
        for info in infos:
            if not _ENTRY_NAME.fullmatch(info.filename):
                raise self.error(f"unexpected entry {info.filename[:100]!r} (a model file holds header.npy, "
                                 f"params.npy and state_<n>.npy)")
            name = info.filename[:-4]
            if name in entries:
                raise self.error(f"entry {info.filename!r} appears twice")
            if info.flag_bits & 0x1:
                raise self.error(f"entry {info.filename!r} is encrypted; denso model files are not")
            method = info.compress_type
            if method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.error(f"entry {info.filename!r} uses compression method {method} "
                                 f"({_METHODS.get(method, 'unknown')}); denso reads stored or deflated entries")
            if info.header_offset + info.compress_size > self._size:
                raise self.error(f"entry {info.filename!r} declares {info.compress_size:,} bytes at offset "
                                 f"{info.header_offset:,}, beyond the end of the {self._size:,}-byte file "
                                 f"(truncated?)")
            if method == zipfile.ZIP_STORED and info.compress_size != info.file_size:
                raise self.error(f"stored entry {info.filename!r} declares {info.file_size:,} bytes but occupies "
                                 f"{info.compress_size:,}")
            if (method == zipfile.ZIP_DEFLATED and info.file_size > _INFLATION_FREE
                    and info.file_size > MAX_INFLATION * info.compress_size):
                raise self.error(f"entry {info.filename!r} declares {info.file_size:,} bytes compressed into "
                                 f"{info.compress_size:,} (more than {MAX_INFLATION} times): a zip bomb, "
                                 f"not model weights")
            entries[name] = info
        for name in ("header", "params"):
            if name not in entries:
                raise self.error(f"it has no {name}.npy entry (it holds {sorted(entries) or 'nothing'})")
        return entries

    # -- arrays
    def declared(self, name: str) -> tuple:
        """(shape, dtype, fortran_order) of entry `name` from its .npy header; no data is read."""
        if name not in self._declared:
            with self._open_entry(name) as f:
                self._declared[name] = self._npy_header(name, f)[:3]
        return self._declared[name]

    def _open_entry(self, name: str):
        if name not in self._entries:
            raise self.error(f"it has no entry {name + '.npy'!r}")
        try:
            return self._zip.open(self._entries[name])
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError, EOFError) as exc:
            raise self.error(f"entry {name + '.npy'!r} cannot be opened ({exc})") from None

    def _npy_header(self, name: str, f) -> tuple:
        """(shape, dtype, fortran_order, header bytes) of the .npy data in `f`, checked against the entry's size."""
        entry = name + ".npy"
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=_NPY_HEADER_MAX)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=_NPY_HEADER_MAX)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except (ValueError, TypeError, SyntaxError, OverflowError, zipfile.BadZipFile, zlib.error, EOFError,
                OSError) as exc:
            raise self.error(f"entry {entry!r} is not a readable .npy array ({_one_line(exc)})") from None
        if dtype.hasobject:
            raise self.error(f"entry {entry!r} holds Python objects (dtype {dtype}); a model file holds numbers")
        offset = f.tell()
        count = math.prod(shape)
        if count * dtype.itemsize != self._entries[name].file_size - offset:
            raise self.error(f"entry {entry!r} declares shape {shape} of {dtype} ({count * dtype.itemsize:,} "
                             f"bytes) but holds {self._entries[name].file_size - offset:,} bytes of data")
        return shape, dtype, fortran, offset

    def read(self, name: str, out: np.ndarray | None = None) -> np.ndarray:
        """The array in entry `name`; with `out` (a C-contiguous array of the entry's size and dtype, in
        either byte order), the data is read into `out`, which is returned."""
        entry = name + ".npy"
        with self._open_entry(name) as f:
            shape, dtype, fortran, _ = self._npy_header(name, f)
            count = math.prod(shape)
            if out is not None and (out.size != count or out.dtype.newbyteorder("=") != dtype.newbyteorder("=")
                                    or not out.flags.c_contiguous):
                raise self.error(f"entry {entry!r} holds {count} values of {dtype}, expected {out.size} of "
                                 f"{out.dtype}")
            flat = np.empty(count, dtype) if out is None else out.reshape(-1)
            target = memoryview(flat).cast("B")
            done, total = 0, target.nbytes
            try:
                while done < total:
                    n = f.readinto(target[done:done + (1 << 24)])
                    if not n:
                        raise self.error(f"entry {entry!r} ends after {done:,} of {total:,} bytes of data")
                    done += n
                if f.read(1):
                    raise self.error(f"entry {entry!r} holds more data than its shape {shape} declares")
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                raise self.error(f"entry {entry!r} is damaged ({_one_line(exc)})") from None
        if out is not None:
            if out.dtype.isnative != dtype.isnative:  # stored in the other byte order
                out.byteswap(inplace=True)
            return out
        return flat.reshape(shape, order="F" if fortran else "C")

    # -- the header
    def _read_header(self) -> dict:
        info = self._entries["header"]
        if info.file_size > MAX_HEADER_BYTES + _NPY_HEADER_MAX:
            raise self.error(f"its header entry declares {info.file_size:,} bytes; a model header holds at most "
                             f"{MAX_HEADER_BYTES:,}")
        shape, dtype, _ = self.declared("header")
        if dtype != np.uint8 or len(shape) != 1:
            raise self.error(f"its header entry must be a 1-D uint8 array (JSON text), got shape {shape} of {dtype}")
        raw = self.read("header").tobytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error(f"its header is not UTF-8 text ({exc})") from None
        depth = _json_depth(text)
        if depth > MAX_JSON_DEPTH:
            raise self.error(f"its JSON header nests {depth} levels deep; at most {MAX_JSON_DEPTH} are allowed")
        try:
            header = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
        except (ValueError, RecursionError) as exc:
            raise self.error(f"its header is not valid JSON ({_one_line(exc)})") from None
        if not isinstance(header, dict):
            raise self.error(f"its JSON header must be an object, got {type(header).__name__} "
                             f"{_preview(header)}")
        if header.get("format") != FORMAT:
            raise ValueError(f"{self.path!r} is not a denso model file (format {_preview(header.get('format'))})")
        version = header.get("version")
        if type(version) is not int or version != VERSION:
            raise ValueError(f"{self.path!r} has denso model format version {_preview(version)}; "
                             f"this denso reads version {VERSION}")
        return header


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _preview(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_depth(text: str) -> int:
    """The deepest nesting of [ and { in JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number a model file may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def read_model_file(path) -> tuple:
    """(header dict, {name: array}) of a denso model file, its format, version and archive checked.

    Raises FileNotFoundError for a missing file and ValueError for one that is truncated, corrupted
    or not a denso model. denso.load_model reads through ModelFile instead, checking each array's
    declared shape against the architecture before reading it.
    """
    with ModelFile(path) as f:
        return f.header, {name: f.read(name) for name in f.names if name != "header"}
