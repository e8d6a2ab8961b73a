"""Run pykernels' methods from ``scipy.optimize.minimize`` code, unchanged.

>>> import numpy as np, scipy.optimize as so
>>> from pykernels.scipy_bridge import method
>>> res = so.minimize(so.rosen, np.zeros(4), method=method("lbfgs"), jac=so.rosen_der,
...                   options={"gtol": 1e-8})
>>> type(res).__name__, bool(res.success), bool(np.allclose(res.x, 1.0, atol=1e-6))
('OptimizeResult', True, True)
"""

import inspect

from ._checks import choice
from .optimize import METHODS, minimize

__all__ = ["method"]


def _scipy_callback(callback):
    """scipy's convention: ``callback(intermediate_result)`` if the parameter has that
    name, else the legacy ``callback(xk)``."""
    if callback is None:
        return None
    try:
        params = inspect.signature(callback).parameters
    except (TypeError, ValueError):
        params = {}
    if "intermediate_result" in params:
        return callback
    return lambda intermediate_result: callback(intermediate_result.x)


def method(name):
    """A callable for ``scipy.optimize.minimize(..., method=method(name))``.

    Parameters
    ----------
    name : str
        A method of :func:`pykernels.minimize` (e.g. ``"lbfgs"``, ``"newton-cg"``,
        ``"adam"``, ``"genetic"``).

    Returns
    -------
    callable
        ``minimizer(fun, x0, args, jac, hess, hessp, bounds, constraints, callback,
        **options)`` as scipy calls custom methods.  ``options`` may hold
        ``maxiter``, ``tol``, ``seed`` and anything :func:`pykernels.minimize` takes in
        ``options``.  Finite-difference ``jac`` strings (``"2-point"`` ...) mean
        "no gradient given".  Returns a ``scipy.optimize.OptimizeResult``.

    Raises
    ------
    ValueError
        If ``name`` is not a method of :func:`pykernels.minimize` (and, from the
        returned callable, on ``constraints`` or anything :func:`minimize` rejects).
    """
    choice(name, "name", METHODS)

    def minimizer(fun, x0, args=(), jac=None, hess=None, hessp=None, bounds=None,
                  constraints=(), callback=None, **options):
        from scipy.optimize import OptimizeResult
        if constraints:
            raise ValueError(f"constraints are not supported by pykernels' {name!r}")
        maxiter = options.pop("maxiter", None)
        tol = options.pop("tol", None)
        seed = options.pop("seed", None)
        options.pop("disp", None)
        res = minimize(fun, x0, method=name, jac=None if isinstance(jac, str) else jac,
                       hess=None if isinstance(hess, str) else hess, hessp=hessp, args=args,
                       bounds=bounds, maxiter=maxiter, tol=tol, seed=seed,
                       callback=_scipy_callback(callback), options=options)
        return OptimizeResult(**res)

    minimizer.__name__ = minimizer.__qualname__ = f"pykernels_{name.replace('-', '_')}"
    minimizer.__doc__ = f"pykernels.minimize(method={name!r}) behind scipy's interface."
    return minimizer
