"""scikit-learn estimators on denso: ``from denso.sklearn import MLPClassifier, MLPRegressor``.

Drop-in replacements for ``sklearn.neural_network.MLPClassifier``/``MLPRegressor`` (same parameter
names, defaults, fitted attributes and training rules; solvers 'adam' and 'sgd'). Needs scikit-learn:
``pip install 'denso[sklearn]'``. ``import denso`` does not import scikit-learn; this module does.
"""
try:
    import sklearn  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("denso.sklearn needs scikit-learn: pip install 'denso[sklearn]'") from error

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
