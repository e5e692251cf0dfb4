"""denso.holdout: the last fraction of the rows held out, None entries kept, fit's error message."""
import numpy as np
import pytest

from denso.holdout import holdout


def test_the_last_rows_are_held_out_in_order():
    x = np.arange(20).reshape(10, 2)
    y = np.arange(10) * 10
    (x_train, y_train), (x_val, y_val) = holdout((x, y), 0.3)
    assert x_train.tolist() == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11], [12, 13]]
    assert y_train.tolist() == [0, 10, 20, 30, 40, 50, 60]
    assert x_val.tolist() == [[14, 15], [16, 17], [18, 19]] and y_val.tolist() == [70, 80, 90]


def test_the_count_is_rounded():
    x = np.arange(7)
    (train,), (val,) = holdout((x,), 0.25)  # 7 × 0.25 = 1.75 → 2 rows
    assert train.tolist() == [0, 1, 2, 3, 4] and val.tolist() == [5, 6]
    (train,), (val,) = holdout((x,), 0.2)   # 1.4 → 1 row
    assert train.tolist() == [0, 1, 2, 3, 4, 5] and val.tolist() == [6]


def test_none_entries_stay_none_on_both_sides():
    x, labels = np.arange(5.0), np.array([0, 1, 0, 1, 1])
    (x_train, y_train, l_train), (x_val, y_val, l_val) = holdout((x, None, labels), 0.4)
    assert y_train is None and y_val is None
    assert x_train.tolist() == [0.0, 1.0, 2.0] and l_train.tolist() == [0, 1, 0]
    assert x_val.tolist() == [3.0, 4.0] and l_val.tolist() == [1, 1]


def test_fraction_zero_holds_out_nothing():
    x, y = np.arange(4), np.arange(4) + 1
    train, val = holdout((x, y), 0.0)
    assert val is None and train[0] is x and train[1] is y


@pytest.mark.parametrize("n, fraction, n_val", [(5, 0.05, 0), (3, 0.9, 3)])
def test_a_side_left_empty_raises_fits_message(n, fraction, n_val):
    message = (f"`validation_split`={fraction} leaves {n_val} of {n} samples for validation; it must leave at "
               "least one sample on each side")
    with pytest.raises(ValueError) as info:
        holdout((np.zeros((n, 2)), None), fraction)
    assert str(info.value) == message


def test_the_caller_names_the_fraction():
    with pytest.raises(ValueError, match=r"^`--validation-split`=0.1 leaves 0 of 3 samples"):
        holdout((np.zeros(3),), 0.1, name="--validation-split")
    with pytest.raises(ValueError, match=r"^`validation_split` must be in \[0, 1\), got 1.0$"):
        holdout((np.zeros(3),), 1.0)
    with pytest.raises(ValueError, match=r"`validation_split` must be a finite number >= 0, got -0.5"):
        holdout((np.zeros(3),), -0.5)
    with pytest.raises(TypeError, match="`validation_split` must be a real number, got str '0.2'"):
        holdout((np.zeros(3),), "0.2")


def test_arrays_must_agree_on_their_row_count():
    with pytest.raises(ValueError, match=r"same number of rows, got \[3, 4\]"):
        holdout((np.zeros(3), np.zeros(4)), 0.5)
    with pytest.raises(ValueError, match="got only None"):
        holdout((None, None), 0.5)
