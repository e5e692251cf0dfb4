"""The training contract both engines share: the gradient hook, the Totals and the rule counting a
batch, the metric registry, and the typed plan description the binding checks."""
import pickle

import numpy as np
import pytest

import denso
from denso import Dense, Dropout, Sequential, Tensor, _core, metrics
from denso.engines import make_engine
from denso.trainer import FitOptions, Trainer


def _model(dtype="float64", optimizer=None, loss="categorical_crossentropy", layers=None):
    model = Sequential(layers or [Dense(5, activation="tanh", l2=1e-2), Dense(3)], input_dim=4, seed=3, dtype=dtype)
    model.compile(optimizer or denso.optim.SGD(lr=0.1), loss, ["accuracy"] if loss != "mse" else ["mae"])
    return model


def _data(n=11, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n)


def _fit_with_hook(engine, hook, batch_size=4, dtype="float64", optimizer=None):
    model = _model(dtype, optimizer)
    x, y = _data()
    Trainer(model, FitOptions(epochs=2, batch_size=batch_size, verbose=0, seed=1, engine=engine),
            gradient_hook=hook).fit(x, y)
    return model


# ---- the gradient hook ---------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size", [1, 2, 4])
def test_gradient_hook_sees_the_same_gradients_on_both_engines(batch_size):
    seen = {"plan": [], "graph": []}
    for engine in seen:
        def record(grads, rows, step, calls=seen[engine]):
            calls.append((rows, step, grads.copy()))
        _fit_with_hook(engine, record, batch_size)
    steps = 2 * -(-11 // batch_size)
    assert [(r, s) for r, s, _ in seen["plan"]] == [(r, s) for r, s, _ in seen["graph"]]
    assert [s for _, s, _ in seen["plan"]] == list(range(1, steps + 1))
    assert seen["plan"][-1][0] == 11 - (11 // batch_size) * batch_size or batch_size  # the last, shorter batch
    for (_, _, gp), (_, _, gg) in zip(seen["plan"], seen["graph"]):
        np.testing.assert_allclose(gp, gg, rtol=1e-10, atol=1e-12)


def test_gradient_hook_gets_the_batch_gradient_with_its_penalty():
    model = _model()
    x, y = _data(n=3)
    w0 = model.get_weights()
    captured = []
    Trainer(model, FitOptions(epochs=1, batch_size=3, shuffle=False, verbose=0, engine="plan"),
            gradient_hook=lambda g, rows, step: captured.append(g.copy())).fit(x, y)
    # The same gradient from the graph: mean softmax cross-entropy of the batch + l2·ΣW² of layer 1.
    ref = Sequential([Dense(5, activation="tanh"), Dense(3)], input_dim=4, seed=3, dtype="float64")
    ref.set_weights(w0)
    params = ref.parameters()
    loss = denso.categorical_crossentropy(ref(x), y) + 1e-2 * (params[0] * params[0]).sum()
    loss.backward()
    expected = np.concatenate([p.grad.reshape(-1) for p in params])
    np.testing.assert_allclose(captured[0], expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("engine", ["plan", "graph"])
def test_gradient_hook_may_rewrite_the_gradient(engine):
    """A hook zeroing the gradient leaves plain SGD's weights where they were (no penalty on these)."""
    model = _model(layers=[Dense(5, activation="relu"), Dense(3)])
    before = model.get_weights()
    x, y = _data()
    Trainer(model, FitOptions(epochs=1, batch_size=2, verbose=0, engine=engine),
            gradient_hook=lambda g, rows, step: g.fill(0.0)).fit(x, y)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    halved = _fit_with_hook(engine, lambda g, rows, step: g.__imul__(0.5))
    reference = _fit_with_hook(engine, None, optimizer=denso.optim.SGD(lr=0.05))
    for a, b in zip(halved.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("engine", ["plan", "graph"])
def test_an_exception_in_the_gradient_hook_stops_fit_before_that_update(engine):
    model = _model()
    calls = []

    def hook(grads, rows, step):
        calls.append(step)
        if step == 3:
            raise KeyError("stop here")
    x, y = _data()
    with pytest.raises(KeyError, match="stop here"):
        Trainer(model, FitOptions(epochs=1, batch_size=2, verbose=0, engine=engine), gradient_hook=hook).fit(x, y)
    assert calls == [1, 2, 3]


def test_plan_rejects_a_hook_that_is_not_callable():
    model = _model()
    engine = make_engine(model, "plan", 4, 0, True)
    with pytest.raises(TypeError, match="`hook` must be callable or None, got int"):
        engine.set_gradient_hook(3)
    engine.set_gradient_hook(None)


# ---- Totals and the batch-counting rule ----------------------------------------------------------

def test_totals_add_and_keep_the_first_non_finite_batch():
    z = np.array([[2.0, 1.0], [0.0, 3.0]])
    t = _core.count_batch(_core.LossKind.softmax_xent_labels, z, None, np.array([0, 0]), 0.5, 0.25)
    assert (t.loss, t.data_loss, t.correct, t.rows, t.batches, t.finite) == (1.5, 1.0, 1.0, 2, 1, True)
    t += _core.Totals.stopped_at(7)
    t += _core.Totals.stopped_at(9)
    t += t
    assert (t.finite, t.bad_batch, t.rows, t.correct) == (False, 7, 4, 2.0)
    assert repr(_core.Totals()).startswith("Totals(loss=0.0, data_loss=0.0, correct=0.0")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_count_batch_counts_as_numpy_does(dtype):
    rng = np.random.default_rng(4)
    z = rng.standard_normal((50, 4)).astype(dtype)
    labels = rng.integers(0, 4, 50)
    probs = rng.dirichlet(np.ones(4), 50).astype(dtype)
    targets = rng.random((50, 4)).astype(dtype)
    K = _core.LossKind
    assert _core.count_batch(K.softmax_xent_labels, z, None, labels, 0, 0).correct == (z.argmax(1) == labels).sum()
    assert _core.count_batch(K.softmax_xent, z, probs, None, 0, 0).correct == (z.argmax(1) == probs.argmax(1)).sum()
    assert _core.count_batch(K.bce_logits, z, targets, None, 0, 0).correct == ((z > 0) == (targets >= 0.5)).sum()
    mse = _core.count_batch(K.mse, z, targets, None, 0, 0)
    assert mse.abs_error == pytest.approx(np.abs(z.astype(np.float64) - targets).sum(), rel=1e-6)
    with pytest.raises(ValueError, match="integer `labels` and no `y`"):
        _core.count_batch(K.softmax_xent_labels, z, probs, None, 0, 0)
    with pytest.raises(ValueError, match=r"`labels` must lie in \[0, 4\)"):
        _core.count_batch(K.softmax_xent_labels, z, None, labels + 4, 0, 0)
    with pytest.raises(ValueError, match=r"`y` must have shape \(50, 4\), got \(50, 3\)"):
        _core.count_batch(K.mse, z, targets[:, :3].copy(), None, 0, 0)


@pytest.mark.parametrize("loss, y", [
    ("categorical_crossentropy", np.array([0, 2, 1, 1, 0, 2, 2])),
    ("binary_crossentropy", np.array([[0.2, 0.9, 0.5], [1, 0, 0.7], [0.4, 0.6, 0], [1, 1, 0], [0, 0, 1],
                                      [0.5, 0.5, 0.5], [0.1, 0.8, 0.3]])),
])
@pytest.mark.parametrize("engine", ["plan", "graph"])
def test_evaluate_accuracy_equals_the_metric_function_on_predict(loss, y, engine):
    """One rule: what fit/evaluate count equals metrics.accuracy/binary_accuracy on predict()."""
    x = np.random.default_rng(2).standard_normal((7, 4))
    model = Sequential([Dense(6, activation="relu"), Dense(3)], input_dim=4, seed=5)
    model.compile("adam", loss, "accuracy")
    reported = model.evaluate(x, y, engine=engine)["accuracy"]
    pred = model.predict(x)
    fn = metrics.binary_accuracy if loss == "binary_crossentropy" else metrics.accuracy
    assert reported == pytest.approx(fn(y, pred))


def test_the_metric_registry_resolves_names_for_its_loss():
    cce, mse = denso.losses.get("categorical_crossentropy"), denso.losses.get("mse")
    assert metrics.resolve("ACC", cce) == "accuracy"
    assert metrics.resolve("mean_absolute_error", mse) == "mae"
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        metrics.resolve("f1", cce)
    with pytest.raises(ValueError, match="metric 'mse' does not apply to loss 'categorical_crossentropy'"):
        metrics.resolve("mse", cce)
    model = _model()
    model.compile("sgd", "categorical_crossentropy", metrics="accuracy")  # a single name, as Keras takes
    assert model.metrics == ["accuracy"]


# ---- the typed plan description ------------------------------------------------------------------

def _spec(**changes):
    fields = dict(in_features=4, out_features=3, activation=_core.Activation.relu, alpha=0.01, use_bias=True,
                  l1=0.0, l2=0.0, weight_offset=0, bias_offset=12, transforms=[])
    fields.update(changes)
    return _core.DenseSpec(**fields)


def test_dense_spec_and_transform_check_their_fields():
    with pytest.raises(ValueError, match=r"`weight_offset` and `bias_offset` must be in \[0, 2\*\*61\], got -1 and 12"):
        _spec(weight_offset=-1)
    with pytest.raises(ValueError, match=r"`weight_offset` and `bias_offset` must be in .* got 9223372036854775806"):
        _spec(weight_offset=2**63 - 2)
    with pytest.raises(ValueError, match=r"a dense layer needs `in` and `out` in \[1, 2\*\*31\], got 0 and 3"):
        _spec(in_features=0)
    with pytest.raises(ValueError, match="`activation` is not a valid activation value: got 99"):
        _spec(activation=_core.Activation(99))
    with pytest.raises(ValueError, match=r"`l2` must be in \[0.0, inf\), got -1.0"):
        _spec(l2=-1.0)
    with pytest.raises(ValueError, match=r"`value` must be in \[0.0, 1.0\), got 1.0"):
        _core.InputTransform(_core.TransformKind.dropout, 1.0, 0)
    with pytest.raises(ValueError, match="`layer` must be >= 0, got -2"):
        _core.InputTransform(_core.TransformKind.gaussian_noise, 0.1, -2)
    spec = _spec(transforms=[_core.InputTransform(_core.TransformKind.dropout, 0.5, 1)])
    assert (spec.in_features, spec.out_features, spec.bias_offset) == (4, 3, 12)


def test_plan_checks_offsets_and_buffers():
    params, grads = np.zeros(15), np.zeros(15)
    sgd = _core.OptimizerConfig("sgd", 0.1)
    mse = _core.LossKind.mse
    assert _core.Plan([_spec()], mse, sgd, 4, 0, params, grads, []).last_step == 0
    with pytest.raises(ValueError, match="without gaps or overlaps: a block starts at 13 where 12 was expected"):
        _core.Plan([_spec(bias_offset=13)], mse, sgd, 4, 0, np.zeros(16), np.zeros(16), [])
    with pytest.raises(ValueError, match="a block starts at 0 where 3 was expected"):  # bias over the weights
        _core.Plan([_spec(bias_offset=0)], mse, sgd, 4, 0, params, grads, [])
    with pytest.raises(ValueError, match=r"`params` must hold 15 values \(the layers' weights and biases\), "
                                         r"got shape \(16,\)"):
        _core.Plan([_spec()], mse, sgd, 4, 0, np.zeros(16), grads, [])
    with pytest.raises(ValueError, match="layer 1 expects 4 inputs but the previous layer has 3 units"):
        _core.Plan([_spec(), _spec()], mse, sgd, 4, 0, np.zeros(40), np.zeros(40), [])
    with pytest.raises(ValueError, match="optimizer needs 2 state buffers, got 0"):
        _core.Plan([_spec()], mse, _core.OptimizerConfig("adam", 0.1), 4, 0, params, grads, [])
    with pytest.raises(ValueError, match="`grads` must not share memory with `params`"):
        _core.Plan([_spec()], mse, sgd, 4, 0, params, params, [])
    with pytest.raises(TypeError, match=r"`slots\[0\]` must be a numpy array, got list"):
        _core.Plan([_spec()], mse, _core.OptimizerConfig("sgd", 0.1, momentum=0.9), 4, 0, params, grads,
                   [[0.0] * 15])
    with pytest.raises(ValueError, match="`loss` is not a valid loss value: got 9"):
        _core.Plan([_spec()], _core.LossKind(9), sgd, 4, 0, params, grads, [])
    with pytest.raises(ValueError, match="`loss` is not a valid loss value: got 9"):
        _core.count_batch(_core.LossKind(9), np.zeros((1, 3)), np.zeros((1, 3)), None, 0, 0)
    with pytest.raises(TypeError):
        _core.Plan([{"in": 4}], "mse", {"kind": "sgd"}, 4, 0, params, grads, [])


@pytest.mark.parametrize("engine", ["plan", "graph"])
def test_after_a_hook_exception_the_applied_batches_are_counted(engine):
    """The hook raises at step 3: batches 1-2 were applied, the third was not, on both engines."""
    x, y = _data()
    model = _model(optimizer=denso.optim.Adam(lr=0.01))

    def hook(grads, rows, step):
        if step == 3:
            raise KeyError("stop")
    with pytest.raises(KeyError):
        Trainer(model, FitOptions(epochs=1, batch_size=2, verbose=0, seed=1, engine=engine),
                gradient_hook=hook).fit(x, y)
    assert model.steps_trained == 2
    reference = _model(optimizer=denso.optim.Adam(lr=0.01))
    order = np.arange(len(x), dtype=np.int64)
    _core.shuffled_indices(1, 0, order)
    first = order[:4]  # the two batches applied, in the shuffled order
    Trainer(reference, FitOptions(epochs=1, batch_size=2, shuffle=False, verbose=0, engine=engine)).fit(x[first],
                                                                                                          y[first])
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.optimizer.state[0]["exp_avg"], reference.optimizer.state[0]["exp_avg"],
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("engine", ["plan", "graph"])
def test_a_poisoned_gradient_stops_fit_with_the_weights_restored(engine):
    """The hook poisons the first gradient: the update makes the weights inf, which the check after
    the native call catches (the first call of a fit is one batch); no later batch runs."""
    x, y = _data(n=8)
    model = _model()
    before = model.get_weights()
    calls = []

    def poison(grads, rows, step):
        calls.append(step)
        grads[...] = np.inf
    with pytest.raises(denso.TrainingDiverged, match="during batches 1-1 of epoch 1.*restored"):
        Trainer(model, FitOptions(epochs=1, batch_size=4, verbose=0, engine=engine), gradient_hook=poison).fit(x, y)
    assert calls == [1]
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_removing_the_hook_brings_back_the_fused_small_batch_step():
    """While a hook is set, 1-row batches write the gradient buffer; without one they never touch it."""
    model = _model(layers=[Dense(5, activation="relu"), Dense(3)])
    engine = make_engine(model, "plan", 1, 0, True)
    x, y = _data(n=4)
    data = denso.samples.Samples(x, None, y.astype(np.int64))
    order, lrs = np.arange(4, dtype=np.int64), np.full(2, 0.1)
    engine.set_gradient_hook(lambda g, rows, step: None)
    engine.train(data, order, 1, 0, 2, lrs, 0)
    assert np.abs(model.flat_parameter.grad).sum() > 0
    model.flat_parameter.grad[...] = 7.0
    engine.set_gradient_hook(None)
    engine.train(data, order, 1, 2, 4, lrs, 2)
    np.testing.assert_array_equal(model.flat_parameter.grad, 7.0)


def test_optimizers_pickle_alone():
    opt = denso.optim.Adam([Tensor(np.ones(3), requires_grad=True)], lr=0.1, amsgrad=True)
    again = pickle.loads(pickle.dumps(opt))
    assert repr(again) == repr(opt) and again.slot_names() == ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    assert repr(again.native_config()) == repr(opt.native_config())


def test_native_config_is_a_copy():
    opt = denso.optim.SGD(lr=0.1)
    opt.native_config().weight_decay = 5.0
    assert opt.native_config().weight_decay == 0.0


def test_layers_know_their_place_in_the_flat_buffer():
    model = Sequential([Dense(5), Dropout(0.5), Dense(3, use_bias=False)], input_dim=4, seed=0)
    first, dropout, last = model.layers
    assert (first.position, dropout.position, last.position) == (0, 1, 2)
    assert (first.weight_offset, first.bias_offset, last.weight_offset, last.bias_offset) == (0, 20, 25, None)
    np.testing.assert_array_equal(model.flat_parameter.data[25:40], last.weight.data.reshape(-1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_penalty_value_and_gradient_match_numpy(dtype):
    w = np.random.default_rng(1).standard_normal((7, 5)).astype(dtype)
    expected = 0.3 * float((w.astype(np.float64) ** 2).sum()) + 0.2 * float(np.abs(w.astype(np.float64)).sum())
    assert _core.weight_penalty(w, None, 0.2, 0.3) == pytest.approx(expected, rel=1e-12)
    grad = np.ones_like(w)
    assert _core.weight_penalty(w, grad, 0.2, 0.3) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad, 1 + 0.6 * w + 0.2 * np.sign(w), rtol=1e-6)
    with pytest.raises(ValueError, match=r"`grad` must have shape \(7, 5\), got \(5, 7\)"):
        _core.weight_penalty(w, np.ones((5, 7), dtype=dtype), 0.2, 0.3)
