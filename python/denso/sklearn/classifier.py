"""MLPClassifier: scikit-learn's MLPClassifier (same parameters, attributes and behaviour) on denso."""
from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted

from ._base import BaseMLP


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier with scikit-learn's interface, trained by denso's C++ core.

    Parameters, defaults and fitted attributes are those of ``sklearn.neural_network.MLPClassifier``
    (solver 'adam' or 'sgd'; 'lbfgs' raises; ``max_fun`` is accepted and, as in scikit-learn for
    these solvers, unused). denso's extras change nothing at their defaults except the precision:

    - ``dropout`` (0.0): inverted dropout after every hidden layer, in training only.
    - ``dtype`` ('float32'): the precision of weights and arithmetic. scikit-learn computes in the
      input's dtype (float64 for most inputs); pass ``dtype='float64'`` to match it closely.
    - ``n_threads`` (None): denso threads during fit/predict (None keeps denso's current setting).
    - ``class_weight`` (None): a dict {label: weight} or 'balanced' (n_samples / (n_classes ·
      count)): each sample's loss is weighted by its class's weight, times its ``sample_weight``.

    One logistic output for two classes, softmax for more, one logistic output per label for a 2-D
    0/1 ``y`` (multi-label). ``predict_proba`` returns (n_samples, n_classes).
    """

    def __init__(self, *args, class_weight=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_weight = class_weight

    # scikit-learn reads the parameters from the signature: BaseMLP's, then class_weight.
    __init__.__signature__ = inspect.signature(BaseMLP.__init__).replace(parameters=[
        *inspect.signature(BaseMLP.__init__).parameters.values(),
        inspect.Parameter("class_weight", inspect.Parameter.KEYWORD_ONLY, default=None)])

    def _sample_weights(self, X, y, sample_weight):
        """`sample_weight` times the weight of each sample's class (`class_weight`)."""
        weights = super()._sample_weights(X, y, sample_weight)
        if self.class_weight is None:
            return weights
        by_class = compute_sample_weight(self.class_weight, y)
        return by_class if weights is None else weights * by_class

    def _validate_input(self, X, y, incremental: bool, reset: bool) -> tuple:
        X, y = self._check_X_y(X, y, reset)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the "
                                     f"previous call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(bool), y

    def _output_activation(self, Y) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _denso_targets(self, Y) -> np.ndarray:
        """Class indices for softmax; 0/1 columns for logistic outputs."""
        if self.out_activation_ == "softmax":
            return np.argmax(Y, axis=1).astype(np.int64)
        return Y.astype(self._model.dtype)

    def _is_classifier(self) -> bool:
        return True

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), each sample's loss weighted by `sample_weight` if given. `classes` (all
        labels) is required on the first call."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted labels (n_samples,), or a 0/1 indicator matrix for multi-label."""
        return self._predict(X, validate=True)

    def _predict(self, X, validate: bool):
        y_pred = self._forward(X, validate)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities (n_samples, n_classes) in the order of `classes_` (float64)."""
        check_is_fitted(self, "_model")
        y_pred = self._forward(X).astype(np.float64)
        if self.n_outputs_ == 1:
            return np.column_stack([1.0 - y_pred[:, 0], y_pred[:, 0]])
        return y_pred

    def predict_log_proba(self, X) -> np.ndarray:
        """log(predict_proba(X))."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def _score_arrays(self, X, y, sample_weight=None) -> float:
        """Accuracy on already validated arrays (the early-stopping validation score)."""
        return accuracy_score(y, self._predict(X, validate=False), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
