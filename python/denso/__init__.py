"""denso: fast dense neural networks on the CPU.

The graph API: Tensor, no_grad, the ops in `denso.functional` (re-exported here), gradcheck.
The kernels are C++ (Eigen, OpenBLAS, a thread pool of its own) under `denso._core`.
"""
from ._blas_kernel import preferred_kernel

with preferred_kernel():  # OpenBLAS picks its kernels when _core loads it
    from . import _core
from .threads import get_num_threads, set_num_threads
from .autograd import Tensor, is_grad_enabled, no_grad
from .ops import exp, log, matmul  # importing ops and functional attaches Tensor's operators and methods
from .functional import (
    binary_crossentropy,
    categorical_crossentropy,
    dense,
    elu,
    gelu,
    huber,
    leaky_relu,
    log_softmax,
    mae,
    mse,
    relu,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    step,
    swish,
    tanh,
)
from .gradcheck import gradcheck
from . import callbacks, distributed, initializers, losses, metrics, optim  # distributed imports mpi4py lazily
from .callbacks import (CSVLogger, EarlyStopping, History, LambdaCallback, LearningRateScheduler, ModelCheckpoint,
                        ReduceLROnPlateau, TerminateOnNaN)
from .trainer import TrainingDiverged
from .loading import load_model
from .model import Sequential
from .nn import Dense, Dropout, GaussianNoise
from . import interop, onnx  # export and PyTorch interop: they import onnx / torch only when called

__version__ = _core.__version__

__all__ = [
    "Tensor", "no_grad", "is_grad_enabled", "gradcheck",
    "dense", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "step",
    "gelu", "elu", "selu", "softplus", "swish", "silu",
    "exp", "log", "matmul",
    "mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy",
    "set_num_threads", "get_num_threads", "__version__",
    "Sequential", "Dense", "Dropout", "GaussianNoise", "load_model", "TrainingDiverged",
    "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler", "LambdaCallback",
    "ReduceLROnPlateau", "CSVLogger", "TerminateOnNaN",
    "optim", "callbacks", "distributed", "initializers", "losses", "metrics", "onnx", "interop",
]
