"""What the commands print and write: progress lines, metric tables, and checked output paths."""
from __future__ import annotations

import os
import sys

from .arguments import UsageError
from ..progress import format_value


def say(*lines) -> None:
    """Report progress on stdout, flushed so it interleaves with the progress bar."""
    for line in lines:
        print(line)
    sys.stdout.flush()


def metrics_table(rows) -> str:
    """rows: [(label, logs dict)] → an aligned table with one column per metric."""
    keys = list(rows[0][1])
    width = max(len(label) for label, _ in rows) + 2
    lines = [" " * width + "".join(k.ljust(12) for k in keys).rstrip()]
    for label, logs in rows:
        lines.append(label.ljust(width) + "".join(format_value(logs[k]).ljust(12) for k in keys).rstrip())
    return "\n".join(lines)


def check_output_path(path: str, option: str) -> str:
    """Fail before any work when `path` cannot be written: its directory must exist."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is a directory; give a file name")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{option} {path!r}: the directory {directory!r} does not exist")
    if not os.access(directory, os.W_OK):
        raise PermissionError(f"{option} {path!r}: the directory {directory!r} is not writable")
    return path
