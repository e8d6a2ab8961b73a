"""What every method of ``pk.minimize`` shares: counted evaluations, the best point,
budgets, the one stopping rule, callbacks and the progress bar.

A method is a function ``method(run, x0, **options)`` that loops forever: it asks
``run`` for values (``run.f``, ``run.fg``, ``run.grad``, ``run.hvp``, ``run.hess``,
``run.f_many``) and calls ``run.iterate(x, f, g)`` once per iteration.  Whatever ends
the run -- a criterion, a budget, a NaN, the callback -- raises :class:`Stop`, which
``pk.minimize`` turns into the result.
"""

import time

import numpy as np

__all__ = ["Stop", "Run"]

class Stop(Exception):
    """Ends a run: ``status`` (codes in ``pk.OptimizeResult``), ``message``, ``success``."""

    def __init__(self, status, message, success=False):
        super().__init__(message)
        self.status, self.message, self.success = status, message, success


class Run:
    """Evaluation counter and stopping rule of one ``pk.minimize`` call.

    Parameters
    ----------
    fun : callable ``fun(x, *args) -> float``
    grad : callable ``grad(x) -> (n,)`` or None
    fun_and_grad : callable ``x -> (f, g)`` or None
        When given, used for every joint evaluation (one call counts as one f and one g).
    hessp, hess : callables or None
        ``hessp(x, v)`` and ``hess(x)``; the caller supplies finite-difference versions
        when the user gave none.
    project : callable or None
        Projection onto the bounds (clip), or None when unbounded.
    zero_order : bool
        Budgets then end the run with ``success=True`` (there is no optimality test).
    """

    def __init__(self, fun, x0, *, grad=None, fun_and_grad=None, hessp=None, hess=None,
                 project=None, gtol=1e-5, ftol=0.0, xtol=0.0, maxiter=None, maxfev=None,
                 maxtime=None, callback=None, progress=False, zero_order=False):
        self._fun, self._grad, self._fun_and_grad = fun, grad, fun_and_grad
        self._hessp, self._hess = hessp, hess
        self.project = project
        self.gtol, self.ftol, self.xtol = gtol, ftol, xtol
        self.maxiter = np.inf if maxiter is None else maxiter
        self.maxfev = np.inf if maxfev is None else maxfev
        self.maxtime = np.inf if maxtime is None else maxtime
        self.callback = callback
        self.zero_order = zero_order
        self.nfev = self.njev = self.nhev = self.nit = 0
        self.best_x, self.best_f, self.best_g = np.array(x0, dtype=float), np.inf, None
        self.history = []
        self._prev = None                       # (x, f) of the previous iteration
        self.start = time.perf_counter()
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
        if time.perf_counter() - self.start > self.maxtime:
            raise Stop(3, f"time budget maxtime={self.maxtime} s used up", self.zero_order)

    def _record(self, x, f, g=None):
        if np.isfinite(f) and f < self.best_f:
            self.best_x, self.best_f, self.best_g = np.array(x, dtype=float), f, g

    def _scalar(self, value, name):
        if np.size(value) != 1:
            raise ValueError(f"{name} must return a scalar, got shape {np.shape(value)}")
        return float(np.reshape(value, ()))

    def _vector(self, value, name, shape=None):
        shape = self.best_x.shape if shape is None else shape
        value = np.asarray(value, dtype=float)
        if value.size != int(np.prod(shape)):
            raise ValueError(f"{name} must return an array of shape {shape}, "
                             f"got shape {value.shape}")
        return value.reshape(shape)

    def f(self, x):
        """f(x), counted; tracks the best finite value."""
        self._budget()
        value = self._scalar(self._fun(x), "fun")
        self.nfev += 1
        self._record(x, value)
        return value

    def fg(self, x):
        """(f(x), grad f(x)), counted."""
        self._budget()
        if self._fun_and_grad is not None:
            value, g = self._fun_and_grad(x)
            self.nfev += 1
            value = self._scalar(value, "fun (with jac=True, its first value)")
        else:
            value = self._fun(x)
            self.nfev += 1  # before the gradient, whose differences may exhaust maxfev
            value = self._scalar(value, "fun")
            g = self._grad(x)
        self.njev += 1
        g = self._vector(g, "jac")
        self._record(x, value, g)
        return value, g

    def grad(self, x):
        """grad f(x) alone, counted (uses fun_and_grad when that is all there is)."""
        self._budget()
        if self._grad is None:
            value, g = self._fun_and_grad(x)
            self.nfev += 1
        else:
            g = self._grad(x)
        self.njev += 1
        g = self._vector(g, "jac")
        if self.best_g is None and np.array_equal(x, self.best_x):
            self.best_g = g
        return g

    def hvp(self, x, v):
        """Hessian-vector product H(x) v, counted in nhev."""
        self._budget()
        self.nhev += 1
        return self._vector(self._hessp(x, v), "hessp")

    def hess(self, x):
        """Dense Hessian H(x), counted in nhev."""
        self._budget()
        self.nhev += 1
        return self._vector(self._hess(x), "hess", (x.size, x.size))

    def f_many(self, P, evaluate):
        """Values of the rows of ``P`` through ``evaluate(P) -> (pop,)``, counted."""
        self._budget(len(P))
        values = np.asarray(evaluate(P), dtype=float).reshape(-1)
        if values.shape != (len(P),):
            raise ValueError(f"fun must return {len(P)} values for a population of "
                             f"{len(P)}, got shape {values.shape}")
        self.nfev += len(P)
        k = int(np.argmin(np.where(np.isnan(values), np.inf, values)))
        self._record(P[k], values[k])
        if not np.all(np.isfinite(values)):
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise Stop(6, f"objective is {values[bad]} at x = {P[bad]}; returning the best "
                          "finite point")
        return values

    # -- the stopping rule --------------------------------------------------------

    def gnorm(self, x, g):
        """Max-norm of the (projected) gradient: the first-order optimality measure."""
        if self.project is None:
            return float(np.max(np.abs(g))) if g.size else 0.0
        return float(np.max(np.abs(self.project(x - g) - x)))

    def iterate(self, x, f, g=None):
        """End of one iteration at (x, f, g): record, call back, test every criterion."""
        self.nit += 1
        self.history.append(f)
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(f=f"{self.best_f:.6g}")
        if not np.isfinite(f) or (g is not None and not np.all(np.isfinite(g))):
            raise Stop(6, f"objective or gradient is NaN/Inf at iteration {self.nit}; "
                          "returning the best finite point")
        if self.callback is not None:
            from .optimize import OptimizeResult
            try:
                self.callback(OptimizeResult(x=x.copy(), fun=f, jac=g, nit=self.nit,
                                             nfev=self.nfev))
            except StopIteration:
                raise Stop(99, "callback raised StopIteration") from None
        if g is not None:
            gn = self.gnorm(x, g)
            if gn <= self.gtol:
                raise Stop(0, f"gradient max-norm {gn:.3g} <= gtol={self.gtol:g}", True)
            if self._prev is not None:
                self._small_change(x, f, gn)
            self._prev = (x.copy(), f)
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

    def close(self):
        if self._bar is not None:
            self._bar.close()
