"""Metrics against hand-computed values; shape validation; get(); RunningMean."""
import numpy as np
import pytest

from denso import metrics

PROBS = np.array([[0.7, 0.2, 0.1],   # predicts 0
                  [0.1, 0.3, 0.6],   # predicts 2
                  [0.2, 0.5, 0.3],   # predicts 1
                  [0.4, 0.4, 0.2]])  # tie → first index, 0
LABELS = np.array([0, 1, 1, 0])      # right, wrong, right, right → 3/4


def test_accuracy_multiclass_integer_labels():
    assert metrics.accuracy(LABELS, PROBS) == 0.75


def test_accuracy_is_the_same_for_logits_and_probabilities():
    logits = np.log(PROBS) + 5.0  # softmax(logits) == PROBS; argmax unchanged
    assert metrics.accuracy(LABELS, logits) == 0.75


def test_accuracy_one_hot_and_probability_targets():
    one_hot = np.eye(3)[LABELS]
    assert metrics.accuracy(one_hot, PROBS) == 0.75
    soft = np.array([[0.8, 0.1, 0.1], [0.2, 0.1, 0.7], [0.1, 0.6, 0.3], [0.1, 0.1, 0.8]])
    # soft argmax: 0, 2, 1, 2 vs predicted 0, 2, 1, 0 → 3/4
    assert metrics.accuracy(soft, PROBS) == 0.75


def test_accuracy_label_column_and_float_labels():
    assert metrics.accuracy(LABELS[:, None], PROBS) == 0.75
    assert metrics.accuracy(LABELS.astype(np.float32), PROBS) == 0.75


def test_accuracy_binary_probabilities_default_threshold():
    y = np.array([1, 0, 1, 0, 1])
    p = np.array([0.9, 0.6, 0.5, 0.1, 0.51])  # > 0.5: 1, 1, 0, 0, 1 → right, wrong, wrong, right, right
    assert metrics.accuracy(y, p) == 0.6
    assert metrics.accuracy(y[:, None], p[:, None]) == 0.6
    assert metrics.accuracy(y, p[:, None]) == 0.6


def test_accuracy_binary_logits_with_threshold_zero():
    y = np.array([1, 0, 1, 0])
    logits = np.array([2.0, -1.0, -0.5, 0.3])  # > 0: 1, 0, 0, 1 → 2/4
    assert metrics.accuracy(y, logits, threshold=0.0) == 0.5
    assert metrics.accuracy(y, logits) == 0.75  # > 0.5: 1, 0, 0, 0 → right, right, wrong, right


def test_accuracy_binary_threshold_explicit_count():
    y = np.array([1, 0, 1, 0])
    logits = np.array([2.0, -1.0, -0.5, 0.3])
    for threshold in (-2.0, 0.0, 0.5, 3.0):
        expected = np.mean((logits > threshold) == y.astype(bool))
        assert metrics.accuracy(y, logits, threshold=threshold) == expected


def test_binary_accuracy_over_all_entries_of_multilabel_outputs():
    y = np.array([[1, 0], [0, 0], [1, 1]])
    p = np.array([[0.8, 0.7], [0.2, 0.1], [0.4, 0.9]])  # decisions 1,1 / 0,0 / 0,1 → 4 of 6 right
    assert metrics.binary_accuracy(y, p) == pytest.approx(4 / 6)
    assert metrics.binary_accuracy(y, p, threshold=0.3) == pytest.approx(5 / 6)


def test_binary_accuracy_accepts_bool_labels():
    assert metrics.binary_accuracy(np.array([True, False]), np.array([0.9, 0.9])) == 0.5


def test_mean_squared_error_and_mean_absolute_error_by_hand():
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    p = np.array([[1.5, 2.0], [1.0, 5.0]])
    # differences -0.5, 0, 2, -1: squares .25 0 4 1 → 5.25/4; absolutes .5 0 2 1 → 3.5/4
    assert metrics.mean_squared_error(y, p) == pytest.approx(1.3125)
    assert metrics.mean_absolute_error(y, p) == pytest.approx(0.875)


def test_regression_metrics_match_vector_and_column():
    y, p = np.array([1.0, 2.0, 4.0]), np.array([[2.0], [2.0], [1.0]])
    assert metrics.mean_squared_error(y, p) == pytest.approx(10 / 3)
    assert metrics.mean_absolute_error(p, y) == pytest.approx(4 / 3)


def test_regression_metrics_are_exact_in_float64_for_float32_inputs():
    y = np.array([1e4, 1e4], np.float32)
    p = np.array([1e4 + 1, 1e4 - 3], np.float32)
    assert metrics.mean_squared_error(y, p) == 5.0
    assert isinstance(metrics.mean_squared_error(y, p), float)


@pytest.mark.parametrize("fn", [metrics.accuracy, metrics.binary_accuracy, metrics.mean_squared_error,
                                metrics.mean_absolute_error])
def test_row_count_mismatch_names_both_arrays_and_shapes(fn):
    with pytest.raises(ValueError, match=r"same number of samples.*y_true=\(3,\) and y_pred=\(4, 1\)"):
        fn(np.zeros(3), np.zeros((4, 1)))


@pytest.mark.parametrize("fn", [metrics.binary_accuracy, metrics.mean_squared_error, metrics.mean_absolute_error])
def test_shape_mismatch_with_same_rows(fn):
    with pytest.raises(ValueError, match=r"same shape, got y_true=\(4, 2\) and y_pred=\(4, 3\)"):
        fn(np.zeros((4, 2)), np.zeros((4, 3)))


def test_accuracy_one_hot_width_must_match_classes():
    with pytest.raises(ValueError, match=r"one-hot rows of shape \(n, 3\).*got shape \(4, 5\)"):
        metrics.accuracy(np.zeros((4, 5)), PROBS)


def test_accuracy_rejects_fractional_labels_and_non_binary_targets():
    with pytest.raises(ValueError, match="whole numbers"):
        metrics.accuracy(np.array([0.5, 1, 1, 0]), PROBS)
    with pytest.raises(ValueError, match=r"binary targets in \[0, 1\].*got 2"):
        metrics.accuracy(np.array([0, 2]), np.array([0.1, 0.9]))


def test_empty_and_scalar_inputs_are_rejected():
    with pytest.raises(ValueError, match="at least one sample"):
        metrics.mean_squared_error(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="one row per sample"):
        metrics.accuracy(1, 1)


def test_non_numeric_inputs_are_type_errors():
    with pytest.raises(TypeError, match="`y_true` must hold real numbers, got dtype <U1"):
        metrics.accuracy(np.array(["a", "b"]), np.zeros(2))


def test_threshold_is_validated():
    with pytest.raises(ValueError, match="`threshold` must be a finite number"):
        metrics.binary_accuracy([1], [0.5], threshold=float("nan"))


@pytest.mark.parametrize("name,fn", [
    ("accuracy", metrics.accuracy), ("acc", metrics.accuracy), ("Accuracy", metrics.accuracy),
    ("binary_accuracy", metrics.binary_accuracy),
    ("mse", metrics.mean_squared_error), ("mean_squared_error", metrics.mean_squared_error),
    ("MAE", metrics.mean_absolute_error), ("mean_absolute_error", metrics.mean_absolute_error),
])
def test_get_resolves_names(name, fn):
    assert metrics.get(name) is fn


def test_get_unknown_lists_valid_names_and_returns_callables():
    with pytest.raises(ValueError, match=r"unknown metric 'f1'; expected one of \['acc', 'accuracy'"):
        metrics.get("f1")
    custom = lambda y_true, y_pred: 0.0  # noqa: E731
    assert metrics.get(custom) is custom
    with pytest.raises(TypeError, match="`metric` must be a name or a callable"):
        metrics.get(3)


def test_running_mean_is_weighted_by_batch_size():
    m = metrics.RunningMean()
    m.update(0.5, 32)
    m.update(np.float32(1.0), 8)
    assert m.result() == pytest.approx((0.5 * 32 + 1.0 * 8) / 40)
    assert m.count == 40


def test_running_mean_of_batch_accuracies_equals_epoch_accuracy():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 103), rng.random((103, 3))
    m = metrics.RunningMean()
    for start in range(0, 103, 25):  # batches of 25, 25, 25, 25, 3
        m.update(metrics.accuracy(y[start:start + 25], p[start:start + 25]), len(y[start:start + 25]))
    assert m.result() == pytest.approx(metrics.accuracy(y, p))


def test_running_mean_reset_and_errors():
    m = metrics.RunningMean()
    with pytest.raises(ValueError, match="needs at least one update"):
        m.result()
    m.update(2.0)
    assert m.result() == 2.0
    m.reset()
    with pytest.raises(ValueError, match="needs at least one update"):
        m.result()
    with pytest.raises(ValueError, match="`weight` must be a finite number > 0, got 0.0"):
        m.update(1.0, 0)
    with pytest.raises(TypeError, match="`value` must be a real number"):
        m.update(np.ones(2))
    with pytest.raises(TypeError, match="`value` must be a real number"):
        m.update("1.0")
