"""predict: the fast path for ready arrays, the checked path for everything else, and several
threads predicting with one model at once."""
import threading

import numpy as np
import pytest

import denso
from denso import Dense, Sequential


def _model(dtype="float32", loss="categorical_crossentropy", out=10):
    model = Sequential([Dense(64, activation="relu"), Dense(32, activation="tanh"), Dense(out)], input_dim=50,
                       seed=4, dtype=dtype)
    model.compile("adam", loss)
    return model


def _numpy_forward(model, x):
    """float64 reference: relu, tanh, then softmax."""
    w = [p.astype(np.float64) for p in model.get_weights()]
    h = np.maximum(x @ w[0] + w[1], 0)
    h = np.tanh(h @ w[2] + w[3])
    z = h @ w[4] + w[5]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("rows", [0, 1, 2, 3, 37, 1500])
def test_predict_matches_numpy_at_every_batch_size(dtype, tol, rows):
    model = _model(dtype)
    x = np.random.default_rng(rows).standard_normal((rows, 50)).astype(dtype)
    for batch_size in (1, 7, 1024):  # blocks of the call's own workspace
        out = model.predict(x, batch_size=batch_size)
        assert out.shape == (rows, 10) and out.dtype == np.dtype(dtype)
        np.testing.assert_allclose(out, _numpy_forward(model, x.astype(np.float64)), rtol=tol, atol=tol)


def test_fast_path_and_checked_path_give_the_same_outputs():
    model = _model()
    x = np.random.default_rng(0).standard_normal((5, 50))
    checked = model.predict(x.tolist())                                   # list → converted, checked
    fast = model.predict(x.astype(np.float32))                            # ready array
    strided = model.predict(np.asfortranarray(x.astype(np.float32)))     # copied to C order
    graph = model.predict(x, engine="graph")
    np.testing.assert_array_equal(fast, checked)
    np.testing.assert_array_equal(fast, strided)
    np.testing.assert_allclose(fast, graph, rtol=1e-5, atol=1e-6)


def test_predict_follows_weight_changes_and_recompiles():
    model = _model(loss="mse", out=3)
    x = np.random.default_rng(1).standard_normal((4, 50)).astype(np.float32)
    before = model.predict(x)
    weights = model.get_weights()
    weights[-1] += 1.0                       # the last bias: mse outputs shift by exactly 1
    model.set_weights(weights)
    np.testing.assert_allclose(model.predict(x), before + 1.0, rtol=1e-6, atol=1e-6)
    model.compile("adam", "binary_crossentropy")   # another loss: sigmoid outputs now
    np.testing.assert_allclose(model.predict(x), 1 / (1 + np.exp(-(before + 1.0))), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad,message", [
    (np.nan, r"`x` must be finite, got nan at index \(1, 7\)"),
    (np.inf, r"`x` must be finite, got inf at index \(1, 7\)"),
    (-np.inf, r"`x` must be finite, got -inf at index \(1, 7\)"),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_non_finite_inputs_are_rejected_on_the_fast_path(bad, message, dtype):
    model = _model(dtype)
    model.predict(np.zeros((1, 50), dtype=dtype))  # caches the plan: the next calls take the fast path
    x = np.zeros((3, 50), dtype=dtype)
    x[1, 7] = bad
    with pytest.raises(ValueError, match=message):
        model.predict(x)
    with pytest.raises(ValueError, match=message):
        model.predict(x.tolist())                  # the checked path says the same


@pytest.mark.parametrize("call,error,message", [
    (lambda m: m.predict(np.zeros((2, 49), np.float32)), ValueError, "must have 50 columns"),
    (lambda m: m.predict(np.zeros(50, np.float32)), ValueError, "must be 2-D"),
    (lambda m: m.predict(np.zeros((2, 50), np.float32), batch_size=0), ValueError, "`batch_size` must be an integer >= 1"),
    (lambda m: m.predict(np.zeros((2, 50), np.float32), batch_size=2.5), TypeError, "`batch_size` must be an integer"),
    (lambda m: m.predict(np.zeros((2, 50), np.float32), engine="fast"), ValueError, "`engine` must be"),
])
def test_fast_path_leaves_bad_arguments_to_the_checks(call, error, message):
    model = _model()
    model.predict(np.zeros((1, 50), np.float32))
    with pytest.raises(error, match=message):
        call(model)


@pytest.mark.parametrize("threads_in_kernels", [1, 2])
def test_many_threads_predicting_with_one_model_get_their_own_answers(threads_in_kernels, restore_threads):
    """Each thread predicts its own inputs (batch 1 and batch 300) over and over; every answer must
    equal the single-threaded one. (A shared workspace once gave errors up to 0.996 here.)"""
    denso.set_num_threads(threads_in_kernels)
    model = _model()
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal((1 if i % 2 else 300, 50)).astype(np.float32) for i in range(8)]
    expected = [model.predict(x) for x in inputs]
    errors = []
    start = threading.Barrier(len(inputs))

    def worker(i):
        start.wait()
        for _ in range(200 if inputs[i].shape[0] == 1 else 20):
            out = model.predict(inputs[i])
            if not np.array_equal(out, expected[i]):
                errors.append((i, float(np.abs(out - expected[i]).max())))
                return

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def _child_predicts(model, x, queue):
    queue.put(model.predict(x))


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")
def test_a_forked_child_can_use_the_thread_pool(restore_threads):
    """denso's pool re-forms itself in a fork()ed child (libgomp's team used to hang there)."""
    import multiprocessing
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    denso.set_num_threads(2)
    model = _model()
    x = np.random.default_rng(3).standard_normal((600, 50)).astype(np.float32)
    expected = model.predict(x)      # the pool's worker exists now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_predicts, args=(model, x, queue))
    child.start()
    out = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(out, expected)


def test_two_threads_training_two_models_get_the_sequential_weights(restore_threads):
    """fit releases the GIL; two fits in two Python threads share the pool (their regions take turns)
    and end bit-identical to the same fits run one after the other."""
    denso.set_num_threads(2)
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((512, 50)).astype(np.float32), rng.integers(0, 10, 512)

    def train(seed):
        model = _model()
        model.fit(x, y, epochs=2, batch_size=[32, 64][seed % 2], verbose=0, seed=seed)  # both split GEMMs
        return model.get_weights()

    sequential = [train(0), train(1)]
    together = [None, None]
    threads = [threading.Thread(target=lambda i=i: together.__setitem__(i, train(i))) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(sequential, together):
        for wa, wb in zip(a, b):
            np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [(0, 0), (5, 3), (700, 783), (1023, 783)])
def test_predict_names_the_first_non_finite_input_anywhere(dtype, bad, where):
    """The native finiteness scan (an exponent-bit test over blocks of 4096 values) finds a NaN/inf at
    any position, including after the first block and in the very last value, and names it; the
    largest finite values and subnormals pass."""
    model = denso.Sequential([denso.Dense(3)], input_dim=784, seed=0, dtype=np.dtype(dtype).name)
    x = np.zeros((1024, 784), dtype=dtype)
    x[0, 1], x[1, 2], x[2, 3] = np.finfo(dtype).max, -np.finfo(dtype).max, np.finfo(dtype).smallest_subnormal
    assert np.isfinite(model.predict(x)).all()
    x[where] = bad
    name = "nan" if np.isnan(bad) else ("inf" if bad > 0 else "-inf")
    with pytest.raises(ValueError, match=rf"`x` must be finite, got {name} at index \({where[0]}, {where[1]}\)"):
        model.predict(x)
