"""Small generated data sets (no downloads)."""

import numpy as np

from ._checks import fits_in_memory, float_dtype, positive_int, real
from ._checks import seed as check_seed

__all__ = ["spirals"]


def spirals(n=600, *, classes=2, turns=1.0, noise=0.1, seed=0, dtype=np.float64):
    """Interleaved spiral arms in the plane, one arm per class.

    Parameters
    ----------
    n : int
        Number of points (split as evenly as possible between the classes).
    classes : int
        Number of arms (classes), at least 2.
    turns : float
        How many times each arm winds around the origin.
    noise : float
        Standard deviation of the Gaussian noise, relative to the arms' length.
    seed : int
        Seed of the generator; the same seed gives the same points.
    dtype : float32 or float64

    Returns
    -------
    X : ndarray, shape (n, 2)
        Points within about [-2.5, 2.5]^2 (roughly unit standard deviation, so
        networks train without rescaling).
    y : ndarray of int64, shape (n,)
        Class label (arm index) of each point.

    Examples
    --------
    >>> X, y = spirals(200, seed=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((200, 2), [0, 1])
    """
    n = positive_int(n, "n")
    classes = positive_int(classes, "classes", minimum=2)
    turns = real(turns, "turns", low=0.0, low_open=True)
    noise = real(noise, "noise", low=0.0)
    dtype = float_dtype(dtype)
    fits_in_memory(8 * n, 8, "n", f"{n} points and their work arrays")
    rng = np.random.default_rng(check_seed(seed))
    y = np.arange(n) % classes
    radius = rng.uniform(0.05, 1.0, n)
    angle = 2 * np.pi * (turns * radius + y / classes)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    X += noise * rng.standard_normal(X.shape)
    return (2.5 * X).astype(dtype), y.astype(np.int64)
