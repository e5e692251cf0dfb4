"""sample_weight: a batch's loss is the weighted mean Σ w·loss / Σ w, in the C++ kernels both engines
use, so integer weights act exactly as repeated samples and zero weights as absent ones."""
import numpy as np
import pytest

import denso
from denso import Dense, Sequential, _core

RNG = np.random.default_rng(0)


def _logits(n=9, k=4):
    return RNG.standard_normal((n, k))


@pytest.mark.parametrize("kernel", ["mse", "bce", "softmax", "labels"])
def test_weighted_kernels_equal_numpy(kernel):
    z = _logits()
    w = RNG.uniform(0, 3, len(z))
    w[2] = 0.0
    if kernel == "labels":
        labels = RNG.integers(0, 4, len(z))
        target = np.eye(4)[labels]
    elif kernel == "softmax":
        target = RNG.dirichlet(np.ones(4), len(z))
    else:
        target = RNG.uniform(0, 1, z.shape)
    if kernel == "mse":
        per_row, row_grad = ((z - target) ** 2).mean(1), 2 * (z - target) / z.shape[1]
    elif kernel == "bce":
        p = 1 / (1 + np.exp(-z))
        per_row = (np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))).mean(1)
        row_grad = (p - target) / z.shape[1]
    else:
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        per_row, row_grad = -(target * np.log(p)).sum(1), p * target.sum(1, keepdims=True) - target
    expected, expected_grad = (w * per_row).sum() / w.sum(), row_grad * (w / w.sum())[:, None]
    grad = np.empty_like(z)
    if kernel == "labels":
        value = _core.softmax_xent_labels_loss(z, labels, grad, w)
    else:
        fn = {"mse": _core.mse_loss, "bce": _core.bce_logits_loss, "softmax": _core.softmax_xent_loss}[kernel]
        value = fn(z, target, grad, w)
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-11, atol=1e-15)


def test_unit_weights_give_the_unweighted_bits():
    z, y = _logits(), RNG.uniform(0, 1, (9, 4))
    g1, g2 = np.empty_like(z), np.empty_like(z)
    assert _core.bce_logits_loss(z, y, g1) == _core.bce_logits_loss(z, y, g2, np.ones(9))
    np.testing.assert_array_equal(g1, g2)


def test_kernel_weights_are_checked():
    z, y = _logits(), np.zeros((9, 4))
    with pytest.raises(ValueError, match=r"`weights` must be finite and >= 0, got -1.0 at index 3"):
        _core.mse_loss(z, y, None, np.array([1.0, 1, 1, -1, 1, 1, 1, 1, 1]))
    with pytest.raises(ValueError, match=r"`weights` must have 9 entries \(one per row of `pred`\), got shape \(8,\)"):
        _core.mse_loss(z, y, None, np.ones(8))
    with pytest.raises(TypeError, match="`weights` must have dtype float64"):
        _core.mse_loss(z, y, None, np.ones(9, dtype=np.float32))


def _model(loss="categorical_crossentropy", outputs=3):
    model = Sequential([Dense(6, activation="tanh", l2=1e-3), Dense(outputs)], input_dim=5, seed=4, dtype="float64")
    model.compile(denso.optim.SGD(lr=0.2, momentum=0.5), loss, ["accuracy"] if loss != "mse" else ["mae"])
    return model


def _data(loss, n=12):
    x = RNG.standard_normal((n, 5))
    if loss == "categorical_crossentropy":
        return x, RNG.integers(0, 3, n)
    if loss == "binary_crossentropy":
        return x, RNG.integers(0, 2, (n, 3)).astype(float)
    return x, RNG.standard_normal((n, 3))


@pytest.mark.parametrize("engine", ["plan", "graph"])
@pytest.mark.parametrize("loss", ["categorical_crossentropy", "binary_crossentropy", "mse"])
def test_integer_weights_equal_repeated_samples(loss, engine):
    """Full-batch training: weights (2, 0, 1, 3, ...) make the same steps as the data with each row
    repeated that many times; evaluate agrees too."""
    x, y = _data(loss)
    w = RNG.integers(0, 4, len(x)).astype(float)
    w[0] = 2.0
    repeats = w.astype(int)
    weighted, repeated = _model(loss), _model(loss)
    weighted.fit(x, y, epochs=4, batch_size=len(x), shuffle=False, verbose=0, engine=engine, sample_weight=w)
    repeated.fit(np.repeat(x, repeats, 0), np.repeat(y, repeats, 0), epochs=4, batch_size=int(repeats.sum()),
                 shuffle=False, verbose=0, engine=engine)
    for a, b in zip(weighted.get_weights(), repeated.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    mine = weighted.evaluate(x, y, sample_weight=w, engine=engine)
    theirs = weighted.evaluate(np.repeat(x, repeats, 0), np.repeat(y, repeats, 0), engine=engine)
    assert mine.keys() == theirs.keys()
    for key in mine:
        assert mine[key] == pytest.approx(theirs[key], rel=1e-12)


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "mse"])
def test_plan_and_graph_agree_with_weights_on_minibatches(loss):
    x, y = _data(loss, n=30)
    w = RNG.uniform(0, 2, 30)
    plan, graph = _model(loss), _model(loss)
    hp = plan.fit(x, y, epochs=3, batch_size=7, verbose=0, seed=2, engine="plan", sample_weight=w,
                  validation_data=(x[:5], y[:5], w[:5]))
    hg = graph.fit(x, y, epochs=3, batch_size=7, verbose=0, seed=2, engine="graph", sample_weight=w,
                   validation_data=(x[:5], y[:5], w[:5]))
    for a, b in zip(plan.get_weights(), graph.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
    for key in hp.history:
        np.testing.assert_allclose(hp.history[key], hg.history[key], rtol=1e-11)


def test_weighted_accuracy_counts_each_sample_with_its_weight():
    z = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    t = _core.count_batch(_core.LossKind.softmax_xent_labels, z, None, np.array([0, 0, 0]), 0.5, 0.0,
                          np.array([1.0, 3.0, 0.5]))
    assert (t.correct, t.weight, t.rows, t.loss) == (1.5, 4.5, 3, 2.25)


def test_sample_weight_is_checked_and_named():
    x, y = _data("categorical_crossentropy")
    model = _model()
    with pytest.raises(ValueError, match=r"`sample_weight` must have shape \(12,\) .*got \(11,\)"):
        model.fit(x, y, sample_weight=np.ones(11), verbose=0)
    with pytest.raises(ValueError, match="`sample_weight` must be >= 0, got -1 at index 4"):
        model.fit(x, y, sample_weight=np.r_[np.ones(4), -1.0, np.ones(7)], verbose=0)
    with pytest.raises(ValueError, match="`sample_weight` must be finite"):
        model.fit(x, y, sample_weight=np.r_[np.nan, np.ones(11)], verbose=0)
    with pytest.raises(ValueError, match="`sample_weight` must hold at least one positive weight"):
        model.evaluate(x, y, sample_weight=np.zeros(12))
    with pytest.raises(ValueError, match="`validation_data` must be a tuple"):
        model.fit(x, y, validation_data=(x, y, None, None), verbose=0)
