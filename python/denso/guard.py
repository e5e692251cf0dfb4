"""Who may change a model while fit() runs on it.

fit() holds the model for its whole run. Another fit(), compile(), build() or set_weights() on the
same model then raises a RuntimeError naming the model, instead of interleaving updates with it. The
thread running fit may still set weights from its callbacks (EarlyStopping restores the best ones).
"""
from __future__ import annotations

import contextlib
import threading


class TrainingGuard:
    def __init__(self):
        self._lock = threading.Lock()
        self._owner = None  # the thread running fit, while it runs

    @contextlib.contextmanager
    def fitting(self, model_name: str):
        """Hold the model for fit(); RuntimeError if fit or a change already holds it."""
        if not self._lock.acquire(blocking=False):
            raise RuntimeError(f"model {model_name!r} is busy: {self._holder()} is running on it; "
                               "fit() cannot start until it returns (use one model per thread)")
        self._owner = threading.get_ident()
        try:
            yield
        finally:
            self._owner = None
            self._lock.release()

    @contextlib.contextmanager
    def changing(self, model_name: str, what: str, from_fit_ok: bool = False):
        """Hold the model for a change (`what`); `from_fit_ok` lets fit's own thread make it."""
        if from_fit_ok and self._owner == threading.get_ident():
            yield
            return
        if not self._lock.acquire(blocking=False):
            raise RuntimeError(f"model {model_name!r} is busy: {self._holder()} is running on it; "
                               f"{what} must wait until it returns")
        try:
            yield
        finally:
            self._lock.release()

    def _holder(self) -> str:
        owner = self._owner
        if owner is None:
            return "another change"
        return "fit() in this thread" if owner == threading.get_ident() else "fit() in another thread"
