"""Derivatives of any function by finite differences.

``pk.gradient``, ``pk.jacobian``, ``pk.hessian``, ``pk.hvp`` and ``pk.check_grad`` accept
a plain Python callable, a Numba ``@njit`` function (the whole difference loop then runs
compiled) or a cffi function pointer; see :mod:`pykernels._fdplan` and ``kernels/fd.py``.
"""

import functools
import numbers
from dataclasses import dataclass

import numpy as np

from . import _backend, reference
from . import _fdchecks as chk
from . import _fdnoise as fdn
from . import _fdplan as fdp
from ._fdnoise import DifferenceInfo
from ._checks import choice, flag, positive_int
from ._coloring import (ORDERS, Grouping, SymmetricGrouping, group_columns,
                        group_symmetric)

__all__ = [
    "DifferenceInfo",
    "GradientCheck",
    "GradientPlan",
    "check_grad",
    "color_groups",
    "gradient",
    "hessian",
    "hvp",
    "jacobian",
]

_COMMON_NOTES = """
    The step of component ``i`` is ``h_i = r * max(1, |x_i|)`` when ``step`` is None
    (``step`` given: ``h_i = step_i``, absolute).  A difference has two errors: truncation,
    from the Taylor terms the formula ignores (~ h for forward/backward, ~ h**2 for central),
    and rounding, ``eps |f| / h``, from subtracting nearly equal values.  ``r`` balances
    them: ``eps**(1/2)`` one-sided, ``eps**(1/3)`` central.  The complex step
    ``Im f(x + i h e_i) / h`` subtracts nothing, so it has no rounding error and uses
    ``r = eps``.  ``richardson`` evaluates central differences at eight steps
    ``h, h/2, ..., h/128`` with ``r = 1/2``, extrapolates every run of four consecutive
    ones (cancelling the ``h**2, h**4, h**6`` terms) and keeps, per entry, the run with
    the smallest error estimate: the change made by its last extrapolation plus a
    rounding bound ``~ eps |f| / h`` (a run that met a non-finite value never wins, so
    ``f`` may be undefined at the coarsest steps).
    The step actually used is the difference of the evaluated points, e.g.
    ``(x_i + h_i) - (x_i - h_i)``, so rounding of ``x + h`` does not bias the quotient.

    With ``bounds``, no evaluation leaves the box: the length scale ``max(1, |x_i|)``
    is capped by the distance to the nearer bound (functions are often singular just
    outside their box: ``log``, ``sqrt``), ``central`` switches to the second-order
    one-sided formula ``(-3 f(x) + 4 f(x + h) - f(x + 2h)) / (2h)`` on a bound, and
    ``forward``/``backward`` turn around, or shrink the step to the room left.
"""


# ------------------------------------------------------------------ first derivatives

def _first(mod, x, method, hs, relative, lo, hi, estimate_at, noise, layout=None):
    """Run ``estimate_at(h, stencil, f0_needed)`` for ``method``; Richardson extrapolates,
    with ``noise(h)`` the rounding bound of a difference at the finest steps ``h``, and
    ``layout`` mapping a per-column array onto the estimate's entries (sparse data)."""
    if method != "richardson":
        h, stencil, need_f0 = fdp.steps(mod, x, hs, relative, lo, hi, fdp.CODE[method])
        return estimate_at(h, stencil, need_f0), None
    onesided, steps = [], []

    def estimate(k):
        h, stencil, need_f0 = fdp.steps(mod, x, hs / fdp.RATIO ** k, relative, lo, hi,
                                        fdp.CODE["central"])
        if k == 0:
            flags = stencil == fdp.S_ONESIDED
            onesided.append(flags if layout is None else layout(flags))
        steps.append(np.abs(h))
        return estimate_at(h, stencil, need_f0)

    # central differences cancel h^2, h^4, h^6; one-sided ones h^2, h^3, h^4
    return fdp.richardson(estimate,
                          lambda level: np.where(onesided[0], 2 + level, 2 + 2 * level),
                          lambda k: noise(steps[k]))


def gradient(f, x, *, method="central", step=None, args=(), bounds=None, full_output=False,
             workers=1, executor=None, backend=None, vectorized=False):
    """Gradient of a scalar function by finite differences.

    Parameters
    ----------
    f : callable, Numba ``@njit`` function or cffi function pointer
        ``f(x, *args) -> float``.  An ``@njit`` ``f`` runs the whole difference loop
        compiled (once per ``f``, then ~µs per call); a cffi pointer has the C signature
        ``double f(const double *x, int64_t n, ...)`` (extra parameters take ``args``).
    x : array_like, shape (n,)
        Point, finite.
    method : {"central", "forward", "backward", "complex", "richardson"}
        Difference formula; ``complex`` needs ``f`` to accept complex input.
    step : float, array_like of shape (n,) or "auto", optional
        Absolute step(s), positive; default: the relative rule in Notes.  ``"auto"``:
        estimate the noise of ``f`` at ``x`` (ECnoise, ~8 more evaluations) and take the
        step that balances it against truncation (:mod:`pykernels._fdnoise`).
    args : tuple
        Extra arguments of ``f`` (numeric arrays/scalars for compiled ``f``).
    bounds : (lo, hi), optional
        Box (scalars or (n,) arrays, ``±inf`` allowed) that no evaluation leaves.
    full_output : bool
        With ``richardson``, also return a per-entry error estimate; with
        ``step="auto"``, a :class:`DifferenceInfo` (``noise``, ``step``, ``error``).
    workers : int
        Threads for the compiled loop (columns in parallel); results do not depend on it.
    executor : concurrent.futures.Executor, optional
        Evaluate the points through ``executor.map`` (for an expensive Python ``f``).
    backend : str, optional
        ``"numpy"`` runs the reference loop even for compiled ``f``; ``"c"`` runs a cffi
        ``f`` in the C loops (real steps, no ``args``); otherwise compiled loops are Numba's.
    vectorized : bool
        ``f`` takes an ``(n, k)`` array, the ``k`` points as columns, and returns their
        ``k`` values: every point of the stencil in one call (central: one call).

    Returns
    -------
    g : ndarray, shape (n,)
    error : ndarray of shape (n,), or DifferenceInfo
        Only with ``full_output=True``: the error estimate of ``richardson``, or with
        ``step="auto"`` the :class:`DifferenceInfo`.

    Raises
    ------
    ValueError
        Bad ``x``/``step``/``bounds``/``method``, or ``f`` returning a non-finite value or
        a non-scalar (the message names the component and ``x``); ``method="complex"``
        with an ``f`` that drops the imaginary part.
    TypeError
        ``f`` not callable, ``args`` not a tuple, or a compiled ``f`` that cannot be
        called with these arguments.

    Notes
    -----
    {notes}
    Costs ``2n`` evaluations (central), ``n + 1`` (forward/backward), ``n`` (complex),
    ``16n`` (richardson, plus ``f(x)`` for the error estimate).

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> pk.gradient(lambda x: np.sum(x ** 2), np.array([1.0, 2.0]))  # doctest: +SKIP
    array([2., 4.])
    """
    if full_output is not False:
        full_output = flag(full_output, "full_output")
    if step is None and bounds is None and executor is None and full_output is False \
            and vectorized is False:
        # repeated calls with the same f reuse one plan (the per-call fast path)
        if type(workers) is not int:  # True == 1 would find the plan of workers=1
            positive_int(workers, "workers")
        key = (f, method, x.shape if type(x) is np.ndarray else np.shape(x), workers,
               _backend.get_backend() if backend is None else backend, backend is None)
        try:
            plan = _PLANS.get(key)
        except TypeError:  # unhashable f
            key = plan = None
        if plan is None:
            plan = GradientPlan(f, np.shape(x)[0] if np.ndim(x) == 1 else -1, method=method,
                                workers=workers, backend=backend)
            if key is not None:
                _remember(_PLANS, key, plan, _MAX_PLANS)
        return plan(x, args)
    plan = GradientPlan(f, np.size(x), method=method, step=step, bounds=bounds,
                        workers=workers, executor=executor, backend=backend,
                        vectorized=vectorized)
    return plan(x, args, full_output=full_output)


_PLANS = {}
_MAX_PLANS = 64


def _remember(cache, key, value, size):
    """Insert into a small first-in-first-out cache (safe if threads race on it)."""
    while len(cache) >= size:
        try:
            cache.pop(next(iter(cache)), None)
        except (RuntimeError, StopIteration):  # changed by another thread meanwhile
            break
    cache[key] = value
_GROUPINGS = {}
_FLOAT64 = np.dtype(np.float64)


class GradientPlan:
    """The gradient of one ``f`` at points of size ``n``, set up once for many calls.

    Everything that does not depend on ``x`` -- the kind of ``f`` and its compiled
    drivers, the steps rule, the box -- is resolved here; ``plan(x)`` then costs one
    call into compiled code for an ``@njit`` ``f`` (central/forward/backward).
    :func:`gradient` keeps such plans for repeated calls with the same ``f``.

    Parameters
    ----------
    f, method, step, bounds, workers, executor, backend, vectorized
        As in :func:`gradient`.
    n : int
        Size of the points.
    rel_step : float or array_like of shape (n,), optional
        Relative step ``r`` replacing the method's rule: ``h_i = r_i * max(1, |x_i|)``.

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> plan = pk.derivatives.GradientPlan(lambda x: np.sum(x ** 2), 2)
    >>> plan(np.array([1.0, 2.0]))  # doctest: +SKIP
    array([2., 4.])
    """

    def __init__(self, f, n, *, method="central", step=None, rel_step=None, bounds=None,
                 workers=1, executor=None, backend=None, vectorized=False):
        self.method = chk.method(method)
        self.n = positive_int(n, "x.size") if n != -1 else -1
        self.workers = positive_int(workers, "workers")
        self.bounds = bounds
        self._parts = chk.parts(f, False, 0, self.workers, chk.executor(executor), backend,
                                vectorized)
        self._fcall, drv, _, self._chunks = self._parts
        self._auto = self._central = None
        if self.n == -1:
            return  # x is not 1-D: every call raises the error of _point
        self._lo, self._hi = fdp.box(bounds, self.n)
        if rel_step is not None and step is not None:
            raise ValueError("give step or rel_step, not both")
        self._noisy = fdp.is_auto(step)
        self._hs, self._relative = fdp.step_spec(None if self._noisy else step, self.n,
                                                 fdp.FIRST_STEP[self.method])
        if rel_step is not None:
            self._hs = fdp.step_spec(rel_step, self.n, 0.0)[0]
            self._relative = True
        fast = ("gradient_auto" in drv and self.method in ("forward", "backward", "central")
                and bounds is None and self._chunks == 1 and not self._noisy)
        self._auto = drv["gradient_auto"] if fast else None
        # unbounded central with relative steps: one loop, four arguments
        self._central = drv.get("gradient_central") if fast and self._relative and \
            self.method == "central" else None
        self._shape, self._code = (self.n,), fdp.CODE[self.method]

    def __call__(self, x, args=(), *, full_output=False):
        """Gradient at ``x`` (and the error estimate with ``full_output`` + richardson)."""
        auto = self._auto
        if auto is not None and type(x) is np.ndarray and x.shape == self._shape \
                and x.dtype is _FLOAT64 and type(args) is tuple:
            # fast path: one compiled call; any problem is diagnosed by the general path
            out = np.empty(self._shape)
            central = self._central
            try:
                if central is not None and not args:
                    if central(x, self._hs, out) == -1:
                        return out
                elif auto(x, self._hs, self._relative, self._lo, self._hi, self._code, 1,
                          out, args) == -1:
                    return out
            except fdp.typing_error():
                pass
        return self._general(chk.point(x), chk.args(args), full_output)

    def _general(self, x, args, full_output):
        if x.shape != (self.n,):
            raise ValueError(f"x must have shape ({self.n},) for this plan, got {x.shape}")
        if self.bounds is not None:
            fdp.check_inside(self._lo, self._hi, x)
        fcall, drv, mod, chunks = self._parts
        method, f0, used = self.method, [], []
        hs, relative, sigma = self._hs, self._relative, None
        if self._noisy:
            f0.append(chk.scalar_value(fcall, x, args))
            sigma, hs, relative = _noisy_steps(self._values_at(args), x, f0[0], self._lo,
                                               self._hi, method, fdn.FIRST_POWER, hs, relative)

        def at(h, stencil, need_f0):
            used.append(h)
            out = np.empty(x.size)
            if method == "complex":
                bad = fdp.run(drv["gradient_complex"], x, h, chunks, out, args, workers=chunks)
                if bad < 0:
                    chk.check_complex(out, fcall, x, h, args)
            else:
                if need_f0 and not f0:
                    f0.append(chk.scalar_value(fcall, x, args))
                bad = fdp.run(drv["gradient"], x, h, stencil, f0[0] if f0 else 0.0, chunks,
                              out, args, workers=chunks)
            if bad >= 0 and method != "richardson":
                chk.raise_value("component", bad, x, h)
            return out

        def noise(h):
            if not f0:
                f0.append(chk.scalar_value(fcall, x, args))
            return 2.0 * (fdp.EPS * abs(f0[0]) if sigma is None else sigma[0]) / h

        g, err = _first(mod, x, method, hs, relative, self._lo, self._hi, at, noise)
        if err is not None:
            chk.check_extrapolated(g, "component", x, used[0])
        if sigma is not None and full_output:
            return g, _info(sigma[0], used[0], err, method)
        return (g, err) if full_output and err is not None else g

    def _values_at(self, args):
        """f at the rows of an array, for the noise estimate."""
        return _values_at(self._fcall, self._parts[1], args, scalar=True)


def _values_at(fcall, drv, args, scalar):
    """``rows -> values of f at each row`` for the noise estimate: one vectorized call,
    or one call per row (checked like ``f(x)``)."""
    owner = getattr(drv.get("gradient"), "__self__", None)
    if isinstance(owner, reference.fd._VectorizedDrivers):
        return lambda rows: owner._values(rows, args)
    check = chk.scalar_value if scalar else chk.vector_value
    return lambda rows: np.array([check(fcall, row, args) for row in rows])


def _noisy_steps(values_at, x, f0, lo, hi, method, powers, hs, relative):
    """(noise, hs, relative) for ``step="auto"``: the noise of f at x and the relative
    steps balancing it (methods without a noise rule keep ``hs``)."""
    sigma, f0 = fdn.noise_level(values_at, x, f0, lo, hi)
    if method in powers:
        rel = fdn.relative_noise(sigma, f0)
        hs, relative = np.full(x.size, rel ** powers[method]), True
    return sigma, hs, relative


def _relative_noise(values_at, x, f0):
    """Relative noise of f (or of the components of a vector f) at x, unbounded."""
    sigma, f0 = fdn.noise_level(values_at, x, f0, *fdp.box(None, x.size))
    return fdn.relative_noise(sigma, f0)


def _noise_rule(table, powers, method, rel):
    """The relative step of ``method`` for relative noise ``rel`` (``table`` when the
    method has no noise rule; the two agree at ``rel = eps``)."""
    return rel ** powers[method] if method in powers else table[method]


def _info(sigma, h, err, method):
    """The :class:`DifferenceInfo` of a ``step="auto"`` gradient (``err``: Richardson's
    estimate, or None for the bound of the balanced step)."""
    if err is None:
        err = fdn.BOUND.get(method, 0.0) * sigma / np.abs(h)
    return fdn.DifferenceInfo(noise=float(sigma), step=h, error=err)


def color_groups(sparsity, shape=None, order="largest_first", symmetric=False):
    """Group the variables of a sparsity pattern for :func:`jacobian` or :func:`hessian`.

    Parameters
    ----------
    sparsity : array_like of bool, shape (m, n), or scipy sparse matrix
        Nonzero pattern of the Jacobian (or, ``symmetric``, of the Hessian).
    shape : (m, n), optional
        Expected shape; a mismatch raises ValueError.
    order : {"largest_first", "smallest_last", "natural"}
        Vertex order of the greedy colouring.
    symmetric : bool
        False: columns grouped by a colouring of the column-intersection graph (Curtis,
        Powell & Reid 1974) -- 3 groups on a tridiagonal, 5 on a pentadiagonal pattern.
        True: a star colouring of the pattern's graph (made symmetric, diagonal
        added), for :func:`hessian` -- 2 groups on an arrowhead pattern, where column
        grouping needs ``n``.

    Returns
    -------
    Grouping or SymmetricGrouping
        Pass it as ``sparsity=`` to skip the colouring on later calls.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, pykernels as pk
    >>> arrow = sp.lil_matrix((6, 6)); arrow[0, :] = 1; arrow[:, 0] = 1; arrow.setdiag(1)
    >>> pk.derivatives.color_groups(arrow).ngroups
    6
    >>> pk.derivatives.color_groups(arrow, symmetric=True).ngroups
    2
    """
    choice(order, "coloring", ORDERS)
    kind = SymmetricGrouping if symmetric else Grouping
    if isinstance(sparsity, (Grouping, SymmetricGrouping)):
        if not isinstance(sparsity, kind):
            raise TypeError(f"sparsity must be a pattern or a {kind.__name__} (from "
                            f"color_groups(..., symmetric={symmetric})), got a "
                            f"{type(sparsity).__name__}")
        grouping = sparsity
    else:
        pattern, fingerprint = _pattern(sparsity)
        if symmetric and pattern.shape[0] != pattern.shape[1]:
            raise ValueError(f"sparsity must be a square (n, n) pattern for a Hessian, got "
                             f"shape {pattern.shape}")
        key = (order, symmetric) + fingerprint
        # the colouring costs far more than this fingerprint of the pattern: keep it
        grouping = _GROUPINGS.get(key)
        if grouping is None:
            grouping = (group_symmetric if symmetric else group_columns)(pattern, order)
            _remember(_GROUPINGS, key, grouping, 16)
    if shape is not None and grouping.shape != tuple(shape):
        raise ValueError(f"sparsity must have shape {tuple(shape)}, got {grouping.shape}")
    return grouping


def _pattern(sparsity):
    """(pattern, fingerprint) of a scipy sparse matrix or a 2-D mask."""
    import scipy.sparse as sp

    if sp.issparse(sparsity):
        pattern = sparsity if sparsity.format in ("csr", "csc") else sparsity.tocsr()
        return pattern, (pattern.format, pattern.shape, hash(pattern.indptr.tobytes()),
                         hash(pattern.indices.tobytes()))
    mask = np.asarray(sparsity)
    if mask.ndim != 2 or mask.dtype.kind not in "biuf":
        raise ValueError(f"sparsity must be a 2-D boolean mask or scipy sparse "
                         f"matrix, got shape {mask.shape} and dtype {mask.dtype}")
    pattern = mask != 0
    return pattern, ("mask", mask.shape, hash(np.packbits(pattern).tobytes()))


def jacobian(f, x, *, method="central", step=None, args=(), sparsity=None, bounds=None,
             full_output=False, workers=1, executor=None, backend=None,
             coloring="largest_first", m=None, vectorized=False):
    """Jacobian of a vector function by finite differences.

    Parameters
    ----------
    f : callable, Numba ``@njit`` function or cffi function pointer
        ``f(x, *args) -> (m,) array``.  A cffi pointer has the C signature
        ``void f(const double *x, int64_t n, double *out, int64_t m, ...)``.
    x : array_like, shape (n,)
    method, step, args, bounds, full_output, workers, executor, backend
        As in :func:`gradient`.
    vectorized : bool
        ``f`` takes an ``(n, k)`` array (``k`` points as columns) and returns ``(m, k)``.
    sparsity : array_like of bool (m, n), scipy sparse matrix or Grouping, optional
        Nonzero pattern: columns that share no row are perturbed together (one
        evaluation, or two for central, per colour group) and the result is a
        ``scipy.sparse.csr_matrix``.  A :func:`color_groups` result skips the colouring.
    coloring : {"largest_first", "smallest_last", "natural"}
        Vertex order of the greedy colouring.
    m : int, optional
        Output size of a cffi ``f`` (default ``n``, or the rows of ``sparsity``);
        ignored otherwise.

    Returns
    -------
    J : ndarray (m, n) or scipy.sparse.csr_matrix
    error : same type, or DifferenceInfo
        Only with ``full_output=True``, as in :func:`gradient` (``noise`` per row).

    Raises
    ------
    ValueError
        As :func:`gradient`, and for a ``sparsity`` pattern of the wrong shape; an ``f``
        returning a different shape for a perturbed point names the column.
    TypeError
        As :func:`gradient`.

    Notes
    -----
    {notes}
    A tridiagonal ``n x n`` Jacobian takes 3 colour groups: 6 evaluations (central),
    4 (forward, with ``f(x)``) whatever ``n``.  Without ``sparsity`` ``f(x)`` is always
    evaluated once, to learn ``m``.

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> pk.jacobian(lambda x: x ** 2, np.array([1.0, 2.0]))  # doctest: +SKIP
    array([[2., 0.],
           [0., 4.]])
    """
    if full_output is not False:
        full_output = flag(full_output, "full_output")
    if sparsity is None and step is None and bounds is None and executor is None \
            and not full_output and vectorized is False and m is None and type(workers) is int \
            and workers == 1:
        J = _repeated(_JACOBIAN_PLANS, _JacobianPlan, f, x, method, backend, args)
        if J is not None:
            return J
    method = chk.method(method)
    x = chk.point(x)
    args = chk.args(args)
    workers = positive_int(workers, "workers")
    n = x.size
    if m is not None:
        m_c = positive_int(m, "m")
    elif sparsity is not None and len(np.shape(sparsity)) == 2:
        m_c = int(np.shape(sparsity)[0])  # a pattern fixes the output size
    else:
        m_c = n
    fcall, drv, mod, chunks = chk.parts(f, True, m_c, workers, chk.executor(executor), backend,
                                        vectorized)
    lo, hi = fdp.box(bounds, n)
    if bounds is not None:
        fdp.check_inside(lo, hi, x)
    noisy = fdp.is_auto(step)
    hs, relative = fdp.step_spec(None if noisy else step, n, fdp.FIRST_STEP[method])
    if sparsity is None and fdp.cffi_complex(f):
        groups, known, m = None, [], m_c   # f(x) is not callable here: m= (default n)
    elif sparsity is None:
        groups, known = None, [chk.vector_value(fcall, x, args)]
        m = known[0].size
    else:
        # the pattern fixes m: f(x) is evaluated only when a stencil needs it
        groups, known = color_groups(sparsity, None, coloring), []
        m = groups.shape[0]
        if groups.shape[1] != n:
            raise ValueError(f"sparsity must have {n} columns (x has shape ({n},)), "
                             f"got shape {groups.shape}")

    def value_at_x():
        if not known:
            known.append(chk.vector_value(fcall, x, args))
            if known[0].size != m:
                raise ValueError(f"sparsity must have shape ({known[0].size}, {n}) (m, n), "
                                 f"got {groups.shape}")
        return known[0]

    sigma, used = None, []
    if noisy:
        sigma, hs, relative = _noisy_steps(_values_at(fcall, drv, args, scalar=False), x,
                                           value_at_x(), lo, hi, method, fdn.FIRST_POWER, hs,
                                           relative)

    def at(h, stencil, need_f0):
        used.append(h)
        if groups is None:
            out_t = np.empty((n, m))
            status = np.zeros(n, np.int8)
            if method == "complex":
                fdp.run(drv["jacobian_complex"], x, h, m, chunks, out_t, status, args,
                        workers=chunks)
            else:
                fdp.run(drv["jacobian"], x, h, stencil, value_at_x(), chunks, out_t, status,
                        args, workers=chunks)
            out = out_t.T
        else:
            g = groups
            out = np.empty(g.rows.size)
            status = np.zeros(g.ngroups, np.int8)
            if method == "complex":
                fdp.run(drv["jacobian_grouped_complex"], x, h, m, g.order, g.gptr, g.colptr,
                        g.rows, g.dest, chunks, out, status, args, workers=chunks)
            else:
                base = value_at_x() if need_f0 else _zeros(m)
                fdp.run(drv["jacobian_grouped"], x, h, stencil, base, g.order, g.gptr,
                        g.colptr, g.rows, g.dest, chunks, out, status, args, workers=chunks)
        chk.check_status(status, "column", x, h, groups, method == "richardson")
        if method == "complex":
            chk.check_complex(out, fcall, x, h, args)
        return out

    layout = None if groups is None else (lambda per_column: per_column[groups.data_cols])

    def rounding():
        return fdp.EPS * np.abs(value_at_x()) if sigma is None else sigma

    def noise(h):
        fx = rounding()
        if groups is None:
            return 2.0 * fx[:, None] / h[None, :]
        return 2.0 * fx[groups.data_rows] / h[groups.data_cols]

    J, err = _first(mod, x, method, hs, relative, lo, hi, at, noise, layout)
    if err is not None:
        chk.check_extrapolated(J.T if groups is None else J, "column", x,
                               used[0] if groups is None else None)
    if sigma is not None and err is None:
        h = np.abs(used[0])
        bound = fdn.BOUND.get(method, 0.0) * (sigma[:, None] / h[None, :] if groups is None
                                              else sigma[groups.data_rows] / h[groups.data_cols])
        err = bound
    if groups is not None:
        J = _csr(J, groups)
        err = None if err is None else _csr(err, groups)
    if sigma is not None and full_output:
        return J, fdn.DifferenceInfo(noise=sigma, step=used[0], error=err)
    return (J, err) if full_output and err is not None else J


class _JacobianPlan:
    """A dense real-step Jacobian of an ``@njit`` ``f`` at points of size ``n`` in one
    compiled call (``None``: any other case, or anything to diagnose -- the general
    path of :func:`jacobian` answers)."""

    def __init__(self, f, n, method, backend):
        self._auto = None
        if method in ("forward", "backward", "central"):
            _, drv, _, _ = chk.parts(f, True, n, 1, None, backend)
            self._auto = drv.get("jacobian_auto")
        self._hs = fdp.step_spec(None, n, fdp.FIRST_STEP[method])[0]
        self._lo, self._hi = fdp.box(None, n)
        self._code = fdp.CODE[method]

    def __call__(self, x, args):
        if self._auto is None:
            return None
        try:
            out_t, _, code = self._auto(x, self._hs, True, self._lo, self._hi, self._code,
                                        args)
        except fdp.typing_error():
            return None
        return out_t.T if code == -1 else None


class _HvpPlan:
    """The central HVP of an ``@njit`` ``f`` without ``grad`` in one compiled call."""

    def __init__(self, f, n, method, backend):
        self._auto = None
        if method == "central":
            _, drv, _, _ = chk.parts(f, False, 0, 1, None, backend)
            self._auto = drv.get("hvp_auto")
        self._hs = fdp.step_spec(None, n, fdp.SECOND_STEP["central"])[0]
        self._lo, self._hi = fdp.box(None, n)

    def __call__(self, x, v, args):
        if self._auto is None or type(v) is not np.ndarray or v.dtype != _FLOAT64 \
                or v.shape != x.shape:
            return None
        out = np.empty(x.size)
        try:
            code = self._auto(x, v, self._hs, fdp.SECOND_STEP["central"], self._lo,
                              self._hi, out, args)
        except fdp.typing_error():
            return None
        return out if code == -1 else None


_JACOBIAN_PLANS = {}
_HVP_FAST_PLANS = {}


def _repeated(cache, plan_type, f, x, method, backend, *call_args):
    """The answer of a cached plan for a repeated call with a float64 vector ``x`` and
    the default options, or None (then the general path answers, or says what is
    wrong)."""
    if type(x) is not np.ndarray or x.dtype != _FLOAT64 or x.ndim != 1 or not x.size \
            or type(call_args[-1]) is not tuple:
        return None
    name = _backend.get_backend() if backend is None else backend
    key = (f, method, x.size, name)
    try:
        plan = cache.get(key)
    except TypeError:  # unhashable f, method or backend
        return None
    if plan is None:
        if method not in fdp.METHODS or fdp.compiled_kind(f) is None:
            return None
        try:
            plan = plan_type(f, x.size, method, backend)
        except (TypeError, ValueError, _backend.BackendUnavailable):
            return None
        _remember(cache, key, plan, _MAX_PLANS)
    return plan(x, *call_args)


@functools.lru_cache(maxsize=16)
def _zeros(m):
    z = np.zeros(m)
    z.flags.writeable = False
    return z


def _csr(data, groups):
    import scipy.sparse as sp

    return sp.csr_matrix((data, groups.indices, groups.indptr), shape=groups.shape)


# ------------------------------------------------------------------ second derivatives

def hessian(f, x, *, grad=None, method="central", step=None, args=(), sparsity=None,
            coloring="largest_first", full_output=False, workers=1, executor=None,
            backend=None, vectorized=False):
    """Hessian of a scalar function by finite differences, symmetric by construction.

    Parameters
    ----------
    f : callable, Numba ``@njit`` function or cffi function pointer
        ``f(x, *args) -> float``; not called when ``grad`` is given.
    x : array_like, shape (n,)
    grad : callable, optional
        ``grad(x, *args) -> (n,)``; then ``H`` is the :func:`jacobian` of ``grad``,
        symmetrised as ``(J + J.T) / 2``.
    method : {"central", "forward", "backward", "complex", "richardson"}
    step : float, array_like of shape (n,) or "auto", optional
        Absolute step(s); default the relative rule in Notes; ``"auto"`` as in
        :func:`gradient` (second-difference rules ``eps_f**(1/4)`` central,
        ``eps_f**(1/3)`` forward).
    args, full_output, workers, executor, backend
        As in :func:`gradient`.
    vectorized : bool
        ``f`` (or ``grad``, when given) takes an ``(n, k)`` array of ``k`` points as
        columns and returns ``(k,)`` (``grad``: ``(n, k)``).
    sparsity : array_like of bool (n, n), scipy sparse matrix or SymmetricGrouping, optional
        Nonzero pattern of ``H`` (made symmetric, diagonal added).  The variables are
        grouped by a star colouring (:func:`color_groups` with ``symmetric=True``,
        cached per pattern) and the result is a ``scipy.sparse.csr_matrix``, exactly
        symmetric.  With ``grad``: one grouped difference of ``grad`` per colour
        (two for central) -- an arrowhead pattern takes 2 colours, a banded one about
        its bandwidth plus one.  Without: second differences of ``f`` along each
        variable and a colour group, about one evaluation per nonzero (two central).
    coloring : {"largest_first", "smallest_last", "natural"}
        Vertex order of the colouring.

    Returns
    -------
    H : ndarray (n, n) or scipy.sparse.csr_matrix
    error : same type
        Only with ``full_output=True`` and ``method="richardson"``.

    Raises
    ------
    ValueError
        As :func:`gradient`; a ``grad`` returning the wrong shape; a ``sparsity``
        pattern that is not ``(n, n)``.
    TypeError
        As :func:`gradient`.

    Notes
    -----
    Without ``grad``, second differences of ``f`` on the upper triangle, mirrored:
    central ``(f(x+h_i+h_j) - f(x+h_i-h_j) - f(x-h_i+h_j) + f(x-h_i-h_j)) / (4 h_i h_j)``
    (rounding ~ ``eps |f| / h**2``, hence ``r = eps**(1/4)``), forward
    ``(f(x+h_i+h_j) - f(x+h_i) - f(x+h_j) + f(x)) / (h_i h_j)`` (``r = eps**(1/3)``;
    backward: the same with negative steps), complex
    ``Im(f(x + i t e_i + h_j) - f(x + i t e_i - h_j)) / (2 t h_j)`` with a tiny ``t`` and
    ``r = eps**(1/3)`` for ``h``, richardson: central at ``h, h/2, ..., h/128`` from
    ``r = 1/4``, extrapolated as in :func:`gradient`.  With ``grad``, the steps of
    :func:`jacobian`.

    With ``sparsity`` and no ``grad``, ``h_j e_j`` is replaced by the step ``v`` of the
    whole colour group of ``j`` (``j`` is the only neighbour of ``i`` there, so
    ``u^T H v = h_i h_j H_ij`` with ``u = h_i e_i``); central uses
    ``(f(x+u+v) + f(x-u-v) - f(x+u) - f(x-u) - f(x+v) - f(x-v) + 2 f(x)) / (2 h_i h_j)``
    (second order, 2 evaluations per entry of the upper triangle) and gets the
    diagonal from ``f(x ± u)``.  Each value of ``f`` is one number, so no scheme needs
    fewer evaluations than the Hessian has unknown entries.

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> H = pk.hessian(lambda x: x[0] ** 2 * x[1], np.array([1.0, 2.0]))
    >>> np.round(H, 6)
    array([[4., 2.],
           [2., 0.]])
    """
    method = chk.method(method)
    x = chk.point(x)
    args = chk.args(args)
    full_output = flag(full_output, "full_output")
    n = x.size
    groups = None if sparsity is None else color_groups(sparsity, None, coloring,
                                                        symmetric=True)
    if groups is not None and groups.shape != (n, n):
        raise ValueError(f"sparsity must have shape ({n}, {n}) (x has shape ({n},)), got "
                         f"{groups.shape}")
    if grad is not None:
        J = jacobian(grad, x, method=method, step=step, args=args, full_output=full_output,
                     workers=workers, executor=executor, backend=backend,
                     sparsity=None if groups is None else groups.gradient,
                     vectorized=vectorized)
        J, err = J if isinstance(J, tuple) else (J, None)
        info = err if isinstance(err, DifferenceInfo) else None
        err = info.error if info is not None else err
        if J.shape != (n, n):
            raise ValueError(f"grad must return an array of shape ({n},) (the gradient "
                             f"at x), got {J.shape[0]} values")
        if groups is not None:
            H = _symmetric_csr(_mean_of_sources(J.data, groups), groups)
            err = None if err is None else _symmetric_csr(_mean_of_sources(err.data, groups),
                                                          groups)
        else:
            H = 0.5 * (J + J.T)
            err = None if err is None else 0.5 * (err + err.T)
        if info is not None:
            return H, fdn.DifferenceInfo(noise=info.noise, step=info.step, error=err)
        return (H, err) if err is not None else H
    workers = positive_int(workers, "workers")
    fcall, drv, _, chunks = chk.parts(f, False, 0, workers, chk.executor(executor), backend,
                                      vectorized)
    noisy = fdp.is_auto(step)
    hs, relative = fdp.step_spec(None if noisy else step, n, fdp.SECOND_STEP[method])
    scale = np.maximum(1.0, np.abs(x))
    f0 = chk.scalar_value(fcall, x, args) if noisy or method != "complex" and (
        groups is not None or method in ("forward", "backward")) else 0.0
    sigma = None
    if noisy:
        unbounded = fdp.box(None, n)
        sigma, hs, relative = _noisy_steps(_values_at(fcall, drv, args, scalar=True), x, f0,
                                           *unbounded, method, fdn.SECOND_POWER, hs, relative)
        sigma = float(sigma[0])

    def pairwise(k, factor, rounding):
        """``factor * rounding / (h_i h_j)`` per entry (dense) or per pair (sparse)."""
        h = np.abs(hs / fdp.RATIO ** k * (scale if relative else 1.0))
        if groups is None:
            return factor * rounding / np.outer(h, h)
        return factor * rounding / (h[groups.pair_i] * h[groups.pair_j])

    def result(H, err):
        if groups is not None:
            H, err = (None if a is None else _symmetric_csr(a[groups.pair_of], groups)
                      for a in (H, err))
        if sigma is not None and full_output:
            return H, fdn.DifferenceInfo(noise=sigma, step=hs * (scale if relative else 1.0),
                                         error=err)
        return (H, err) if full_output and err is not None else H

    def at(k):
        h = hs / fdp.RATIO ** k * (scale if relative else 1.0)
        h = -h if method == "backward" else h
        forward = method in ("forward", "backward")
        if groups is None:
            out = np.empty((n, n))
            if method == "complex":
                fdp.run(drv["hessian_complex"], x, fdp.FIRST_STEP["complex"] * scale, h,
                        chunks, out, args, workers=chunks)
            else:
                fdp.run(drv["hessian"], x, h, forward, f0, chunks, out, args, workers=chunks)
            bad = np.argwhere(~np.isfinite(out))
            where = tuple(bad[0]) if bad.size else None
        else:
            g = groups
            out = np.empty(g.pair_i.size)
            if method == "complex":
                fdp.run(drv["hessian_grouped_complex"], x, fdp.FIRST_STEP["complex"] * scale,
                        h, g.order, g.gptr, g.pair_i, g.pair_b, g.pair_j, chunks, out, args,
                        workers=chunks)
            else:
                fdp.run(drv["hessian_grouped"], x, h, forward, f0, g.order, g.gptr, g.pair_i,
                        g.pair_b, g.pair_j, chunks, out, args, workers=chunks)
            bad = np.flatnonzero(~np.isfinite(out))
            where = (g.pair_i[bad[0]], g.pair_j[bad[0]]) if bad.size else None
        if where is not None and method != "richardson":
            raise ValueError(f"f returned a non-finite value for Hessian entry "
                             f"({where[0]}, {where[1]}) at x = {chk.show(x)}")
        if method == "complex" and k == 0:
            chk.check_complex(out, fcall, x, h, args)
        return out

    if method != "richardson":
        H = at(0)
        bound = None if sigma is None else pairwise(0, 2.0 * fdn.BOUND.get(method, 0.0), sigma)
        return result(H, bound)
    rounding = fdp.EPS * abs(chk.scalar_value(fcall, x, args)) if sigma is None else sigma
    H, err = fdp.richardson(at, lambda level: 2 + 2 * level,
                            lambda k: pairwise(k, 4.0, rounding))
    chk.check_extrapolated(H, "Hessian entry", x,
                           hs * (scale if relative else 1.0) if groups is None else None)
    return result(H, err)


def _mean_of_sources(values, groups):
    """Entry e of the symmetric result: the mean of the grouped Jacobian's values at
    ``groups.sources[:, e]`` (one of them may be missing, -1)."""
    first, second = groups.sources
    a = values[np.where(first >= 0, first, second)]
    b = values[np.where(second >= 0, second, first)]
    return 0.5 * (a + b)


def _symmetric_csr(data, groups):
    import scipy.sparse as sp

    return sp.csr_matrix((data, groups.indices, groups.indptr), shape=groups.shape)


def hvp(f, x, v, *, grad=None, method="central", step=None, args=(), backend=None,
        vectorized=False):
    """Hessian-vector product ``H(x) @ v`` without forming ``H``.

    Parameters
    ----------
    f : callable, Numba ``@njit`` function or cffi function pointer
        ``f(x, *args) -> float``; not called when ``grad`` is given.
    x, v : array_like, shape (n,)
    grad : callable, optional
        ``grad(x, *args) -> (n,)``.  Without it, the gradient is a compiled (for
        compiled ``f``) finite-difference gradient of ``f``.
    method : {"central", "forward", "backward", "complex", "richardson"}
        Difference of the gradient along ``v``.  ``complex`` with ``grad`` steps
        ``grad`` into the complex plane; without ``grad`` the inner gradient is the
        complex-step one and the outer difference central.
    step : float or "auto", optional
        Relative step ``r`` along ``v``: ``t = r * max(1, ||x||_inf) / ||v||_inf``;
        ``"auto"``: the rule for the noise of ``f`` (or ``grad``) estimated at ``x``.
    args, backend
        As in :func:`gradient`.
    vectorized : bool
        ``f`` (or ``grad``) takes an ``(n, k)`` array, the ``k`` points as columns.

    Returns
    -------
    Hv : ndarray, shape (n,)

    Raises
    ------
    ValueError
        As :func:`gradient`; ``v`` of another shape than ``x``; a ``grad`` returning
        the wrong shape or a non-finite value.

    Notes
    -----
    ``Hv = (g(x + t v) - g(x - t v)) / (2t)`` for central: 2 gradient evaluations, or
    ``4n`` evaluations of ``f`` without ``grad``.  Then the inner gradient is noisy, so
    both differences take the second-derivative steps (``eps**(1/4)`` central,
    ``eps**(1/3)`` forward/backward), except after an exact complex-step gradient.
    The difference is taken along ``v / ||v||_inf`` and scaled back, so any finite
    ``v`` -- however small -- gives a result.

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> Hv = pk.hvp(lambda x: x[0] ** 2 * x[1], np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    >>> np.round(Hv, 6)
    array([4., 2.])
    """
    if grad is None and step is None and vectorized is False:
        Hv = _repeated(_HVP_FAST_PLANS, _HvpPlan, f, x, method, backend, v, args)
        if Hv is not None:
            return Hv
    method = chk.method(method)
    x = chk.point(x)
    v = chk.point(v, "v")
    args = chk.args(args)
    if v.shape != x.shape:
        raise ValueError(f"v must have shape {x.shape} like x, got {v.shape}")
    vmax = float(np.max(np.abs(v)))
    if vmax == 0:
        return np.zeros_like(x)
    noisy = fdp.is_auto(step)
    if step is not None and not noisy and not (isinstance(step, numbers.Real)
                                               and np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive finite number or 'auto', got {step!r}")
    rel = fdp.EPS
    if grad is not None:
        g = chk.checked_gradient(grad, x.size, vectorized)
        if noisy:
            rel = _relative_noise(lambda rows: np.array([g(row, *args) for row in rows]), x,
                                  g(x, *args))
        outer = method
        r = _noise_rule(fdp.FIRST_STEP, fdn.FIRST_POWER, outer, rel) if step is None or \
            noisy else step
    else:
        inner = {"complex": "complex", "richardson": "richardson"}.get(method, "central")
        if noisy:
            fcall, drv, *_ = chk.parts(f, False, 0, 1, None, backend, vectorized)
            rel = _relative_noise(_values_at(fcall, drv, args, scalar=True), x,
                                  chk.scalar_value(fcall, x, args))
            plan = GradientPlan(f, x.size, method=inner, backend=backend, vectorized=vectorized,
                                rel_step=_noise_rule(fdp.SECOND_STEP, fdn.SECOND_POWER, inner,
                                                     rel) if inner == "central" else None)
        else:
            plan = _inner_gradient(f, x.size, inner, backend, vectorized)

        def g(y, *a):
            return plan(y, a)
        outer = "central" if method == "complex" else method
        # an inner difference is noisy, so the outer one takes the larger
        # second-derivative step -- except after the complex step, which is exact
        exact = method in ("complex", "richardson")
        table = fdp.FIRST_STEP if exact else fdp.SECOND_STEP
        powers = fdn.FIRST_POWER if exact else fdn.SECOND_POWER
        r = _noise_rule(table, powers, outer, rel) if step is None or noisy else step
    t = r * max(1.0, float(np.max(np.abs(x))))
    return _directional(g, x, v / vmax, t, outer, args) * vmax


_HVP_PLANS = {}


def _inner_gradient(f, n, method, backend, vectorized=False):
    """The gradient plan an HVP of ``f`` differences (central: the second-derivative
    step, as the outer difference divides by a step again); kept per ``f``."""
    key = (f, n, method, _backend.get_backend() if backend is None else backend,
           bool(vectorized))
    try:
        plan = _HVP_PLANS.get(key)
    except TypeError:  # unhashable f
        key = plan = None
    if plan is None:
        rel = fdp.SECOND_STEP["central"] if method == "central" else None
        plan = GradientPlan(f, n, method=method, rel_step=rel, backend=backend,
                            vectorized=vectorized)
        if key is not None:
            _remember(_HVP_PLANS, key, plan, _MAX_PLANS)
    return plan


def _directional(g, x, v, t, method, args):
    """Derivative of ``s -> g(x + s v)`` at 0 with step ``t``."""
    if method == "complex":
        return np.imag(g(x + 1j * t * v, *args)) / t
    if method == "richardson":
        return fdp.richardson(lambda k: _directional(g, x, v, t / fdp.RATIO ** k, "central",
                                                     args),
                              lambda level: 2 + 2 * level)[0]
    plus = g(x + t * v, *args) if method != "backward" else g(x, *args)
    minus = g(x - t * v, *args) if method != "forward" else g(x, *args)
    return (plus - minus) / (2.0 * t if method == "central" else t)


@dataclass(frozen=True)
class GradientCheck:
    """Per-component result of :func:`check_grad` (``full_output=True``).

    Attributes
    ----------
    errors : ndarray, shape (n,)
        ``|grad_i - d_i| / max(||d||_inf, tiny)``, ``d`` the Richardson difference.
    worst : int
        Index of the largest error: the component to look at first.
    grad : ndarray, shape (n,)
        The gradient that was checked.
    estimate : ndarray, shape (n,)
        The Richardson difference ``d``.
    estimate_error : ndarray, shape (n,)
        Richardson's own error estimate of ``d``: an entry of ``errors`` well above
        ``estimate_error / max(||d||_inf, tiny)`` is a real disagreement.
    """

    errors: np.ndarray
    worst: int
    grad: np.ndarray
    estimate: np.ndarray
    estimate_error: np.ndarray


def check_grad(f, grad, x, *, args=(), backend=None, full_output=False):
    """Compare a gradient function with a Richardson-extrapolated difference.

    Parameters
    ----------
    f : callable, Numba ``@njit`` function or cffi function pointer
        Scalar function ``f(x, *args)``.
    grad : callable
        Its claimed gradient ``grad(x, *args) -> (n,)``.
    x : array_like, shape (n,)
    args, backend
        As in :func:`gradient`.
    full_output : bool
        Also return a :class:`GradientCheck` with the error of every component and the
        index of the ``worst``.

    Returns
    -------
    float
        ``max_i |grad_i - d_i| / max(||d||_inf, ||grad||_inf, tiny)`` where ``d`` is the
        ``richardson`` gradient: ~1e-12 for a correct ``grad`` at a well-scaled point,
        at most 2 (1 for a ``grad`` that is not zero where ``d`` is).
    GradientCheck
        Only with ``full_output=True``.

    Raises
    ------
    ValueError
        ``grad`` returning the wrong shape or a non-finite value (named ``grad``), and
        as :func:`gradient`.

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> f = lambda x: x[0] ** 2 + 3 * x[1]
    >>> wrong = lambda x: np.array([2 * x[0], 2.0])      # d/dx1 should be 3
    >>> err, check = pk.check_grad(f, wrong, np.array([1.0, 1.0]), full_output=True)
    >>> check.worst, round(float(check.errors[check.worst]), 6)
    (1, 0.333333)
    """
    x = chk.point(x)
    args = chk.args(args)
    full_output = flag(full_output, "full_output")
    g = chk.checked_gradient(grad, x.size)(x, *args).astype(np.float64)
    d, d_err = gradient(f, x, method="richardson", args=args, backend=backend,
                        full_output=True)
    errors = np.abs(g - d) / max(np.max(np.abs(d)), np.max(np.abs(g)), np.finfo(float).tiny)
    worst = int(np.argmax(errors))
    if not full_output:
        return float(errors[worst])
    return float(errors[worst]), GradientCheck(errors=errors, worst=worst, grad=g, estimate=d,
                                               estimate_error=d_err)


for _fun in (gradient, jacobian):
    _fun.__doc__ = _fun.__doc__.replace("{notes}", _COMMON_NOTES.strip())
