"""Zero-order (heuristic) methods of ``pk.minimize``: random search, simulated annealing,
genetic algorithm.

Every random number comes from ONE ``numpy.random.Generator`` seeded by ``seed`` and
drawn in the driver, in a fixed order; workers only evaluate ``fun`` on rows handed
to them.  So a run is bit-for-bit the same for any ``executor`` and worker count.

A whole population is evaluated at once (:func:`population_evaluator`): a vectorized
``fun`` in one call, an ``@njit`` ``fun`` in one compiled loop, a plain ``fun`` row by
row or spread over ``executor``.  Without bounds, points are sampled around ``x0``
with scale ``sigma``; with bounds, in the box, and every move is clipped to it.

Options (``pk.minimize(..., options={...})``)

- ``random-search``: ``popsize`` (20) candidates around the incumbent per iteration
  with step ``sigma`` (0.1 of the box width, else 1), grown 1.5x after an
  improvement, shrunk 0.6x otherwise; restart from a random point when the step
  has shrunk below ``1e-6`` of its start.
- ``simulated-annealing``: ``popsize`` (20) independent Metropolis chains (the first
  starts at x0, the others at random) each proposing one Gaussian move per
  iteration at temperature ``T0 * cooling**k`` (``T0`` default: spread of the
  starting values; ``cooling`` default: the rate that reaches 1e-8 T0 at the end of
  the ``maxiter``/``maxfev`` budget); each chain's step (start ``sigma``) grows 1.2x
  on acceptance and shrinks 0.9x on rejection; all chains are reheated from the
  best point when T falls below 1e-8 T0.  More chains find the global basin of
  multimodal functions more often (at a larger budget).
- ``genetic``: ``popsize`` (50), tournament selection (``tournament`` 3), blend
  crossover (BLX-0.25), Gaussian mutation of each gene with probability
  ``mutation`` (0.2) and scale ``sigma`` decaying as 0.97**generation, ``elite`` (2)
  best kept unchanged.
- all: ``vectorized`` (False), ``sigma``.
"""

import sys

import numpy as np

from ._checks import fits_in_memory, flag, positive_int, real, returned_scalar

__all__ = ["random_search", "simulated_annealing", "genetic", "population_evaluator",
           "OPTIONS"]

OPTIONS = {
    "random-search": ("popsize", "sigma", "vectorized"),
    "simulated-annealing": ("popsize", "sigma", "vectorized", "T0", "cooling"),
    "genetic": ("popsize", "sigma", "vectorized", "tournament", "mutation", "elite"),
}
#: generations when the caller gives no budget (see ``pk.optimize.default_maxiter``)
DEFAULT_MAXITER = 100
# simulated annealing: T falls geometrically to 1e-8 T0 over the budget (so the final
# chains resolve the minimum to ~1e-8 T0 in f); each chain's step follows its own
# acceptance (x1.2 on accept, x0.9 on reject: ~35 % accepted, Corana et al. 1987).
# Measured on 2-D Rastrigin, 20 seeds: f < 1e-6 in 11/20 runs with 20 chains and
# 4000 evaluations, 20/20 with 40 chains and 10000.
_T_END = 1e-8


def _eval_rows(fun, rows, args):
    return [returned_scalar(fun(row, *args), "fun") for row in rows]


def population_evaluator(fun, args=(), *, vectorized=False, executor=None):
    """A function ``P (pop, n) -> values (pop,)`` for ``fun`` (see the module docstring).

    Parameters
    ----------
    fun : callable
        Scalar ``fun(x, *args)``, or ``fun(P, *args) -> (pop,)`` with ``vectorized``.
    args : tuple
    vectorized : bool
    executor : concurrent.futures.Executor, optional
        Spreads the rows over at most 16 tasks.

    Returns
    -------
    callable
    """
    if vectorized:
        return lambda P: fun(P, *args)
    if executor is not None:
        def evaluate(P):
            size = max(1, -(-len(P) // 16))            # at most 16 tasks per population
            futures = [executor.submit(_eval_rows, fun, P[i:i + size], args)
                       for i in range(0, len(P), size)]
            return np.concatenate([f.result() for f in futures])
        return evaluate
    compiled = False
    if "numba" in sys.modules:  # else fun cannot be an @njit function
        from numba.core.dispatcher import Dispatcher
        compiled = isinstance(fun, Dispatcher) and not args
    if compiled:
        from .kernels.optim import SCALAR_FUN, as_function, evaluate_rows
        pointer = as_function(fun, SCALAR_FUN)

        def evaluate(P):
            out = np.empty(len(P))
            evaluate_rows(pointer, np.ascontiguousarray(P, dtype=np.float64), out)
            return out
        return evaluate
    return lambda P: np.array(_eval_rows(fun, P, args))


class _Space:
    """Sampling and clipping in the box (or around x0 when unbounded)."""

    def __init__(self, x0, bounds, sigma):
        self.x0 = x0
        if bounds is not None:
            lo, hi = bounds
            finite = np.isfinite(lo) & np.isfinite(hi)
            width = np.where(finite, hi - lo, 1.0)
            self.lo, self.hi = lo, hi
        else:
            width = np.ones_like(x0)
            self.lo = self.hi = None
        self.finite = bounds is not None and bool(np.all(finite))
        self.sigma = (0.1 * width if bounds is not None else width) if sigma is None \
            else _positive(sigma, "sigma", x0.shape)

    def clip(self, P):
        return P if self.lo is None else np.clip(P, self.lo, self.hi)

    def sample(self, rng, count):
        """Uniform in a finite box, else x0 + 10 sigma * N(0, 1) (clipped)."""
        if self.finite:
            return self.lo + (self.hi - self.lo) * rng.random((count, self.x0.size))
        return self.clip(self.x0 + 10 * self.sigma * rng.standard_normal((count, self.x0.size)))


def _setup(run, x0, fun, args, bounds, seed, executor, vectorized, sigma):
    vectorized = flag(vectorized, "options['vectorized']")
    evaluate = population_evaluator(fun, args, vectorized=vectorized, executor=executor)
    rng = np.random.default_rng(seed)
    return evaluate, rng, _Space(x0, bounds, sigma)


def _positive(value, name, shape=()):
    """options[name] as positive finite float(s) of ``shape`` (a scalar broadcasts)."""
    name = f"options[{name!r}]"
    if np.ndim(value) == 0:
        return np.full(shape, real(value, name, low=0.0, low_open=True)) if shape \
            else real(value, name, low=0.0, low_open=True)
    try:
        array = np.broadcast_to(np.asarray(value, dtype=float), shape).copy()
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number or an array of shape {shape}, "
                         f"got {value!r}") from None
    if not (np.all(np.isfinite(array)) and np.all(array > 0)):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return array


def _popsize(value, default, n):
    """options['popsize'] as an int >= 2 whose working arrays (a few (popsize, n)
    float arrays) fit in memory."""
    popsize = positive_int(default if value is None else value, "options['popsize']", 2)
    fits_in_memory(6 * popsize * n, 8, "options['popsize']",
                   f"populations of {popsize} points of {n}")
    return popsize


def random_search(run, x0, *, fun, args, bounds, seed, executor, popsize=None, sigma=None,
                  vectorized=False):
    """Adaptive-step random search with restarts (see the module docstring).

    Parameters
    ----------
    run : pykernels._runner.Run
    x0 : ndarray, shape (n,)
    fun, args, bounds, seed, executor
        As ``pk.minimize`` resolved them (``bounds`` a pair of arrays or None).
    popsize, sigma, vectorized
        The options of the module docstring.

    Raises
    ------
    Stop
        Always: the run ends by a budget, a NaN, ``patience`` or the callback.
    ValueError, TypeError
        On a bad option, naming it.
    """
    evaluate, rng, space = _setup(run, x0, fun, args, bounds, seed, executor, vectorized, sigma)
    popsize = _popsize(popsize, 20, x0.size)
    x, f = x0, run.f_many(x0[None, :], evaluate)[0]
    step = space.sigma.copy()
    while True:
        P = space.clip(x + step * rng.standard_normal((popsize, x.size)))
        values = run.f_many(P, evaluate)
        k = int(np.nanargmin(values)) if not np.all(np.isnan(values)) else 0
        if values[k] < f:
            x, f = P[k], values[k]
            step *= 1.5
        else:
            step *= 0.6
        if np.all(step < 1e-6 * space.sigma):
            x = space.sample(rng, 1)[0]
            f = run.f_many(x[None, :], evaluate)[0]
            step = space.sigma.copy()
        run.iterate(run.best_x, run.best_f)


def simulated_annealing(run, x0, *, fun, args, bounds, seed, executor, popsize=None,
                        sigma=None, vectorized=False, T0=None, cooling=None):
    """Simulated annealing: ``popsize`` independent Metropolis chains, one population.

    Parameters
    ----------
    run : pykernels._runner.Run
    x0 : ndarray, shape (n,)
    fun, args, bounds, seed, executor
        As ``pk.minimize`` resolved them (``bounds`` a pair of arrays or None).
    popsize, sigma, vectorized, T0, cooling
        The options of the module docstring.

    Raises
    ------
    Stop
        Always: the run ends by a budget, a NaN, ``patience`` or the callback.
    ValueError, TypeError
        On a bad option, naming it.
    """
    evaluate, rng, space = _setup(run, x0, fun, args, bounds, seed, executor, vectorized, sigma)
    popsize = _popsize(popsize, 20, x0.size)
    if cooling is None:          # anneal from T0 to _T_END T0 over the iteration budget
        budget = min(run.maxiter, (run.maxfev - popsize) / popsize)
        cooling = _T_END ** (1.0 / (budget if np.isfinite(budget) else DEFAULT_MAXITER))
    cooling = real(cooling, "options['cooling']", low=0.0, high=1.0, low_open=True,
                   high_open=True)
    if T0 is not None:
        T0 = _positive(T0, "T0")
    X = space.sample(rng, popsize)
    X[0] = x0
    F = run.f_many(X, evaluate)
    finite = F[np.isfinite(F)]
    if T0 is None:              # the spread of the starting values sets the temperature
        T0 = float(np.std(finite)) if finite.size > 1 and np.std(finite) > 0 else 1.0
    k = 0
    scale = np.ones((popsize, 1))
    while True:
        T = T0 * cooling ** k
        Y = space.clip(X + scale * space.sigma * rng.standard_normal(X.shape))
        FY = run.f_many(Y, evaluate)
        with np.errstate(over="ignore", invalid="ignore"):
            accept = np.isfinite(FY) & ((FY <= F) | (rng.random(popsize) < np.exp((F - FY) / T)))
        X[accept], F[accept] = Y[accept], FY[accept]
        scale[:, 0] = np.where(accept, np.minimum(scale[:, 0] * 1.2, 10.0),
                               scale[:, 0] * 0.9)
        k += 1
        if cooling ** k < _T_END:               # reheat, every chain from the best
            k, X[:], F[:], scale[:] = 0, run.best_x, run.best_f, 1.0
        run.iterate(run.best_x, run.best_f)


def genetic(run, x0, *, fun, args, bounds, seed, executor, popsize=None, sigma=None,
            vectorized=False, tournament=3, mutation=0.2, elite=2):
    """Genetic algorithm: tournament selection, blend crossover, mutation, elitism.

    Parameters
    ----------
    run : pykernels._runner.Run
    x0 : ndarray, shape (n,)
    fun, args, bounds, seed, executor
        As ``pk.minimize`` resolved them (``bounds`` a pair of arrays or None).
    popsize, sigma, vectorized, tournament, mutation, elite
        The options of the module docstring.

    Raises
    ------
    Stop
        Always: the run ends by a budget, a NaN, ``patience`` or the callback.
    ValueError, TypeError
        On a bad option, naming it.
    """
    evaluate, rng, space = _setup(run, x0, fun, args, bounds, seed, executor, vectorized, sigma)
    popsize = _popsize(popsize, 50, x0.size)
    elite = positive_int(elite, "options['elite']", 0)
    if elite >= popsize:
        raise ValueError(f"options['elite'] must be < popsize = {popsize}, got {elite}")
    tournament = positive_int(tournament, "options['tournament']")
    if tournament > popsize:
        raise ValueError(f"options['tournament'] must be <= popsize = {popsize}, got "
                         f"{tournament}")
    mutation = real(mutation, "options['mutation']", low=0.0, high=1.0)
    n = x0.size
    P = space.sample(rng, popsize)
    P[0] = x0
    values = run.f_many(P, evaluate)
    generation = 0
    while True:
        fitness = np.where(np.isfinite(values), values, np.inf)
        order = np.argsort(fitness, kind="stable")
        contenders = rng.integers(0, popsize, (2, popsize - elite, tournament))
        winners = contenders[np.arange(2)[:, None], np.arange(popsize - elite)[None, :],
                             np.argmin(fitness[contenders], axis=2)]
        a = rng.uniform(-0.25, 1.25, (popsize - elite, n))
        children = a * P[winners[0]] + (1 - a) * P[winners[1]]
        mutate = rng.random(children.shape) < mutation
        scale = space.sigma * 0.97 ** generation
        children += mutate * scale * rng.standard_normal(children.shape)
        P = np.concatenate([P[order[:elite]], space.clip(children)])
        values = np.concatenate([values[order[:elite]],
                                 run.f_many(P[elite:], evaluate)])
        generation += 1
        run.iterate(run.best_x, run.best_f)
