"""First-order methods of ``pk.minimize`` on a flat vector: the ``pk.optim`` rules and L-BFGS.

Each method is ``method(run, x, **options)`` and loops until ``run`` raises ``Stop``
(see :mod:`._runner`).  The Python loops serve plain callables with NumPy (L-BFGS
needs no Numba); :func:`compiled_run` runs the whole loop in Numba for ``@njit``
``fun`` and ``jac``.
"""

import sys

import numpy as np

from . import _backend
from ._linesearch import strong_wolfe
from ._runner import Stop
from .optim import copy_state
from .reference import optim as _numpy_optim

__all__ = ["first_order", "lbfgs"]


def _search_step(run, opt, module, x, f, g, state, lr, c1=1e-4, max_shrinks=60):
    """The optimizer's step, its rate halved until Armijo holds on the realised step.

    A step that is not a descent direction (momentum pointing uphill) restarts the
    optimizer's state (Nesterov-style restart); a NaN/Inf value counts as a failure.
    Returns (x_new, f_new, state_new, lr_used).
    """
    fresh = opt.init(x)
    for _ in range(max_shrinks):
        trial, trial_state = x.copy(), copy_state(state)
        opt._apply(module, trial, g, trial_state, lr)
        if run.project is not None:
            trial = run.project(trial)
        slope = float(g @ (trial - x))
        if slope >= 0.0 and state["step"] > fresh["step"]:
            state = fresh                      # restart: the fresh step is along -g
            continue
        ft = run.f(trial)
        if np.isfinite(ft) and ft <= f + c1 * slope:
            return trial, ft, trial_state, lr
        lr *= 0.5
    raise Stop(7, "line search found no decrease along the optimizer's step")


def _curvature_step(run, x0, fallback):
    """1 / L, L the largest eigenvalue of the Hessian at ``x0`` (Lanczos on the
    Hessian-vector products, counted in ``nhev``); ``fallback`` if L <= 0."""
    from .curvature import hessian_eigs

    largest = hessian_eigs(lambda v: run.hvp(x0, v), x0.size, k=1, which="largest",
                           tol=1e-6).values[-1]
    return 1.0 / largest if largest > 0 else fallback


def first_order(run, x, *, opt, linesearch=False, grow=2.0, auto_step=False):
    """gd, momentum, nesterov, adagrad, rmsprop, adam: ``opt`` is a ``pk.optim`` object.

    With a fixed step (``linesearch=False``) each iteration is exactly
    ``x, state = opt.step(x, g(x), state)`` (then projected onto the bounds).  With
    ``linesearch=True`` the learning rate backtracks from ``grow`` times the last
    accepted rate until the step decreases f enough (Armijo).

    Parameters
    ----------
    run : pykernels._runner.Run
        Evaluations, budgets and the stopping rule.
    x : ndarray, shape (n,)
        Starting point.
    opt : pk.optim optimizer
    linesearch : bool
    grow : float
        Growth of the learning rate after an accepted step (with ``linesearch``).
    auto_step : bool
        Set ``opt.lr`` to 1 / L, L the largest eigenvalue of the Hessian at ``x``
        (after f and the gradient there: a run that ends in the products still
        reports f(x)).

    Raises
    ------
    Stop
        Always: the run ends by a criterion of ``run`` (or a failed line search).
    """
    module = _backend.resolve(opt.backend)
    x = x.copy()
    state = opt.init(x)
    f, g = run.start(x)
    if auto_step:
        opt.lr = _curvature_step(run, x, opt.lr)
    lr = opt.lr
    while True:
        if linesearch:
            x, f, state, lr = _search_step(run, opt, module, x, f, g, state, lr)
            g = run.grad(x)
            lr *= grow
        else:
            opt._apply(module, x, g, state, opt.lr)
            if run.project is not None:
                x[...] = run.project(x)
            f, g = run.fg(x)
        run.iterate(x, f, g)


def lbfgs(run, x, *, memory=10):
    """Limited-memory BFGS with a strong-Wolfe line search (Nocedal & Wright, Alg. 7.5).

    Parameters
    ----------
    run : pykernels._runner.Run
        Evaluations, budgets and the stopping rule.
    x : ndarray, shape (n,)
        Starting point.
    memory : int
        Number of (s, y) pairs kept.

    Raises
    ------
    Stop
        Always: the run ends by a criterion of ``run`` (or a failed line search).
    """
    n = x.size
    S, Y = np.zeros((memory, n)), np.zeros((memory, n))
    rho, alpha, d = np.zeros(memory), np.zeros(memory), np.empty(n)
    newest, count = memory - 1, 0
    f, g = run.start(x)
    while True:
        _numpy_optim.lbfgs_direction(g, S, Y, rho, newest, count, alpha, d)
        if not float(g @ d) < 0.0:
            count = 0
            d[:] = -g
        # first step (no curvature yet): length 1 in the max-norm, as scipy does
        step = 1.0 if count else min(1.0, 1.0 / max(float(np.max(np.abs(g))), 1e-300))
        found = strong_wolfe(run, x, f, g, d, step)
        if found is None:
            if count == 0:
                raise Stop(7, "line search failed along the steepest-descent direction")
            count = 0                            # forget the memory, retry along -g
            continue
        _, x_new, f_new, g_new = found
        slot = _numpy_optim.lbfgs_push(S, Y, rho, newest, x_new, x, g_new, g)
        if slot != newest:
            newest, count = slot, min(count + 1, memory)
        x, f, g = x_new, f_new, g_new
        run.iterate(x, f, g)


_MESSAGES = {0: "gradient max-norm {gn:.3g} <= gtol={gtol:g}",
             1: "maximum number of iterations ({maxiter}) reached",
             2: "maximum number of function evaluations ({maxfev}) reached",
             4: "relative change of f below ftol={ftol:g}, but the gradient max-norm {gn:.3g} "
                "> gtol: not converged",
             5: "step below xtol={xtol:g}, but the gradient max-norm {gn:.3g} > gtol: "
                "not converged",
             6: "objective or gradient is NaN/Inf; returning the best finite point",
             7: "line search failed along the steepest-descent direction",
             8: "no decrease of the best value f={f:.6g} in the last {patience} iterations "
                "(patience); the gradient max-norm {gn:.3g} > gtol: not converged"}
#: iteration cap of the compiled loop when only maxfev bounds it (the history is
#: preallocated)
_COMPILED_MAXITER = 100_000


_KINDS = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam")


def compiled_run(fun, jac, x0, method, options, budget, project, opt=None):
    """The run compiled end to end when ``fun`` and ``jac`` are ``@njit`` functions:
    ``lbfgs``, or a ``pk.optim`` rule ``opt`` with a fixed step (numba backend).

    Parameters
    ----------
    fun, jac : callable
        The user's objective and gradient.
    x0 : ndarray, shape (n,)
    method : str
    options : dict
        The method's options (``memory`` for lbfgs).
    budget : dict
        ``maxiter``, ``maxfev``, ``patience``, ``gtol``, ``ftol``, ``xtol``,
        ``maxtime``, ``callback``, ``progress`` as ``pk.minimize`` resolved them.
    project : callable or None
    opt : pk.optim optimizer or None

    Returns
    -------
    dict or None
        The result fields, or None when the Python loop is needed: another method,
        plain callables (Numba not even imported), a line search, bounds, a
        callback, a progress bar or a time budget (those need Python between
        iterations).
    """
    if "numba" not in sys.modules:  # then fun cannot be an @njit function
        return None
    from numba.core.dispatcher import Dispatcher
    if ((method != "lbfgs" and (opt is None or opt.backend not in (None, "numba")))
            or not isinstance(fun, Dispatcher) or not isinstance(jac, Dispatcher)
            or project is not None or budget["callback"] is not None or budget["progress"]
            or budget["maxtime"] is not None):
        return None
    from .kernels import optim as _k

    never = np.iinfo(np.int64).max
    maxfev = budget["maxfev"] or never
    maxiter = budget["maxiter"] or min(maxfev, _COMPILED_MAXITER)
    patience = budget["patience"] or never
    history = np.empty(maxiter)
    tests = (maxiter, maxfev, patience, budget["gtol"], budget["ftol"], budget["xtol"],
             history)
    f_ptr, g_ptr = _k.as_function(fun, _k.SCALAR_FUN), _k.as_function(jac, _k.VECTOR_FUN)
    if method == "lbfgs":
        x, f, g, nit, nfev, status = _k.lbfgs_loop(f_ptr, g_ptr, x0, options.get("memory", 10),
                                                   *tests)
    else:
        a = getattr(opt, "beta", getattr(opt, "rho", getattr(opt, "beta1", 0.0)))
        x, f, g, nit, nfev, status = _k.first_order_loop(
            f_ptr, g_ptr, x0, _KINDS.index(type(opt).__name__), opt.lr, a,
            getattr(opt, "beta2", 0.0), getattr(opt, "eps", 0.0), *tests)
    gn = float(np.max(np.abs(g)))
    message = _MESSAGES[status].format(gn=gn, f=f, maxiter=maxiter, maxfev=maxfev,
                                       patience=patience, **{
                                           k: budget[k] for k in ("gtol", "ftol", "xtol")})
    if status == 6 and nit == 0:
        message = "objective or gradient is NaN/Inf at x0"
    return dict(x=x, fun=float(f), jac=g, nit=nit, nfev=nfev, njev=nfev, nhev=0,
                success=status == 0, status=status, message=message,
                history=history[:nit].copy(), method=method)
