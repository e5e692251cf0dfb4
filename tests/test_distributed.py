"""Data-parallel training over MPI (fit(distributed=True), denso.distributed).

The MPI tests launch `mpiexec -n K python -m mpi4py` on the scripts tests/mpi_cases.py and
tests/mpi_faults.py (K = 1, 2, 3; 3 oversubscribes a 2-core machine, which MPICH allows) and skip
when mpi4py or mpiexec is missing (`pip install mpi4py mpich`). The rest checks the pieces in one
process: the shard rule, the row offsets of the random streams, the loss kernels' batch total, and
the plan's and graph engine's shard settings.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import denso
from denso import _core
from denso.synthetic import two_spirals

import mpi_cases
import mpi_faults

TESTS = Path(__file__).parent
ROOT = TESTS.parent
HANG = 300  # seconds: a launch that takes longer is hanging (a run takes 1-10 s)


def mpiexec(ranks: int, script: Path, *args, module: bool = True, tmp_path=None) -> subprocess.CompletedProcess:
    """`mpiexec -n ranks python [-m mpi4py] script args` with this interpreter and this denso; fails
    the test if it hangs."""
    pytest.importorskip("mpi4py", reason="the MPI tests need mpi4py: pip install mpi4py mpich")
    launcher = shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    if launcher is None:
        pytest.skip("the MPI tests need an `mpiexec` on PATH: pip install mpich")
    env = dict(os.environ, DENSO_NUM_THREADS="1",  # K ranks share the cores
               PYTHONPATH=os.pathsep.join([str(Path(denso.__file__).parent.parent), str(TESTS),
                                           os.environ.get("PYTHONPATH", "")]))
    command = [launcher, "-n", str(ranks), sys.executable] + (["-m", "mpi4py"] if module else [])
    try:
        return subprocess.run(command + [str(script), *map(str, args)], capture_output=True, text=True,
                              timeout=HANG, env=env, cwd=tmp_path)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{' '.join(command)} {script.name} {args} hung for {HANG} s: {err.stdout!r} {err.stderr!r}")


# ---------------------------------------------------------------- K ranks = one process

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every case of mpi_cases trained on K = 1, 2, 3 ranks: {K: npz}."""
    out = {}
    for ranks in (1, 2, 3):
        path = tmp_path_factory.mktemp("mpi") / f"k{ranks}.npz"
        result = mpiexec(ranks, TESTS / "mpi_cases.py", path)
        assert result.returncode == 0, result.stderr
        out[ranks] = dict(np.load(path))
    return out


# Summation order is the only difference (the shards' partial products dW and their sum): parameters
# agree to these fractions of their largest magnitude (measured: 8e-8 in float32, 3e-16 in float64).
TOLERANCE = {"float32": 1e-6, "float64": 1e-12}


@pytest.mark.parametrize("case", list(mpi_cases.CASES))
@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_k_ranks_train_the_parameters_of_one_process(runs, case, ranks):
    reference, history = mpi_cases.train(case, distributed=False)
    got = runs[ranks]
    assert got[f"{case}/same_on_all_ranks"], "the ranks ended with different parameters or History"
    params = got[f"{case}/params"]
    if ranks == 1:  # one rank runs the single process's arithmetic
        np.testing.assert_array_equal(params, reference)
    tol = TOLERANCE[mpi_cases.CASES[case][0]]
    drift = np.max(np.abs(params - reference)) / np.max(np.abs(reference))
    assert drift <= tol, f"parameters differ by {drift:.2e} of their scale (tolerance {tol})"
    for key, values in history.items():
        np.testing.assert_allclose(got[f"{case}/history/{key}"], values, rtol=tol, atol=0, err_msg=key)


# ---------------------------------------------------------------- faults

def test_a_rank_that_raises_aborts_every_rank_with_its_message():
    result = mpiexec(2, TESTS / "mpi_faults.py", "raise")
    assert result.returncode != 0
    assert "RuntimeError: rank 1 fails on purpose at the end of epoch 2" in result.stderr
    assert "MPI_Abort" in result.stderr


def test_ranks_with_different_row_counts_all_fail_before_training():
    """Without `-m mpi4py` too: every rank raises the same ValueError instead of waiting for the others."""
    result = mpiexec(2, TESTS / "mpi_faults.py", "rows", module=False)
    assert result.returncode != 0
    message = "every rank must pass the same data and settings, but `rows` differs (rank 0: 64, rank 1: 63)"
    lines = result.stdout.splitlines()
    for rank in (0, 1):
        assert f"{rank} ValueError: distributed fit: {message}" in lines, result.stdout + result.stderr


@pytest.mark.parametrize("ranks", [2, 3])
def test_a_loss_that_overflows_on_one_rank_stops_every_rank_at_the_same_batch(ranks):
    steps, message, weights = mpi_faults.diverging_fit(distributed=False)
    result = mpiexec(ranks, TESTS / "mpi_faults.py", "diverge")
    assert result.returncode == 0, result.stderr
    lines = sorted(line for line in result.stdout.splitlines() if "steps=" in line)
    assert lines == [f"{r} steps={steps} finite=True same_on_all_ranks=True {message}" for r in range(ranks)]


def test_every_rank_starts_from_rank_0s_weights_optimizer_state_and_step_count():
    reference, x, y = mpi_faults.pretrained(0)
    reference.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=5)
    result = mpiexec(2, TESTS / "mpi_faults.py", "broadcast")
    assert result.returncode == 0, result.stderr
    lines = sorted(line for line in result.stdout.splitlines() if " params=" in line)
    assert [line.split()[:2] for line in lines] == [["0", f"steps={reference.steps_trained}"],
                                                    ["1", f"steps={reference.steps_trained}"]]
    for line in lines:
        params = np.array(eval(line.split("params=", 1)[1]))
        np.testing.assert_allclose(params, reference.flat_parameter.data, rtol=0,
                                   atol=1e-12 * np.abs(reference.flat_parameter.data).max())


def test_only_rank_0_writes_checkpoints_and_every_rank_stops_early_alike(tmp_path):
    result = mpiexec(3, TESTS / "mpi_faults.py", "checkpoint", tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rank0-epoch1.npz", "rank0-epoch2.npz"]
    for rank in range(3):
        assert f"{rank} epochs=2 stopped_epoch=1" in result.stdout.splitlines()


# ---------------------------------------------------------------- the README example

def test_the_mpi_example_trains_on_two_ranks_and_rank_0_saves(tmp_path):
    result = mpiexec(2, ROOT / "examples" / "train_mpi.py", tmp_path / "spirals.npz", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("Epoch 40/40") == 1 and "2 rank(s): final loss" in out  # rank 0 alone prints
    accuracy = float(out.split("validation accuracy ")[1].split()[0])
    assert accuracy >= 0.95
    model = denso.load_model(tmp_path / "spirals.npz")
    x, y = two_spirals(2000, noise=0.2, seed=0)
    assert np.mean(model.predict(x[1600:]).argmax(axis=1) == y[1600:]) == pytest.approx(accuracy, abs=1e-3)


# ---------------------------------------------------------------- the pieces, in one process

@pytest.mark.parametrize("rows", [0, 1, 2, 5, 32, 33])
@pytest.mark.parametrize("ranks", [1, 2, 3, 7])
def test_shards_tile_the_batch_and_carry_its_total(rows, ranks, rng):
    batch = rng.permutation(40)[:rows].astype(np.int64)
    weights = rng.uniform(0, 2, size=40)
    shards = [_core.batch_shard(batch, weights, r, ranks) for r in range(ranks)]
    offsets = [s[0] for s in shards]
    sizes = [s[1] for s in shards]
    assert offsets == list(np.cumsum([0] + sizes[:-1])) and sum(sizes) == rows
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)  # rank 0 has the most
    assert all(s[2] == pytest.approx(weights[batch].sum(), rel=1e-15, abs=0) for s in shards)
    assert all(_core.batch_shard(batch, None, r, ranks)[2] == rows for r in range(ranks))


def test_batch_shard_rejects_a_rank_outside_the_group():
    with pytest.raises(ValueError, match=r"`rank` must be in \[0, 1\], got 2"):
        _core.batch_shard(np.arange(4, dtype=np.int64), None, 2, 2)


@pytest.mark.parametrize("noise", [False, True])
def test_a_shard_draws_the_random_numbers_of_its_rows_in_the_whole_batch(noise, dtype):
    whole = np.ones((9, 5), dtype=dtype)
    part = np.ones((4, 5), dtype=dtype)
    if noise:
        _core.gaussian_noise_forward(3, 1, 7, 0.5, whole)
        _core.gaussian_noise_forward(3, 1, 7, 0.5, part, row_offset=5)
    else:
        _core.dropout_forward(3, 1, 7, 0.5, whole, np.empty_like(whole))
        _core.dropout_forward(3, 1, 7, 0.5, part, np.empty_like(part), row_offset=5)
    np.testing.assert_array_equal(part, whole[5:])
    assert not np.array_equal(whole[:4], whole[5:])


@pytest.mark.parametrize("kernel", ["mse_loss", "bce_logits_loss", "softmax_xent_loss", "softmax_xent_labels_loss"])
def test_shard_losses_with_the_batch_total_add_up_to_the_batch_loss(kernel, rng):
    z = rng.normal(size=(10, 3))
    target = rng.integers(0, 3, size=10) if kernel == "softmax_xent_labels_loss" else \
        (rng.dirichlet(np.ones(3), size=10) if kernel == "softmax_xent_loss" else rng.uniform(size=(10, 3)))
    w = rng.uniform(0, 2, size=10)
    fn = getattr(_core, kernel)
    grad = np.empty_like(z)
    whole = fn(z, target, grad, w)
    parts, part_grads = 0.0, []
    for lo, hi in [(0, 4), (4, 10)]:
        g = np.empty((hi - lo, 3))
        parts += fn(z[lo:hi], target[lo:hi], g, w[lo:hi], total=w.sum())
        part_grads.append(g)
    assert parts == pytest.approx(whole, rel=1e-14)
    np.testing.assert_allclose(np.vstack(part_grads), grad, rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match=r"`total` must be a finite number >= 0"):
        fn(z, target, None, None, total=-1.0)


def compiled_model(engine_seed=0):
    model = denso.Sequential([denso.Dense(4, activation="relu"), denso.Dense(2)], input_dim=3, seed=engine_seed)
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_a_sharded_plan_refuses_to_train_without_a_gradient_hook():
    from denso.plan import build_plan
    model = compiled_model()
    plan = build_plan(model, 4, 0, False)
    with pytest.raises(ValueError, match=r"`rank` must be in \[0, 1\], got 2"):
        plan.set_shard(2, 2)
    plan.set_shard(1, 2)
    assert plan.shard == (1, 2)
    x, y = np.ones((8, 3), np.float32), np.ones((8, 2), np.float32)
    with pytest.raises(ValueError, match="needs a gradient hook that sums the ranks' gradients"):
        plan.train(x, y, None, None, np.arange(8, dtype=np.int64), 8, 0, 1, np.array([0.1]), 0)


@pytest.mark.parametrize("engine", ["plan", "graph"])
def test_a_rank_without_rows_sends_a_zero_gradient_and_counts_the_step(engine):
    """Rank 2 of 3 gets no row of a 2-row batch: its gradient is 0 (the others' sum decides), the
    update still runs (the optimizer's weight decay moves the weights), and the step counts."""
    from denso.engines import make_engine
    from denso.samples import check_samples
    model = denso.Sequential([denso.Dense(2)], input_dim=3, seed=1)
    model.compile(optimizer=denso.optim.SGD(lr=0.5, weight_decay=0.1), loss="mse")
    seen = []
    runner = make_engine(model, engine, 1, 0, False)
    runner.set_shard(2, 3)
    runner.set_gradient_hook(lambda grads, rows, step: seen.append((grads.copy(), rows, step)))
    data = check_samples(model, np.ones((2, 3)), np.zeros((2, 2)))
    before = model.flat_parameter.data.copy()
    totals = runner.train(data, np.arange(2, dtype=np.int64), 2, 0, 1, np.array([0.5]), 0)
    (grads, rows, step), = seen
    assert (rows, step, totals.batches, totals.rows, totals.weight) == (0, 1, 1, 0, 0.0)
    np.testing.assert_array_equal(grads, 0.0)
    np.testing.assert_allclose(model.flat_parameter.data, before * (1 - 0.5 * 0.1), rtol=1e-6)


def test_model_checkpoint_runs_on_rank_0_only():
    assert denso.ModelCheckpoint("m.npz").rank_zero_only
    assert not denso.EarlyStopping().rank_zero_only


def test_distributed_must_be_a_bool():
    with pytest.raises(TypeError, match="`distributed` must be True or False, got 1"):
        compiled_model().fit(np.ones((4, 3)), np.ones((4, 2)), distributed=1, verbose=0)


def test_import_denso_does_not_import_mpi4py():
    script = textwrap.dedent("""
        import sys
        import denso
        assert "mpi4py" not in sys.modules, "import denso imported mpi4py"
        assert callable(denso.distributed.rank)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=HANG)
    assert result.returncode == 0, result.stderr


def test_without_mpi4py_distributed_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"pip install 'denso\[mpi\]'"):
        denso.distributed.rank()
    with pytest.raises(ImportError, match=r"pip install 'denso\[mpi\]'"):
        compiled_model().fit(np.ones((4, 3)), np.ones((4, 2)), distributed=True, verbose=0)
