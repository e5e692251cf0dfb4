"""The fused C++ plan against the Tensor graph: same seed and data, same parameters."""

import numpy as np
import pytest

import denso
from denso import Dense, Dropout, GaussianNoise, Sequential

TOL = {"float32": 1e-5, "float64": 1e-12}


def _data(loss, n=103, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    if loss == "categorical_crossentropy":
        return x, rng.integers(0, k, n)
    if loss == "onehot":
        return x, np.eye(k)[rng.integers(0, k, n)]
    if loss == "binary_crossentropy":
        return x, (rng.random((n, k)) > 0.5).astype(float)
    return x, rng.standard_normal((n, k))


def _model(layers, loss, optimizer, dtype):
    model = Sequential(layers, input_dim=6, seed=11, dtype=dtype)
    model.compile(optimizer, "categorical_crossentropy" if loss == "onehot" else loss)
    return model


CASES = [
    ("categorical_crossentropy", lambda: [Dense(16, activation="relu"), Dense(3)], lambda: denso.optim.SGD(lr=0.05)),
    ("onehot", lambda: [Dense(8, activation="tanh"), Dense(3, activation="softmax")],
     lambda: denso.optim.SGD(lr=0.05, momentum=0.9, nesterov=True)),
    ("binary_crossentropy", lambda: [Dense(8, activation="sigmoid", l2=1e-2), Dense(3, activation="sigmoid")],
     lambda: denso.optim.RMSprop(lr=1e-2, centered=True)),
    ("mse", lambda: [GaussianNoise(0.2), Dense(12, activation="leaky_relu", l1=1e-3), Dropout(0.25),
                     Dense(3, activation="tanh")], lambda: denso.optim.Adam(lr=1e-2, amsgrad=True)),
    ("categorical_crossentropy", lambda: [Dense(10, activation="relu", l1=1e-3, l2=1e-3), Dropout(0.5),
                                          Dense(7, activation="relu"), Dense(3)],
     lambda: denso.optim.AdamW(lr=1e-2)),
    # the activations whose backward needs the pre-activation Z (gelu, swish) and the rest, hidden and last
    ("mae", lambda: [Dense(12, activation="gelu"), Dense(3, activation="softplus")],
     lambda: denso.optim.Adam(learning_rate=1e-2)),
    ("huber", lambda: [Dense(12, activation="swish", l2=1e-3), Dropout(0.2), Dense(8, activation="selu"),
                       Dense(3, activation="elu")], lambda: denso.optim.SGD(lr=0.05, momentum=0.9)),
    ("mse", lambda: [Dense(10, activation="silu"), Dense(3, activation="gelu")], lambda: denso.optim.RMSprop(lr=1e-2)),
    (denso.losses.Huber(delta=0.25), lambda: [Dense(10, activation="elu", alpha=0.5), Dense(3)],
     lambda: denso.optim.Adam(lr=1e-2)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss,layers,optimizer", CASES)
def test_plan_path_equals_graph_path(loss, layers, optimizer, dtype):
    x, y = _data(loss)
    plan, graph = _model(layers(), loss, optimizer(), dtype), _model(layers(), loss, optimizer(), dtype)
    hp = plan.fit(x, y, epochs=3, batch_size=16, verbose=0, seed=5, engine="plan")
    hg = graph.fit(x, y, epochs=3, batch_size=16, verbose=0, seed=5, engine="graph")
    for wp, wg in zip(plan.get_weights(), graph.get_weights()):
        np.testing.assert_allclose(wp, wg, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(hp.history["loss"], hg.history["loss"], rtol=TOL[dtype])
    np.testing.assert_allclose(plan.predict(x, engine="plan"), graph.predict(x, engine="graph"),
                               rtol=TOL[dtype], atol=TOL[dtype])
    assert plan.optimizer.state[0]["step"] == graph.optimizer.state[0]["step"] == 3 * 7  # 103 = 6·16 + 7


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_size", [1, 2])
@pytest.mark.parametrize("loss,layers,optimizer", CASES)
def test_fused_small_batch_update_equals_graph_path(loss, layers, optimizer, dtype, batch_size):
    """At 1-2 rows the plan never writes dW: the optimizer pass computes it (and the l1/l2 terms) on
    the fly. The graph path materialises every gradient and runs the plain optimizer pass."""
    x, y = _data(loss, n=21)  # batch 2: ten 2-row batches and a last 1-row batch
    plan, graph = _model(layers(), loss, optimizer(), dtype), _model(layers(), loss, optimizer(), dtype)
    hp = plan.fit(x, y, epochs=2, batch_size=batch_size, verbose=0, seed=5, engine="plan")
    hg = graph.fit(x, y, epochs=2, batch_size=batch_size, verbose=0, seed=5, engine="graph")
    for wp, wg in zip(plan.get_weights(), graph.get_weights()):
        np.testing.assert_allclose(wp, wg, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(hp.history["loss"], hg.history["loss"], rtol=TOL[dtype])
    for slot_p, slot_g in zip(plan.optimizer.slot_buffers(0), graph.optimizer.slot_buffers(0)):
        np.testing.assert_allclose(slot_p, slot_g, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("optimizer", [lambda: denso.optim.Adam(lr=1e-3, weight_decay=1e-3),
                                       lambda: denso.optim.AdamW(lr=1e-3, amsgrad=True),
                                       lambda: denso.optim.SGD(lr=1e-2, momentum=0.9),
                                       lambda: denso.optim.RMSprop(lr=1e-3, momentum=0.5)])
@pytest.mark.parametrize("batch_size", [1, 2])
def test_fused_small_batch_update_split_over_threads(optimizer, threads, batch_size, restore_threads):
    """A network big enough for the fused step to be split by weight rows at 2 threads: the update of
    every layer, the forward X·W of the two 38k/41k-value matrices (summed partial products) and the
    input gradient G·Wᵀ of the second (row_shares.hpp), with dropout between them. float64 plan == graph
    to 1e-12 at every thread count (9 samples: the last batch of an epoch is smaller)."""
    denso.set_num_threads(threads)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((9, 150)), rng.integers(0, 4, 9)
    models = []
    for engine in ("plan", "graph"):
        model = Sequential([Dense(256, activation="tanh", l2=1e-3), Dropout(0.2),
                            Dense(160, activation="relu", l1=1e-4), Dense(4)], input_dim=150, seed=2, dtype="float64")
        model.compile(optimizer(), "categorical_crossentropy")
        assert 150 * 256 >= 2**15 and 256 * 160 >= 2**15  # the size from which a matrix's products are split
        model.fit(x, y, epochs=2, batch_size=batch_size, verbose=0, seed=1, engine=engine)
        models.append(model)
    for wp, wg in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(wp, wg, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 2])
def test_fused_small_batch_step_runs_on_the_team(batch_size, restore_threads):
    """At 2 threads each 1-2-row step of a big network hands four regions to the team (the two split
    forward products, the split input gradient, the update); at 1 thread none."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 150)), rng.integers(0, 4, 6)
    counts = {}
    for threads in (1, 2):
        denso.set_num_threads(threads)
        model = Sequential([Dense(256, activation="relu"), Dense(160, activation="relu"), Dense(4)], input_dim=150,
                           seed=0)
        model.compile("adam", "categorical_crossentropy")
        before = denso._core.parallel_regions()
        model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0)
        counts[threads] = denso._core.parallel_regions() - before
    assert counts == {1: 0, 2: 4 * (6 // batch_size)}


def test_same_seed_gives_bit_identical_weights_and_other_seeds_differ():
    x, y = _data("categorical_crossentropy")
    runs = []
    for seed in (1, 1, 2):
        model = _model([Dense(16, activation="relu"), Dropout(0.2), Dense(3)], "categorical_crossentropy",
                       "adam", "float32")
        model.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=seed)
        runs.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1]))
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2]))


def test_each_epoch_draws_a_new_permutation():
    orders = []
    for epoch in range(3):
        order = np.empty(50, dtype=np.int64)
        denso._core.shuffled_indices(7, epoch, order)
        assert sorted(order) == list(range(50))
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])


@pytest.mark.parametrize("batch_size,steps", [(1, 10), (4, 3), (10, 1), (64, 1)])
def test_last_short_batch_is_used(batch_size, steps):
    x, y = _data("mse", n=10)
    model = _model([Dense(3)], "mse", denso.optim.SGD(lr=0.01), "float64")
    model.fit(x, y, epochs=2, batch_size=batch_size, verbose=0, seed=0)
    assert model.optimizer.state[0]["step"] == 2 * steps


def test_full_batch_gradient_descent_matches_numpy():
    """batch_size = len(x) with plain SGD on a linear model is textbook batch gradient descent."""
    x, y = _data("mse", n=40, k=1)
    model = _model([Dense(1)], "mse", denso.optim.SGD(lr=0.1), "float64")
    w, b = (a.copy() for a in model.get_weights())
    model.fit(x, y, epochs=5, batch_size=40, verbose=0, shuffle=False)
    for _ in range(5):
        err = x @ w + b - y
        w -= 0.1 * 2 * x.T @ err / len(x)
        b -= 0.1 * 2 * err.sum(axis=0) / len(x)
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-12)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-12)


def test_dropout_is_off_in_inference_and_scales_in_training():
    model = Sequential([Dropout(0.5), Dense(1, use_bias=False, kernel_initializer="ones")], input_dim=1000, seed=0)
    x = np.ones((4, 1000))
    np.testing.assert_allclose(model(x).data, 1000.0)
    out = model(x, training=True).data
    assert not np.allclose(out, 1000.0)
    assert abs(out.mean() - 1000.0) < 4 * np.sqrt(1000) * 1.0  # E = 1000, sd ≈ sqrt(1000)


# A step of this model runs every product threaded at 2 threads: the forward X·W, the weight gradient
# Xᵀ·G and the input gradient G·Wᵀ are 256×512×512 multiply-adds each, far above the 64k (at >= 3
# rows) from which gemm() splits a product over the pool, and the optimizer passes over its 530k
# parameters are above the 32k from which elementwise passes split.
THREADED_ROWS, THREADED_WIDTH = 256, 512


def _threaded_fit(threads, dtype, optimizer):
    denso.set_num_threads(threads)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2 * THREADED_ROWS, THREADED_WIDTH)).astype(dtype)
    y = rng.integers(0, 10, 2 * THREADED_ROWS)
    model = Sequential([Dense(THREADED_WIDTH, activation="relu"), Dropout(0.1),
                        Dense(THREADED_WIDTH, activation="tanh"), Dense(10)],
                       input_dim=THREADED_WIDTH, seed=3, dtype=dtype)
    model.compile(optimizer, "categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=THREADED_ROWS, verbose=0, seed=3)
    return model.get_weights()


def test_two_threads_really_run_in_training(restore_threads):
    """The thread pool counts the regions it hands to its team: the old thread test's model (6-64-3,
    batch 32) never made one, the threaded model's products do, and on 1 thread nothing does."""
    rng = np.random.default_rng(0)

    def regions_during_fit(rows, n_in, width, threads):
        denso.set_num_threads(threads)
        model = Sequential([Dense(width, activation="relu"), Dropout(0.1), Dense(3)], input_dim=n_in, seed=0)
        model.compile("adam", "categorical_crossentropy")
        before = denso._core.parallel_regions()
        model.fit(rng.standard_normal((2 * rows, n_in)), rng.integers(0, 3, 2 * rows), epochs=1, batch_size=rows,
                  verbose=0)
        return denso._core.parallel_regions() - before

    assert regions_during_fit(32, 6, 64, 2) == 0
    assert regions_during_fit(THREADED_ROWS, THREADED_WIDTH, THREADED_WIDTH, 1) == 0
    assert regions_during_fit(THREADED_ROWS, THREADED_WIDTH, THREADED_WIDTH, 2) > 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_thread_count_changes_results_only_by_rounding(dtype, restore_threads):
    """Momentum SGD (updates proportional to the gradients, so rounding stays rounding): 1 and 2
    threads agree to the dtype's tolerance relative to each weight array's scale. Measured: 3.8e-7
    (float32), 8.2e-16 (float64) after 4 steps."""
    optimizer = lambda: denso.optim.SGD(lr=0.05, momentum=0.9)  # noqa: E731
    one, two = _threaded_fit(1, dtype, optimizer()), _threaded_fit(2, dtype, optimizer())
    for a, b in zip(one, two):
        scale = float(np.abs(a).max())
        np.testing.assert_allclose(b, a, rtol=TOL[dtype], atol=TOL[dtype] * scale)


@pytest.mark.parametrize("threads", [1, 2])
def test_same_thread_count_gives_bit_identical_weights(threads, restore_threads):
    """At a fixed thread count a run is reproducible bit for bit (dropout, shuffling, the split GEMMs
    and passes all included), with Adam, whose sign-like first steps amplify any rounding change."""
    first = _threaded_fit(threads, "float32", denso.optim.Adam(lr=1e-3))
    second = _threaded_fit(threads, "float32", denso.optim.Adam(lr=1e-3))
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
