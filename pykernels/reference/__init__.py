"""The ``"numpy"`` backend: plain NumPy references of every kernel.

Written for clarity, not speed; they are the oracle the compiled backends are
tested against.  Each function has the signature of its compiled twin in
:mod:`pykernels.kernels` (workspace arguments are accepted and ignored).
"""

from .mlp import mlp_loss, mlp_loss_and_grad, mlp_predict, workspace_size

__all__ = ["mlp_loss", "mlp_loss_and_grad", "mlp_predict", "workspace_size"]
