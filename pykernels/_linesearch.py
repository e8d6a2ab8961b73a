"""The two line searches of ``pk.minimize``; both shrink on a NaN/Inf trial value.

* :func:`backtracking` -- Armijo sufficient decrease along a (projected) path; used
  by the first-order methods with ``linesearch=True``, by ``newton`` and ``newton-cg``.
* :func:`strong_wolfe` -- strong Wolfe conditions (needed for L-BFGS updates to stay
  positive definite); the bracketing logic is the reverse-communication
  :func:`pykernels.reference.optim.wolfe_next`, the NumPy twin of the kernel the
  compiled loop uses (:func:`pykernels.kernels.optim.wolfe_next`).
"""

import numpy as np

from .reference import optim as _k

__all__ = ["backtracking", "strong_wolfe"]


def backtracking(run, x, f, g, d, step=1.0, *, c1=1e-4, shrink=0.5, max_shrinks=60):
    """Largest ``t = step * shrink**k`` with f(P(x + t d)) <= f + c1 g.(P(x + t d) - x).

    Parameters
    ----------
    run : Run
        Evaluates (and counts) f.
    x : ndarray
        The current point, with value ``f`` and gradient ``g``.
    f : float
    g, d : ndarray
        Gradient at ``x`` and search direction.
    step : float
        First trial step.
    c1, shrink : float
        Sufficient-decrease constant and the factor of each backtrack.
    max_shrinks : int

    Returns
    -------
    tuple or None
        ``(t, x_new, f_new)``, or None when no such step exists within
        ``max_shrinks`` halvings.  A NaN/Inf value is a failed trial (shrink, go on).
    """
    t = step
    for _ in range(max_shrinks):
        xt = x + t * d
        if run.project is not None:
            xt = run.project(xt)
        ft = run.f(xt)
        if np.isfinite(ft) and ft <= f + c1 * float(g @ (xt - x)):
            return t, xt, ft
        t *= shrink
    return None


def strong_wolfe(run, x, f, g, d, step=1.0, *, c1=1e-4, c2=0.9):
    """Step satisfying the strong Wolfe conditions along the descent direction ``d``.

    Parameters
    ----------
    run : Run
        Evaluates (and counts) f and its gradient.
    x, f, g, d, step
        As for :func:`backtracking`.
    c1, c2 : float
        Sufficient-decrease and curvature constants.

    Returns
    -------
    tuple or None
        ``(t, x_new, f_new, g_new)``, or None when the search fails without any
        decrease.
    """
    state = np.empty(_k.WOLFE_STATE_SIZE)
    _k.wolfe_init(state, f, float(g @ d), c1, c2)
    t = step
    while True:
        xt = x + t * d
        ft, gt = run.fg(xt)
        t_next = _k.wolfe_next(state, t, ft, float(gt @ d))
        if t_next == _k.WOLFE_DONE:
            return t, xt, ft, gt
        if t_next == _k.WOLFE_FAIL:
            lo = _k.wolfe_lower(state)
            if lo <= 0.0:
                return None
            xt = x + lo * d
            ft, gt = run.fg(xt)
            return lo, xt, ft, gt
        t = t_next
