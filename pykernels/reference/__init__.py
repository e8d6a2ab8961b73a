"""The ``"numpy"`` backend: plain NumPy references of every kernel.

Written for clarity, not speed; they are the oracle the compiled backends are
tested against.  Each function has the signature of its compiled twin in
:mod:`pykernels.kernels` (workspace arguments are accepted and ignored).
"""

import numpy as np

from .fd import fd_drivers, fd_steps
from .mlp import mlp_loss, mlp_loss_and_grad, mlp_predict, workspace_size
from .optim import (adagrad_update, adam_update, momentum_update, nesterov_update,
                    rmsprop_update, sgd_update)
from .rop import mlp_gnvp, mlp_hvp, mlp_jacobian, rop_workspace_size

__all__ = ["mlp_loss", "mlp_loss_and_grad", "mlp_predict", "workspace_size",
           "sgd_update", "momentum_update", "nesterov_update", "adagrad_update",
           "rmsprop_update", "adam_update",
           "mlp_hvp", "mlp_gnvp", "mlp_jacobian", "rop_workspace_size",
           "fd_drivers", "fd_steps", "all_finite"]


def all_finite(x):
    """True when no entry of ``x`` is NaN or +-Inf.

    Parameters
    ----------
    x : ndarray, shape (n,)

    Returns
    -------
    bool
    """
    return bool(np.isfinite(x).all())
