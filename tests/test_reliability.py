"""Issue #10's failures, each a test: concurrent use of one model, per-thread grad mode, overflowing
updates, validation gaps, thread limits, interrupts, and models that pickle at any time."""
import copy
import pickle
import subprocess
import sys
import textwrap
import threading
import _thread

import numpy as np
import pytest

import denso
from denso import Dense, Sequential, Tensor


def _classifier(dtype="float32", optimizer="sgd", seed=0, width=8):
    model = Sequential([Dense(width, activation="relu"), Dense(3)], input_dim=4, seed=seed, dtype=dtype)
    model.compile(optimizer, "categorical_crossentropy", ["accuracy"])
    return model


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n)


# ---- 2. one model, several threads --------------------------------------------------------------

def _fit_in_thread(model, x, y, started, release, errors):
    class Block(denso.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            started.set()
            release.wait(10)

    try:
        model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[Block()])
    except BaseException as exc:  # reported to the test's thread
        errors.append(exc)


def test_a_second_fit_or_a_change_during_fit_raises_and_names_the_model():
    model = _classifier()
    model.name = "net-a"
    x, y = _data()
    started, release, errors = threading.Event(), threading.Event(), []
    worker = threading.Thread(target=_fit_in_thread, args=(model, x, y, started, release, errors))
    worker.start()
    try:
        assert started.wait(10)
        with pytest.raises(RuntimeError, match="model 'net-a' is busy: fit\\(\\) in another thread is running on it"):
            model.fit(x, y, epochs=1, verbose=0)
        with pytest.raises(RuntimeError, match="model 'net-a' is busy.*compile\\(\\) must wait"):
            model.compile("adam", "categorical_crossentropy")
        with pytest.raises(RuntimeError, match="model 'net-a' is busy.*set_weights\\(\\) must wait"):
            model.set_weights(model.get_weights())
    finally:
        release.set()
        worker.join(10)
    assert errors == []
    assert model.steps_trained == 8  # the first fit's 8 batches, nothing interleaved
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # free again
    assert model.steps_trained == 16


def test_fit_in_two_threads_never_interleaves_updates():
    model = _classifier()
    x, y = _data()
    outcomes = []

    def run():
        try:
            model.fit(x, y, epochs=4, batch_size=4, verbose=0)
            outcomes.append("fit")
        except RuntimeError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    fits = outcomes.count("fit")
    assert fits >= 1 and all(o == "fit" or "is busy" in o for o in outcomes)
    assert model.steps_trained == 64 * fits  # every fit that ran made all its 64 updates, alone


def test_callbacks_may_still_set_weights_during_their_own_fit():
    model = _classifier()
    x, y = _data()
    stop = denso.EarlyStopping(monitor="loss", patience=0, restore_best_weights=True)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[stop])  # restore_best_weights calls set_weights


# ---- 3. grad mode is per thread -----------------------------------------------------------------

def test_no_grad_in_one_thread_leaves_the_others_recording():
    inside, leave = threading.Event(), threading.Event()

    def other():
        with denso.no_grad():
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=other)
    worker.start()
    try:
        assert inside.wait(10)
        assert denso.is_grad_enabled()
        w = Tensor(np.ones(3), requires_grad=True)
        (w * w).sum().backward()
        np.testing.assert_array_equal(w.grad, [2.0, 2.0, 2.0])
    finally:
        leave.set()
        worker.join(10)
    with denso.no_grad():
        assert not denso.is_grad_enabled()
    assert denso.is_grad_enabled()


# ---- 4. an update that overflows -----------------------------------------------------------------

@pytest.mark.parametrize("engine", ["plan", "graph"])
def test_adam_with_eps_zero_on_a_dead_input_stops_with_the_last_finite_weights(engine):
    x, y = _data()
    x[:, 2] = 0.0  # its weights get a zero gradient: m = v = 0, and 0/0 with eps = 0
    model = _classifier(dtype="float64", optimizer=denso.optim.Adam(lr=1e-2, eps=0.0))
    before = model.get_weights()
    with pytest.raises(denso.TrainingDiverged, match="an update made the weights NaN or infinite during batches 1-1 "
                                                     "of epoch 1"):
        model.fit(x, y, epochs=2, batch_size=8, verbose=0, engine=engine)
    for w, w0 in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, w0)  # restored to before the chunk: the first batch's
    assert np.isfinite(model.optimizer.state[0]["exp_avg_sq"]).all()
    assert model.steps_trained == 0
    assert np.isfinite(model.predict(x)).all()


def test_a_huge_learning_rate_raises_instead_of_returning_nan_weights():
    x, y = _data()
    model = _classifier(dtype="float32", optimizer=denso.optim.SGD(lr=1e100))  # inf as a float32 step
    with pytest.raises(denso.TrainingDiverged, match="restored"):
        model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


# ---- 5. validation gaps --------------------------------------------------------------------------

def test_categorical_targets_must_be_probability_rows():
    x, _ = _data(n=3)
    model = _classifier()
    bad = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [-0.1, 0.6, 0.5]])
    with pytest.raises(ValueError, match=r"`y` must hold probability rows .* got -0.1 at index \(2, 0\)"):
        model.fit(x, bad, verbose=0)
    with pytest.raises(ValueError, match="`y` must hold probability rows .* got row 1 summing to 2"):
        model.fit(x, np.array([[1.0, 0, 0], [1.0, 1.0, 0], [0, 0, 1.0]]), verbose=0)
    with pytest.raises(ValueError, match="`target` must hold probability rows"):
        denso.categorical_crossentropy(np.zeros((1, 3)), np.array([[2.0, -1.0, 0.0]]))
    smoothed = np.full((3, 3), 0.1) + np.eye(3) * 0.7  # label smoothing: rows sum to 1
    model.fit(x, smoothed, verbose=0)


def test_float_tensor_indices_must_be_whole_numbers():
    t = Tensor(np.arange(5.0))
    np.testing.assert_array_equal(t[Tensor([1.0, 3.0])].data, [1.0, 3.0])
    with pytest.raises(IndexError, match="must hold whole numbers, got 1.5"):
        t[Tensor([1.5])]


@pytest.mark.parametrize("seed, error, message", [
    (1.5, TypeError, "`seed` must be an integer in \\[0, 2\\*\\*64\\), got float 1.5"),
    (True, TypeError, "got bool True"),
    (-1, ValueError, "got -1"),
    (2**64, ValueError, "got 18446744073709551616"),
])
def test_seeds_are_integers_in_range(seed, error, message):
    with pytest.raises(error, match=message):
        Sequential([Dense(2)], input_dim=2, seed=seed)
    model = _classifier()
    with pytest.raises(error, match=message):
        model.fit(*_data(), verbose=0, seed=seed)


def test_the_largest_seed_trains():
    model = Sequential([Dense(3)], input_dim=4, seed=2**64 - 1)
    model.compile("sgd", "categorical_crossentropy")
    model.fit(*_data(), epochs=2, verbose=0)
    assert model.steps_trained == 4


# ---- 6. thread limits ------------------------------------------------------------------------------

def test_a_refused_thread_start_is_an_exception_not_an_exit():
    """Under an address-space limit the pool cannot map more thread stacks: set_num_threads says how
    many threads it got, and the process goes on (libgomp used to exit it)."""
    script = textwrap.dedent("""
        import resource, denso, numpy as np
        denso.set_num_threads(1)
        x = np.ones((64, 64), dtype=np.float32)
        denso.dense(x, x)  # OpenBLAS allocates its buffers on first use: before the limit
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[0])
        used = pages * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + (256 << 20), resource.RLIM_INFINITY))
        try:
            denso.set_num_threads(1000)
        except RuntimeError as exc:
            print("refused:", exc)
        n = denso.get_num_threads()
        print("threads:", n)
        # Back to the thread that already has OpenBLAS's buffers: OpenBLAS exits the process when it
        # cannot allocate a new thread's buffer, which no caller can catch.
        denso.set_num_threads(1)
        print("still works:", float(denso.dense(x, x).data.sum()))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "refused: set_num_threads(1000): the system refused to start more than" in done.stdout
    threads = int(done.stdout.split("threads:")[1].split()[0])
    assert 1 <= threads < 1000
    assert "still works: 262144.0" in done.stdout


def test_many_threads_within_the_bound_work(restore_threads):
    denso.set_num_threads(64)
    assert denso.get_num_threads() == 64
    x = np.random.default_rng(0).standard_normal((512, 256)).astype(np.float32)
    np.testing.assert_allclose(denso.dense(x, x.T).data, x @ x.T, rtol=1e-4, atol=1e-3)


@pytest.fixture
def restore_threads():
    before = denso.get_num_threads()
    yield
    denso.set_num_threads(before)


# ---- 9. Ctrl-C during a long epoch -----------------------------------------------------------------

def test_an_interrupt_arrives_during_a_long_silent_epoch():
    """fit(verbose=0) on one long epoch: KeyboardInterrupt stops it mid-epoch, between native calls
    of bounded length, with the steps made so far counted."""
    x = np.random.default_rng(0).standard_normal((200_000, 4)).astype(np.float32)
    y = np.zeros(200_000, dtype=np.int64)
    model = _classifier(width=2048)  # ~30 µs a step: the epoch lasts about 6 s here
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(x, y, epochs=1, batch_size=1, verbose=0)
    finally:
        timer.cancel()
    assert 0 < model.steps_trained < 200_000
    model.fit(x[:64], y[:64], epochs=1, batch_size=8, verbose=0)  # the model is free and consistent


# ---- 14. messages that name the user's argument ----------------------------------------------------

def test_messages_name_the_users_argument():
    model = _classifier()
    with pytest.raises(ValueError, match="`initial_epoch` must be"):
        model.fit(*_data(), initial_epoch=-1, verbose=0)
    with pytest.raises(ValueError, match="`x` must hold at least one sample to evaluate"):
        model.evaluate(np.zeros((0, 4)), np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match=r"`axis` must be in \[-2, 1\] for a tensor with 2 dimensions, got 5"):
        denso.softmax(np.zeros((2, 3)), axis=5)
    with pytest.raises(ValueError, match="`axis` must be in"):
        denso.log_softmax(np.zeros((2, 3)), axis=-3)
    np.testing.assert_allclose(denso.softmax(np.zeros((2, 4)), axis=0).data, 0.5)


# ---- 15. pickling and caches -----------------------------------------------------------------------

def _trained(dtype="float32"):
    model = _classifier(dtype=dtype, optimizer="adam")
    x, y = _data()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.predict(x)  # builds the cached inference plan
    return model, x, y


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_a_model_pickles_after_predict_and_trains_on_identically(clone):
    model, x, y = _trained()
    twin = clone(model)
    np.testing.assert_array_equal(twin.predict(x), model.predict(x))
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=3)
    twin.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=3)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert twin.layers[0].weight.data.base is not None  # still a view into its flat buffer
    assert np.shares_memory(twin.layers[0].weight.data, twin.flat_parameter.data)
    assert twin.flat_parameter.data.ctypes.data % 64 == 0


def test_a_model_loads_from_a_read_only_joblib_memmap(tmp_path):
    joblib = pytest.importorskip("joblib", reason="joblib (with scikit-learn) is not installed")
    model, x, y = _trained()
    joblib.dump(model, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib", mmap_mode="r")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    again.fit(x, y, epochs=1, verbose=0)  # its buffers are its own and writeable
    assert again.steps_trained == model.steps_trained + 2  # 64 samples, batches of 32


def test_predict_with_a_huge_batch_keeps_no_memory_afterwards():
    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    model = Sequential([Dense(256, activation="relu"), Dense(10)], input_dim=64, seed=0)
    x = np.random.default_rng(0).standard_normal((20_000, 64)).astype(np.float32)
    model.predict(x[:10])
    before = rss()
    out = model.predict(x, batch_size=20_000)  # a 2 × 20k × 256 workspace: ~41 MB for this call
    del out
    assert rss() - before < 16 << 20


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_native_all_finite_agrees_with_numpy(dtype):
    """_core.all_finite (the exponent-bit scan behind every finiteness check) against np.isfinite: NaN,
    ±inf at the first, a middle (past the first block of 4096) and the last position, extremes and
    subnormals, empty and 3-D arrays; non-contiguous and non-float arrays are refused."""
    from denso import _core
    info = np.finfo(dtype)
    base = np.zeros(10_001, dtype=dtype)
    base[:4] = [info.max, -info.max, info.smallest_subnormal, -info.tiny]
    assert _core.all_finite(base) and _core.all_finite(np.zeros((0, 3), dtype)) and _core.all_finite(base[:0])
    for bad in (np.nan, np.inf, -np.inf):
        for where in (0, 5000, 10_000):
            x = base.copy()
            x[where] = bad
            assert not _core.all_finite(x) and not _core.all_finite(x.reshape(1, 73, 137))
    with pytest.raises(TypeError, match="C-contiguous"):
        _core.all_finite(np.zeros((4, 4), dtype)[:, ::2])
    with pytest.raises(TypeError, match="float32 or float64"):
        _core.all_finite(np.zeros(4, np.int64))


@pytest.mark.parametrize("threads", [1, 2])
def test_native_all_finite_splits_big_arrays_over_threads(threads, restore_threads):
    """From 2**20 values the scan runs on every thread: a NaN or inf in any thread's part, at its first
    or last value, is found; a finite array passes."""
    from denso import _core
    denso.set_num_threads(threads)
    n = (1 << 20) + 123
    x = np.zeros(n, np.float32)
    assert _core.all_finite(x)
    for where in (0, n // 2 - 1, n // 2, n // 2 + 1, n - 1):
        for bad in (np.nan, -np.inf):
            x[where] = bad
            assert not _core.all_finite(x), (where, bad)
            x[where] = 0
