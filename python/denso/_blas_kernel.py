"""The OpenBLAS kernel set denso's BLAS loads with, chosen before `denso._core` (and with it
libscipy_openblas) is loaded: OpenBLAS reads OPENBLAS_CORETYPE once, at load time.

On AMD Zen 4 (CPU family 25 with AVX-512) OpenBLAS picks its SkylakeX kernels, but Zen 4 splits every
512-bit instruction into two 256-bit halves and OpenBLAS's Haswell (AVX2) sgemm runs denso's products
3-5% faster there (measured with denso-bench at 1 and 2 threads). Every other CPU keeps OpenBLAS's own
choice. An OPENBLAS_CORETYPE the user set always wins, and the variable is put back as it was once the
library has loaded, so other libraries and child processes never see denso's choice. The C++ side
(cpp/include/denso/blas_kernel.hpp, used by denso-bench) implements the same rule.
"""
from __future__ import annotations

import contextlib
import os

ZEN4_FAMILY = 25
ENV = "OPENBLAS_CORETYPE"


def _first_cpu(cpuinfo: str) -> dict:
    """The fields of the first processor block of /proc/cpuinfo text."""
    fields = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def preferred_coretype(cpuinfo: str) -> str | None:
    """"Haswell" for an AMD Zen 4 described by /proc/cpuinfo text, else None (OpenBLAS's choice)."""
    cpu = _first_cpu(cpuinfo)
    if cpu.get("vendor_id") != "AuthenticAMD" or cpu.get("cpu family") != str(ZEN4_FAMILY):
        return None
    return "Haswell" if "avx512f" in cpu.get("flags", "").split() else None


def _read_cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:  # not Linux: keep OpenBLAS's choice
        return ""


@contextlib.contextmanager
def preferred_kernel():
    """Set OPENBLAS_CORETYPE for the load of the BLAS inside the block, unless the user set it."""
    choice = None if ENV in os.environ else preferred_coretype(_read_cpuinfo())
    if choice is None:
        yield
        return
    os.environ[ENV] = choice
    try:
        yield
    finally:
        os.environ.pop(ENV, None)
