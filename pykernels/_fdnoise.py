"""Noise-aware steps for ``step="auto"``: how noisy is ``f`` at ``x``, and which step
balances truncation and noise.

The default steps assume ``f`` is accurate to machine precision: the rounding error of
a difference is ``~ eps |f| / h``.  A simulation or an iterative solver inside ``f``
breaks that.  Here the noise level ``sigma`` of ``f`` is estimated from a difference
table along a line (ECnoise: J. J. Moré and S. M. Wild, "Estimating computational
noise", SIAM J. Sci. Comput. 33, 2011): ``f`` at ``x + (i - 4) delta p``,
``i = 0 ... 8``, ``p`` a fixed direction of random signs scaled like ``x``.  The k-th
differences of a smooth function shrink like ``delta**k`` while those of noise grow
like ``sqrt((2k)! / k!**2) sigma``, so the levels ``sqrt(gamma_k mean((Delta^k f)**2))``,
``gamma_k = k!**2 / (2k)!``, settle on ``sigma`` once the smooth part is gone; the first
of three consecutive levels that agree within a factor 4 (with differences of both
signs) is the estimate.  A table spanning more than 10 % of ``|f|`` is redone with a
step 100 times smaller; one without any difference, 100 times larger.

The relative noise ``eps_f = sigma / |f(x)|`` (at least ``eps``, at most 1e-2) then
replaces ``eps`` in the step rules: ``r = eps_f**(1/2)`` one-sided, ``eps_f**(1/3)``
central (``eps_f**(1/3)`` and ``eps_f**(1/4)`` for second differences), which are the
default steps exactly when ``f`` is noise-free.
"""

from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(np.float64).eps)
POINTS = 9            # the table: f at x + (i - 4) delta p, i < POINTS
FIRST_DELTA = 1e-3    # relative spacing of the first table
ATTEMPTS = 3          # tables tried before falling back to machine precision
MAX_RELATIVE = 1e-2   # noise above 1 % of |f| is taken as 1 %
#: exponent of the relative noise in the step rule of each method
FIRST_POWER = {"forward": 1 / 2, "backward": 1 / 2, "central": 1 / 3}
SECOND_POWER = {"forward": 1 / 3, "backward": 1 / 3, "central": 1 / 4}
#: per-entry error bound as a multiple of noise / |h| (noise and truncation balanced):
#: central differences two values (noise ~ 0.7 sigma / h each way), one-sided two
#: values one step apart (~ 1.4 sigma / h)
BOUND = {"forward": 6.0, "backward": 6.0, "central": 3.0}


@dataclass(frozen=True)
class DifferenceInfo:
    """What ``step="auto"`` found (returned with ``full_output=True``).

    Attributes
    ----------
    noise : float or ndarray of shape (m,)
        Estimated noise (standard deviation) of ``f`` at ``x``, per component of a
        vector ``f``; machine precision ``eps |f(x)|`` when none was detected.
    step : ndarray, shape (n,)
        The signed step taken in each component.
    error : ndarray
        Estimated error bound of every entry (noise and truncation balanced; for
        ``richardson`` its own estimate, with this noise as the rounding term).
    """

    noise: object
    step: np.ndarray
    error: np.ndarray


def ecnoise(table):
    """Noise level of each column of ``table`` (POINTS, c), NaN where undetected, and
    why: 0 found, 1 spread too wide (smaller spacing), 2 no difference at all (larger
    spacing), 3 no agreement (smaller spacing)."""
    c = table.shape[1]
    noise = np.full(c, np.nan)
    status = np.full(c, 3)
    fmin, fmax = table.min(axis=0), table.max(axis=0)
    wide = (fmax - fmin) > 0.1 * np.maximum(np.abs(fmin), np.abs(fmax))
    flat = fmax == fmin
    levels = np.empty((POINTS - 1, c))
    signs = np.empty((POINTS - 1, c), bool)
    d, gamma = table, 1.0
    for k in range(1, POINTS):
        d = np.diff(d, axis=0)
        gamma *= 0.5 * k / (2 * k - 1)
        levels[k - 1] = np.sqrt(gamma * np.mean(d * d, axis=0))
        signs[k - 1] = (d.min(axis=0) < 0) & (d.max(axis=0) > 0)
    for k in range(POINTS - 3):
        run = levels[k:k + 3]
        agree = (run.max(axis=0) <= 4.0 * run.min(axis=0)) & signs[k] & np.isnan(noise)
        noise[agree] = levels[k][agree]
    status[~np.isnan(noise)] = 0
    status[wide] = 1
    status[flat] = 2
    noise[wide | flat] = np.nan
    return noise, status


def noise_level(values_at, x, f0, lo, hi):
    """Estimated noise of ``f`` at ``x`` (scalar for a scalar f, (m,) for a vector one).

    ``values_at(rows)`` returns f at the rows of a (k, n) array as a (k,) or (k, m)
    array; ``f0`` is f(x); the table's points stay inside ``[lo, hi]``.
    """
    f0 = np.atleast_1d(np.asarray(f0, dtype=float))
    n = x.size
    signs = np.where(np.random.default_rng(0).random(n) < 0.5, -1.0, 1.0)
    p = signs * np.maximum(1.0, np.abs(x)) / np.sqrt(n)
    room = np.minimum(x - lo, hi - x)
    p[room <= 0] = 0.0   # on a bound: move along the other components
    moving = p != 0
    limit = 0.25 * np.min(room[moving] / np.abs(p[moving])) if moving.any() else 0.0
    noise = np.full(f0.size, np.nan)
    delta = min(FIRST_DELTA, limit)
    offsets = np.arange(POINTS) - POINTS // 2
    for _ in range(ATTEMPTS):
        if not delta > 0:
            break
        rows = x + (offsets * delta)[:, None] * p
        rows[POINTS // 2] = x
        table = np.empty((POINTS, f0.size))
        others = np.arange(POINTS) != POINTS // 2
        table[others] = np.asarray(values_at(rows[others]), dtype=float).reshape(
            POINTS - 1, f0.size)
        table[POINTS // 2] = f0
        if not np.all(np.isfinite(table)):
            delta /= 100.0
            continue
        found, status = ecnoise(table)
        todo = np.isnan(noise)
        noise[todo] = found[todo]
        left = status[np.isnan(noise)]
        if not left.size:
            break
        # the spacing most undetected components ask for
        delta = min(delta * 100.0, limit) if np.sum(left == 2) > left.size / 2 \
            else delta / 100.0
    # undetected: machine precision, what the default steps assume
    noise = np.where(np.isnan(noise), EPS * np.abs(f0), noise)
    return noise, f0


def relative_noise(noise, f0):
    """The relative noise of the step rules: ``noise / |f0|`` in [eps, MAX_RELATIVE]
    (an ``f(x)`` near zero counts as ``100 noise``), the largest over components."""
    scale = np.maximum(np.abs(f0), noise / MAX_RELATIVE)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(scale > 0, noise / scale, 0.0)
    return float(np.clip(np.max(rel), EPS, MAX_RELATIVE))
