"""Datasets: IDX files (MNIST, Fashion-MNIST), CSV and .npz tables, and the built-in problems.

Where the IDX datasets are looked for, in order (the first directory holding all four files wins):

1. the `path` argument, when given (then nowhere else);
2. `$DENSO_DATA/<name>`, e.g. `$DENSO_DATA/fashion-mnist`;
3. the system directory `/usr/share/datasets/<name>` (where Debian's `dataset-fashion-mnist`
   puts its files; `$DENSO_SYSTEM_DATASETS` replaces `/usr/share/datasets`);
4. the user cache `$XDG_CACHE_HOME/denso/<name>` (default `~/.cache/denso/<name>`).

When none has them, the loaders download the files from the dataset's canonical location into
the cache, checking each file's published MD5 (a download is written under a temporary name and
renamed only once its checksum matches; a mismatch deletes it and raises). Offline, they raise
FileNotFoundError saying how to get the files.
"""
from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile

import numpy as np

from ._checks import require_number

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_CODES = {np.dtype(v).newbyteorder(">") if np.dtype(v).itemsize > 1 else np.dtype(v): k
             for k, v in IDX_DTYPES.items()}
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_FILES = FASHION_MNIST_FILES  # MNIST uses the same four file names


# ---- IDX files ------------------------------------------------------------------------------------
def read_idx(path) -> np.ndarray:
    """Read an IDX file (optionally .gz): checks the magic number, dimensions and the file size.

    Raises ValueError naming the file when it is truncated, too long or not IDX.
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read IDX file {path!r}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise ValueError(f"{path!r} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"{path!r} has a truncated IDX header ({ndim} dimensions, {len(raw)} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path!r} should hold {expected} bytes for shape {shape}, but holds {len(raw)} "
                         f"({'truncated' if len(raw) < expected else 'trailing data'})")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array) -> None:
    """Write `array` as an IDX file (gzip-compressed when `path` ends in .gz); read_idx reads it back.

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (stored big-endian, as IDX requires).
    """
    arr = np.asarray(array)
    big = arr.dtype.newbyteorder(">") if arr.dtype.itemsize > 1 else arr.dtype
    if big not in IDX_CODES or arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"IDX stores 1- to 255-D arrays of uint8, int8, int16, int32, float32 or float64, "
                         f"got a {arr.ndim}-D array of dtype {arr.dtype}")
    header = bytes([0, 0, IDX_CODES[big], arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    data = header + np.ascontiguousarray(arr, dtype=big).tobytes()
    path = os.fspath(path)
    with (gzip.open if path.endswith(".gz") else open)(path, "wb") as f:
        f.write(data)


@dataclasses.dataclass(frozen=True)
class IdxDataset:
    """Where an IDX dataset comes from: its canonical base URL and the MD5 of each published file."""

    name: str          # directory name, e.g. "fashion-mnist"
    title: str         # for messages, e.g. "Fashion-MNIST"
    base_url: str      # file URL = base_url + file name
    md5: dict          # "train-images-idx3-ubyte.gz" → hex digest
    apt_package: str | None = None


# The published checksums of the canonical .gz files (Zalando's and Yann LeCun's originals; the
# MNIST files are served from PyTorch's mirror because the original site refuses scripted downloads).
DATASETS = {
    "fashion-mnist": IdxDataset(
        "fashion-mnist", "Fashion-MNIST", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
         "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
         "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
         "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
        apt_package="dataset-fashion-mnist"),
    "mnist": IdxDataset(
        "mnist", "MNIST", "https://ossci-datasets.s3.amazonaws.com/mnist/",
        {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
         "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
         "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
         "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}),
}

DOWNLOAD_TIMEOUT = 30.0  # seconds without data before a download is abandoned


def _spec(name: str) -> IdxDataset:
    if name not in DATASETS:
        raise ValueError(f"unknown IDX dataset {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[name]


def cache_dir() -> str:
    """denso's download cache: $XDG_CACHE_HOME/denso, or ~/.cache/denso."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "denso")


def system_data_dir() -> str:
    """Where system packages put datasets: $DENSO_SYSTEM_DATASETS, or /usr/share/datasets (Debian)."""
    return os.environ.get("DENSO_SYSTEM_DATASETS") or "/usr/share/datasets"


def search_dirs(name: str, path=None) -> list:
    """The directories looked in for dataset `name`, in order (only `path` when it is given)."""
    _spec(name)
    if path is not None:
        return [os.fspath(path)]
    dirs = []
    if os.environ.get("DENSO_DATA"):
        dirs.append(os.path.join(os.environ["DENSO_DATA"], name))
    dirs += [os.path.join(system_data_dir(), name), os.path.join(cache_dir(), name)]
    return dirs


def _find(directory: str, stem: str) -> str | None:
    for name in (stem + ".gz", stem):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def dataset_dir(name: str, path=None) -> str | None:
    """The first of search_dirs(name, path) that holds all four IDX files (.gz or raw), or None."""
    for directory in search_dirs(name, path):
        if all(_find(directory, s) for pair in IDX_FILES.values() for s in pair):
            return directory
    return None


def fashion_mnist_dir(path=None) -> str | None:
    """The directory holding the Fashion-MNIST files (see the module docstring for the order), or None."""
    return dataset_dir("fashion-mnist", path)


def mnist_dir(path=None) -> str | None:
    """The directory holding the MNIST files, or None."""
    return dataset_dir("mnist", path)


def _urlopen(url: str):
    """Open `url` for reading (tests replace this)."""
    return urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT)


def _fetch(url: str, target: str, md5: str) -> None:
    """Download `url` to `target` through a temporary file, renamed only if its MD5 is `md5`."""
    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix=".download-", suffix=".tmp", dir=directory)
    try:
        digest = hashlib.md5()
        with os.fdopen(fd, "wb") as out, _urlopen(url) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != md5:
            raise ValueError(f"checksum mismatch for {url}: expected MD5 {md5}, got {digest.hexdigest()}; "
                             "the download was deleted (a corrupted transfer or a changed file on the server)")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def download_dataset(name: str, directory=None, quiet: bool = False) -> str:
    """Download dataset `name` ("fashion-mnist", "mnist") into `directory` (default: the cache).

    Files already there with the right checksum are kept. Returns the directory. Raises OSError
    (urllib.error.URLError) when the network fails and ValueError on a checksum mismatch.
    """
    spec = _spec(name)
    directory = os.fspath(directory) if directory is not None else os.path.join(cache_dir(), name)
    os.makedirs(directory, exist_ok=True)
    for filename, md5 in spec.md5.items():
        target = os.path.join(directory, filename)
        if os.path.isfile(target) and _md5_of(target) == md5:
            continue
        if not quiet:
            print(f"denso: downloading {spec.base_url}{filename} to {directory}", file=sys.stderr)
        _fetch(spec.base_url + filename, target, md5)
    return directory


def _md5_of(path: str) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _how_to_get(spec: IdxDataset) -> str:
    ways = [f"`apt-get install {spec.apt_package}`"] if spec.apt_package else []
    ways.append(f"download the four files from {spec.base_url} into $DENSO_DATA/{spec.name}")
    return "get them with " + " or ".join(ways)


def load_idx_dataset(name: str, path=None, normalize: bool = True, download: bool = True):
    """((x_train, y_train), (x_test, y_test)) of an IDX image dataset ("fashion-mnist", "mnist").

    x is (n, pixels) float32 in [0, 1] (uint8 0-255 with normalize=False), y int64 labels. See the
    module docstring for where the files are looked for and when they are downloaded (never when
    `path` is given or `download` is False).

    Raises FileNotFoundError saying how to get the files when they are not found and cannot be
    downloaded, ValueError when a file is damaged.
    """
    spec = _spec(name)
    directory = dataset_dir(name, path)
    if directory is None:
        looked = ", ".join(search_dirs(name, path))
        message = f"{spec.title} files not found (looked in {looked})"
        if path is not None or not download:
            raise FileNotFoundError(f"{message}; {_how_to_get(spec)}")
        try:
            directory = download_dataset(name)
        except OSError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise FileNotFoundError(f"{message}, and downloading them failed ({reason}); "
                                    f"{_how_to_get(spec)}") from None
    out = []
    for split in ("train", "test"):
        images, labels = (read_idx(_find(directory, s)) for s in IDX_FILES[split])
        if images.shape[0] != labels.shape[0] or labels.ndim != 1:
            raise ValueError(f"{spec.title} {split} split in {directory} has {images.shape[0]} images but labels "
                             f"of shape {labels.shape}")
        x = images.reshape(images.shape[0], -1)
        out.append(((x.astype(np.float32) / 255.0) if normalize else x, labels.astype(np.int64)))
    return tuple(out)


def load_fashion_mnist(path=None, normalize: bool = True, download: bool = True):
    """Fashion-MNIST: ((x_train, y_train), (x_test, y_test)), 60,000 + 10,000 images of 28×28.

    x is (n, 784) float32 in [0, 1] (or uint8 with normalize=False), y int64 in 0..9
    (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot).

    Example:
        >>> (x, y), (x_test, y_test) = load_fashion_mnist()
        >>> x.shape, x_test.shape
        ((60000, 784), (10000, 784))
    """
    return load_idx_dataset("fashion-mnist", path, normalize, download)


def load_mnist(path=None, normalize: bool = True, download: bool = True):
    """MNIST handwritten digits: ((x_train, y_train), (x_test, y_test)), as load_fashion_mnist."""
    return load_idx_dataset("mnist", path, normalize, download)


# ---- tables: CSV and .npz -------------------------------------------------------------------------
class Standardizer:
    """Per-feature standardisation x → (x − mean) / std with statistics of the data given to fit().

    A constant feature gets std 1 (it becomes 0 instead of NaN).

    Example:
        >>> s = Standardizer().fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
        >>> s.transform(np.array([[2.0, 5.0]])).tolist()
        [[0.0, 0.0]]
    """

    def __init__(self):
        self.mean = self.std = None

    def fit(self, x) -> "Standardizer":
        """Learn mean and standard deviation of each column of x (n, features)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"Standardizer.fit needs a non-empty 2-D array, got shape {x.shape}")
        self.mean = x.mean(axis=0)
        std = x.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, x) -> np.ndarray:
        """(x − mean) / std, in x's float dtype (float32 for integer input)."""
        if self.mean is None:
            raise ValueError("Standardizer.transform called before fit")
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        return ((x - self.mean) / self.std).astype(dtype)


@dataclasses.dataclass
class Table:
    """Rows read from a CSV or .npz file: features x (n, d) float32, target y (n,) or None."""

    x: np.ndarray
    y: np.ndarray | None
    feature_names: list
    target_name: str | None
    x_test: np.ndarray | None = None   # an .npz may carry its own test split
    y_test: np.ndarray | None = None


def read_table(path, target=-1) -> Table:
    """Read a .csv (or .tsv) or .npz file into a Table (see load_csv and load_npz for the rules).

    Raises FileNotFoundError for a missing file and ValueError for one that cannot be used.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a directory, not a data file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        return _read_npz(path)
    if ext in (".csv", ".tsv", ".txt"):
        return _read_csv(path, target, "\t" if ext == ".tsv" else ",")
    raise ValueError(f"{path!r}: unsupported file type {ext or '(no extension)'!r}; denso reads .csv, .tsv and .npz")


def _is_number(field: str) -> bool:
    try:
        float(field)
        return True
    except ValueError:
        return False


def _csv_rows(path: str, delimiter: str):
    """The rows of a CSV file as lists of stripped strings (blank lines skipped)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for row in csv.reader(f, delimiter=delimiter):
                if row and any(field.strip() for field in row):
                    yield [field.strip() for field in row]
    except UnicodeDecodeError:
        raise ValueError(f"{path!r} is not a text CSV file (it is not UTF-8)") from None
    except csv.Error as exc:
        raise ValueError(f"{path!r} is not a valid CSV file: {exc}") from None


def _csv_header(path: str, delimiter: str):
    """(column names, whether the first row is a header); raises ValueError for a file without data rows."""
    rows = _csv_rows(path, delimiter)
    first = next(rows, None)
    if first is None:
        raise ValueError(f"{path!r} is empty")
    has_header = not all(_is_number(field) for field in first)
    if has_header and next(rows, None) is None:
        raise ValueError(f"{path!r} has a header but no data rows")
    names = first if has_header else [str(i) for i in range(len(first))]
    if has_header and len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"{path!r} has two columns named {dup!r}")
    return names, has_header


def csv_columns(path) -> list:
    """The column names of a CSV file ("0", "1", ... when it has no header)."""
    path = os.fspath(path)
    return _csv_header(path, "\t" if path.lower().endswith(".tsv") else ",")[0]


def _target_index(path: str, names: list, target) -> int | None:
    """The column index of `target` (a name, or an integer index that may be negative), or None."""
    if target is None:
        return None
    if isinstance(target, str) and target in names:
        return names.index(target)
    try:
        index = int(target)
    except (TypeError, ValueError):
        index = None
    if index is not None and -len(names) <= index < len(names):
        return index % len(names)
    shown = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
    raise ValueError(f"{path!r} has no target column {target!r}; its columns are {shown} "
                     f"(give a name or a 0-based index)")


def _diagnose_csv(path: str, delimiter: str, names: list, has_header: bool):
    """Scan the file to name the first bad field; raises ValueError (returns if nothing is found)."""
    rows = _csv_rows(path, delimiter)
    if has_header:
        next(rows)
    for line, row in enumerate(rows, start=2 if has_header else 1):
        if len(row) != len(names):
            raise ValueError(f"{path!r} row {line} has {len(row)} fields, but the file has {len(names)} columns")
        for name, field in zip(names, row):
            where = f"{path!r} row {line}, column {name!r}"
            if field == "":
                raise ValueError(f"{where} is empty; denso needs every value (fill or drop missing values first)")
            if not _is_number(field):
                raise ValueError(f"{where} holds {field!r}, which is not a number; denso reads numeric columns only "
                                 "(encode categories as numbers first)")


def _read_csv(path: str, target, delimiter: str) -> Table:
    names, has_header = _csv_header(path, delimiter)
    index = _target_index(path, names, target)
    try:
        data = np.loadtxt(path, delimiter=delimiter, skiprows=int(has_header), ndmin=2, dtype=np.float64,
                          encoding="utf-8-sig", quotechar='"', comments=None)
    except ValueError as exc:
        _diagnose_csv(path, delimiter, names, has_header)
        raise ValueError(f"{path!r} could not be read as numbers: {exc}") from None
    if data.shape[1] != len(names):
        _diagnose_csv(path, delimiter, names, has_header)
        raise ValueError(f"{path!r} has {data.shape[1]} columns of data but {len(names)} header names")
    bad = ~np.isfinite(data)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"{path!r} row {row + 1 + has_header}, column {names[col]!r} is {data[row, col]}; "
                         "denso needs finite numbers")
    features = [i for i in range(len(names)) if i != index]
    if not features:
        raise ValueError(f"{path!r} has no feature columns besides the target {names[index]!r}")
    y = None
    if index is not None:
        y = data[:, index]
        if np.array_equal(y, np.round(y)) and np.abs(y).max(initial=0) < 2**53:
            y = y.astype(np.int64)
    return Table(data[:, features].astype(np.float32), y, [names[i] for i in features],
                 None if index is None else names[index])


def _read_npz(path: str) -> Table:
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise ValueError(f"{path!r} is not a readable .npz file: {exc}") from None
    if {"header", "params"} <= set(arrays):
        raise ValueError(f"{path!r} is a denso model file, not a data file")

    def pick(*keys):
        return next((arrays[k] for k in keys if k in arrays), None)

    x, y = pick("x", "X"), pick("y", "Y")
    if x is None or y is None:
        raise ValueError(f"{path!r} must hold arrays named 'x' (or 'X') and 'y'; it holds {sorted(arrays) or 'none'}")
    x_test, y_test = pick("x_test", "X_test"), pick("y_test", "Y_test")
    if (x_test is None) != (y_test is None):
        raise ValueError(f"{path!r} must hold both 'x_test' and 'y_test', or neither")
    x, y = _npz_pair(path, x, y, "")
    if x_test is not None:
        x_test, y_test = _npz_pair(path, x_test, y_test, "_test")
        if x_test.shape[1] != x.shape[1]:
            raise ValueError(f"{path!r}: 'x_test' has {x_test.shape[1]} columns but 'x' has {x.shape[1]}")
    return Table(x, y, [str(i) for i in range(x.shape[1])], "y", x_test, y_test)


def _npz_pair(path: str, x, y, suffix: str):
    """Checked (x float32 2-D, y 1-D/2-D) from an .npz file."""
    for name, arr in ((f"x{suffix}", x), (f"y{suffix}", y)):
        if arr.dtype.kind not in "iubf":
            raise ValueError(f"{path!r}: {name!r} must hold numbers, got dtype {arr.dtype}")
        if arr.size and not np.isfinite(arr).all():
            raise ValueError(f"{path!r}: {name!r} holds NaN or infinite values")
    if x.ndim != 2:
        raise ValueError(f"{path!r}: 'x{suffix}' must be 2-D (samples × features), got shape {x.shape}")
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise ValueError(f"{path!r}: 'y{suffix}' must have one row per row of 'x{suffix}' ({x.shape[0]}), "
                         f"got shape {y.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{path!r}: 'x{suffix}' has no rows")
    if y.dtype.kind == "f" and np.array_equal(y, np.round(y)) and y.ndim == 1:
        y = y.astype(np.int64)
    return x.astype(np.float32), y


def split_rows(n: int, test_split: float, seed: int = 0):
    """(train indices, test indices): a seeded permutation with the last `test_split` fraction as test.

    With test_split 0 the rows keep their order and the test set is empty.
    """
    test_split = require_number(test_split, "test_split", low=0.0)
    if test_split >= 1.0:
        raise ValueError(f"`test_split` must be in [0, 1), got {test_split}")
    if test_split == 0.0:
        return np.arange(n), np.arange(0)
    n_test = int(round(n * test_split))
    if n_test == 0 or n_test == n:
        raise ValueError(f"`test_split`={test_split} leaves {n_test} of {n} rows for testing; it must leave at "
                         "least one row on each side")
    order = np.random.default_rng(seed).permutation(n)
    return order[:n - n_test], order[n - n_test:]


def load_csv(path, target=-1, test_split: float = 0.0, standardize: bool = False, seed: int = 0):
    """Load a numeric CSV file: ((x_train, y_train), (x_test, y_test)).

    The first row is a header when any of its fields is not a number (otherwise columns are named
    "0", "1", ...). Every other field must be a finite number: an empty or non-numeric field raises
    ValueError naming its row and column. A target column whose values are all whole numbers gives
    int64 labels; otherwise y is float64.

    Args:
        path: a .csv file (comma-separated; .tsv files are tab-separated).
        target: the label column, by name or 0-based index (negative counts from the end; default
            the last column), or None for a file without labels (y is then None).
        test_split: fraction of the rows held out as the test set, chosen by a permutation seeded
            with `seed` (0: no test set, rows keep their order, the test arrays are empty).
        standardize: scale each feature to zero mean and unit variance with the mean and standard
            deviation of the *training* rows only (the test rows are transformed with them).
        seed: seed of the train/test permutation.

    Returns:
        ((x_train, y_train), (x_test, y_test)): x float32 (n, features), y int64/float64 (n,).

    Example:
        >>> (x, y), (x_test, y_test) = load_csv("iris.csv", target="species", test_split=0.2, standardize=True)
    """
    table = read_table(path, target)
    if os.path.splitext(os.fspath(path))[1].lower() == ".npz":
        raise ValueError(f"{os.fspath(path)!r} is an .npz file; use load_npz")
    return _split_table(table.x, table.y, test_split, standardize, seed)


def load_npz(path, test_split: float = 0.0, standardize: bool = False, seed: int = 0):
    """Load arrays x (or X) and y from an .npz file: ((x_train, y_train), (x_test, y_test)).

    When the file also holds x_test and y_test, those are the test set (and `test_split` must be 0);
    otherwise the rows are split as in load_csv. `standardize` as in load_csv.
    """
    table = read_table(path)
    if os.path.splitext(os.fspath(path))[1].lower() != ".npz":
        raise ValueError(f"{os.fspath(path)!r} is not an .npz file; use load_csv")
    if table.x_test is None:
        return _split_table(table.x, table.y, test_split, standardize, seed)
    if test_split:
        raise ValueError(f"{os.fspath(path)!r} has its own test set (x_test, y_test); `test_split` must be 0")
    return _standardized((table.x, table.y), (table.x_test, table.y_test), standardize)


def _split_table(x, y, test_split, standardize, seed):
    train, test = split_rows(x.shape[0], test_split, seed)
    pick = (lambda rows: None) if y is None else (lambda rows: y[rows])
    return _standardized((x[train], pick(train)), (x[test], pick(test)), standardize)


def _standardized(train, test, standardize):
    if standardize:
        scaler = Standardizer().fit(train[0])
        train, test = (scaler.transform(train[0]), train[1]), (scaler.transform(test[0]), test[1])
    return train, test


# ---- named datasets (the command line's --data) ---------------------------------------------------
SYNTHETIC = {
    "spirals": "two interleaved spirals, 2 features, 2 classes (1500 train + 500 test points)",
    "sine": "y = sin(2πx) + noise, regression (800 train + 200 test points)",
    "cubic": "y = 4x³ − 3x + noise, regression (800 train + 200 test points)",
    "abs": "y = 2|x| − 1 + noise, regression (800 train + 200 test points)",
}
NAMES = {"fashion-mnist": "Fashion-MNIST: 28×28 clothing images, 10 classes (60,000 train + 10,000 test)",
         "mnist": "MNIST: 28×28 handwritten digits, 10 classes (60,000 train + 10,000 test)", **SYNTHETIC}


def load_dataset(name: str, download: bool = True):
    """A named dataset as ((x_train, y_train), (x_test, y_test)); names and contents in NAMES.

    The synthetic ones are fixed problems (generated with seed 0), so every call returns the same
    arrays.
    """
    from . import synthetic
    if name in DATASETS:
        return load_idx_dataset(name, download=download)
    if name == "spirals":
        x, y = synthetic.two_spirals(2000, seed=0)
        return (x[:1500], y[:1500]), (x[1500:], y[1500:])
    if name in synthetic.FUNCTIONS:
        x, y = synthetic.noisy_function(name, 1000, noise=0.1, seed=0)
        return (x[:800], y[:800]), (x[800:], y[800:])
    raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(NAMES)}")
