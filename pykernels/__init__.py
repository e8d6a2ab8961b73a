"""pykernels: compiled CPU kernels for neural networks, derivatives and optimizers.

Backends (``pk.backends()``): ``"numba"``, ``"c"`` (when built), and the pure-NumPy
reference ``"numpy"``.  The default is ``"c"`` when it is built, else ``"numba"``;
Numba itself is imported only when something first needs it.
"""

from ._backend import BackendUnavailable, backends, get_backend, set_backend, use_backend
from .derivatives import check_grad, gradient, hessian, hvp, jacobian
from .network import MLP
from .curvature import LipschitzEstimate, hessian_eigs, lipschitz, stationary_points
from . import optim
from .train import train
from .optimize import Objective, OptimizeResult, minimize

__version__ = "0.1.0"

__all__ = ["MLP", "BackendUnavailable", "backends", "get_backend", "set_backend",
           "hessian_eigs", "lipschitz", "LipschitzEstimate", "stationary_points",
           "use_backend", "__version__", "gradient", "jacobian", "hessian", "hvp",
           "check_grad", "optim", "train",
           "minimize", "OptimizeResult", "Objective"]
