"""Compiled Numba kernels of pykernels (installed as ``pykernels.kernels``).

Hot loops only: arrays in, arrays out, the caller allocates.  Inputs are trusted;
checking happens once, in :mod:`pykernels`.  This package imports nothing from
``pykernels``.  The names re-exported here are the ``"numba"`` backend's kernels;
the ``"numpy"`` reference (:mod:`pykernels.reference`) has the same names.

Importing this package does not import Numba: each name is looked up, and its module
(and Numba with it) imported, at its first use (PEP 562), so a process served by
the C backend never pays for Numba's start-up.
"""

import importlib
import importlib.util

from ._gc import collector_paused

#: exported name -> (module, name in that module)
_EXPORTS = {
    "coloring_greedy": ("coloring", "greedy_coloring"),
    "coloring_smallest_last_order": ("coloring", "smallest_last_order"),
    "coloring_star": ("coloring", "star_coloring"),
    **{name: ("fd", name) for name in ("fd_drivers", "fd_from_cffi", "fd_steps")},
    **{name: ("mlp", name) for name in ("mlp_loss", "mlp_loss_and_grad", "mlp_predict",
                                        "workspace_size")},
    **{name: ("optim", name) for name in ("sgd_update", "momentum_update", "nesterov_update",
                                          "adagrad_update", "rmsprop_update", "adam_update")},
    **{name: ("rop", name) for name in ("mlp_hvp", "mlp_gnvp", "mlp_rop", "mlp_jacobian",
                                        "rop_workspace_size")},
    "all_finite": ("checks", "all_finite"),
}

__all__ = list(_EXPORTS)


def available():
    """Raise ImportError when Numba is not installed (checked without importing it)."""
    for package in ("numba", "llvmlite"):
        if importlib.util.find_spec(package) is None:
            raise ImportError(f"{package} is not installed")


def __getattr__(name):
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        with collector_paused():  # importing Numba with it: see ._gc
            value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    else:
        try:  # a submodule not imported yet: ``kernels.optim`` after ``from . import kernels``
            with collector_paused():
                value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
