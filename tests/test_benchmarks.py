"""Smoke tests of benchmarks/ and the native denso_bench: tiny sizes, table shapes, positive numbers.

No timing is asserted anywhere: these only prove that the scripts run (with and without torch) and
print the tables the README quotes.
"""
import builtins
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import denso

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
NUMBER = re.compile(r"-?\d[\d,]*\.?\d*")


@pytest.fixture
def bench(monkeypatch):
    """The benchmark modules importable; thread counts and thread env vars restored afterwards."""
    monkeypatch.syspath_prepend(str(BENCH))
    for key in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        if key in os.environ:
            monkeypatch.setenv(key, os.environ[key])
        else:
            monkeypatch.delenv(key, raising=False)
    threads = denso.get_num_threads()
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    import _timing
    yield _timing
    denso.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(torch_threads)


@pytest.fixture
def no_torch(monkeypatch):
    """`import torch` fails, as on a machine without it."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch' (simulated)")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", fake_import)


def table(text, first_header, timing):
    headers, rows = timing.parse_markdown_table(text, first_header)
    assert rows, f"table {first_header!r} has no rows"
    assert all(len(r) == len(headers) for r in rows)
    return headers, rows


def positive_numbers(rows, skip_columns=1):
    """Every non-empty cell after the first `skip_columns` holds a number > 0."""
    for row in rows:
        for cell in row[skip_columns:]:
            if not cell:
                continue
            match = NUMBER.search(cell)
            assert match, f"no number in cell {cell!r} of {row}"
            assert float(match.group().replace(",", "")) > 0, f"non-positive {cell!r} in {row}"


@pytest.mark.torch
def test_bench_training_with_torch(bench, capsys):
    pytest.importorskip("torch")
    import bench_training
    result = bench_training.main(["--quick", "--threads", "1"])
    out = capsys.readouterr().out
    headers, rows = table(out, "batch", bench)
    assert [r[0] for r in rows] == ["1", "32"] and {r[1] for r in rows} == {"1"}
    assert "torch fused µs/step" in headers and "× vs fused" in headers
    positive_numbers(rows)
    headers, rows = table(out[out.index("### Inference"):], "batch", bench)
    assert [r[0] for r in rows] == ["1", "64"] and "× vs torch" in headers
    positive_numbers(rows)
    headers, rows = table(out, "library", bench)
    assert [r[0] for r in rows] == ["denso", "torch"]
    positive_numbers([r[:4] for r in rows])
    _, rows = table(out, "threads", bench)  # GEMM ceiling: numpy and torch
    positive_numbers(rows)
    assert len(result["training"]) == 2 and result["ceilings"][1]["ceiling"] > 0


def test_bench_training_without_torch(bench, no_torch, capsys):
    import bench_training
    assert bench.load_torch() is None
    bench_training.main(["--quick", "--threads", "1", "--sections", "training,inference"])
    out = capsys.readouterr().out
    assert "torch 2" not in out and "torch not installed" in out
    headers, rows = table(out, "batch", bench)
    assert not any("torch" in h for h in headers)
    assert [r[0] for r in rows] == ["1", "32"]
    positive_numbers(rows)
    headers, rows = table(out[out.index("### Inference"):], "batch", bench)
    assert not any("torch" in h for h in headers)
    positive_numbers(rows)
    assert "### Targets" not in out


def test_scaling(bench, capsys):
    import scaling
    result = scaling.main(["--quick", "--threads", "1", "--repeats", "1"])
    out = capsys.readouterr().out
    for first, section in (("batch", "### Batch size"), ("width", "### Width"), ("hidden layers", "### Depth")):
        headers, rows = table(out[out.index(section):], first, bench)
        assert len(rows) == 2 and "GFLOP/s" in headers and "µs/sample" in headers
        positive_numbers(rows)
    assert [r["params"] for r in result["width"]] == [784 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10,
                                                      784 * 32 + 32 + 32 * 32 + 32 + 32 * 10 + 10]


def test_scaling_no_torch_flag(bench, capsys):
    import scaling
    scaling.main(["--quick", "--threads", "1", "--sweeps", "depth", "--no-torch"])
    out = capsys.readouterr().out
    headers, rows = table(out, "hidden layers", bench)
    assert "× vs fused" not in headers and "### Width" not in out
    positive_numbers(rows)


def test_fashion_mnist(bench, capsys):
    import fashion_mnist
    result = fashion_mnist.main(["--quick", "--threads", "1", "--limit", "512"])
    out = capsys.readouterr().out
    headers, rows = table(out, "library", bench)
    assert rows[0][0] == "denso" and "test accuracy" in headers
    for r in rows:
        if r[0] != "torch / denso":
            assert 0.0 <= float(r[-1]) <= 1.0
    positive_numbers([r[:4] for r in rows])
    _, rows = table(out, "epoch", bench)
    assert [r[0] for r in rows] == ["1", "2"]
    assert len(result["results"][0]["denso_epochs"]) == 2


def test_timing_helpers(bench):
    assert bench.fmt(1234.5) == "1,234" or bench.fmt(1234.5) == "1,235"
    assert bench.fmt(0.012345) == "0.0123" and bench.fmt(float("nan")) == "n/a"
    text = bench.markdown_table(["a", "b"], [["x", "1.5"], ["y", "2"]])
    assert bench.parse_markdown_table(text, "a") == (["a", "b"], [["x", "1.5"], ["y", "2"]])
    calls = []
    times = bench.interleaved({"p": lambda: calls.append("p"), "q": lambda: calls.append("q")}, repeats=2, warmup=0)
    assert calls == ["p", "q", "q", "p"] and len(times["p"]) == 2 and times["p"][0]["wall"] >= 0


def _eigen_available() -> bool:
    code = ("import sys, os; print(any(os.path.isdir(os.path.join(s, 'cmeel.prefix')) for s in sys.path if s))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "True"
    return found or any(Path(p).is_dir() for p in ("/usr/share/eigen3/cmake", "/usr/lib/cmake/eigen3"))


@pytest.fixture(scope="module")
def denso_bench_exe(tmp_path_factory):
    installed = shutil.which("denso-bench")  # `pip install .` puts it beside the `denso` command
    if installed is not None:
        return installed
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed")
    if not _eigen_available():
        pytest.skip("no Eigen for a plain CMake build (pip install cmeel-eigen)")
    build = tmp_path_factory.mktemp("build-bench")
    configure = subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-DDENSO_BUILD_BENCH=ON",
                                f"-DPython_EXECUTABLE={sys.executable}"], capture_output=True, text=True)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    compiled = subprocess.run(["cmake", "--build", str(build), "--target", "denso_bench"], capture_output=True,
                              text=True)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return build / "denso-bench"


def test_native_bench(denso_bench_exe, bench):
    done = subprocess.run([str(denso_bench_exe), "--quick", "--threads", "1"], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    _, rows = table(out, "threads", bench)  # GEMM ceiling
    positive_numbers(rows)
    headers, rows = table(out[out.index("### Training step"):], "threads", bench)
    assert [r[1] for r in rows] == ["1", "32"] and "% of GEMM ceiling" in headers
    positive_numbers([r[:-1] for r in rows])  # the last column counts subnormals: may be 0
    headers, rows = table(out[out.index("### Inference"):], "threads", bench)
    assert [r[1] for r in rows] == ["1", "64"] and "µs/call" in headers
    positive_numbers(rows)
    headers, rows = table(out[out.index("### Step profile"):], "kernel", bench)
    assert headers == ["kernel", "batch 1", "batch 32"]
    names = [r[0] for r in rows]
    assert "**measured step**" in names and any(n.startswith("Adam update") for n in names)
    assert sum(n.startswith("L") and "forward" in n for n in names) == 3
    positive_numbers([r for r in rows if not r[0].startswith("other")])
    _, rows = table(out, "optimizer", bench)
    assert [r[0] for r in rows][:1] == ["SGD"] and len(rows) == 6
    positive_numbers(rows)


def test_native_bench_rejects_bad_arguments(denso_bench_exe):
    done = subprocess.run([str(denso_bench_exe), "--batch", "0"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--batch expects positive integers" in done.stderr
