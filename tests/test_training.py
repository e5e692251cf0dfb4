"""Real data reaches a quality bar."""

import numpy as np
import pytest

import denso
from denso import Dense, Sequential
from denso.datasets import fashion_mnist_dir, load_fashion_mnist


def test_sklearn_digits_reach_95_percent():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is an optional test dependency")
    x, y = datasets.load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))  # the file is sorted by writer; mix before splitting
    x, y = x[order], y[order]
    model = Sequential([Dense(64, activation="relu"), Dense(10)], input_dim=64, seed=0)
    model.compile(denso.optim.Adam(lr=3e-3), "categorical_crossentropy", ["accuracy"])
    model.fit(x[:1400], y[:1400], epochs=30, batch_size=32, verbose=0, seed=0)
    assert model.evaluate(x[1400:], y[1400:])["accuracy"] >= 0.95


@pytest.mark.skipif(fashion_mnist_dir() is None,
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_784_256_128_10_reaches_088_in_10_epochs():
    (x, y), (x_test, y_test) = load_fashion_mnist()
    model = Sequential([Dense(256, activation="relu"), Dense(128, activation="relu"), Dense(10)], input_dim=784,
                       seed=0)
    model.compile(denso.optim.Adam(lr=1e-3), "categorical_crossentropy", ["accuracy"])
    # "Reaches 0.88 within 10 epochs": the test accuracy after some epoch, as evaluate() computes it.
    history = model.fit(x, y, epochs=10, batch_size=128, verbose=0, seed=0, validation_data=(x_test, y_test))
    best = max(range(10), key=lambda e: history.history["val_accuracy"][e])
    assert history.history["val_accuracy"][best] >= 0.88
    assert history.history["val_accuracy"][-1] == pytest.approx(model.evaluate(x_test, y_test)["accuracy"])
