"""pykernels: compiled CPU kernels for neural networks, derivatives and optimizers.

Backends (``pk.backends()``): ``"numba"`` (default), ``"c"`` (when built), and the
pure-NumPy reference ``"numpy"``.
"""

from ._backend import BackendUnavailable, backends, get_backend, set_backend, use_backend
from .network import MLP
from . import optim
from .train import train

__version__ = "0.1.0"

__all__ = ["MLP", "BackendUnavailable", "backends", "get_backend", "set_backend",
           "use_backend", "__version__", "optim", "train"]
