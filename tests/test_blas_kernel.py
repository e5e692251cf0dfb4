"""The OpenBLAS kernel set denso loads (denso._blas_kernel): the CPU rule, the user's OPENBLAS_CORETYPE
winning, and the environment left as it was."""
import os
import subprocess
import sys

import pytest

from denso import _core
from denso._blas_kernel import _read_cpuinfo, preferred_coretype


def cpuinfo(vendor: str, family: int, flags: str) -> str:
    block = (f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: 17\n"
             f"flags\t\t: fpu sse2 avx avx2 fma {flags}\n")
    return block + "\n" + block.replace("processor\t: 0", "processor\t: 1") + "\n"


@pytest.mark.parametrize("text, expected", [
    (cpuinfo("AuthenticAMD", 25, "avx512f avx512bw avx512vl"), "Haswell"),  # Zen 4
    (cpuinfo("AuthenticAMD", 25, ""), None),                                 # Zen 3: already AVX2 kernels
    (cpuinfo("AuthenticAMD", 26, "avx512f avx512bw"), None),                 # Zen 5: full-width AVX-512
    (cpuinfo("GenuineIntel", 6, "avx512f avx512bw"), None),                  # Sapphire Rapids and kin
    (cpuinfo("AuthenticAMD", 25, "avx512bw"), None),                          # the flag itself, not a prefix
    ("", None),                                                               # no /proc/cpuinfo
])
def test_rule(text, expected):
    assert preferred_coretype(text) == expected


def test_only_the_first_processor_counts():
    zen4_then_other = cpuinfo("AuthenticAMD", 25, "avx512f") + cpuinfo("GenuineIntel", 6, "")
    assert preferred_coretype(zen4_then_other) == "Haswell"
    assert preferred_coretype(cpuinfo("GenuineIntel", 6, "") + cpuinfo("AuthenticAMD", 25, "avx512f")) is None


def test_python_and_cpp_rules_agree_here():
    assert preferred_coretype(_read_cpuinfo()) == _core.preferred_openblas_coretype()


def import_denso(env_value):
    """(kernel in blas_info, OPENBLAS_CORETYPE after import) from a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if env_value is not None:
        env["OPENBLAS_CORETYPE"] = env_value
    code = "import os, denso; print(denso._core.blas_info(), '|', os.environ.get('OPENBLAS_CORETYPE'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    info, after = done.stdout.strip().splitlines()[-1].split(" | ")  # an editable install logs its rebuild first
    return info, after


needs_openblas = pytest.mark.skipif(not _core.blas_info().startswith("OpenBLAS"),
                                    reason="built without OpenBLAS (DENSO_USE_OPENBLAS=OFF)")


@needs_openblas
def test_preferred_kernel_loaded_and_environment_restored():
    expected = _core.preferred_openblas_coretype()
    info, after = import_denso(None)
    assert after == "None"  # denso's choice never leaks into os.environ
    if expected is None:
        pytest.skip("this CPU keeps OpenBLAS's own kernel choice")
    assert info.endswith(f"({expected})")


@needs_openblas
def test_user_setting_wins():
    info, after = import_denso("Nehalem")  # SSE4.2 kernels: present in scipy-openblas, valid on any x86-64 here
    assert info.endswith("(Nehalem)") and after == "Nehalem"
