"""fastbackprop: fast CPU training of multilayer perceptrons, with
backpropagation written from scratch in Numba."""

from ._blas_provider import provider as blas_provider
from ._config import get_num_threads, set_num_threads
from ._warmup import compile
from .gradcheck import check_gradients
from .history import History, NonFiniteLossError
from .network import Network, PassReport
from .state import TrainingState

__version__ = "0.1.0"

__all__ = [
    "Network",
    "History",
    "NonFiniteLossError",
    "PassReport",
    "TrainingState",
    "blas_provider",
    "check_gradients",
    "compile",
    "get_num_threads",
    "set_num_threads",
    "__version__",
]
