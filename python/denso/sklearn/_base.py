"""What MLPClassifier and MLPRegressor share: parameters, the network, scikit-learn's training loop.

The loop is scikit-learn's `_fit_stochastic` rule for rule (initialisation, shuffling and the early-
stopping split drawn from `random_state` in the same order, `tol`/`n_iter_no_change`, 'invscaling',
'adaptive', best weights restored); each epoch's batches run on denso's native plan (see _training).
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from .. import optim
from ..model import Sequential
from ..nn import Dense, Dropout
from ..samples import check_samples
from ..threads import get_num_threads, set_num_threads
from . import _params
from ._training import EpochRunner, loss_scale, value_scale


class BaseMLP(BaseEstimator):
    """scikit-learn's MLP parameters (same names, defaults and meaning) plus denso's `dropout`,
    `dtype` and `n_threads`. Subclasses define the targets, the output layer and the score."""

    _loss_name = ""  # denso loss of the output layer, set per fit by the subclass

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, dtype="float32", n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.dtype = dtype
        self.n_threads = n_threads

    # ---- fitted weights: views into the denso model, W shaped (in, out) ---------------------------
    @property
    def coefs_(self) -> list:
        check_is_fitted(self, "_model")
        return [layer.weight.data for layer in self._model.dense_layers()]

    @property
    def intercepts_(self) -> list:
        check_is_fitted(self, "_model")
        return [layer.bias.data for layer in self._model.dense_layers()]

    # ---- public entry points ---------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and y; returns self. `sample_weight` (n_samples,)
        weighs each sample's loss, as scikit-learn's does (a batch's loss is Σ w·loss / Σ w and its
        alpha term is divided by Σ w)."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def _fit(self, X, y, incremental: bool, sample_weight=None):
        _params.check(self)
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "_model") or (not self.warm_start and not incremental)
        X, Y, y_orig = self._validate_input(X, y, incremental, reset=first_pass)
        sample_weight = self._sample_weights(X, y_orig, sample_weight)
        rs = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, X.shape[1], rs)
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"`y` has {Y.shape[1]} outputs, but this fitted estimator has {self.n_outputs_}")
        if not incremental or not hasattr(self, "_lr"):
            self._new_optimizer()
        with self._threads():
            self._fit_stochastic(X, Y, y_orig, sample_weight, rs, incremental)
        return self

    def _sample_weights(self, X, y, sample_weight):
        """The weight of each sample (None: all 1): `sample_weight`, checked as scikit-learn checks it."""
        return None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float64)

    # ---- setup -----------------------------------------------------------------------------------
    def _initialize(self, Y, n_features: int, rs) -> None:
        """Build the network and draw scikit-learn's Glorot-uniform weights and biases from `rs`."""
        self.n_iter_ = self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        sizes = [n_features] + _params.hidden_layer_sizes(self.hidden_layer_sizes) + [self.n_outputs_]
        self.n_layers_ = len(sizes)
        self.out_activation_ = self._output_activation(Y)
        self._loss_name = {"softmax": "categorical_crossentropy", "logistic": "binary_crossentropy",
                           "identity": "mse"}[self.out_activation_]
        dtype = _params.dtype(self.dtype)
        layers = []
        for width in sizes[1:-1]:
            layers.append(Dense(width, activation=_params.HIDDEN_ACTIVATIONS[self.activation]))
            if self.dropout > 0:
                layers.append(Dropout(self.dropout))
        layers.append(Dense(sizes[-1]))
        model = Sequential(layers, input_dim=n_features, seed=0, dtype=dtype)
        factor = 2.0 if self.activation == "logistic" else 6.0
        weights = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            weights.append(rs.uniform(-bound, bound, (fan_in, fan_out)))
            weights.append(rs.uniform(-bound, bound, fan_out))
        model.set_weights(weights)
        self._model = model
        self._best_params = model.flat_parameter.data.copy()
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self.best_loss_ = None if self.early_stopping else np.inf

    def _new_optimizer(self) -> None:
        """A fresh optimizer (scikit-learn starts one per fit; partial_fit keeps it)."""
        scale = loss_scale(self._loss_name, self.n_outputs_)
        if self.solver == "sgd":
            nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
            optimizer = optim.SGD(lr=self.learning_rate_init, momentum=self.momentum, nesterov=nesterov)
        else:
            optimizer = optim.Adam(lr=self.learning_rate_init, betas=(self.beta_1, self.beta_2),
                                   eps=self.epsilon * scale, epsilon_hat=True)  # scikit-learn's eps form
        self._model.compile(optimizer=optimizer, loss=self._loss_name)
        self._lr = float(self.learning_rate_init)

    def _threads(self):
        """`n_threads` for the duration of a call (None: denso's current setting)."""
        if self.n_threads is None:
            return contextlib.nullcontext()
        return _ThreadCount(self.n_threads)

    # ---- scikit-learn's stochastic loop ----------------------------------------------------------
    def _fit_stochastic(self, X, Y, y_orig, sample_weight, rs, incremental: bool) -> None:
        X_val = y_val = w_val = None
        if self.early_stopping:
            X, Y, sample_weight, X_val, y_val, w_val = self._validation_split(X, Y, y_orig, sample_weight, rs)
        batch = _params.batch_size(self.batch_size, X.shape[0])
        data = self._samples(X, Y, sample_weight)
        seed = int(rs.randint(np.iinfo(np.int32).max)) if self.dropout > 0 else 0
        runner = EpochRunner(self._model, data, batch, float(self.alpha), loss_scale(self._loss_name, self.n_outputs_),
                             value_scale(self._loss_name, self.n_outputs_), seed)
        self.n_iter_ = 0
        try:
            self._epochs(runner, rs, (X_val, y_val, w_val), incremental)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if self.early_stopping:
            self._model.flat_parameter.data[...] = self._best_params

    def _epochs(self, runner, rs, validation: tuple, incremental: bool) -> None:
        n = len(runner.data)
        order = np.arange(n, dtype=np.int64)
        for _ in range(self.max_iter):
            if self.shuffle:  # sklearn.utils.shuffle's draw, without its ~0.3 ms of argument checks per call
                permutation = np.arange(n)
                rs.shuffle(permutation)
                order = order[permutation]
            self.loss_ = runner.run(order, self._lr / runner.scale if self.solver == "sgd" else self._lr)
            self.n_iter_ += 1
            self.t_ += n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            if self._end_of_epoch(validation) or incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                              "optimization hasn't converged yet.", ConvergenceWarning)

    def _validation_split(self, X, Y, y_orig, sample_weight, rs) -> tuple:
        """scikit-learn's split: validation_fraction held out, stratified for one-output classifiers; the
        sample weights are split alike. (X, Y, weights) for training, then (X, y, weights) to score."""
        stratify = Y if self._is_classifier() and self.n_outputs_ == 1 else None
        arrays = (X, Y, y_orig) if sample_weight is None else (X, Y, y_orig, sample_weight)
        parts = train_test_split(*arrays, random_state=rs, test_size=self.validation_fraction, stratify=stratify)
        X, X_val, Y, _, _, y_val = parts[:6]
        w, w_val = parts[6:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                             "your dataset.")
        return X, Y, w, X_val, y_val, w_val

    def _end_of_epoch(self, validation: tuple) -> bool:
        """Update the no-improvement count and the learning rate; True to stop."""
        self._update_no_improvement_count(*validation)
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            self._set_lr(float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t)
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        what = "Validation score did not improve" if self.early_stopping else "Training loss did not improve"
        msg = f"{what} more than tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs."
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self._lr <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self._set_lr(self._lr / 5.0)
        if self.verbose:
            print(msg + f" Setting learning rate to {self._lr:f}")
        self._no_improvement_count = 0
        return False

    def _update_no_improvement_count(self, X_val, y_val, w_val) -> None:
        if self.early_stopping:
            score = self._score_arrays(X_val, y_val, w_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            self._no_improvement_count = (self._no_improvement_count + 1
                                          if score < self.best_validation_score_ + self.tol else 0)
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self._model.flat_parameter.data.copy()
        else:
            last = self.loss_curve_[-1]
            self._no_improvement_count = self._no_improvement_count + 1 if last > self.best_loss_ - self.tol else 0
            self.best_loss_ = min(self.best_loss_, last)

    def _set_lr(self, lr: float) -> None:
        """scikit-learn's velocity holds lr-scaled gradients, denso's momentum buffer raw ones: rescale the
        buffer so that the next step continues scikit-learn's velocity exactly."""
        if lr > 0 and self.momentum > 0:
            for buffer in self._model.optimizer.slot_buffers(0):
                buffer *= self._lr / lr
        self._lr = lr

    # ---- prediction --------------------------------------------------------------------------------
    def _forward(self, X, validate: bool = True) -> np.ndarray:
        """The output layer's activations (probabilities for classifiers), (n, n_outputs_)."""
        check_is_fitted(self, "_model")
        if validate:
            X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        X = np.ascontiguousarray(X, dtype=self._model.dtype)
        with self._threads():
            return self._model.predict(X)

    def _check_X_y(self, X, y, reset: bool, **kwargs) -> tuple:
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32), reset=reset, **kwargs)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _samples(self, X, Y, sample_weight=None):
        X = np.ascontiguousarray(X, dtype=self._model.dtype)
        return check_samples(self._model, X, self._denso_targets(Y), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.non_deterministic = False
        return tags


class _ThreadCount:
    """Run with `n` denso threads, then restore the previous count."""

    def __init__(self, n: int):
        self.n, self.previous = n, None

    def __enter__(self):
        self.previous = get_num_threads()
        set_num_threads(self.n)

    def __exit__(self, *exc):
        set_num_threads(self.previous)
