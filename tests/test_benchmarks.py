"""Smoke tests of benchmarks/ and the native denso_bench: tiny sizes, table shapes, positive numbers.

No timing is asserted anywhere: these only prove that the scripts run (with and without torch) and
print the tables the README quotes.
"""
import builtins
import math
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


def _block_import(monkeypatch, module: str) -> None:
    """`import <module>` (and its submodules) fails from now on, as on a machine without it."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == module or name.startswith(module + "."):
            raise ImportError(f"No module named {module!r} (simulated)")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", fake_import)


def _onnxruntime_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def no_torch(monkeypatch):
    _block_import(monkeypatch, "torch")


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


@pytest.fixture
def no_sklearn(monkeypatch):
    _block_import(monkeypatch, "sklearn")


def _sklearn_available() -> bool:
    try:
        import sklearn.neural_network  # noqa: F401
    except ImportError:
        return False
    return True


TARGET_MET = {"yes", "**no**", "n/a"}


def targets(out, threads, timing):
    """The rows of the "Targets at N thread(s)" table: 4 columns, met yes/**no**/n/a, numbers > 0."""
    start = out.index(f"### Targets at {threads} thread")
    headers, rows = table(out[start:], "target", timing)
    assert headers == ["target", "required", "measured", "met"]
    for name, required, measured, met in rows:
        assert met in TARGET_MET, (name, met)
        positive_numbers([[name, required]])
        if measured.startswith("n/a"):
            assert met == "n/a", (name, measured, met)
        else:
            positive_numbers([[name, measured]])
    return {r[0]: r for r in rows}


def check_sklearn_section(out, timing):
    section = out[out.index("### scikit-learn MLPClassifier"):]
    if not _sklearn_available():
        assert "scikit-learn is not installed: row skipped." in section.split("###")[1]
        return False
    headers, rows = table(section, "threads", timing)
    assert headers[-2:] == ["× vs sklearn (fit)", "× vs sklearn (epoch)"] and "sklearn ms/epoch" in headers
    assert [r[0] for r in rows] == ["1"] and rows[0][1] == "400"  # 2 steps of 200
    positive_numbers(rows)
    return True


@pytest.mark.torch
def test_bench_training_with_torch(bench, capsys):
    pytest.importorskip("torch")
    import bench_training
    result = bench_training.main(["--quick", "--threads", "1"])
    out = capsys.readouterr().out
    assert f"{result['info']['cpu']} ({result['info']['cpu_simd']}, " in out  # CPU model and SIMD level
    assert result["info"]["cpu_simd"] in {"AVX-512", "AVX2", "SSE", "n/a"}
    headers, rows = table(out, "batch", bench)
    assert [r[0] for r in rows] == ["1", "128"] and {r[1] for r in rows} == {"1"}
    assert "torch fused µs/step" in headers and "× vs fused" in headers and "denso % of ceiling" in headers
    positive_numbers(rows)
    headers, rows = table(out[out.index("### Inference"):], "batch", bench)
    assert [r[0] for r in rows] == ["1", "1024"] and "× vs torch" in headers and "× vs numpy" in headers
    positive_numbers(rows)
    if _onnxruntime_available():  # onnxruntime on denso's ONNX export, beside predict
        assert "onnxruntime µs/call" in headers and "× vs onnxruntime" in headers
    else:
        assert "onnxruntime or onnx is not installed: its columns are skipped" in out
    headers, rows = table(out, "library", bench)
    assert [r[0] for r in rows] == ["denso", "torch"]
    positive_numbers([r[:4] for r in rows])
    headers, rows = table(out, "threads", bench)  # GEMM ceiling: numpy, torch and denso
    assert headers == ["threads", "numpy 128³ GFLOP/s", "torch 128³ GFLOP/s", "denso 128³ GFLOP/s", "ceiling GFLOP/s"]
    positive_numbers(rows)
    ceiling = result["ceilings"][1]
    assert ceiling["ceiling"] == max(ceiling["numpy"], ceiling["torch"], ceiling["denso"]) > 0
    assert len(result["training"]) == 2
    with_sklearn = check_sklearn_section(out, bench)
    assert "### Batch-1 floor" in out
    rows = targets(out, 1, bench)
    assert "### Targets at 2 threads" not in out  # --quick runs one thread count
    names = list(rows)
    expected = ["training batch 128: GEMM share (real GEMM FLOPs / step time ÷ best GEMM rate)",
                "training batch 1: × vs PyTorch fused Adam (fit call / steady epoch)",
                "training batch 128: × vs PyTorch fused Adam (fit call / steady epoch)",
                "inference batch 1: µs per `predict` call",
                "inference batch 1: × vs numpy three-matmul forward",
                "inference batch 1024: GEMM share (forward FLOPs / call time ÷ best GEMM rate)",
                "inference batch 1024: × vs torch"]
    expected += ["scikit-learn MLPClassifier epoch (batch 200): × faster (fit call / steady epoch)"] if with_sklearn else []
    expected += ["batch-1 floor: step / RMW pass ≤ 1.5×"]
    assert names == expected
    assert rows[expected[0]][1] == "≥ 75%" and rows[expected[1]][1] == "≥ 10× (fit call)"
    assert rows[expected[2]][1] == "≥ 1.5× (fit call)" and rows[expected[3]][1] == "≤ 20 µs"
    floor = rows["batch-1 floor: step / RMW pass ≤ 1.5×"]
    assert floor[2].startswith("n/a (denso-bench") or float(NUMBER.search(floor[2]).group()) > 0
    assert set(result["targets"]) == {1}


def test_bench_training_without_torch(bench, no_torch, no_sklearn, monkeypatch, capsys):
    _block_import(monkeypatch, "onnxruntime")
    import bench_training
    assert bench.load_torch() is None and bench_training.load_mlp_classifier() is None
    monkeypatch.setattr(bench_training, "find_denso_bench", lambda: None)
    bench_training.main(["--quick", "--threads", "1", "--sections", "training,inference,sklearn,floor"])
    out = capsys.readouterr().out
    assert "torch 2" not in out and "torch not installed" in out and "### Peak memory" not in out
    headers, rows = table(out, "batch", bench)
    assert not any("torch" in h for h in headers)
    assert [r[0] for r in rows] == ["1", "128"]
    positive_numbers(rows)
    headers, rows = table(out[out.index("### Inference"):], "batch", bench)
    assert not any("torch" in h for h in headers) and "× vs numpy" in headers
    assert not any("onnxruntime" in h for h in headers)
    assert "onnxruntime or onnx is not installed: its columns are skipped" in out
    positive_numbers(rows)
    assert "scikit-learn is not installed: row skipped." in out
    assert "n/a (denso-bench not found)" in out
    rows = targets(out, 1, bench)
    assert not any("torch" in name or "scikit-learn" in name for name in rows)
    assert rows["batch-1 floor: step / RMW pass ≤ 1.5×"][2:] == ["n/a (denso-bench not found)", "n/a"]
    assert "inference batch 1: × vs numpy three-matmul forward" in rows


def test_bench_training_sections(bench, capsys):
    """--sections: only what was asked for, with its target rows; unknown names are refused."""
    import bench_training
    bench_training.main(["--quick", "--threads", "1", "--no-torch", "--sections", "sklearn"])
    out = capsys.readouterr().out
    assert "### Training" not in out and "### Inference" not in out and "### Batch-1 floor" not in out
    if check_sklearn_section(out, bench):
        rows = targets(out, 1, bench)
        assert list(rows) == ["scikit-learn MLPClassifier epoch (batch 200): × faster (fit call / steady epoch)"]
        assert rows[list(rows)[0]][1] == "≥ 3× (fit call)"
    with pytest.raises(SystemExit):
        bench_training.parse_args(["--sections", "training,nonsense"])


FAKE_FLOOR = """## denso-bench

### Batch-1 floor

| threads | step µs | RMW pass µs | Adam pass µs | step / RMW pass |
|---:|---:|---:|---:|---:|
| 1 | 120 | 90.5 | 101 | 1.33× |
| 2 | 95.0 | 60.0 | 70.0 | 1.58× |
"""


def test_bench_training_floor_from_denso_bench(bench, tmp_path, monkeypatch, capsys):
    """The floor comes from `denso-bench --floor-only --threads …` on PATH; failures become n/a."""
    import bench_training
    assert bench_training.parse_floor(FAKE_FLOOR) == {
        1: {"step_us": 120.0, "rmw_us": 90.5, "adam_us": 101.0, "ratio": 1.33},
        2: {"step_us": 95.0, "rmw_us": 60.0, "adam_us": 70.0, "ratio": 1.58}}
    exe = tmp_path / "denso-bench"
    (tmp_path / "floor.md").write_text(FAKE_FLOOR)
    exe.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat {tmp_path}/floor.md\n')
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    args = bench_training.parse_args(["--threads", "1,2"])
    floor = bench_training.bench_floor(args)
    assert (tmp_path / "args").read_text().split() == ["--floor-only", "--threads", "1,2"]
    assert floor["error"] is None and floor["rows"][2]["ratio"] == 1.58
    rows = targets(bench_training.targets_table({"floor": floor}, 1), 1, bench)
    assert rows["batch-1 floor: step / RMW pass ≤ 1.5×"][1:] == ["≤ 1.5×", "1.33× (step 120 µs, RMW pass 90.5 µs)",
                                                                  "yes"]
    assert targets(bench_training.targets_table({"floor": floor}, 2), 2, bench)[
        "batch-1 floor: step / RMW pass ≤ 1.5×"][3] == "**no**"
    out = capsys.readouterr().out
    headers, rows = table(out[out.index("### Batch-1 floor"):], "threads", bench)
    assert headers == ["threads", "step µs", "RMW pass µs", "Adam pass µs", "step / RMW pass"] and len(rows) == 2
    exe.write_text("#!/bin/sh\necho \"unknown option '--floor-only'\" >&2\nexit 2\n")  # an older denso-bench
    floor = bench_training.bench_floor(args)
    assert floor["rows"] == {} and "unknown option" in floor["error"]
    rows = targets(bench_training.targets_table({"floor": floor}, 1), 1, bench)
    assert rows["batch-1 floor: step / RMW pass ≤ 1.5×"][2:] == ["n/a (denso-bench failed)", "n/a"]
    exe.write_text("#!/bin/sh\necho '### Something else'\n")  # runs, but no floor section
    assert bench_training.bench_floor(args)["error"].startswith("denso-bench failed")


def test_bench_training_flop_counts(bench):
    import bench_training as B
    dims = (784, 256, 128, 10)
    forward = 2 * (784 * 256 + 256 * 128 + 128 * 10)
    assert B.forward_flops(dims, 1) == forward
    assert B.step_gemm_flops(dims, 1) == 2 * forward + 2 * (256 * 128 + 128 * 10)  # no dX for the first layer
    assert B.train_gflop(dims, 512) == pytest.approx(512 * B.step_gemm_flops(dims, 1) / 1e9)
    assert B.train_share_target(1) is None and B.train_share_target(128) == 0.75
    assert B.train_share_target(512) == B.train_share_target(2048) == 0.85
    assert B.TRAIN_TARGETS == {1: 10.0, 8: 5.0, 32: 2.5, 128: 1.5, 512: 1.2, 2048: 1.2}


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


def test_scaling_mpi(bench, capsys):
    pytest.importorskip("mpi4py", reason="scaling_mpi launches MPI ranks: pip install mpi4py mpich")
    import scaling_mpi
    if scaling_mpi.mpiexec() is None:
        pytest.skip("scaling_mpi needs an `mpiexec` on PATH: pip install mpich")
    result = scaling_mpi.main(["--quick"])
    out = capsys.readouterr().out
    headers, rows = table(out, "global batch", bench)
    assert [r[1] for r in rows] == ["1", "2"] and "Allreduce share of a step" in headers
    positive_numbers(rows)
    for network in ("10 Gb/s", "100 Gb/s"):
        headers, rows = table(out[out.index(network):], "nodes", bench)
        assert headers[1:3] == ["B=32", "B=64"] and [r[0] for r in rows] == ["2", "4"]
    assert result["measured"][0]["speedup"] == 1.0


def test_scaling_mpi_cost_model(bench):
    """Efficiency = one node's time for batch B / (K · (time of B/K rows + ring allreduce)): with 1 µs per
    sample, 1000 parameters on 1 GB/s and no latency, 4 nodes at B = 64 take 16 µs + 4·1000·2·3/4 B / 1 GB/s."""
    import scaling_mpi
    seconds = {b: b * 1e-6 for b in (1, 2, 4, 8, 16, 32, 64)}
    assert scaling_mpi.efficiency(64, 4, seconds, 1000, ("test", 1e9, 0.0)) == pytest.approx(64 / (4 * (16 + 6)))
    assert scaling_mpi.efficiency(64, 4, seconds, 1000, ("test", 1e9, 1e-6)) == pytest.approx(64 / (4 * (16 + 6 + 6)))
    assert math.isnan(scaling_mpi.efficiency(2, 4, seconds, 1000, ("test", 1e9, 0.0)))  # a node without rows


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
    if bench.load_torch() is not None:
        headers, rows = table(out[out.index("Target (issue #8)"):], "target", bench)
        assert headers == ["target", "threads", "denso / torch wall time", "test accuracy (denso vs torch)", "met"]
        assert rows[0][0] == "≤ 0.6× PyTorch's wall time at ≥ the same test accuracy" and rows[0][1] == "1"
        assert rows[0][-1] in {"yes", "**no**"}
        positive_numbers([r[:3] for r in rows], skip_columns=2)
    else:
        assert "Target (issue #8)" not in out


def test_timing_helpers(bench):
    assert bench.fmt(1234.5) == "1,234" or bench.fmt(1234.5) == "1,235"
    assert bench.fmt(0.012345) == "0.0123" and bench.fmt(float("nan")) == "n/a"
    text = bench.markdown_table(["a", "b"], [["x", "1.5"], ["y", "2"]])
    assert bench.parse_markdown_table(text, "a") == (["a", "b"], [["x", "1.5"], ["y", "2"]])
    calls = []
    times = bench.interleaved({"p": lambda: calls.append("p"), "q": lambda: calls.append("q")}, repeats=2, warmup=0)
    assert calls == ["p", "q", "q", "p"]
    assert [sorted(t) for t in times["p"]] == [["wall"], ["wall"]]  # a case returning None: its wall time
    assert all(isinstance(t["wall"], float) and math.isfinite(t["wall"]) for t in times["p"] + times["q"])
    timed = bench.interleaved({"r": lambda: {"epochs": [0.25, 0.5]}}, repeats=3, warmup=1)
    assert [t["epochs"] for t in timed["r"]] == [[0.25, 0.5]] * 3 and all("wall" in t for t in timed["r"])


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


def test_native_bench_loads_the_preferred_kernel(denso_bench_exe):
    """denso-bench re-executes itself with the OpenBLAS kernel set that `import denso` would load."""
    expected = denso._core.preferred_openblas_coretype()
    if expected is None or not denso._core.blas_info().startswith("OpenBLAS"):
        pytest.skip("this CPU (or an Eigen-only build) keeps OpenBLAS's own kernel choice")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    done = subprocess.run([str(denso_bench_exe), "--quick", "--floor-only", "--threads", "1"], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "BLAS OpenBLAS" in done.stdout and f"({expected}) ·" in done.stdout


def test_native_bench_rejects_bad_arguments(denso_bench_exe):
    done = subprocess.run([str(denso_bench_exe), "--batch", "0"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--batch expects positive integers" in done.stderr


def test_eigen_only_build_runs(tmp_path, bench):
    """DENSO_USE_OPENBLAS=OFF (no BLAS wheel needed) builds and trains: the fallback stays alive."""
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed")
    if not _eigen_available():
        pytest.skip("no Eigen for a plain CMake build (pip install cmeel-eigen)")
    configure = subprocess.run(["cmake", "-S", str(ROOT), "-B", str(tmp_path), "-DDENSO_BUILD_BENCH=ON",
                                "-DDENSO_USE_OPENBLAS=OFF", f"-DPython_EXECUTABLE={sys.executable}"],
                               capture_output=True, text=True)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    assert "openblas=OFF" in configure.stdout
    compiled = subprocess.run(["cmake", "--build", str(tmp_path), "--target", "denso_bench"], capture_output=True,
                              text=True)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    done = subprocess.run([str(tmp_path / "denso-bench"), "--quick", "--threads", "1,2", "--no-kernels"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "BLAS none (Eigen only)" in done.stdout
    headers, rows = table(done.stdout[done.stdout.index("### Training step"):], "threads", bench)
    assert [r[:2] for r in rows] == [["1", "1"], ["1", "32"], ["2", "1"], ["2", "32"]]
    positive_numbers([r[:-1] for r in rows])


def test_vs_sklearn_quick(bench, capsys):
    """benchmarks/vs_sklearn.py --quick: the machine line and one row per dataset (Fashion-MNIST only where
    installed); scores as mean ± std, positive fit times. No speed is asserted."""
    pytest.importorskip("sklearn", reason="scikit-learn is not installed (pip install 'denso[sklearn]')")
    import vs_sklearn
    vs_sklearn.main(["--quick"])
    out = capsys.readouterr().out
    info = bench.machine_info()
    assert f"{info['cpu']} ({info['cpu_simd']}, " in out
    headers, rows = table(out, "dataset", bench)
    assert headers[:5] == ["dataset", "train rows", "metric", "scikit-learn score", "denso score"]
    names = [r[0] for r in rows]
    assert names[:4] == ["digits", "breast_cancer", "wine", "diabetes"] and set(names[4:]) <= {"fashion_mnist"}
    assert ("fashion_mnist" in names) != ("not installed (skipped): fashion_mnist" in out)
    assert all(re.fullmatch(r"-?\d\.\d{4} ± \d\.\d{4}", r[i]) for r in rows for i in (3, 4))
    assert all(float(r[i]) > 0 for r in rows for i in (5, 6))


def test_csv_reading_quick(bench, capsys):
    """benchmarks/csv_reading.py --quick: the machine line and one row per (table, reader); pandas rows
    only where it is installed. No speed is asserted."""
    import csv_reading
    csv_reading.main(["--quick"])
    out = capsys.readouterr().out
    info = bench.machine_info()
    assert f"{info['cpu']} ({info['cpu_simd']}, " in out
    headers, rows = table(out, "table", bench)
    assert headers == ["table", "size", "reader", "seconds"]
    try:
        import pandas  # noqa: F401
        readers = 4
    except ImportError:
        readers = 3
    assert [r[0] for r in rows] == ["integers"] * readers + ["fractions"] * readers
    assert all(float(r[3]) > 0 for r in rows)
