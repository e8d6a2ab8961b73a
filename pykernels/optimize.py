"""``pk.minimize``: zero-, first- and second-order minimization behind one interface."""

import numbers
import time

import numpy as np

from . import _firstorder, _secondorder, _zeroorder
from ._checks import choice, fits_in_memory, flag, float_array, function, mapping
from ._checks import positive_int, real
from ._checks import executor as check_executor
from ._checks import returned_array, returned_scalar
from ._checks import seed as check_seed
from ._runner import OptimizeResult, Run, Stop
from .optim import OPTIMIZERS

__all__ = ["minimize", "OptimizeResult", "Objective", "METHODS", "compare_methods",
           "default_maxiter"]


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

    Raises
    ------
    TypeError
        If ``fun`` is not callable, or a derivative is neither callable nor None.

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> obj = pk.Objective(lambda x: x @ x, grad=lambda x: 2 * x)
    >>> res = pk.minimize(obj, np.ones(3), method="lbfgs")
    >>> bool(res.success), float(res.fun) < 1e-12
    (True, True)
    """

    def __init__(self, fun, grad=None, hvp=None, hess=None, *, fun_and_grad=None, gnvp=None):
        self.fun = function(fun, "fun")
        self.grad = function(grad, "grad", optional=True)
        self.hvp = function(hvp, "hvp", optional=True)
        self.hess = function(hess, "hess", optional=True)
        self.fun_and_grad = function(fun_and_grad, "fun_and_grad", optional=True)
        self.gnvp = function(gnvp, "gnvp", optional=True)

    def __call__(self, x):
        return self.fun(x)

    def __repr__(self):
        known = [k for k in ("grad", "hvp", "hess", "fun_and_grad", "gnvp") if getattr(self, k)]
        return f"Objective(fun, {', '.join(known) or 'no derivatives'})"


ZERO_ORDER = {"random-search": _zeroorder.random_search,
              "simulated-annealing": _zeroorder.simulated_annealing,
              "genetic": _zeroorder.genetic}
FIRST_ORDER = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


def _hyper_parameters(optimizer):
    """The keyword parameters of a ``pk.optim`` class (lr, beta, ...), but not backend."""
    import inspect

    return tuple(name for name in inspect.signature(optimizer).parameters if name != "backend")


#: Every method name -> (family, supports bounds, the options it accepts).
METHODS = {
    **{m: ("zero", True, _zeroorder.OPTIONS[m]) for m in ZERO_ORDER},
    **{m: ("first", True, ("linesearch",) + _hyper_parameters(OPTIMIZERS[m])
           + (("step",) if m in ("gd", "momentum") else ()))
       for m in FIRST_ORDER},
    "lbfgs": ("first", False, ("memory",)),
    "newton": ("second", False, ()),
    "newton-cg": ("second", False, ("cg_maxiter",)),
}
_COMMON_OPTIONS = ("gtol", "ftol", "xtol", "maxfev", "maxtime", "patience")
_DEFAULT_LR = {"gd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 1e-1,
               "rmsprop": 1e-3, "adam": 1e-3}
#: Iterations without a decrease of the best value that end a run (options["patience"]).
DEFAULT_PATIENCE = 1000


def default_maxiter(method, n):
    """The iteration budget of ``method`` on ``n`` variables when the caller sets none.

    Parameters
    ----------
    method : str
        A method of :func:`minimize`.
    n : int
        Number of variables.

    Returns
    -------
    int
        100 generations for the zero-order methods, 10000 iterations for the
        ``pk.optim`` rules (``gd`` ... ``adam``), 15000 for ``lbfgs`` (scipy's
        L-BFGS-B default) and ``200 n`` for ``newton`` and ``newton-cg`` (scipy's
        Newton-CG default).
    """
    family = METHODS[choice(method, "method", METHODS)][0]
    if family == "zero":
        return _zeroorder.DEFAULT_MAXITER
    if method in FIRST_ORDER:
        return 10_000
    return 15_000 if method == "lbfgs" else 200 * n


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
        arr = np.array(value, dtype=object)
        if not all(v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool))
                   for v in arr.reshape(-1)):
            raise TypeError(f"bounds ({side}) must hold real numbers or None, got {value!r}")
        arr = np.where(arr == None, fill, arr).astype(float)  # noqa: E711  (None = open)
        try:
            arr = np.broadcast_to(arr, (n,)).copy()
        except ValueError:
            raise ValueError(f"bounds ({side}) must be a scalar or of shape ({n},), got "
                             f"shape {arr.shape}") from None
        if np.isnan(arr).any():
            raise ValueError(f"bounds ({side}) must not contain NaN")
        lo_hi.append(arr)
    lo, hi = lo_hi
    if (lo > hi).any():
        i = int(np.argmax(lo > hi))
        raise ValueError(f"bounds must have lo <= hi, got lo[{i}]={lo[i]} > hi[{i}]={hi[i]}")
    return lo, hi


def _option(options, key, default, kind=float, *, none_means=None):
    """``options[key]`` (or ``default``) as a number >= 0 (an int >= 1 for
    ``kind=int``); an explicit None means ``none_means`` (no limit when that is None,
    e.g. ``patience``; the default for a tolerance)."""
    value = options.get(key, default)
    if value is None:
        value = none_means
        if value is None:
            return None
    if kind is int:
        return positive_int(value, f"options[{key!r}]")
    return real(value, f"options[{key!r}]", low=0.0, finite=key != "maxtime")


class _NonFiniteValue(Exception):
    """Raised through the finite-difference engine when ``fun`` is NaN/Inf at a point."""


class _FiniteValues:
    """The user's ``fun`` (``name="fun"``) or gradient (``"jac"``) for the difference
    engine: its values checked as :class:`Run` checks them (so both accept and refuse
    the same, and errors name ``fun``/``jac``), raising :class:`_NonFiniteValue`
    instead of returning NaN/Inf (a module-level class, so that executors can pickle
    it with ``func``)."""

    def __init__(self, func, name):
        self.func, self.name = func, name

    def __call__(self, x, *args):
        value = self.func(x, *args)
        if self.name == "fun":
            value = returned_scalar(value, "fun")
        else:
            value = returned_array(value, self.name, x.shape)
        if not np.all(np.isfinite(value)):
            raise _NonFiniteValue
        return value


def _nan_where_not_finite(func, shape):
    """``func`` returning a NaN array of ``shape(x)`` where it meets a NaN/Inf value:
    like a user's ``jac`` that returns NaN there (a line search then shrinks, an
    iteration ends the run with the best finite point)."""
    def wrapped(x, *args):
        try:
            return func(x, *args)
        except _NonFiniteValue:
            return np.full(shape(x), np.nan)
    return wrapped


def _finite_differences(run, f_raw, grad, fun_and_grad, hessp, hess, need, executor=None):
    """Fill the missing derivatives with ``pk.gradient``/``pk.hvp``/``pk.hessian``;
    their evaluations of f are counted in ``run.nfev``.  With ``executor`` the
    gradient's points are evaluated there, counted by the central scheme's cost (2n).
    A NaN/Inf value of f (or of the gradient the differences use) makes the missing
    derivative NaN, as if the user's own derivative had returned NaN there."""
    def engine():
        from . import derivatives
        return derivatives

    f_finite = _FiniteValues(f_raw, "fun")

    def counted(x):
        run._budget()  # maxfev / maxtime hold inside the differences too
        run.nfev += 1
        return f_finite(x)

    def spread(x):
        run._budget(2 * x.size)
        run.nfev += 2 * x.size
        return engine().gradient(f_finite, x, executor=executor)

    vector = lambda x: x.shape  # noqa: E731
    if grad is None and fun_and_grad is None:
        run.fd_gradient = True
        grad = spread if executor is not None else lambda x: engine().gradient(counted, x)
        grad = _nan_where_not_finite(grad, vector)
    exact = _FiniteValues(grad or (lambda x: fun_and_grad(x)[1]), "jac")
    if hessp is None and hess is not None and "hessp" in need:
        hessp = lambda x, v: returned_array(hess(x), "hess", (x.size, x.size)) @ v  # noqa: E731
    if hessp is None and "hessp" in need:
        hessp = _nan_where_not_finite(
            lambda x, v: engine().hvp(counted, x, v, grad=exact), vector)
    if hess is None and "hess" in need:
        hess = _nan_where_not_finite(lambda x: engine().hessian(counted, x, grad=exact),
                                     lambda x: (x.size, x.size))
    return grad, hessp, hess


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
        Maximum number of iterations (generations for zero-order methods).  When
        neither ``maxiter`` nor ``options["maxfev"]``/``options["maxtime"]`` is given,
        the method's default budget applies (:func:`default_maxiter`: 100 generations
        for zero-order methods, 10000 iterations for ``gd`` ... ``adam``, 15000 for
        ``lbfgs``, ``200 n`` for ``newton`` and ``newton-cg``), so every run ends.
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
        0: only when nothing changes), ``maxfev``, ``maxtime`` (seconds),
        ``patience`` (default 1000; stop, with status 8, when the best value has not
        decreased in that many iterations -- unsuccessfully for derivative-based
        methods, whose gradient test did not pass; None: never).
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
        bounds for a method that does not support them, a negative ``seed``, an
        option out of range; ``fun``/``jac``/``hessp``/``hess`` returning an array
        of the wrong shape.
    TypeError
        ``fun``, ``jac``, ``hessp``, ``hess`` or ``callback`` of the wrong kind,
        ``options`` not a dict, ``fun`` returning something that is not a real
        number (None, a string, a complex), ``fun`` not returning a pair ``(f, g)``
        with ``jac=True``.

    Notes
    -----
    A NaN/Inf value of ``fun``, of its gradient or of ``hess``/``hessp`` at an
    iterate ends the run with ``success=False`` (status 6) and the best finite point;
    with ``jac=None`` this holds too when f is NaN/Inf at a point of the finite
    differences (the gradient there counts as NaN).  Inside a line search a NaN/Inf
    trial value only shortens the step.

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
    options = mapping(options, "options")
    unknown = set(options) - set(_COMMON_OPTIONS) - set(method_options)
    if unknown:
        raise ValueError(f"options {sorted(unknown, key=str)} are not understood by method "
                         f"{method!r}; it takes {sorted(_COMMON_OPTIONS + method_options)}")
    objective = fun if isinstance(fun, Objective) else None
    if objective is not None:
        fun = objective.fun
    if not callable(fun):
        raise TypeError(f"fun must be callable or a pk.Objective, got {type(fun).__name__}")
    if not (jac is None or jac is True or callable(jac)):
        raise TypeError(f"jac must be callable, True or None, got {jac!r}")
    for name, value in (("hessp", hessp), ("hess", hess), ("callback", callback)):
        function(value, name, optional=True)
    if not isinstance(args, tuple):
        args = (args,)
    seed = check_seed(seed)
    executor = check_executor(executor)
    project = None
    if bounds is not None:
        if not bounded:
            raise ValueError(f"bounds are not supported by method {method!r}; use a "
                             "pk.optim method (projection) or a zero-order method")
        lo, hi = _bounds(bounds, x0.size)
        project = lambda x: np.clip(x, lo, hi)  # noqa: E731
        x0 = project(x0)
    if maxiter is not None:
        maxiter = positive_int(maxiter, "maxiter")
    if executor is not None and family != "zero" and (jac is not None or (
            objective is not None and (objective.grad or objective.fun_and_grad))):
        raise ValueError("executor= evaluates zero-order populations and finite-difference "
                         f"gradients (jac=None); method {method!r} has a gradient")

    gtol = 1e-5 if tol is None else real(tol, "tol", low=0.0)
    budget = dict(gtol=_option(options, "gtol", gtol, none_means=gtol),
                  ftol=_option(options, "ftol", 0.0, none_means=0.0),
                  xtol=_option(options, "xtol", 0.0, none_means=0.0),
                  maxfev=_option(options, "maxfev", None, int),
                  maxtime=_option(options, "maxtime", None), maxiter=maxiter,
                  patience=_option(options, "patience", DEFAULT_PATIENCE, int),
                  callback=callback, progress=flag(progress, "progress"))
    if budget["maxtime"] == np.inf:  # no time limit: the default budget applies
        budget["maxtime"] = None
    if maxiter is None and budget["maxfev"] is None and budget["maxtime"] is None:
        budget["maxiter"] = default_maxiter(method, x0.size)
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
        linesearch = flag(options.pop("linesearch", method == "gd" and not auto_step),
                          "options['linesearch']")
        opt = OPTIMIZERS[method](options.pop("lr", _DEFAULT_LR[method]), **options)
    elif method == "lbfgs":
        options["memory"] = positive_int(options.get("memory", 10), "options['memory']")
        fits_in_memory(2 * options["memory"] * x0.size, 8, "options['memory']",
                       f"{options['memory']} pairs of vectors of {x0.size}")
    elif method == "newton-cg" and options.get("cg_maxiter") is not None:
        options["cg_maxiter"] = positive_int(options["cg_maxiter"], "options['cg_maxiter']")
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
    if method == "lbfgs":
        solve = lambda: _firstorder.lbfgs(run, x0, **options)  # noqa: E731
    elif method == "newton":
        solve = lambda: _secondorder.newton(run, x0)  # noqa: E731
    elif method == "newton-cg":
        solve = lambda: _secondorder.newton_cg(run, x0, **options)  # noqa: E731
    else:
        solve = lambda: _firstorder.first_order(  # noqa: E731
            run, x0, opt=opt, linesearch=linesearch, auto_step=auto_step)
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
    fun = run.best_f
    if not np.isfinite(fun):
        success = False
        fun = np.nan if run.first_f is None else run.first_f
    return OptimizeResult(
        x=run.best_x, fun=fun, jac=run.best_g, nit=run.nit, nfev=run.nfev,
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

    Raises
    ------
    ValueError, TypeError
        As :func:`minimize` and :meth:`pk.MLP.loss` on bad methods or data.
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
