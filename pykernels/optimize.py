"""``pk.minimize``: zero-, first- and second-order minimization behind one interface."""

import numbers
import time

import numpy as np

from . import _firstorder, _secondorder, _zeroorder
from ._checks import choice, float_array
from ._runner import Run, Stop
from .optim import OPTIMIZERS

__all__ = ["minimize", "OptimizeResult", "Objective", "METHODS", "compare_methods"]


class OptimizeResult(dict):
    """Result of :func:`minimize`: a dict whose keys are also attributes (as scipy's).

    Attributes
    ----------
    x : ndarray
        The best point found.
    fun : float
        ``f(x)``, the best finite value seen.
    jac : ndarray or None
        Gradient at ``x`` when it was evaluated there.
    nit, nfev, njev, nhev : int
        Iterations; evaluations of f, of the gradient, of Hessians and
        Hessian-vector products (finite-difference evaluations of f count in ``nfev``).
    success : bool
        True only when the optimality test fired (gradient max-norm <= gtol); for
        zero-order methods, when the run used its budget without error.
    status : int
        0 gtol, 1 maxiter, 2 maxfev, 3 maxtime, 4 ftol, 5 xtol, 6 NaN/Inf,
        7 line search failed, 99 callback raised StopIteration.
    message : str
        Which criterion ended the run.
    history : ndarray
        Objective value at the end of each iteration.
    time : float
        Wall time in seconds.
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


class Objective:
    """An objective over a flat vector with whatever derivatives are known.

    Parameters
    ----------
    fun : callable ``fun(x) -> float``
    grad : callable ``grad(x) -> (n,)``, optional
    hvp : callable ``hvp(x, v) -> (n,)``, optional
    hess : callable ``hess(x) -> (n, n)``, optional
    fun_and_grad : callable ``x -> (f, g)``, optional
        Value and gradient in one call (e.g. one backpropagation); used whenever
        both are needed.
    gnvp : callable ``gnvp(x, v) -> (n,)``, optional
        A positive semi-definite curvature product, e.g. the Gauss-Newton matrix of a
        network's loss times v (:meth:`pk.MLP.objective` provides it).  Kept for the
        caller; the optimizers do not use it yet.

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> obj = pk.Objective(lambda x: x @ x, grad=lambda x: 2 * x)
    >>> res = pk.minimize(obj, np.ones(3), method="lbfgs")
    >>> bool(res.success), float(res.fun) < 1e-12
    (True, True)
    """

    def __init__(self, fun, grad=None, hvp=None, hess=None, *, fun_and_grad=None, gnvp=None):
        for name, value in (("fun", fun), ("grad", grad), ("hvp", hvp), ("hess", hess),
                            ("fun_and_grad", fun_and_grad), ("gnvp", gnvp)):
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be callable or None, got {type(value).__name__}")
        if fun is None:
            raise TypeError("fun must be callable, got None")
        self.fun, self.grad, self.hvp, self.hess = fun, grad, hvp, hess
        self.fun_and_grad, self.gnvp = fun_and_grad, gnvp

    def __call__(self, x):
        return self.fun(x)

    def __repr__(self):
        known = [k for k in ("grad", "hvp", "hess", "fun_and_grad", "gnvp") if getattr(self, k)]
        return f"Objective(fun, {', '.join(known) or 'no derivatives'})"


ZERO_ORDER = {"random-search": _zeroorder.random_search,
              "simulated-annealing": _zeroorder.simulated_annealing,
              "genetic": _zeroorder.genetic}
FIRST_ORDER = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
#: Every method name -> (family, supports bounds, the options it accepts).
def _hyper_parameters(optimizer):
    """The keyword parameters of a ``pk.optim`` class (lr, beta, ...), but not backend."""
    import inspect

    return tuple(name for name in inspect.signature(optimizer).parameters if name != "backend")


METHODS = {
    **{m: ("zero", True, _zeroorder.OPTIONS[m]) for m in ZERO_ORDER},
    **{m: ("first", True, ("linesearch",) + _hyper_parameters(OPTIMIZERS[m])
           + (("step",) if m in ("gd", "momentum") else ()))
       for m in FIRST_ORDER},
    "lbfgs": ("first", False, ("memory",)),
    "newton": ("second", False, ()),
    "newton-cg": ("second", False, ("cg_maxiter",)),
}
_COMMON_OPTIONS = ("gtol", "ftol", "xtol", "maxfev", "maxtime")
_DEFAULT_LR = {"gd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 1e-1,
               "rmsprop": 1e-3, "adam": 1e-3}


def _bounds(bounds, n):
    """``bounds`` as arrays (lo, hi) of shape (n,): a tuple ``(lo, hi)`` of arrays or
    scalars, a list of ``n`` pairs (scipy's form), or an object with ``lb``/``ub``
    (scipy.optimize.Bounds).  None in a bound means unbounded."""
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        pair = (bounds.lb, bounds.ub)
    elif isinstance(bounds, tuple) and len(bounds) == 2:
        pair = bounds
    elif isinstance(bounds, list) and len(bounds) == n and all(
            isinstance(b, (tuple, list)) and len(b) == 2 for b in bounds):
        pair = ([b[0] for b in bounds], [b[1] for b in bounds])
    else:
        raise ValueError(f"bounds must be a tuple (lo, hi), a list of {n} (lo, hi) pairs or "
                         f"a scipy.optimize.Bounds, got {bounds!r}")
    lo_hi = []
    for side, value, fill in (("lower", pair[0], -np.inf), ("upper", pair[1], np.inf)):
        try:
            arr = np.array(value, dtype=object)
            arr = np.where(arr == None, fill, arr).astype(float)  # noqa: E711  (None = open)
            arr = np.broadcast_to(arr, (n,)).copy()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bounds ({side}) must broadcast to shape ({n},): {exc}") from None
        if np.isnan(arr).any():
            raise ValueError(f"bounds ({side}) must not contain NaN")
        lo_hi.append(arr)
    lo, hi = lo_hi
    if (lo > hi).any():
        i = int(np.argmax(lo > hi))
        raise ValueError(f"bounds must have lo <= hi, got lo[{i}]={lo[i]} > hi[{i}]={hi[i]}")
    return lo, hi


def _number(options, key, default, kind=float):
    value = options.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"options[{key!r}] must be a number >= 0, got {value!r}")
    return kind(value)


def _finite_differences(run, f_raw, grad, fun_and_grad, hessp, hess, need, executor=None):
    """Fill the missing derivatives with ``pk.gradient``/``pk.hvp``/``pk.hessian``;
    their evaluations of f are counted in ``run.nfev``.  With ``executor`` the
    gradient's points are evaluated there, counted by the central scheme's cost (2n)."""
    def engine():
        from . import derivatives
        return derivatives

    def counted(x):
        run._budget()  # maxfev / maxtime hold inside the differences too
        run.nfev += 1
        return f_raw(x)

    def spread(x):
        run._budget(2 * x.size)
        g = engine().gradient(f_raw, x, executor=executor)
        run.nfev += 2 * x.size
        return g

    if grad is None and fun_and_grad is None:
        grad = spread if executor is not None else lambda x: engine().gradient(counted, x)
    exact = grad or (lambda x: fun_and_grad(x)[1])
    if hessp is None and hess is not None and "hessp" in need:
        hessp = lambda x, v: hess(x) @ v  # noqa: E731
    if hessp is None and "hessp" in need:
        hessp = lambda x, v: engine().hvp(counted, x, v, grad=exact)  # noqa: E731
    if hess is None and "hess" in need:
        hess = lambda x: engine().hessian(counted, x, grad=exact)  # noqa: E731
    return grad, hessp, hess


def _curvature_step(run, x0, fallback):
    """1 / L, L the largest eigenvalue of the Hessian at ``x0`` (Lanczos on the
    Hessian-vector products, counted in ``nhev``); ``fallback`` if L <= 0."""
    from .curvature import hessian_eigs

    largest = hessian_eigs(lambda v: run.hvp(x0, v), x0.size, k=1, which="largest",
                           tol=1e-6).values[-1]
    return 1.0 / largest if largest > 0 else fallback


def _with_args(func, args):
    if func is None or not args:
        return func
    return lambda *a: func(*a, *args)


def minimize(fun, x0, *, method="lbfgs", jac=None, hessp=None, hess=None, args=(),
             bounds=None, maxiter=None, tol=None, callback=None, seed=None, options=None,
             progress=False, executor=None):
    """Minimize a scalar function of a flat vector.

    Parameters
    ----------
    fun : callable or pk.Objective
        ``fun(x, *args) -> float`` (or ``(f, g)`` with ``jac=True``).  Zero-order
        methods also take a vectorized ``fun`` mapping ``(pop, n) -> (pop,)``
        (``options={"vectorized": True}``) or an ``@njit`` scalar ``fun`` (a whole
        population is then evaluated in one compiled call).
    x0 : array_like, shape (n,)
        Starting point (finite); a scalar is taken as a 1-vector, as in scipy.
    method : str
        Zero-order ``"random-search"``, ``"simulated-annealing"``, ``"genetic"``;
        first-order ``"gd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``,
        ``"rmsprop"``, ``"adam"``, ``"lbfgs"``; second-order ``"newton"``, ``"newton-cg"``.
    jac : callable, True or None
        Gradient ``jac(x, *args)``; True: ``fun`` returns ``(f, g)``; None: the
        Objective's ``grad`` or finite differences (:func:`pk.gradient`).
    hessp : callable or None
        ``hessp(x, v, *args) -> H(x) v`` for ``newton-cg``; None: the Objective's
        ``hvp``, ``hess(x) @ v`` when ``hess`` is given, else :func:`pk.hvp`.
    hess : callable or None
        ``hess(x, *args) -> (n, n)`` for ``newton``; None: :func:`pk.hessian`.
    args : tuple
        Extra arguments of ``fun``, ``jac``, ``hessp``, ``hess``.
    bounds : tuple (lo, hi), list of n (lo, hi) pairs, or scipy.optimize.Bounds, optional
        Box constraints: projection for the ``pk.optim`` first-order methods,
        clipping for zero-order ones.  ``lbfgs``, ``newton``, ``newton-cg`` reject them.
    maxiter : int, optional
        Maximum number of iterations (generations for zero-order methods; their
        default is 100).
    tol : float, optional
        Shorthand for ``options["gtol"]``.
    callback : callable, optional
        ``callback(intermediate_result)`` after every iteration, with an
        :class:`OptimizeResult` holding ``x``, ``fun``, ``jac``, ``nit``, ``nfev``;
        raising ``StopIteration`` ends the run with the best point so far.
    seed : int, numpy.random.SeedSequence or None
        Seed of the stochastic methods; results are bit-for-bit reproducible for
        any ``executor`` and number of workers.
    options : dict, optional
        Common: ``gtol`` (default 1e-5; stop when the max-norm of the (projected)
        gradient is <= gtol -- the only criterion that reports success for
        derivative-based methods), ``ftol`` and ``xtol`` (stop, unsuccessfully,
        when the relative change of f or the step falls to or below them; default
        0: only when nothing changes), ``maxfev``, ``maxtime`` (seconds).
        ``pk.optim`` methods: ``lr``, ``linesearch`` (default True for ``gd``,
        False for the others) and the optimizer's hyper-parameters.  ``gd`` and
        ``momentum`` also take ``step="auto"``: ``lr = 1/L`` with L the largest
        eigenvalue of the Hessian at ``x0`` (Lanczos on Hessian-vector products,
        counted in ``nhev``; the default ``lr`` if L <= 0) and a fixed step -- for an
        L-smooth function this step decreases f at every gradient-descent iteration.  ``lbfgs``:
        ``memory`` (10).  ``newton-cg``: ``cg_maxiter``.  Zero-order: see
        :mod:`pykernels._zeroorder`.
    progress : bool
        Show a tqdm bar with the best objective value.
    executor : concurrent.futures.Executor, optional
        Evaluates zero-order populations, or the points of a finite-difference
        gradient (``jac=None``), in parallel.

    Returns
    -------
    OptimizeResult
        ``x, fun, jac, nit, nfev, njev, nhev, success, status, message, history,
        time, method``.  ``x`` is the best point seen, ``fun`` its value.

    Raises
    ------
    ValueError
        Unknown method or option, ``x0`` not 1-D or not finite, malformed bounds,
        bounds for a method that does not support them.
    TypeError
        ``fun``, ``jac``, ``hessp``, ``hess`` or ``callback`` of the wrong kind.

    Notes
    -----
    When ``fun`` and ``jac`` are ``@njit`` functions and there is no callback,
    progress bar, bounds or time budget, ``lbfgs`` and the ``pk.optim`` methods run
    compiled end to end (see :mod:`pykernels.kernels.optim`).

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> rosen = lambda x: 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
    >>> grad = lambda x: np.array([-400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0]),
    ...                            200 * (x[1] - x[0] ** 2)])
    >>> res = pk.minimize(rosen, [-1.2, 1.0], jac=grad, method="lbfgs", tol=1e-8)
    >>> res.success, np.allclose(res.x, 1.0)
    (True, True)
    """
    start = time.perf_counter()
    method = choice(method, "method", METHODS)
    family, bounded, method_options = METHODS[method]
    # a scalar x0 is a 1-vector, as in scipy.optimize.minimize
    x0 = float_array(x0, "x0", dtype=np.float64, ndim=(0, 1), allow_int=True).reshape(-1).copy()
    if x0.size == 0:
        raise ValueError("x0 must have at least one entry, got shape (0,)")
    options = dict(options or {})
    unknown = set(options) - set(_COMMON_OPTIONS) - set(method_options)
    if unknown:
        raise ValueError(f"options {sorted(unknown)} are not understood by method "
                         f"{method!r}; it takes {sorted(_COMMON_OPTIONS + method_options)}")
    objective = fun if isinstance(fun, Objective) else None
    if objective is not None:
        fun = objective.fun
    if not callable(fun):
        raise TypeError(f"fun must be callable or a pk.Objective, got {type(fun).__name__}")
    if not (jac is None or jac is True or callable(jac)):
        raise TypeError(f"jac must be callable, True or None, got {jac!r}")
    for name, value in (("hessp", hessp), ("hess", hess), ("callback", callback)):
        if value is not None and not callable(value):
            raise TypeError(f"{name} must be callable or None, got {type(value).__name__}")
    if not isinstance(args, tuple):
        args = (args,)
    project = None
    if bounds is not None:
        if not bounded:
            raise ValueError(f"bounds are not supported by method {method!r}; use a "
                             "pk.optim method (projection) or a zero-order method")
        lo, hi = _bounds(bounds, x0.size)
        project = lambda x: np.clip(x, lo, hi)  # noqa: E731
        x0 = project(x0)
    if maxiter is not None and (isinstance(maxiter, bool)
                                or not isinstance(maxiter, numbers.Integral) or maxiter < 1):
        raise ValueError(f"maxiter must be a positive integer or None, got {maxiter!r}")
    if executor is not None and family != "zero" and (jac is not None or (
            objective is not None and (objective.grad or objective.fun_and_grad))):
        raise ValueError("executor= evaluates zero-order populations and finite-difference "
                         f"gradients (jac=None); method {method!r} has a gradient")

    gtol = _number(options, "gtol", 1e-5 if tol is None else tol)
    budget = dict(gtol=gtol, ftol=_number(options, "ftol", 0.0),
                  xtol=_number(options, "xtol", 0.0),
                  maxfev=_number(options, "maxfev", None, int),
                  maxtime=_number(options, "maxtime", None), maxiter=maxiter,
                  callback=callback, progress=progress)
    for key in _COMMON_OPTIONS:
        options.pop(key, None)

    if family == "zero":
        run = Run(None, x0, project=project, zero_order=True, **budget)
        solve = lambda: ZERO_ORDER[method](  # noqa: E731
            run, x0, fun=fun, args=args, bounds=None if project is None else (lo, hi),
            seed=seed, executor=executor, **options)
        return _finish(run, solve, method, start)

    f_raw = _with_args(fun, args)
    fun_and_grad = grad = None
    if jac is True:
        fun_and_grad = f_raw
        f_raw = lambda x: fun_and_grad(x)[0]  # noqa: E731
    elif callable(jac):
        grad = _with_args(jac, args)
    elif objective is not None:
        grad, fun_and_grad = objective.grad, objective.fun_and_grad
    hessp = _with_args(hessp, args) or (objective.hvp if objective else None)
    hess = _with_args(hess, args) or (objective.hess if objective else None)

    opt = linesearch = None
    auto_step = options.pop("step", None)
    if auto_step not in (None, "auto"):
        raise ValueError(f"options['step'] must be 'auto' (use 'lr' for a number), "
                         f"got {auto_step!r}")
    auto_step = auto_step == "auto"
    if method in FIRST_ORDER:
        linesearch = bool(options.pop("linesearch", method == "gd" and not auto_step))
        opt = OPTIMIZERS[method](options.pop("lr", _DEFAULT_LR[method]), **options)
    compiled = None if args or auto_step else _firstorder.compiled_run(
        fun, jac, x0, method, options, budget, project, None if linesearch else opt)
    if compiled is not None:
        compiled["time"] = time.perf_counter() - start
        return OptimizeResult(compiled)

    run = Run(f_raw, x0, project=project, **budget)
    need = {"newton": ("hess",), "newton-cg": ("hessp",)}.get(method, ())
    need += ("hessp",) * auto_step
    if (grad is None and fun_and_grad is None) or need:
        grad, hessp, hess = _finite_differences(run, f_raw, grad, fun_and_grad, hessp, hess,
                                                need, executor)
    run._grad, run._fun_and_grad, run._hessp, run._hess = grad, fun_and_grad, hessp, hess
    if auto_step:
        opt.lr = _curvature_step(run, x0, opt.lr)
    if method == "lbfgs":
        solve = lambda: _firstorder.lbfgs(run, x0, **options)  # noqa: E731
    elif method == "newton":
        solve = lambda: _secondorder.newton(run, x0)  # noqa: E731
    elif method == "newton-cg":
        solve = lambda: _secondorder.newton_cg(run, x0, **options)  # noqa: E731
    else:
        solve = lambda: _firstorder.first_order(run, x0, opt=opt, linesearch=linesearch)  # noqa
    return _finish(run, solve, method, start)


def _finish(run, solve, method, start):
    """Run ``solve`` until it stops; the result holds the best point seen."""
    try:
        solve()
        raise AssertionError("a method returned without raising Stop")  # pragma: no cover
    except Stop as stop:
        status, message, success = stop.status, stop.message, stop.success
    finally:
        run.close()
    if not np.isfinite(run.best_f):
        success = False
    return OptimizeResult(
        x=run.best_x, fun=run.best_f, jac=run.best_g, nit=run.nit, nfev=run.nfev,
        njev=run.njev, nhev=run.nhev, success=bool(success), status=status, message=message,
        history=np.array(run.history), time=time.perf_counter() - start, method=method)


def compare_methods(net, X, Y, budget_seconds,
                    methods=("genetic", "lbfgs", "newton-cg"), *, seed=0):
    """Train copies of ``net`` full-batch with several methods under one time budget.

    Every method starts from ``net.theta`` (left unchanged) and minimizes
    ``net.objective(X, Y)`` for at most ``budget_seconds`` of wall time.

    Parameters
    ----------
    net : pk.MLP
    X, Y : array_like
        Training data, as for :meth:`pk.MLP.loss`.
    budget_seconds : float
        ``options["maxtime"]`` of every run.
    methods : sequence of str
        Methods of :func:`minimize`; the first is the reference (typically zero-order).
    seed : int
        Seed of the stochastic methods.

    Returns
    -------
    list of dict
        One row per method: ``method``, ``evaluations`` (nfev), ``gradients`` (njev),
        ``hvps`` (nhev), ``seconds``, ``loss`` (final), ``accuracy`` (classification
        nets, else None), ``evals_to_reference`` (evaluations of f the method needed to
        reach the first method's final loss; None if it never did) and ``ratio``
        (the first method's evaluations / ``evals_to_reference``), and ``trace``, the
        list of ``(nfev, best loss)`` after every iteration.
    """
    objective = net.objective(X, Y)
    Xc = net._check_X(X)
    labels = None
    if net.output in ("softmax", "sigmoid"):
        Yc = net._check_Y(Y, Xc.shape[0])
        labels = Yc.argmax(axis=1) if net.n_out > 1 else (Yc[:, 0] > 0.5)
    rows, reference = [], None
    for method in methods:
        trace = []
        res = minimize(objective, net.theta.copy(), method=method, seed=seed,
                       callback=lambda r: trace.append((r.nfev, r.fun)),
                       options={"maxtime": float(budget_seconds)})
        accuracy = None
        if labels is not None:
            out = net.predict(Xc, theta=res.x)
            guess = out.argmax(axis=1) if net.n_out > 1 else out[:, 0] > 0.5
            accuracy = float(np.mean(guess == labels))
        row = dict(method=method, evaluations=res.nfev, gradients=res.njev, hvps=res.nhev,
                   seconds=res.time, loss=res.fun, accuracy=accuracy,
                   evals_to_reference=None, ratio=None, trace=trace)
        if reference is None:
            reference = row
        else:
            hit = next((nfev for nfev, f in trace if f <= reference["loss"]), None)
            row["evals_to_reference"] = hit
            row["ratio"] = reference["evaluations"] / hit if hit else None
        rows.append(row)
    return rows
