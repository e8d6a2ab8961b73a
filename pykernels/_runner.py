"""What every method of ``pk.minimize`` shares: counted evaluations, the best point,
budgets, the one stopping rule, callbacks, the progress bar, and the result type.

A method is a function ``method(run, x0, **options)`` that loops forever: it asks
``run`` for values (``run.start``, ``run.f``, ``run.fg``, ``run.grad``, ``run.hvp``,
``run.hess``, ``run.f_many``) and calls ``run.iterate(x, f, g)`` once per iteration.
Whatever ends the run -- a criterion, a budget, a NaN, no progress, the callback --
raises :class:`Stop`, which ``pk.minimize`` turns into an :class:`OptimizeResult`.
"""

import time

import numpy as np

from ._checks import returned_array, returned_scalar

__all__ = ["Stop", "Run", "OptimizeResult"]


class OptimizeResult(dict):
    """Result of :func:`pykernels.minimize`: a dict whose keys are also attributes (as
    scipy's).

    Attributes
    ----------
    x : ndarray
        The best point found.
    fun : float
        ``f(x)``, the best finite value seen (the value at ``x0`` if none was finite).
    jac : ndarray or None
        Gradient at ``x`` when it was evaluated there.
    nit, nfev, njev, nhev : int
        Iterations; evaluations of f, of the gradient, of Hessians and
        Hessian-vector products (finite-difference evaluations of f count in ``nfev``).
    success : bool
        True only when the optimality test fired (gradient max-norm <= gtol); for
        zero-order methods, when the run used its budget (or stopped improving)
        without error.
    status : int
        0 gtol, 1 maxiter, 2 maxfev, 3 maxtime, 4 ftol, 5 xtol, 6 NaN/Inf,
        7 line search failed, 8 no decrease of the best value in ``patience``
        iterations, 99 callback raised StopIteration.
    message : str
        Which criterion ended the run.
    history : ndarray
        Objective value at the end of each iteration.
    time : float
        Wall time in seconds.
    method : str
        The method that ran.
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__

    def __repr__(self):
        width = max(map(len, self)) + 1 if self else 0
        lines = []
        for key, value in self.items():
            text = np.array2string(value, threshold=8) if isinstance(value, np.ndarray) \
                else repr(value)
            lines.append(f"{key.rjust(width)}: {text}")
        return "\n".join(lines)

    def __dir__(self):
        return list(self.keys())


class Stop(Exception):
    """Ends a run (raised by :class:`Run`, caught by ``pk.minimize``).

    Parameters
    ----------
    status : int
        The codes of :class:`OptimizeResult`.
    message : str
        Which criterion fired.
    success : bool
    """

    def __init__(self, status, message, success=False):
        super().__init__(message)
        self.status, self.message, self.success = status, message, success


class Run:
    """Evaluation counter and stopping rule of one ``pk.minimize`` call.

    Parameters
    ----------
    fun : callable ``fun(x) -> float``
    x0 : ndarray, shape (n,)
        The starting point (the best point until a finite value is seen).
    grad : callable ``grad(x) -> (n,)`` or None
    fun_and_grad : callable ``x -> (f, g)`` or None
        When given, used for every joint evaluation (one call counts as one f and one g).
    hessp, hess : callables or None
        ``hessp(x, v)`` and ``hess(x)``; the caller supplies finite-difference versions
        when the user gave none.
    project : callable or None
        Projection onto the bounds (clip), or None when unbounded.
    gtol, ftol, xtol : float
        Stopping tolerances (see ``pk.minimize``).
    maxiter, maxfev, maxtime : int, int, float or None
        Budgets; None is no limit.
    patience : int or None
        Stop after this many iterations without a decrease of the best value (None:
        never).
    callback : callable or None
    progress : bool
    zero_order : bool
        Budgets then end the run with ``success=True`` (there is no optimality test).
    fd_gradient : bool
        The gradient comes from finite differences (named in the NaN message).
    """

    def __init__(self, fun, x0, *, grad=None, fun_and_grad=None, hessp=None, hess=None,
                 project=None, gtol=1e-5, ftol=0.0, xtol=0.0, maxiter=None, maxfev=None,
                 maxtime=None, patience=None, callback=None, progress=False,
                 zero_order=False, fd_gradient=False):
        self._fun, self._grad, self._fun_and_grad = fun, grad, fun_and_grad
        self._hessp, self._hess = hessp, hess
        self.project = project
        self.gtol, self.ftol, self.xtol = gtol, ftol, xtol
        self.maxiter = np.inf if maxiter is None else maxiter
        self.maxfev = np.inf if maxfev is None else maxfev
        self.maxtime = np.inf if maxtime is None else maxtime
        self.patience = np.inf if patience is None else patience
        self.callback = callback
        self.zero_order, self.fd_gradient = zero_order, fd_gradient
        self.nfev = self.njev = self.nhev = self.nit = 0
        self.best_x, self.best_f, self.best_g = np.array(x0, dtype=float), np.inf, None
        self.first_f = None                     # f(x0), reported if nothing is finite
        self.history = []
        self._prev = None                       # (x, f) of the previous iteration
        self._stalled, self._best_seen = 0, np.inf  # iterations without a new best value
        self.start_time = time.perf_counter()
        self._bar = None
        if progress:
            from tqdm.auto import tqdm
            self._bar = tqdm(total=None if maxiter is None else maxiter, desc="minimize",
                             unit="it")

    # -- evaluations -------------------------------------------------------------

    def _budget(self, count=1):
        if self.nfev + count > self.maxfev and self.nfev > 0:
            raise Stop(2, f"maximum number of function evaluations ({self.maxfev}) reached",
                       self.zero_order)
        if time.perf_counter() - self.start_time > self.maxtime:
            raise Stop(3, f"time budget maxtime={self.maxtime} s used up", self.zero_order)

    def _record(self, x, f, g=None):
        """Track the best finite value; a gradient ``g`` at the best point is kept with
        it (also when the value was recorded first, without it)."""
        if self.first_f is None:
            self.first_f = f
        if g is not None and not np.isfinite(g).all():
            g = None
        if np.isfinite(f) and f < self.best_f:
            self.best_x, self.best_f, self.best_g = np.array(x, dtype=float), f, g
        elif g is not None and self.best_g is None and f == self.best_f \
                and np.array_equal(x, self.best_x):
            self.best_g = g

    def _vector(self, value, name, shape=None):
        return returned_array(value, name, self.best_x.shape if shape is None else shape)

    def _pair(self, value):
        """``fun(x)`` with ``jac=True``: the pair (f, g)."""
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            raise TypeError("with jac=True, fun must return a pair (f, g) of the value and "
                            f"the gradient, got {type(value).__name__}")
        return returned_scalar(value[0], "fun (with jac=True, its first value)"), value[1]

    def f(self, x):
        """f(x), counted; tracks the best finite value.

        Parameters
        ----------
        x : ndarray, shape (n,)

        Returns
        -------
        float

        Raises
        ------
        Stop
            When ``maxfev`` or ``maxtime`` is used up.
        TypeError, ValueError
            When ``fun`` returns something that is not a real scalar.
        """
        self._budget()
        value = returned_scalar(self._fun(x), "fun")
        self.nfev += 1
        self._record(x, value)
        return value

    def fg(self, x):
        """(f(x), grad f(x)), counted.

        Where f is NaN/Inf the gradient is not evaluated (a line search rejects the
        point, an iteration ends the run): it is returned as NaN.

        Parameters
        ----------
        x : ndarray, shape (n,)

        Returns
        -------
        f : float
        g : ndarray, shape (n,)

        Raises
        ------
        Stop
            When a budget is used up.
        TypeError, ValueError
            When ``fun``/``jac`` return values of the wrong kind or shape.
        """
        self._budget()
        if self._fun_and_grad is not None:
            value, g = self._pair(self._fun_and_grad(x))
            self.nfev += 1
            self.njev += 1
        else:
            value = returned_scalar(self._fun(x), "fun")
            self.nfev += 1
            # recorded before the gradient, whose differences may exhaust maxfev
            self._record(x, value)
            if np.isfinite(value):
                g = self._grad(x)
                self.njev += 1
            else:
                g = np.full(x.shape, np.nan)
        g = self._vector(g, "jac")
        self._record(x, value, g)
        return value, g

    def start(self, x):
        """(f(x0), grad f(x0)), as :meth:`fg`; a NaN/Inf there ends the run at once.

        Parameters
        ----------
        x : ndarray, shape (n,)

        Returns
        -------
        f : float
        g : ndarray, shape (n,)

        Raises
        ------
        Stop
            Status 6 on a NaN/Inf value or gradient at x0.
        """
        value, g = self.fg(x)
        if not np.isfinite(value):
            raise Stop(6, f"objective is NaN/Inf ({value}) at x0; there is no finite point "
                          "to return")
        if not np.isfinite(g).all():
            raise Stop(6, f"{self._gradient_name} is NaN/Inf at x0")
        return value, g

    @property
    def _gradient_name(self):
        return ("the finite-difference gradient (fun is NaN/Inf near x)" if self.fd_gradient
                else "the gradient (jac)")

    def grad(self, x):
        """grad f(x) alone, counted (uses fun_and_grad when that is all there is).

        Parameters
        ----------
        x : ndarray, shape (n,)

        Returns
        -------
        ndarray, shape (n,)

        Raises
        ------
        Stop
            When a budget is used up.
        """
        self._budget()
        if self._grad is None:
            value, g = self._pair(self._fun_and_grad(x))
            self.nfev += 1
        else:
            g = self._grad(x)
        self.njev += 1
        g = self._vector(g, "jac")
        self._record(x, self.best_f, g)
        return g

    def _finite(self, value, name):
        if not np.isfinite(value).all():
            raise Stop(6, f"{name} returned NaN/Inf at iteration {self.nit}; returning the "
                          "best finite point")
        return value

    def hvp(self, x, v):
        """Hessian-vector product H(x) v, counted in nhev.

        Parameters
        ----------
        x, v : ndarray, shape (n,)

        Returns
        -------
        ndarray, shape (n,)

        Raises
        ------
        Stop
            When a budget is used up, or (status 6) on a NaN/Inf product.
        """
        self._budget()
        self.nhev += 1
        return self._finite(self._vector(self._hessp(x, v), "hessp"), "hessp")

    def hess(self, x):
        """Dense Hessian H(x), counted in nhev.

        Parameters
        ----------
        x : ndarray, shape (n,)

        Returns
        -------
        ndarray, shape (n, n)

        Raises
        ------
        Stop
            When a budget is used up, or (status 6) on a NaN/Inf entry.
        """
        self._budget()
        self.nhev += 1
        return self._finite(self._vector(self._hess(x), "hess", (x.size, x.size)), "hess")

    def f_many(self, P, evaluate):
        """Values of the rows of ``P`` through ``evaluate(P) -> (pop,)``, counted.

        Parameters
        ----------
        P : ndarray, shape (pop, n)
        evaluate : callable

        Returns
        -------
        ndarray, shape (pop,)

        Raises
        ------
        Stop
            When a budget is used up, or (status 6) on a NaN/Inf value.
        """
        self._budget(len(P))
        values = self._vector(evaluate(P), f"fun (for a population of {len(P)})",
                              (len(P),))
        self.nfev += len(P)
        k = int(np.argmin(np.where(np.isnan(values), np.inf, values)))
        self._record(P[k], values[k])
        if not np.isfinite(values).all():
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise Stop(6, f"objective is {values[bad]} at x = {P[bad]}; returning the best "
                          "finite point")
        return values

    # -- the stopping rule --------------------------------------------------------

    def gnorm(self, x, g):
        """Max-norm of the (projected) gradient: the first-order optimality measure.

        Parameters
        ----------
        x, g : ndarray, shape (n,)

        Returns
        -------
        float
        """
        if self.project is None:
            return float(np.max(np.abs(g))) if g.size else 0.0
        return float(np.max(np.abs(self.project(x - g) - x)))

    def iterate(self, x, f, g=None):
        """End of one iteration at (x, f, g): record, call back, test every criterion.

        Parameters
        ----------
        x : ndarray, shape (n,)
        f : float
        g : ndarray, shape (n,), optional
            The gradient (None for zero-order methods).

        Raises
        ------
        Stop
            Whenever a criterion fires: NaN/Inf, the callback's StopIteration, gtol,
            ftol, xtol, patience, maxiter, maxfev, maxtime (tested in that order).
        """
        self.nit += 1
        self.history.append(f)
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(f=f"{self.best_f:.6g}")
        if not np.isfinite(f):
            raise Stop(6, f"objective is NaN/Inf ({f}) at iteration {self.nit}; returning "
                          "the best finite point")
        if g is not None and not np.isfinite(g).all():
            raise Stop(6, f"{self._gradient_name} is NaN/Inf at iteration {self.nit}; "
                          "returning the best finite point")
        if self.callback is not None:
            try:
                self.callback(OptimizeResult(x=x.copy(), fun=f, jac=g, nit=self.nit,
                                             nfev=self.nfev))
            except StopIteration:
                raise Stop(99, "callback raised StopIteration") from None
        gn = None
        if g is not None:
            gn = self.gnorm(x, g)
            if gn <= self.gtol:
                raise Stop(0, f"gradient max-norm {gn:.3g} <= gtol={self.gtol:g}", True)
            if self._prev is not None:
                self._small_change(x, f, gn)
            self._prev = (x.copy(), f)
        self._stagnation(gn)
        if self.nit >= self.maxiter:
            raise Stop(1, f"maximum number of iterations ({self.maxiter}) reached",
                       self.zero_order)
        self._budget(0)

    def _small_change(self, x, f, gn):
        x_prev, f_prev = self._prev
        if abs(f_prev - f) <= self.ftol * max(abs(f_prev), abs(f), 1.0):
            raise Stop(4, f"relative change of f below ftol={self.ftol:g}, but the gradient "
                          f"max-norm {gn:.3g} > gtol: not converged")
        if np.max(np.abs(x - x_prev)) <= self.xtol * max(1.0, float(np.max(np.abs(x)))):
            raise Stop(5, f"step below xtol={self.xtol:g}, but the gradient max-norm "
                          f"{gn:.3g} > gtol: not converged")

    def _stagnation(self, gn):
        """Stop when the best value has not decreased in ``patience`` iterations."""
        if self.best_f < self._best_seen:
            self._best_seen, self._stalled = self.best_f, 0
            return
        self._stalled += 1
        if self._stalled >= self.patience:
            tail = "" if gn is None else f"; the gradient max-norm {gn:.3g} > gtol: not converged"
            raise Stop(8, f"no decrease of the best value f={self.best_f:.6g} in the last "
                          f"{self.patience} iterations (patience){tail}", self.zero_order)

    def close(self):
        """Close the progress bar, if any."""
        if self._bar is not None:
            self._bar.close()
