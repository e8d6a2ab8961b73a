"""``@njit`` functions with which ``pykernels warmup`` compiles the drivers that take a
user's compiled function (their types are what every ``@njit`` f of the same
signature brings, so the drivers serve any of them from the cache)."""

import numba
import numpy as np


@numba.njit(cache=True)
def scalar(x):
    """Sum of squares plus a coupling term: a smooth scalar function."""
    return np.sum(x * x) + x[0] * x[-1]


@numba.njit(cache=True)
def scalar_grad(x):
    """Gradient of :func:`scalar`."""
    g = 2.0 * x
    g[0] += x[-1]
    g[-1] += x[0]
    return g


@numba.njit(cache=True)
def vector(x):
    """Elementwise map x -> x**3 (a diagonal Jacobian)."""
    return x * x * x
