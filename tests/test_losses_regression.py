"""The mae and huber losses: C++ kernels against numpy, central differences (float64) and PyTorch's
L1Loss/HuberLoss, with sample weights; the model API (names, Huber(delta), metrics, saving)."""
from __future__ import annotations

import numpy as np
import pytest

import denso
from denso import Dense, Sequential, _core
from denso.losses import Huber, MeanAbsoluteError

RNG = np.random.default_rng(0)


def mae_rows(p, y):
    return np.abs(p - y).mean(1), np.sign(p - y) / p.shape[1]


def huber_rows(p, y, delta=1.0):
    d = p - y
    loss = np.where(np.abs(d) <= delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))
    return loss.mean(1), np.clip(d, -delta, delta) / p.shape[1]


def _kernel(name, p, y, weights=None, delta=1.0):
    grad = np.empty_like(p)
    if name == "mae":
        value = _core.mae_loss(p, y, grad, weights)
    else:
        value = _core.huber_loss(p, y, grad, weights, delta)
    return value, grad


def _numeric_grad(f, p, eps=1e-6):
    grad = np.empty_like(p)
    for i in np.ndindex(p.shape):
        plus, minus = p.copy(), p.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (f(plus) - f(minus)) / (2 * eps)
    return grad


@pytest.mark.parametrize("name,delta", [("mae", 1.0), ("huber", 1.0), ("huber", 0.4), ("huber", 3.0)])
@pytest.mark.parametrize("weighted", [False, True])
def test_kernels_equal_numpy_with_and_without_weights(name, delta, weighted):
    p, y = RNG.standard_normal((9, 4)) * 2, RNG.standard_normal((9, 4))
    w = RNG.uniform(0, 3, 9) if weighted else None
    if weighted:
        w[3] = 0.0
    rows, row_grad = mae_rows(p, y) if name == "mae" else huber_rows(p, y, delta)
    scale = np.ones(9) if w is None else w
    value, grad = _kernel(name, p, y, w, delta)
    np.testing.assert_allclose(value, (scale * rows).sum() / scale.sum(), rtol=1e-13)
    np.testing.assert_allclose(grad, row_grad * (scale / scale.sum())[:, None], rtol=1e-13, atol=1e-17)
    value32, grad32 = _kernel(name, p.astype(np.float32), y.astype(np.float32),
                              None if w is None else w.astype(np.float32), delta)
    assert grad32.dtype == np.float32
    np.testing.assert_allclose(value32, value, rtol=1e-5)
    np.testing.assert_allclose(grad32, grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name,delta", [("mae", 1.0), ("huber", 1.0), ("huber", 0.5)])
def test_gradients_equal_central_differences(name, delta):
    y = RNG.standard_normal((6, 3))
    step = RNG.standard_normal((6, 3))
    p = y + np.where(np.abs(step) < 0.1, np.sign(step) * 0.1 + step, step)  # away from mae's kink
    w = RNG.uniform(0.5, 2, 6)
    _, grad = _kernel(name, p, y, w, delta)
    numeric = _numeric_grad(lambda q: _kernel(name, q, y, w, delta)[0], p)
    np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-10)


def test_mae_subgradient_at_zero_is_zero_and_huber_is_continuous_at_delta():
    y = np.array([[1.0, 2.0, 3.0]])
    _, grad = _kernel("mae", y.copy(), y)
    np.testing.assert_array_equal(grad, np.zeros_like(y))
    p = y + np.array([[1.0, -1.0, 0.5]])  # |d| == delta: both branches agree
    value, grad = _kernel("huber", p, y)
    np.testing.assert_allclose(value, (0.5 + 0.5 + 0.125) / 3, rtol=1e-15)
    np.testing.assert_allclose(grad, [[1 / 3, -1 / 3, 0.5 / 3]], rtol=1e-15)


@pytest.mark.parametrize("name,delta", [("mae", None), ("huber", 1.0), ("huber", 0.3), ("huber", 2.5)])
def test_values_and_gradients_equal_torch(name, delta):
    torch = pytest.importorskip("torch", reason="torch is needed to compare with torch.nn.L1Loss/HuberLoss")
    p, y = RNG.standard_normal((8, 3)) * 2, RNG.standard_normal((8, 3))
    pt = torch.tensor(p, requires_grad=True)
    module = torch.nn.L1Loss() if name == "mae" else torch.nn.HuberLoss(delta=delta)
    expected = module(pt, torch.tensor(y))
    expected.backward()
    pd = denso.Tensor(p, requires_grad=True)
    loss = denso.mae(pd, y) if name == "mae" else denso.huber(pd, y, delta=delta)
    loss.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-14)
    np.testing.assert_allclose(pd.grad, pt.grad.numpy(), rtol=1e-14, atol=1e-17)


def test_kernels_check_their_arguments():
    p = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"`delta` of the huber loss must be a finite number > 0, got 0.0"):
        _core.huber_loss(p, p, None, None, 0.0)
    with pytest.raises(ValueError, match=r"`target` must have shape \(2, 3\)"):
        _core.mae_loss(p, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"`delta` must be a finite number > 0"):
        Huber(delta=-1)
    with pytest.raises(ValueError, match=r"`loss_delta` must be a finite number > 0"):
        _core.Plan([_core.DenseSpec(2, 1, _core.Activation.identity, 0.0, True, 0.0, 0.0, 0, 2, [])],
                   _core.LossKind.huber, _core.OptimizerConfig("sgd", 0.1), 4, 0, np.zeros(3), np.zeros(3), [],
                   loss_delta=float("nan"))


def _regressor(loss, metrics=None, seed=3):
    model = Sequential([Dense(8, activation="gelu"), Dense(2)], input_dim=4, seed=seed, dtype="float64")
    model.compile(denso.optim.Adam(lr=1e-2), loss, metrics)
    return model


@pytest.mark.parametrize("loss", ["mae", "mean_absolute_error", "huber", Huber(0.5)])
@pytest.mark.parametrize("engine", ["plan", "graph"])
def test_evaluate_reports_the_loss_and_metrics_of_the_predictions(loss, engine):
    x, y = RNG.standard_normal((40, 4)), RNG.standard_normal((40, 2))
    w = RNG.uniform(0.1, 2, 40)
    model = _regressor(loss, ["mse", "mae"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, engine=engine)
    logs = model.evaluate(x, y, engine=engine, sample_weight=w)
    p = model.predict(x)
    if isinstance(loss, str) and loss.startswith("m"):
        rows = mae_rows(p, y)[0]
    else:
        rows = huber_rows(p, y, 1.0 if isinstance(loss, str) else loss.delta)[0]
    np.testing.assert_allclose(logs["loss"], (w * rows).sum() / w.sum(), rtol=1e-12)
    np.testing.assert_allclose(logs["mse"], (w * ((p - y) ** 2).mean(1)).sum() / w.sum(), rtol=1e-12)
    np.testing.assert_allclose(logs["mae"], (w * np.abs(p - y).mean(1)).sum() / w.sum(), rtol=1e-12)


def test_huber_delta_reaches_the_plan_and_survives_save_and_load(tmp_path):
    x, y = RNG.standard_normal((30, 4)), RNG.standard_normal((30, 2)) * 3
    a, b = _regressor(Huber(delta=0.2)), _regressor(Huber(delta=0.2))
    a.fit(x, y, epochs=1, verbose=0, engine="plan")
    b.fit(x, y, epochs=1, verbose=0, engine="graph")  # the graph's huber(delta) as the reference
    for got, want in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    c = _regressor(Huber(delta=5.0))
    c.fit(x, y, epochs=1, verbose=0, engine="plan")  # errors of ~3 lie beyond 0.2 but within 5
    assert np.abs(c.get_weights()[0] - a.get_weights()[0]).max() > 1e-3
    a.save(tmp_path / "huber.npz")
    loaded = denso.load_model(tmp_path / "huber.npz")
    assert isinstance(loaded.loss, Huber) and loaded.loss.delta == 0.2
    assert loaded.evaluate(x, y) == a.evaluate(x, y)
    assert isinstance(denso.losses.get("MAE"), MeanAbsoluteError)
    assert denso.losses.get({"name": "huber", "delta": 2.0}).delta == 2.0


def test_mse_metric_equals_numpy_for_an_mse_model_too():
    x, y = RNG.standard_normal((25, 4)), RNG.standard_normal((25, 2))
    model = _regressor("mse", "mse")
    logs = model.evaluate(x, y)
    np.testing.assert_allclose(logs["mse"], ((model.predict(x) - y) ** 2).mean(), rtol=1e-12)
    np.testing.assert_allclose(logs["mse"], logs["loss"], rtol=1e-12)
