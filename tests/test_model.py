"""Sequential: compile/fit/evaluate/predict/summary/save/load, callbacks and errors."""
import re

import numpy as np
import pytest

import denso
from denso import Dense, Dropout, Sequential

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


def _classifier(seed=0, **compile_kwargs):
    model = Sequential([Dense(16, activation="relu"), Dense(3)], input_dim=5, seed=seed)
    model.compile(compile_kwargs.get("optimizer", "adam"), "categorical_crossentropy", ["accuracy"])
    return model


def _blobs(n=150, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 5)) + 3.0 * np.eye(3, 5)[y]
    return x.astype(np.float32), y


def test_xor_is_learned_by_a_2_4_1_network():
    model = Sequential([Dense(4, activation="tanh"), Dense(1, activation="sigmoid")], input_dim=2, seed=1)
    model.compile(denso.optim.Adam(lr=0.05), "binary_crossentropy", ["accuracy"])
    history = model.fit(XOR_X, XOR_Y, epochs=400, batch_size=4, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    probs = model.predict(XOR_X).ravel()
    assert np.all((probs > 0.5) == XOR_Y.astype(bool))
    assert np.all((probs > 0.9) | (probs < 0.1))


def test_history_holds_loss_metrics_and_validation_per_epoch():
    x, y = _blobs()
    model = _classifier()
    history = model.fit(x, y, epochs=4, batch_size=16, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.history is history


def test_validation_split_holds_out_the_last_samples():
    x, y = _blobs(100)
    a, b = _classifier(seed=3), _classifier(seed=3)
    ha = a.fit(x, y, epochs=2, batch_size=10, validation_split=0.3, verbose=0, seed=1)
    hb = b.fit(x[:70], y[:70], epochs=2, batch_size=10, validation_data=(x[70:], y[70:]), verbose=0, seed=1)
    assert ha.history == hb.history


def test_evaluate_and_predict():
    x, y = _blobs()
    model = _classifier()
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    result = model.evaluate(x, y)
    probs = model.predict(x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert result["accuracy"] == pytest.approx(np.mean(probs.argmax(1) == y))
    reference = -np.mean(np.log(probs[np.arange(len(y)), y]))
    assert result["loss"] == pytest.approx(reference, rel=1e-4)
    assert result["accuracy"] > 0.85


def test_l2_penalty_is_part_of_the_reported_loss():
    x, y = _blobs()
    model = Sequential([Dense(3, l2=0.1)], input_dim=5, seed=0)
    model.compile("sgd", "categorical_crossentropy")
    plain = denso.categorical_crossentropy(model(x), y).item()
    penalty = 0.1 * float((model.get_weights()[0].astype(np.float64) ** 2).sum())
    assert model.evaluate(x, y)["loss"] == pytest.approx(plain + penalty, rel=1e-5)


def test_summary_counts_out_times_in_plus_one():
    model = Sequential([Dense(256, activation="relu"), Dropout(0.2), Dense(128, activation="relu"), Dense(10)],
                       input_dim=784)
    text = model.summary(print_fn=None)
    assert model.count_params() == 256 * 785 + 128 * 257 + 10 * 129 == 235146
    assert "200,960" in text and "32,896" in text and "1,290" in text and "Total params: 235,146" in text
    assert [w.shape for w in model.get_weights()] == [(784, 256), (256,), (256, 128), (128,), (128, 10), (10,)]


def test_set_weights_round_trip_and_shape_errors():
    model = _classifier()
    weights = [np.full_like(w, 0.5) for w in model.get_weights()]
    model.set_weights(weights)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))
    with pytest.raises(ValueError, match=r"weights\[0\]` must have shape \(5, 16\)"):
        model.set_weights([np.zeros((4, 16))] + weights[1:])
    with pytest.raises(ValueError, match="list of 4 arrays"):
        model.set_weights(weights[:2])


def test_save_load_predicts_identically_and_resumes_training_identically(tmp_path):
    x, y = _blobs()
    straight = _classifier(seed=4)
    straight.fit(x, y, epochs=4, batch_size=16, verbose=0, seed=9)

    first = _classifier(seed=4)
    first.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=9)
    path = tmp_path / "model.denso"
    first.save(path)
    loaded = denso.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), first.predict(x))
    assert loaded.optimizer.config() == first.optimizer.config()
    loaded.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0, seed=9)
    for a, b in zip(loaded.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == ["model.denso"]  # no temporary file left behind


def test_load_rejects_truncated_corrupted_and_foreign_files(tmp_path):
    model = _classifier()
    path = tmp_path / "m.denso"
    model.save(path)
    data = path.read_bytes()
    (tmp_path / "truncated").write_bytes(data[: len(data) // 2])
    corrupted = bytearray(data)
    corrupted[len(data) // 3] ^= 0xFF
    (tmp_path / "corrupted").write_bytes(bytes(corrupted))
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    (tmp_path / "text").write_text("hello")
    for name in ("truncated", "corrupted", "foreign.npz", "text"):
        with pytest.raises(ValueError, match="denso model file"):
            denso.load_model(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="no model file"):
        denso.load_model(tmp_path / "missing")


def test_early_stopping_restores_the_best_weights():
    x, y = _blobs()
    model = _classifier(optimizer=denso.optim.SGD(lr=0.5))
    seen = []
    record = denso.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((logs["val_loss"], model.get_weights())))
    stop = denso.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    rng = np.random.default_rng(0)
    noisy_val = (x[:40], rng.integers(0, 3, 40))  # random labels: val_loss soon gets worse
    model.fit(x, y, epochs=50, batch_size=8, validation_data=noisy_val, callbacks=[record, stop], verbose=0)
    assert len(seen) < 50
    best = min(range(len(seen)), key=lambda i: seen[i][0])
    assert len(seen) == best + 3
    for a, b in zip(model.get_weights(), seen[best][1]):
        np.testing.assert_array_equal(a, b)


def test_non_finite_loss_stops_training_with_finite_weights():
    x, y = _blobs()
    x = x * 1e3
    model = Sequential([Dense(64, activation="relu"), Dense(64, activation="relu"), Dense(3)], input_dim=5, seed=0)
    model.compile(denso.optim.SGD(lr=1e6), "categorical_crossentropy")
    with pytest.raises(denso.TrainingDiverged, match="NaN or infinite at epoch"):
        model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_verbose_output_one_line_per_epoch_when_not_a_terminal(capsys):
    x, y = _blobs()
    _classifier().fit(x, y, epochs=3, batch_size=16, verbose=1)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 3 and all(re.search(r"Epoch \d/3", line) and "loss" in line for line in lines)
    _classifier().fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("call,message", [
    (lambda m, x, y: m.fit(x, y[:-1], verbose=0), "must have 149 labels"),
    (lambda m, x, y: m.fit(x, y + 3, verbose=0), r"must lie in \[0, 3\)"),
    (lambda m, x, y: m.fit(x[:, :4], y, verbose=0), "must have 5 columns to match the model's input"),
    (lambda m, x, y: m.fit(np.where(x > 2, np.nan, x), y, verbose=0), "`x` must be finite, got nan"),
    (lambda m, x, y: m.fit(x, y, batch_size=0, verbose=0), "`batch_size` must be an integer >= 1, got 0"),
    (lambda m, x, y: m.fit(x, y, epochs=-1, verbose=0), "`epochs` must be an integer >= 0, got -1"),
    (lambda m, x, y: m.fit(x, y, validation_split=1.0, verbose=0), "validation_split"),
    (lambda m, x, y: m.predict(x[:, :3]), "must have 5 columns"),
])
def test_fit_and_predict_errors(call, message):
    x, y = _blobs(149)
    with pytest.raises(ValueError, match=message):
        call(_classifier(), x, y)


def test_regression_targets_must_be_finite():
    model = Sequential([Dense(1)], input_dim=2)
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="`y` must be finite, got inf"):
        model.fit(np.zeros((3, 2)), np.array([1.0, np.inf, 0.0]), verbose=0)


def test_unknown_names_and_missing_steps():
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        _classifier().compile("adam", "hinge")
    with pytest.raises(ValueError, match="unknown activation 'mish'"):
        Dense(3, activation="mish")
    with pytest.raises(ValueError, match="adam"):
        _classifier().compile("adamax", "mse")
    with pytest.raises(ValueError, match="glorot_uniform"):
        Dense(3, kernel_initializer="glorot")
    with pytest.raises(ValueError, match="needs a built model"):
        Sequential([Dense(3)]).predict(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="needs a compiled model"):
        Sequential([Dense(3)], input_dim=2).fit(np.zeros((2, 2)), np.zeros(2, int), verbose=0)
    with pytest.raises(ValueError, match="must have activation None or 'softmax'"):
        Sequential([Dense(3, activation="relu")], input_dim=2).compile("adam", "categorical_crossentropy")


def test_learning_rate_scheduler_sets_the_rate_per_epoch_and_per_step():
    x, y = _blobs(64)
    model = _classifier(optimizer=denso.optim.SGD(lr=0.1))
    schedule = denso.optim.schedules.InverseTimeDecay(0.1, 1.0)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                        callbacks=[denso.LearningRateScheduler(schedule)])
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])

    # Per step: plain SGD on a linear model, checked against numpy with the rate of each step.
    model = Sequential([Dense(1)], input_dim=5, seed=0)
    model.compile(denso.optim.SGD(lr=1.0), "mse")
    w, b = (a.astype(np.float64) for a in model.get_weights())
    xs, ys = x.astype(np.float64), (x[:, :1] * 2.0).astype(np.float64)
    rates = denso.optim.schedules.ExponentialDecay(0.05, 0.5)
    model.fit(xs.astype(np.float32), ys, epochs=2, batch_size=32, shuffle=False, verbose=0,
              callbacks=[denso.LearningRateScheduler(rates, per_step=True)])
    for step in range(4):
        xb, yb = xs[(step % 2) * 32:(step % 2 + 1) * 32], ys[(step % 2) * 32:(step % 2 + 1) * 32]
        err = xb @ w + b - yb
        w, b = w - rates(step) * 2 * xb.T @ err / 32, b - rates(step) * 2 * err.sum(0) / 32
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5)


def test_model_checkpoint_saves_the_best_model_during_fit(tmp_path):
    x, y = _blobs()
    model = _classifier()
    best = []
    check = denso.ModelCheckpoint(str(tmp_path / "best.denso"), monitor="val_loss", save_best_only=True)
    track = denso.LambdaCallback(on_epoch_end=lambda e, logs: best.append(logs["val_loss"]))
    model.fit(x, y, epochs=5, batch_size=16, validation_split=0.2, callbacks=[check, track], verbose=0)
    saved = denso.load_model(tmp_path / "best.denso")
    assert saved.evaluate(x[120:], y[120:])["loss"] == pytest.approx(min(best), rel=1e-5)


def test_batch_callbacks_see_every_batch():
    x, y = _blobs(50)
    seen = []
    model = _classifier()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0,
              callbacks=[denso.LambdaCallback(on_batch_end=lambda batch, logs: seen.append(batch))])
    assert seen == [0, 1, 2, 3, 0, 1, 2, 3]


def test_engine_names_are_checked_and_plan_refuses_what_it_cannot_run():
    x, y = _blobs(40)
    model = _classifier()
    for call in (lambda: model.fit(x, y, verbose=0, engine="fast"), lambda: model.predict(x, engine="fast"),
                 lambda: model.evaluate(x, y, engine="fast")):
        with pytest.raises(ValueError, match="`engine` must be 'auto', 'plan' or 'graph', got 'fast'"):
            call()
    trailing = Sequential([Dense(3), Dropout(0.5)], input_dim=5)
    trailing.compile("sgd", "mse")
    with pytest.raises(ValueError, match="engine='plan' cannot run this model: Dropout/GaussianNoise after"):
        trailing.fit(x, np.zeros((40, 3)), verbose=0, engine="plan")
