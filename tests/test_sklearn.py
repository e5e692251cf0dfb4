"""denso.sklearn against scikit-learn: its estimator checks, its API, and its own MLP's trajectories.

With solver='sgd' and dtype='float64', denso follows scikit-learn's MLP step for step (same initial
weights, shuffles, L2 scaling, momentum, learning-rate schedules), so several tests compare weights and
loss curves to `sklearn.neural_network` directly.
"""
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed (pip install 'denso[sklearn]')")

from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from denso.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# The one check expected to fail, and why: it compares a fit with integer sample weights to a fit on
# repeated rows at rtol 1e-7, which float32 arithmetic (denso's default dtype) does not reach (~1e-4);
# in float64 the two agree to the check's tolerance (test_sample_weight_equals_repeated_rows_in_float64).
EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data":
        "float32 by default: weighted and repeated-row fits agree to ~1e-4, not 1e-7 (they do in float64)",
}


# Checks whose float32 result depends on the CPU: predict on a subset of rows runs the GEMMs at another
# shape, hence possibly another engine or kernel (denso routes by shape), and on AVX2 code a row's
# probabilities then differ by ~2e-7, above the check's 1e-7 (on AVX-512 they happen to agree).
# test_predictions_do_not_depend_on_the_batch asserts what holds everywhere.
ROUNDING_DEPENDENT_CHECKS = {"check_methods_subset_invariance"}


def _check_name(check) -> str:
    return getattr(check, "func", check).__name__


@parametrize_with_checks([MLPClassifier(), MLPRegressor()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_estimator_checks(estimator, check):
    if _check_name(check) not in ROUNDING_DEPENDENT_CHECKS:
        check(estimator)
        return
    try:
        check(estimator)
    except AssertionError as exc:
        pytest.xfail(f"float32 rounding differs with the batch's shape on this CPU: {str(exc).splitlines()[-1]}")


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
def test_predictions_do_not_depend_on_the_batch(dtype, tol):
    """A row's prediction is the same (to the dtype's rounding) alone, in a slice or in the whole set."""
    rng = np.random.RandomState(0)
    X, y = rng.rand(40, 6), rng.randint(0, 3, 40)
    clf = MLPClassifier(hidden_layer_sizes=(20,), max_iter=30, random_state=0, dtype=dtype).fit(X, y)
    whole = clf.predict_proba(X)
    np.testing.assert_allclose(np.vstack([clf.predict_proba(X[i:i + 1]) for i in range(40)]), whole, rtol=tol,
                               atol=tol)
    np.testing.assert_allclose(np.vstack([clf.predict_proba(X[i:i + 7]) for i in range(0, 40, 7)]), whole,
                               rtol=tol, atol=tol)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_sample_weight_equals_repeated_rows_in_float64(cls):
    """What check_sample_weight_equivalence_on_dense_data asks, at its tolerance, in float64."""
    rng = np.random.RandomState(0)
    X = rng.rand(15, 3)
    y = rng.randint(0, 3, 15) if cls is MLPClassifier else rng.rand(15)
    w = rng.randint(0, 3, 15).astype(float)
    w[0] = 1.0
    kwargs = dict(hidden_layer_sizes=(5,), max_iter=50, random_state=0, dtype="float64", shuffle=False)
    weighted = cls(**kwargs).fit(X, y, sample_weight=w)
    keep = np.repeat(np.arange(15), w.astype(int))
    repeated = cls(**kwargs).fit(X[keep], y[keep])
    out = (lambda m: m.predict_proba(X)) if cls is MLPClassifier else (lambda m: m.predict(X))
    np.testing.assert_allclose(out(weighted), out(repeated), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_sample_weight_matches_scikit_learn(solver):
    """Weighted fits take scikit-learn's steps: its weighted batch loss and alpha / Σ w penalty."""
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier
    rng = np.random.RandomState(1)
    X, y, w = rng.rand(60, 4), rng.randint(0, 3, 60), rng.uniform(0.1, 3.0, 60)
    kwargs = dict(hidden_layer_sizes=(7,), max_iter=5, random_state=3, batch_size=16, solver=solver, alpha=1e-2,
                  learning_rate_init=0.05)
    ours = MLPClassifier(dtype="float64", **kwargs).fit(X, y, sample_weight=w)
    theirs = SkMLPClassifier(**kwargs).fit(X, y, sample_weight=w)
    tol = 1e-12 if solver == "sgd" else 1e-9  # Adam's moments round differently (lerp form), not its rule
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("cls_name", ["MLPClassifier", "MLPRegressor"])
def test_adam_fits_equal_scikit_learn_in_float64(cls_name):
    """Adam with scikit-learn's eps form (epsilon_hat): the same trajectory, to rounding."""
    import sklearn.neural_network as sk
    rng = np.random.RandomState(4)
    X = rng.rand(80, 5)
    y = rng.randint(0, 3, 80) if cls_name == "MLPClassifier" else rng.rand(80)
    kwargs = dict(hidden_layer_sizes=(9,), max_iter=15, random_state=1, batch_size=32, alpha=1e-3)
    ours = globals()[cls_name](dtype="float64", **kwargs).fit(X, y)
    theirs = getattr(sk, cls_name)(**kwargs).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


def same_fit(ours, theirs, X, y, atol=1e-10):
    """Fit both and compare every weight and the loss curve."""
    ours.fit(X, y)
    theirs.fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9, atol=atol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=atol)


SGD_CASES = [
    dict(learning_rate="constant", momentum=0.9, nesterovs_momentum=True),
    dict(learning_rate="constant", momentum=0.5, nesterovs_momentum=False),
    dict(learning_rate="invscaling", learning_rate_init=0.5, power_t=0.3),
    dict(learning_rate="adaptive", learning_rate_init=0.2, tol=0.5, n_iter_no_change=1),
    dict(momentum=0.0, activation="logistic", alpha=0.1, shuffle=False),
    dict(activation="tanh", hidden_layer_sizes=(7, 5), batch_size=64),
]


@pytest.mark.parametrize("params", SGD_CASES)
def test_sgd_classifier_equals_sklearns(digits, params):
    X, y = digits
    kw = dict(solver="sgd", hidden_layer_sizes=(16,), max_iter=8, random_state=3, batch_size=50,
              learning_rate_init=0.05, alpha=1e-3)
    kw.update(params)
    ours, theirs = MLPClassifier(dtype="float64", **kw), sk_nn.MLPClassifier(**kw)
    same_fit(ours, theirs, X[:437], y[:437])  # 437 = 8 batches of 50 and a short one of 37
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("y_kind", ["binary", "multilabel", "multioutput"])
def test_sgd_other_outputs_equal_sklearns(digits, diabetes, y_kind):
    kw = dict(solver="sgd", hidden_layer_sizes=(8,), max_iter=6, random_state=0, batch_size=32, alpha=0.01,
              learning_rate_init=0.05)
    if y_kind == "multioutput":
        X, y = diabetes
        y = np.column_stack([y, X[:, 0] * y, X[:, 1]])
        same_fit(MLPRegressor(dtype="float64", **kw), sk_nn.MLPRegressor(**kw), X, y)
        return
    X, y = digits
    y = (y % 2 == 0) if y_kind == "binary" else np.column_stack([y % 2 == 0, y > 4, y == 3]).astype(int)
    same_fit(MLPClassifier(dtype="float64", **kw), sk_nn.MLPClassifier(**kw), X, y)


def test_early_stopping_equals_sklearns(digits):
    X, y = digits
    kw = dict(solver="sgd", hidden_layer_sizes=(12,), max_iter=60, random_state=1, early_stopping=True,
              validation_fraction=0.2, n_iter_no_change=3, learning_rate_init=0.3)
    ours, theirs = MLPClassifier(dtype="float64", **kw), sk_nn.MLPClassifier(**kw)
    same_fit(ours, theirs, X, y)
    assert len(ours.validation_scores_) == ours.n_iter_ < 60
    assert ours.validation_scores_ == pytest.approx(theirs.validation_scores_)
    assert ours.best_validation_score_ == max(ours.validation_scores_) and ours.best_loss_ is None


def test_early_stopping_restores_best_weights(diabetes):
    X, y = diabetes
    reg = MLPRegressor(solver="sgd", learning_rate_init=0.05, early_stopping=True, n_iter_no_change=2, tol=0.0,
                       max_iter=40, random_state=0, dtype="float64").fit(X, y)
    assert len(reg.validation_scores_) == reg.n_iter_
    _, X_val, _, y_val = train_test_split(X, y, random_state=_split_state(reg, X), test_size=0.1)
    assert reg.score(X_val, y_val) == pytest.approx(reg.best_validation_score_, rel=1e-9)


def _split_state(reg, X):
    """The RandomState scikit-learn's split draws from: after the initial weights."""
    rs = np.random.RandomState(reg.random_state)
    sizes = [X.shape[1], 100, 1]
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        rs.uniform(size=(fan_in, fan_out))
        rs.uniform(size=fan_out)
    return rs


def test_adaptive_learning_rate_by_hand(digits):
    """'adaptive': lr /= 5 whenever the loss failed to improve by tol for more than n_iter_no_change
    epochs; stop once lr <= 1e-6. Recomputed from loss_curve_ alone."""
    X, y = digits
    clf = MLPClassifier(solver="sgd", learning_rate="adaptive", learning_rate_init=0.1, tol=10.0,
                        n_iter_no_change=1, max_iter=100, random_state=0, hidden_layer_sizes=(8,)).fit(X, y)
    lr, best, count, epochs = 0.1, np.inf, 0, 0
    for loss in clf.loss_curve_:
        epochs += 1
        count = count + 1 if loss > best - 10.0 else 0
        best = min(best, loss)
        if count > 1:
            if lr <= 1e-6:
                break
            lr, count = lr / 5, 0
    assert epochs == clf.n_iter_ == len(clf.loss_curve_) < 100
    assert clf._lr == pytest.approx(lr) and lr <= 1e-6


def test_invscaling_learning_rate_by_hand(digits):
    """'invscaling': after each epoch lr = learning_rate_init / (t_ + 1)**power_t, t_ = samples seen.
    Each epoch (one full batch, no momentum) must equal a constant-lr epoch at that hand-computed lr
    from the same weights."""
    X, y = digits
    kw = dict(solver="sgd", momentum=0.0, max_iter=1, shuffle=False, hidden_layer_sizes=(4,), random_state=0,
              dtype="float64", batch_size=600, warm_start=True)
    clf = MLPClassifier(learning_rate="invscaling", learning_rate_init=0.8, power_t=0.25, **kw)
    const = MLPClassifier(learning_rate="constant", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        const.fit(X, y)
        for epoch in range(1, 4):
            expected = 0.8 / (600 * epoch + 1) ** 0.25
            assert clf._lr == pytest.approx(expected, rel=1e-12)
            for ours, theirs in zip(const.coefs_ + const.intercepts_, clf.coefs_ + clf.intercepts_):
                ours[...] = theirs
            const.set_params(learning_rate_init=expected).fit(X, y)
            clf.set_params(learning_rate_init=0.8).partial_fit(X, y)
            for a, b in zip(const.coefs_ + const.intercepts_, clf.coefs_ + clf.intercepts_):
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert clf.t_ == 2400


def test_partial_fit_equals_fit(digits):
    X, y = digits
    kw = dict(solver="sgd", shuffle=False, batch_size=40, random_state=2, hidden_layer_sizes=(10,), dtype="float64",
              learning_rate_init=0.05)
    full = MLPClassifier(max_iter=1, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full.fit(X, y)
    part = MLPClassifier(**kw)
    for start in range(0, 600, 200):
        part.partial_fit(X[start:start + 200], y[start:start + 200], classes=np.unique(y))
    # 200 rows = 5 batches of 40: the same 15 updates as one epoch over the 600 rows
    for a, b in zip(part.coefs_ + part.intercepts_, full.coefs_ + full.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert part.n_iter_ == 1 and part.t_ == 600 and len(part.loss_curve_) == 3


def test_partial_fit_needs_classes_and_rejects_early_stopping(digits):
    X, y = digits
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=np.unique(y))


def test_warm_start_continues(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, warm_start=True, random_state=0)
    clf.fit(X, y)
    first = [w.copy() for w in clf.coefs_]
    curve = list(clf.loss_curve_)
    clf.fit(X, y)
    assert clf.loss_curve_[:3] == curve and len(clf.loss_curve_) == 6 and clf.t_ == 6 * len(X)
    assert clf.n_iter_ == 3 and not np.array_equal(first[0], clf.coefs_[0])
    cold = clone(clf).set_params(warm_start=False).fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], MLPClassifier(**cold.get_params()).fit(X, y).coefs_[0])


def test_params_clone_and_set_params():
    clf = MLPClassifier(hidden_layer_sizes=(5, 3), alpha=0.5, dropout=0.1, dtype="float64", n_threads=1)
    params = clf.get_params()
    assert params["hidden_layer_sizes"] == (5, 3) and params["dropout"] == 0.1 and params["max_fun"] == 15000
    twin = clone(clf)
    assert twin.get_params() == params and twin is not clf
    twin.set_params(alpha=1.0, solver="sgd")
    assert twin.alpha == 1.0 and clf.alpha == 0.5
    defaults = sk_nn.MLPRegressor().get_params()
    ours = MLPRegressor().get_params()
    assert {k: ours[k] for k in defaults} == defaults
    assert set(ours) - set(defaults) == {"dropout", "dtype", "n_threads"}
    assert ours["dtype"] == "float32"


def test_pickle_before_and_after_fit(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(12,), max_iter=5, random_state=0)
    clf = pickle.loads(pickle.dumps(clf))
    clf.fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    copy.partial_fit(X, y)
    clf.partial_fit(X, y)
    np.testing.assert_array_equal(copy.coefs_[0], clf.coefs_[0])


def test_string_labels_and_column_y(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=200, random_state=0).fit(X, names)
    assert list(clf.classes_) == sorted(set(names)) and clf.predict(X).dtype == names.dtype
    assert clf.score(X, names) > 0.9 and clf.out_activation_ == "softmax"
    proba = clf.predict_proba(X)
    assert proba.shape == (600, 10) and np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    with pytest.warns(DataConversionWarning):
        column = MLPClassifier(hidden_layer_sizes=(16,), max_iter=200, random_state=0).fit(X, names[:, None])
    np.testing.assert_array_equal(column.coefs_[0], clf.coefs_[0])


def test_binary_has_one_logistic_output(digits):
    X, y = digits
    labels = np.where(y < 5, "low", "high")
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, labels)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1 and clf.coefs_[-1].shape == (8, 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (600, 2) and list(clf.classes_) == ["high", "low"]
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(proba[:, 1] > 0.5).astype(int)])


def test_multilabel_and_multioutput(digits, diabetes):
    X, y = digits
    Y = np.column_stack([y % 2, y > 4, y == 3]).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3 and clf.predict(X).shape == (600, 3)
    assert clf.predict_proba(X).shape == (600, 3) and clf.score(X, Y) > 0.5
    Xr, yr = diabetes
    Yr = np.column_stack([yr, -yr])
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(Xr, Yr)
    assert reg.predict(Xr).shape == (len(Xr), 2) and reg.n_outputs_ == 2 and reg.out_activation_ == "identity"
    assert reg.score(Xr, Yr) > 0.3


def test_fitted_attributes(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(20, 10), max_iter=4, random_state=0).fit(X, y)
    assert [w.shape for w in clf.coefs_] == [(64, 20), (20, 10), (10, 10)]
    assert [b.shape for b in clf.intercepts_] == [(20,), (10,), (10,)]
    assert clf.coefs_[0].dtype == np.float32 and clf.n_layers_ == 4 and clf.n_features_in_ == 64
    assert clf.n_iter_ == 4 and clf.t_ == 2400 and len(clf.loss_curve_) == 4
    assert clf.best_loss_ == min(clf.loss_curve_) and clf.validation_scores_ is None
    assert clf.best_validation_score_ is None


def test_feature_names_with_pandas(digits):
    pd = pytest.importorskip("pandas", reason="pandas is not installed")
    X, y = digits
    frame = pd.DataFrame(X[:, :5], columns=[f"f{i}" for i in range(5)])
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(frame, y)
    assert list(clf.feature_names_in_) == list(frame.columns)


def test_dropout_dtype_threads_extras(digits):
    X, y = digits
    import denso
    threads = denso.get_num_threads()
    clf = MLPClassifier(hidden_layer_sizes=(32,), dropout=0.3, n_threads=1, max_iter=200, random_state=0).fit(X, y)
    assert denso.get_num_threads() == threads and clf.score(X, y) > 0.9
    assert MLPClassifier(dtype="float64", max_iter=2).fit(X, y).coefs_[0].dtype == np.float64


@pytest.mark.parametrize("params, match", [
    (dict(solver="lbfgs"), "solver='lbfgs'.*not supported.*'adam'"),
    (dict(activation="softmax"), "`activation` must be one of"),
    (dict(hidden_layer_sizes=(10, 0)), "hidden_layer_sizes"),
    (dict(batch_size=0), "batch_size"),
    (dict(learning_rate="optimal"), "learning_rate"),
    (dict(alpha=-1.0), "alpha"),
    (dict(momentum=1.5), "momentum"),
    (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(beta_2=1.0), "beta_2"),
    (dict(dropout=1.0), "dropout"),
    (dict(dtype="float16"), "dtype"),
    (dict(n_iter_no_change=0), "n_iter_no_change"),
])
def test_bad_parameters_name_themselves(digits, params, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**params).fit(X, y)


def test_poisson_loss_is_refused(diabetes):
    with pytest.raises(ValueError, match="poisson"):
        MLPRegressor(loss="poisson").fit(*diabetes)


def test_pipeline_cross_val_and_grid_search(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=200, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.75
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=2, n_jobs=2).fit(X, y)
    assert grid.best_score_ > 0.75 and grid.best_estimator_.predict(X).shape == (600,)


def test_import_denso_does_not_import_sklearn():
    code = "import sys, denso; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"  # (an editable install may log its rebuild first)


def test_missing_sklearn_says_how_to_install():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "try:\n    import denso.sklearn\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'denso[sklearn]'" in out.stdout


# Margins per seed. Measured over seeds 0-9 (adam, float32 in denso, 100 epochs): every test accuracy
# on digits and breast_cancer was equal to scikit-learn's, R² on diabetes within 3.9e-5.
COMPARISONS = [
    ("digits", load_digits, MLPClassifier, sk_nn.MLPClassifier, 0.01),
    ("breast_cancer", load_breast_cancer, MLPClassifier, sk_nn.MLPClassifier, 0.01),
    ("diabetes", load_diabetes, MLPRegressor, sk_nn.MLPRegressor, 1e-3),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, loader, ours, theirs, margin", COMPARISONS, ids=[c[0] for c in COMPARISONS])
def test_scores_match_sklearns_mlp(name, loader, ours, theirs, margin):
    """Default settings, 100 epochs, 5 seeds: each test score within `margin` of scikit-learn's own MLP."""
    X, y = loader(return_X_y=True)
    if name == "diabetes":
        y = (y - y.mean()) / y.std()
    diffs = []
    for seed in range(5):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=seed)
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
        kw = dict(max_iter=100, random_state=seed)
        diffs.append(ours(**kw).fit(X_tr, y_tr).score(X_te, y_te) - theirs(**kw).fit(X_tr, y_tr).score(X_te, y_te))
    assert max(abs(d) for d in diffs) < margin, diffs


def test_class_weight_is_sample_weight_by_class():
    """'balanced' and a dict weigh each sample's loss by its class, exactly as the equivalent sample_weight."""
    rng = np.random.RandomState(2)
    X, y = rng.rand(40, 3), np.array(["a"] * 30 + ["b"] * 10)
    kwargs = dict(hidden_layer_sizes=(4,), max_iter=20, random_state=0, dtype="float64")
    balanced = MLPClassifier(class_weight="balanced", **kwargs).fit(X, y)
    by_hand = MLPClassifier(**kwargs).fit(X, y, sample_weight=np.where(y == "a", 40 / 60, 40 / 20))
    for a, b in zip(balanced.coefs_, by_hand.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    doubled = MLPClassifier(class_weight={"a": 1.0, "b": 2.0}, **kwargs).fit(X, y, sample_weight=np.full(40, 0.5))
    by_hand = MLPClassifier(**kwargs).fit(X, y, sample_weight=np.where(y == "a", 0.5, 1.0))
    for a, b in zip(doubled.coefs_, by_hand.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert MLPClassifier(class_weight="balanced").get_params()["class_weight"] == "balanced"
    assert "class_weight" not in MLPRegressor().get_params()
