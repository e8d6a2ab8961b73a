"""Second-order methods of ``pk.minimize``: modified Newton and truncated Newton-CG."""

import numpy as np

from ._linesearch import backtracking
from ._runner import Stop

__all__ = ["newton", "newton_cg"]


def _newton_direction(H, g, beta=1e-3):
    """d = -(H + tau I)^-1 g with the smallest tau (0, beta, 2 beta, ...) making H + tau I
    positive definite: "Cholesky with added multiple of the identity" (Nocedal & Wright,
    Algorithm 3.3), so d is a descent direction even where H is indefinite.
    """
    from scipy.linalg import LinAlgError, cho_factor, cho_solve
    H = 0.5 * (H + H.T)
    scale = max(1.0, float(np.max(np.abs(np.diag(H)))))
    dmin = float(np.min(np.diag(H)))
    tau = 0.0 if dmin > 0 else beta * scale - dmin
    eye = np.eye(len(g))
    while True:
        try:
            factor = cho_factor(H + tau * eye)
            break
        except LinAlgError:
            tau = max(2.0 * tau, beta * scale)
    return -cho_solve(factor, g)


def _truncated_cg(hvp, g, maxiter):
    """Approximate solution of H d = -g by CG, stopped early (Nocedal & Wright, Alg. 7.1).

    Stops at the forcing tolerance min(0.5, sqrt|g|) |g|, or on negative curvature:
    then the iterate so far is returned (-g if that happens on the first step).
    """
    gnorm = float(np.linalg.norm(g))
    tol = min(0.5, np.sqrt(gnorm)) * gnorm
    z = np.zeros_like(g)
    r = g.copy()
    p = -r
    rr = float(r @ r)
    for j in range(maxiter):
        Hp = hvp(p)
        curvature = float(p @ Hp)
        if not curvature > 0.0:
            return -g if j == 0 else z
        a = rr / curvature
        z += a * p
        r += a * Hp
        rr_new = float(r @ r)
        if np.sqrt(rr_new) <= tol:
            break
        p = -r + (rr_new / rr) * p
        rr = rr_new
    return z


def _descend(run, x, f, g, d):
    found = backtracking(run, x, f, g, d, 1.0)
    if found is None:
        raise Stop(7, "line search found no decrease along the Newton direction")
    _, x, f = found
    return x, f, run.grad(x)


def newton(run, x):
    """Newton's method on the dense Hessian, modified to descend, with Armijo backtracking.

    Parameters
    ----------
    run : pykernels._runner.Run
        Evaluations, budgets and the stopping rule.
    x : ndarray, shape (n,)
        Starting point.

    Raises
    ------
    Stop
        Always: the run ends by a criterion of ``run`` (or a failed line search).
    """
    f, g = run.start(x)
    while True:
        x, f, g = _descend(run, x, f, g, _newton_direction(run.hess(x), g))
        run.iterate(x, f, g)


def newton_cg(run, x, *, cg_maxiter=None):
    """Truncated Newton: CG on Hessian-vector products, stopped on negative curvature.

    Parameters
    ----------
    run : pykernels._runner.Run
        Evaluations, budgets and the stopping rule.
    x : ndarray, shape (n,)
        Starting point.
    cg_maxiter : int, optional
        Cap on the CG iterations of each Newton step (default ``2 n``).

    Raises
    ------
    Stop
        Always: the run ends by a criterion of ``run`` (or a failed line search).
    """
    maxiter = 2 * x.size if cg_maxiter is None else cg_maxiter
    f, g = run.start(x)
    while True:
        xk = x
        d = _truncated_cg(lambda v: run.hvp(xk, v), g, maxiter)
        x, f, g = _descend(run, x, f, g, d)
        run.iterate(x, f, g)
