"""Compiled Numba kernels of pykernels (installed as ``pykernels.kernels``).

Hot loops only: arrays in, arrays out, the caller allocates.  Inputs are trusted;
checking happens once, in :mod:`pykernels`.  This package imports nothing from
``pykernels``.  The names re-exported here are the ``"numba"`` backend's kernels;
the ``"numpy"`` reference (:mod:`pykernels.reference`) has the same names.
"""

from .coloring import greedy_coloring as coloring_greedy
from .coloring import smallest_last_order as coloring_smallest_last_order
from .coloring import star_coloring as coloring_star
from .fd import fd_drivers, fd_from_cffi, fd_steps
from .mlp import mlp_loss, mlp_loss_and_grad, mlp_predict, workspace_size
from .optim import (adagrad_update, adam_update, momentum_update, nesterov_update,
                    rmsprop_update, sgd_update)
from .rop import mlp_gnvp, mlp_hvp, mlp_jacobian, mlp_rop, rop_workspace_size

__all__ = ["mlp_loss", "mlp_loss_and_grad", "mlp_predict", "workspace_size",
           "sgd_update", "momentum_update", "nesterov_update", "adagrad_update",
           "rmsprop_update", "adam_update",
           "mlp_hvp", "mlp_gnvp", "mlp_rop", "mlp_jacobian", "rop_workspace_size",
           "fd_drivers", "fd_from_cffi", "fd_steps", "coloring_greedy",
           "coloring_smallest_last_order", "coloring_star"]
