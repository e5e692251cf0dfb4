"""MLPRegressor: scikit-learn's MLPRegressor (same parameters, attributes and behaviour) on denso."""
from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score

from ._base import BaseMLP


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor with scikit-learn's interface, trained by denso's C++ core.

    Parameters, defaults and fitted attributes are those of ``sklearn.neural_network.MLPRegressor``
    (squared error — scikit-learn's half squared error — with an identity output; ``loss='poisson'``
    is not supported yet). See :class:`denso.sklearn.MLPClassifier` for ``dropout``, ``dtype``
    (float32 by default) and ``n_threads``. A 2-D ``y`` is multi-output regression.
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, dtype="float32", n_threads=None):
        self.loss = loss
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
                         early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
                         dropout=dropout, dtype=dtype, n_threads=n_threads)

    def _validate_input(self, X, y, incremental: bool, reset: bool) -> tuple:
        if self.loss != "squared_error":
            raise ValueError(f"`loss` must be 'squared_error' (denso.sklearn does not support 'poisson' yet), "
                             f"got {self.loss!r}")
        X, y = self._check_X_y(X, y, reset, y_numeric=True)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        return X, Y, y

    def _output_activation(self, Y) -> str:
        return "identity"

    def _denso_targets(self, Y) -> np.ndarray:
        return np.ascontiguousarray(Y, dtype=self._model.dtype)

    def _is_classifier(self) -> bool:
        return False

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), each sample's loss weighted by `sample_weight` if given."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X) -> np.ndarray:
        """Predictions (n_samples,), or (n_samples, n_outputs) for a 2-D y."""
        return self._predict(X, validate=True)

    def _predict(self, X, validate: bool) -> np.ndarray:
        y_pred = self._forward(X, validate)
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred

    def _score_arrays(self, X, y, sample_weight=None) -> float:
        """R² on already validated arrays (the early-stopping validation score)."""
        y_pred = self._predict(X, validate=False)
        if not np.isfinite(y_pred).all():
            return np.nan
        return r2_score(y, y_pred, sample_weight=sample_weight)
