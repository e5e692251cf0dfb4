"""What a Keras user writes, and what it does in denso: each habit works, or fails saying what to write."""
from __future__ import annotations

import numpy as np
import pytest

import denso
from denso import Dense, Dropout, GaussianNoise, Sequential
from denso.metrics import roc_auc

RNG = np.random.default_rng(0)
OPTIMIZERS = [denso.optim.SGD, denso.optim.RMSprop, denso.optim.Adam, denso.optim.AdamW]


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_learning_rate_is_an_alias_of_lr(cls):
    assert cls(learning_rate=0.05).lr == 0.05 == cls(lr=0.05).lr
    assert cls().lr == (1e-2 if cls is denso.optim.RMSprop else 1e-3)  # PyTorch's defaults are kept
    assert cls(learning_rate=0.05).config() == cls(lr=0.05).config()
    with pytest.raises(TypeError, match="pass the learning rate once, as `lr` or as its Keras name `learning_rate`, "
                                        "got lr=0.1 and learning_rate=0.2"):
        cls(lr=0.1, learning_rate=0.2)
    opt = denso.optim.get(cls.name, learning_rate=0.3)
    assert opt.learning_rate == opt.lr == 0.3
    opt.learning_rate = 0.01  # what Keras callbacks write
    assert opt.lr == 0.01
    with pytest.raises(ValueError, match="`lr` must be a finite number >= 0"):
        opt.learning_rate = -1


def _data(n=40, d=13):
    return RNG.standard_normal((n, d)), RNG.integers(0, 3, n)


@pytest.mark.parametrize("declare", [{"input_shape": (13,)}, {"input_dim": 13}, {"input_shape": [13]}])
def test_first_layer_input_shape_builds_the_model(declare):
    x, y = _data()
    model = Sequential([Dense(8, activation="relu", **declare), Dense(3)], seed=1)
    assert model.count_params() == 13 * 8 + 8 + 8 * 3 + 3  # built when first needed
    assert "input: (None, 13)" in model.summary(print_fn=None)
    model.compile("adam", "sparse_categorical_crossentropy", metrics="accuracy")
    model.fit(x, y, epochs=1, verbose=0)
    assert model.predict(x).shape == (40, 3)
    keras_style = Sequential(seed=1)
    keras_style.add(Dense(8, activation="relu", **declare))
    keras_style.add(Dense(3))
    for a, b in zip(keras_style.get_weights(), Sequential([Dense(8, activation="relu"), Dense(3)], input_dim=13,
                                                          seed=1).get_weights()):
        np.testing.assert_array_equal(a, b)


def test_input_declarations_that_contradict_are_clear_errors():
    with pytest.raises(ValueError, match=r"layer 1 \(Dense\) declares input_dim=5, but it receives 8 features from "
                                         r"layer 0; remove its input_dim/input_shape or make them agree"):
        Sequential([Dense(8, input_dim=13), Dense(1, input_dim=5)]).count_params()
    Sequential([Dense(8, input_dim=13), Dense(1, input_shape=(8,))]).count_params()  # agreeing: fine
    with pytest.raises(ValueError, match=r"layer 0 \(Dense\) declares input_dim=13, but it receives 10 features "
                                         r"from the model's input_dim"):
        Sequential([Dense(8, input_dim=13)], input_dim=10)
    with pytest.raises(ValueError, match=r"`input_dim`=13 and `input_shape`=\(12,\) disagree"):
        Dense(8, input_dim=13, input_shape=(12,))
    with pytest.raises(ValueError, match=r"`input_shape` must be \(features,\): denso's layers take flat rows, "
                                         r"got \(28, 28\); flatten x"):
        Dense(8, input_shape=(28, 28))
    with pytest.raises(ValueError, match=r"`input_shape\[0\]` must be an integer >= 1, got 0"):
        Dense(8, input_shape=(0,))
    model = Sequential([Dense(8, input_shape=(13,)), Dense(3)])
    model.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match="13"):
        model.fit(RNG.standard_normal((10, 12)), RNG.integers(0, 3, 10), verbose=0)


def test_evaluate_and_predict_accept_verbose(capsys):
    x, y = _data()
    model = Sequential([Dense(3, input_dim=13)], seed=2)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    quiet = model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""
    loud = model.evaluate(x, y, verbose=1)
    assert loud == quiet
    assert capsys.readouterr().out == f"loss: {quiet['loss']:.4f} - accuracy: {quiet['accuracy']:.4f}\n"
    assert model.evaluate(x, y, verbose="auto") == quiet
    capsys.readouterr()
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x))
    np.testing.assert_array_equal(model.predict(x.tolist(), verbose=1), model.predict(x))
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="`verbose` must be 0, 1, 2 or 'auto', got 3"):
        model.evaluate(x, y, verbose=3)
    with pytest.raises(ValueError, match="`verbose` must be 0, 1, 2 or 'auto', got 'yes'"):
        model.predict(x.tolist(), verbose="yes")
    history = model.fit(x, y, epochs=1, verbose="auto")  # fit takes "auto" too: a progress line
    assert len(history.history["loss"]) == 1 and "1/1" in capsys.readouterr().out


def test_metrics_as_a_string_and_sparse_categorical_crossentropy():
    x, y = _data()
    models = []
    for loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        model = Sequential([Dense(3, input_dim=13)], seed=3)
        model.compile("adam", loss, metrics="accuracy")
        assert model.metrics == ["accuracy"]
        model.fit(x, y, epochs=2, verbose=0, seed=1)
        models.append(model)
    np.testing.assert_array_equal(models[0].get_weights()[0], models[1].get_weights()[0])


def test_auc_in_compile_says_what_to_write_instead():
    model = Sequential([Dense(1, input_dim=13)])
    with pytest.raises(ValueError, match=r"metric 'auc' is not supported by compile\(\): ROC AUC ranks all of a "
                                         r"pass's predictions .* denso.metrics.roc_auc\(y, model.predict\(x\)\)\. "
                                         r"compile\(\) reports \['accuracy', 'mse', 'mae'\]"):
        model.compile("adam", "binary_crossentropy", metrics=["auc"])
    with pytest.raises(ValueError, match=r"unknown metric 'f1'; compile\(\) reports \['accuracy', 'mse', 'mae'\]"):
        model.compile("adam", "binary_crossentropy", metrics=["f1"])
    with pytest.raises(ValueError, match="write 'accuracy'"):
        model.compile("adam", "binary_crossentropy", metrics=["binary_accuracy"])


@pytest.mark.parametrize("ties", [False, True])
def test_roc_auc_equals_scikit_learn(ties):
    sklearn_metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn is the reference for ROC AUC")
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    score = rng.standard_normal(300) + y
    if ties:
        score = np.round(score, 1)
    assert roc_auc(y, score) == pytest.approx(sklearn_metrics.roc_auc_score(y, score), rel=1e-14)
    assert roc_auc(y[:, None], score[:, None]) == roc_auc(y, score)
    assert denso.metrics.get("auc") is roc_auc
    with pytest.raises(ValueError, match="roc_auc needs both classes in `y_true`, got 3 positive and 0 negative"):
        roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"roc_auc is for binary outputs: `y_score` must be \(n,\) or \(n, 1\)"):
        roc_auc(np.eye(3), np.eye(3))


def _small_model():
    return Sequential([Dense(2, input_dim=3)], seed=5)


@pytest.mark.parametrize("name,what", [("model.h5", "Keras's HDF5"), ("model.keras", "Keras's .keras zip"),
                                       ("model.onnx", r"ONNX \(export with model.to_onnx\(path\)\)"),
                                       ("model.pt", r"PyTorch's \(see denso.interop.to_torch\)"),
                                       ("model.txt", "the .txt format")])
def test_save_refuses_formats_denso_does_not_write(tmp_path, name, what):
    with pytest.raises(ValueError, match=rf"cannot save to '.*{name}': denso does not write {what}\. model.save "
                                         r"writes denso's own format, an .npz archive read back by denso.load_model; "
                                         r"name the file with .npz or .denso"):
        _small_model().save(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["model.npz", "model.denso", "model.NPZ", "model"])
def test_save_writes_npz_and_denso_names(tmp_path, name):
    model = _small_model()
    model.save(tmp_path / name)
    np.testing.assert_array_equal(denso.load_model(tmp_path / name).get_weights()[0], model.get_weights()[0])


ACTIVATIONS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "step", "gelu", "elu", "selu",
               "softplus", "swish", "silu"]


def _every_layer_model(dtype="float64"):
    layers = [GaussianNoise(0.1, input_shape=(6,)), Dense(5, activation="relu", l1=1e-4, l2=1e-3),
              Dropout(0.25)]
    layers += [Dense(4, activation=act, alpha=0.2 if act == "leaky_relu" else None,
                     kernel_initializer="he_normal", use_bias=act != "tanh") for act in ACTIVATIONS[1:]]
    layers.append(Dense(3))
    return Sequential(layers, seed=7, dtype=dtype, name="everything")


def test_from_config_rebuilds_an_untrained_copy():
    model = _every_layer_model()
    fresh = [w.copy() for w in model.get_weights()]
    model.compile("adam", "sparse_categorical_crossentropy", metrics="accuracy")
    x, y = RNG.standard_normal((30, 6)), RNG.integers(0, 3, 30)
    model.fit(x, y, epochs=2, verbose=0)
    config = model.get_config()
    copy = Sequential.from_config(config)
    assert copy.get_config() == config and copy is not model
    assert [type(layer) for layer in copy.layers] == [type(layer) for layer in model.layers]
    assert [getattr(layer, "activation", None) for layer in copy.layers] == \
           [getattr(layer, "activation", None) for layer in model.layers]
    assert copy.optimizer is None and copy.loss is None  # compile settings are not part of the config
    for initial, copied in zip(fresh, copy.get_weights()):
        np.testing.assert_array_equal(copied, initial)  # freshly initialised from the config's seed ...
    trained = model.get_weights()
    assert not any(np.array_equal(copy.get_weights()[i], trained[i]) for i in (0, -2, -1))  # ... not trained
    config["seed"] = 8
    assert not np.array_equal(Sequential.from_config(config).get_weights()[0], fresh[0])


def test_from_config_of_an_unbuilt_model_and_bad_configs():
    model = Sequential([Dense(4, activation="gelu"), Dense(1)], seed=1, dtype="float32")
    copy = Sequential.from_config(model.get_config())
    assert not copy.built and copy.get_config() == model.get_config()
    with pytest.raises(TypeError, match="`config` must be a dict with a 'layers' list"):
        Sequential.from_config([1, 2])
    with pytest.raises(ValueError, match=r"`config` has keys get_config\(\) does not write: \['loss'\]"):
        Sequential.from_config({**model.get_config(), "loss": "mse"})
    with pytest.raises(ValueError, match="unknown layer class"):
        Sequential.from_config({"layers": [{"class": "Conv2D"}]})


def test_predict_checks_verbose_on_its_fast_path_too():
    model = denso.Sequential([denso.Dense(2)], input_dim=3, seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x = np.zeros((4, 3), dtype=np.float32)
    model.predict(x)  # builds the cached plan: the next call may take the fast path
    with pytest.raises(ValueError, match="verbose"):
        model.predict(x, verbose="yes")
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x))


def test_a_loss_config_with_a_bad_value_gets_the_constructors_error():
    from denso import losses
    with pytest.raises(ValueError, match="does not take the arguments \\['beta'\\]"):
        losses.get({"name": "huber", "beta": 2.0})
    with pytest.raises((TypeError, ValueError), match="delta"):
        losses.get({"name": "huber", "delta": "2"})
    assert losses.get({"name": "huber", "delta": 2.0}).delta == 2.0
