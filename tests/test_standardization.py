"""denso.standardization: the scaler's statistics, folding it into a model's first layer (features) and last
layer (regression targets)."""
import numpy as np
import pytest

import denso
from denso.standardization import Standardizer, fold_standardization, fold_target_standardization


def test_standardizer_statistics_and_constant_columns():
    x = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 9.0]])
    s = Standardizer().fit(x)
    np.testing.assert_allclose(s.mean, [3.0, 5.0, 5.0])
    np.testing.assert_allclose(s.std, [np.sqrt(8 / 3), 1.0, np.sqrt(26 / 3)])  # constant column: std 1
    out = s.transform(x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out[:, 0], [-np.sqrt(1.5), 0.0, np.sqrt(1.5)])
    assert out[:, 1].tolist() == [0.0, 0.0, 0.0]
    assert s.transform(np.array([[3, 5, 5]])).dtype == np.float32  # integers become float32


def _model(use_bias=True):
    model = denso.Sequential([denso.Dense(2, use_bias=use_bias), denso.Dense(1)], input_dim=2, seed=0,
                             dtype="float64")
    model.compile(denso.optim.SGD(lr=0.1, momentum=0.5), "mse")
    return model


def test_folding_gives_the_hand_computed_weights():
    model = _model()
    first = model.layers[0]
    first.weight.data[...] = [[1.0, 2.0], [3.0, -1.0]]
    first.bias.data[...] = [0.5, -0.5]
    scaler = Standardizer()
    scaler.mean, scaler.std = np.array([10.0, -2.0]), np.array([2.0, 0.5])
    fold_standardization(model, scaler)
    # W' = W / std per input row; b' = b − (mean / std)·W = b − [5, −4]·W = b − [5 − 12, 10 + 4]
    np.testing.assert_allclose(first.weight.data, [[0.5, 1.0], [6.0, -2.0]])
    np.testing.assert_allclose(first.bias.data, [0.5 + 7.0, -0.5 - 14.0])
    assert model.optimizer.config() == denso.optim.SGD(lr=0.1, momentum=0.5).config()
    assert model.loss.name == "mse"


def test_folded_model_on_raw_features_matches_the_model_on_scaled_ones():
    rng = np.random.default_rng(1)
    x = rng.normal([50.0, -3.0], [8.0, 0.2], (20, 2))
    scaler = Standardizer().fit(x)
    model = _model()
    before = model.predict(scaler.transform(x))
    fold_standardization(model, scaler)
    np.testing.assert_allclose(model.predict(x), before, rtol=1e-10, atol=1e-12)


def test_a_first_layer_without_bias_is_refused_and_left_alone():
    model = _model(use_bias=False)
    weight = model.layers[0].weight.data.copy()
    scaler = Standardizer().fit(np.array([[1.0, 2.0], [3.0, 6.0]]))
    with pytest.raises(ValueError, match="without a bias"):
        fold_standardization(model, scaler)
    np.testing.assert_array_equal(model.layers[0].weight.data, weight)


def test_target_folding_gives_the_hand_computed_weights():
    model = _model()
    last = model.layers[-1]
    last.weight.data[...] = [[2.0], [-1.0]]
    last.bias.data[...] = [0.25]
    scaler = Standardizer()
    scaler.mean, scaler.std = np.array([600_000.0]), np.array([150_000.0])
    fold_target_standardization(model, scaler)
    # W' = W·std, b' = b·std + mean
    np.testing.assert_allclose(last.weight.data, [[300_000.0], [-150_000.0]])
    np.testing.assert_allclose(last.bias.data, [0.25 * 150_000.0 + 600_000.0])
    assert model.optimizer.config() == denso.optim.SGD(lr=0.1, momentum=0.5).config()
    assert model.loss.name == "mse" and model.steps_trained == 0


@pytest.mark.parametrize("outputs", [1, 3])
def test_target_folded_model_predicts_std_times_output_plus_mean(outputs):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 4))
    y = rng.normal([6e5, -3.0, 0.01][:outputs], [1.5e5, 0.2, 0.001][:outputs], (30, outputs))
    scaler = Standardizer().fit(y)
    model = denso.Sequential([denso.Dense(5, activation="tanh"), denso.Dense(outputs)], input_dim=4, seed=0,
                             dtype="float64")
    model.compile("adam", "mse", ["mae"])
    model.fit(x, scaler.transform(y), epochs=2, batch_size=10, verbose=0)
    before = model.predict(x)
    fold_target_standardization(model, scaler)
    np.testing.assert_allclose(model.predict(x), scaler.std * before + scaler.mean, rtol=1e-10)
    raw = scaler.std * before + scaler.mean
    np.testing.assert_allclose(model.evaluate(x, y)["mae"], np.abs(raw - y).mean(), rtol=1e-9)  # in raw units

def test_target_folding_refuses_heads_it_cannot_invert_and_leaves_them_alone():
    scaler = Standardizer().fit(np.array([[1.0], [3.0]]))
    for last, message in ((denso.Dense(1, activation="sigmoid"), "activation 'sigmoid'"),
                          (denso.Dense(1, use_bias=False), "without a bias"),
                          (denso.Dense(2), "1 columns, but the last layer has 2 outputs")):
        model = denso.Sequential([denso.Dense(2), last], input_dim=2, seed=0, dtype="float64")
        model.compile("sgd", "mse")
        weight = last.weight.data.copy()
        with pytest.raises(ValueError, match=message):
            fold_target_standardization(model, scaler)
        np.testing.assert_array_equal(last.weight.data, weight)
