"""Downloading an IDX dataset into denso's cache, each file checked against its published MD5."""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request

from .catalog import spec
from .locations import cache_dir

DOWNLOAD_TIMEOUT = 30.0  # seconds without data before a download is abandoned


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


def _md5_of(path: str) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download_dataset(name: str, directory=None, quiet: bool = False) -> str:
    """Download dataset `name` ("fashion-mnist", "mnist") into `directory` (default: the cache).

    Files already there with the right checksum are kept. Returns the directory. Raises OSError
    (urllib.error.URLError) when the network fails and ValueError on a checksum mismatch.
    """
    dataset = spec(name)
    directory = os.fspath(directory) if directory is not None else os.path.join(cache_dir(), name)
    os.makedirs(directory, exist_ok=True)
    for filename, md5 in dataset.md5.items():
        target = os.path.join(directory, filename)
        if os.path.isfile(target) and _md5_of(target) == md5:
            continue
        if not quiet:
            print(f"denso: downloading {dataset.base_url}{filename} to {directory}", file=sys.stderr)
        _fetch(dataset.base_url + filename, target, md5)
    return directory
