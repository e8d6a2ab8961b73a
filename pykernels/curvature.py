"""Curvature and smoothness: Hessian spectra from products, Lipschitz constants,
stationary points of 1-D functions.

scipy is imported inside the functions that need it, so ``import pykernels`` stays light.
"""

from typing import NamedTuple

import numpy as np

from ._checks import (as_array, choice, fits_in_memory, float_array, function, positive_int,
                      real, returned_array, returned_scalar)
from ._checks import seed as check_seed

__all__ = ["HessianEigs", "LipschitzEstimate", "StationaryPoint", "StationaryPoints",
           "hessian_eigs", "lipschitz", "stationary_points"]

_EPS = np.finfo(np.float64).eps


# -- Hessian spectra -----------------------------------------------------------

class HessianEigs(NamedTuple):
    """Result of :func:`hessian_eigs`.

    Attributes
    ----------
    values : ndarray, shape (k,)
        The eigenvalues found (Ritz values), ascending.
    vectors : ndarray, shape (n, k)
        Unit eigenvectors (Ritz vectors), column j for ``values[j]``.
    residuals : ndarray, shape (k,)
        ``||H y - theta y||`` of each pair; some eigenvalue of H lies within it of
        ``theta``.
    nprod : int
        Operator products used.
    converged : bool
        All wanted values found, each residual <= ``tol * max|theta|``.
    """

    values: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    nprod: int
    converged: bool


def _apply(hvp, q, n, exponent):
    """2**-exponent H q, checked (scaling by a power of two is exact)."""
    w = returned_array(hvp(q), "hvp", (n,), exact=True)
    if not np.isfinite(w).all():
        raise ValueError("hvp returned NaN or Inf (for a unit vector v)")
    return np.ldexp(w, -exponent)


def _exponent(w):
    """The power of two of max|w| (0 for w = 0): 2**-e w has entries of order 1."""
    return int(np.frexp(np.max(np.abs(w)))[1]) if w.size else 0


def _norm(w):
    """||w||_2 without squaring entries that could underflow or overflow."""
    e = _exponent(w)
    return float(np.ldexp(np.linalg.norm(np.ldexp(w, -e)), e))


def _wanted(m, k, which):
    """Indices (into m ascending Ritz values) of the wanted ones."""
    if which == "largest":
        return np.arange(max(m - k, 0), m)
    if which == "smallest":
        return np.arange(min(k, m))
    return np.unique(np.concatenate([np.arange(min(k, m)), np.arange(max(m - k, 0), m)]))


def hessian_eigs(hvp, n, k=1, which="largest", *, tol=1e-10, maxiter=None, seed=0):
    """Extreme eigenvalues of a symmetric operator given only as ``v -> H v``.

    Parameters
    ----------
    hvp : callable
        ``hvp(v)`` returns ``H v`` as an array of shape (n,) for v of shape (n,),
        e.g. ``lambda v: net.hvp(X, Y, v)``.  H must be symmetric.
    n : int
        Dimension.
    k : int
        How many eigenvalues at each wanted end (1 <= k <= n).
    which : {"largest", "smallest", "both"}
        Algebraically largest, smallest, or the k at each end.
    tol : float
        Stop when the residual of every wanted Ritz pair is <= ``tol * max|theta|``.
    maxiter : int, optional
        Most products (Krylov dimension); default ``min(n, 300)``.
    seed : int
        Seed of the random start vector.

    Returns
    -------
    HessianEigs
        ``values`` (ascending), ``vectors``, ``residuals``, ``nprod`` (products of
        the operator used) and ``converged``.

    Raises
    ------
    TypeError
        If ``hvp`` is not callable.
    ValueError
        On a bad ``n``, ``k``, ``which``, ``tol``, or an ``hvp`` result of the
        wrong shape or with NaN/Inf.

    Notes
    -----
    The iteration is scale-invariant: the operator is divided by the power of two
    nearest the size of its first product, exactly, so that ``c H`` gives ``c`` times
    the eigenvalues and residuals of ``H`` for any finite scale (bit for bit when c is
    a power of two), with no norm squared into underflow or overflow.

    Lanczos with full re-orthogonalisation (classical Gram-Schmidt, twice): after j
    products :math:`H Q_j = Q_j T_j + \\beta_j q_{j+1} e_j^T` with :math:`T_j`
    tridiagonal; its eigenpairs :math:`(\\theta, s)` give Ritz pairs
    :math:`(\\theta, Q_j s)` with residual :math:`\\beta_j |s_j|`, and some eigenvalue of H
    lies within that residual of :math:`\\theta` (Parlett, *The Symmetric Eigenvalue
    Problem*, Thm 4.5.1).  When the Krylov space becomes invariant the iteration
    restarts from a random vector orthogonal to it, so with enough products repeated
    eigenvalues appear with their multiplicity.  Storage: ``n`` floats per product.

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> A = np.diag([1.0, 2.0, 5.0])
    >>> r = pk.hessian_eigs(lambda v: A @ v, 3)
    >>> round(float(r.values[0]), 12), r.nprod <= 3
    (5.0, True)
    """
    from scipy.linalg import eigh_tridiagonal

    function(hvp, "hvp")
    n = positive_int(n, "n")
    k = positive_int(k, "k")
    if k > n:
        raise ValueError(f"k must be <= n = {n}, got {k}")
    choice(which, "which", ("largest", "smallest", "both"))
    tol = real(tol, "tol", low=0.0, low_open=True)
    m_max = min(n, 300) if maxiter is None else min(positive_int(maxiter, "maxiter"), n)
    fits_in_memory((m_max + 4) * n, 8, "n", f"{m_max} Lanczos vectors of {n}")
    rng = np.random.default_rng(check_seed(seed))
    Q = np.empty((m_max, n))  # Lanczos vectors as rows: only the used rows are touched
    alpha, beta = np.empty(m_max), np.empty(m_max)
    q = rng.standard_normal(n)
    q /= np.linalg.norm(q)
    w = _apply(hvp, q, n, 0)
    exponent = _exponent(w)  # H / 2**exponent has products of order 1
    w = np.ldexp(w, -exponent)
    at_last_restart = None
    for j in range(m_max):
        Q[j] = q
        if j:
            w = _apply(hvp, q, n, exponent)
        alpha[j] = q @ w
        basis = Q[:j + 1]
        for _ in range(2):
            w -= (basis @ w) @ basis
        b = _norm(w)
        theta, S = eigh_tridiagonal(alpha[:j + 1], beta[:j]) if j else (alpha[:1], np.ones((1, 1)))
        idx = _wanted(j + 1, k, which)
        scale = max(np.abs(theta).max(), np.finfo(float).tiny)
        residuals = b * np.abs(S[-1, idx])
        enough = idx.size == min(n, k if which != "both" else 2 * k)
        if j + 1 == m_max:
            break
        if b <= 10 * n * _EPS * scale:
            # The Krylov space is invariant.  A fresh direction orthogonal to it finds
            # further copies of repeated eigenvalues; stop once one adds no wanted value.
            if enough and at_last_restart is not None and at_last_restart.shape == idx.shape \
                    and np.allclose(theta[idx], at_last_restart, rtol=0, atol=tol * scale):
                break
            at_last_restart = theta[idx]
            b = 0.0
            w = rng.standard_normal(n)
            for _ in range(2):
                w -= (basis @ w) @ basis
            w /= np.linalg.norm(w)
        elif enough and np.all(residuals <= tol * scale):
            break
        else:
            w /= b
        beta[j] = b
        q = w
    vectors = (S[:, idx].T @ Q[:j + 1]).T
    return HessianEigs(np.ldexp(theta[idx], exponent), vectors,
                       np.ldexp(residuals, exponent), j + 1,
                       bool(enough and np.all(residuals <= tol * scale)))


def spectral_norm_bound(W):
    """An upper bound on ``||W||_2``: Lanczos on W^T W (or W W^T), plus the residual.

    Parameters
    ----------
    W : array_like, shape (m, n)

    Returns
    -------
    float
        ``s sqrt(theta + residual)`` for the largest Ritz value theta of the Gram matrix
        of ``W / s``, ``s = max |W_ij|`` (0 for W = 0; inf where the bound overflows).
    """
    W = np.asarray(W, dtype=np.float64)
    scale = float(np.max(np.abs(W))) if W.size else 0.0
    if scale == 0.0:
        return 0.0
    W = W / scale  # ||W|| = scale ||W / scale||: the Gram matrix neither overflows nor underflows
    gram = W.T @ W if W.shape[1] <= W.shape[0] else W @ W.T
    result = hessian_eigs(lambda v: gram @ v, gram.shape[0], tol=1e-12)
    return scale * float(np.sqrt(max(result.values[-1] + result.residuals[-1], 0.0)))


# -- Lipschitz constants -------------------------------------------------------

class LipschitzEstimate(NamedTuple):
    """Result of :func:`lipschitz`: a certified lower bound and the pair that shows it.

    Attributes
    ----------
    value : float
        ``||f(x) - f(y)|| / ||x - y||`` (2-norms) computed from the two evaluations at
        the witnesses ``x`` and ``y``: the Lipschitz constant of f on the box is at
        least this.
    x, y : float or ndarray, shape (n,)
        The witnesses, two distinct points of the box (floats when ``lo`` and ``hi``
        were scalars).
    method : str
        What found them: ``"pairs"`` (the best of the randomly sampled pairs) or
        ``"gradient"`` (a pair straddling a maximiser of the local slope
        ``||J_f(x)||_2``, found by L-BFGS-B from the best close pairs).

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> est = pk.lipschitz(np.sin, 0.0, 3.0)
    >>> est.method in ("pairs", "gradient"), 0.99 < est.value <= 1.0
    (True, True)
    """

    value: float
    x: object
    y: object
    method: str


def lipschitz(f, lo, hi, *, grad=None, samples=1000, seed=0):
    """A certified lower bound on the Lipschitz constant of ``f`` over the box [lo, hi].

    Parameters
    ----------
    f : callable
        ``f(x)`` -> float or 1-D array (a map R^n -> R^m; 2-norms on both sides).
        ``x`` is a float when ``lo`` and ``hi`` are scalars, else an array (n,).
    lo, hi : float or array_like (n,)
        The box; ``lo < hi`` in every coordinate.
    grad : callable, optional
        ``grad(x)`` -> gradient (n,) or Jacobian (m, n); if None, central differences
        by :func:`pykernels.jacobian` that never leave the box.
    samples : int
        Random pairs drawn in the box (each as one distant and one close pair).
    seed : int

    Returns
    -------
    LipschitzEstimate
        ``value`` = ``|f(x) - f(y)| / |x - y|`` for the returned witnesses ``x, y``
        (computed from those two evaluations, hence a certified lower bound), and the
        ``method`` that found them.

    Raises
    ------
    TypeError, ValueError
        On a non-callable ``f``/``grad``, ``lo >= hi``, non-finite bounds, a box too
        wide to sample (``hi - lo`` overflows) or too narrow to hold two points, bad
        ``samples``; ``f`` or ``grad`` returning something other than real arrays of
        one shape, or NaN/Inf (the constant is not defined then).

    Notes
    -----
    K = sup |f(x) - f(y)| / |x - y| is also the largest local slope
    :math:`\\sup_x \\|J_f(x)\\|_2`.  Phase 1 evaluates ``samples`` random distant pairs and
    as many close pairs (y = x + 1e-4 |hi - lo| d, d a random unit vector).  Phase 2
    maximises the local slope :math:`\\|J_f(x)\\|_2` by L-BFGS-B inside the box from the
    three best close pairs, and turns each maximiser x* into the witness pair
    x* -+ (h/2) u along the top right-singular vector u, h = 1e-4 |hi - lo|.  The
    result can only underestimate K.
    """
    from scipy.optimize import minimize

    from .derivatives import jacobian

    function(f, "f")
    if grad is not None:
        function(grad, "grad")
    samples = positive_int(samples, "samples")
    scalar = np.ndim(lo) == 0 and np.ndim(hi) == 0
    lo, hi = (float_array(np.atleast_1d(as_array(b, name)), name, dtype=np.float64, ndim=1,
                          allow_int=True) for b, name in ((lo, "lo"), (hi, "hi")))
    if lo.shape != hi.shape:
        raise ValueError(f"lo and hi must have the same shape, got {lo.shape} and {hi.shape}")
    if np.any(lo >= hi):
        raise ValueError("lo must be < hi in every coordinate")
    if not np.all(np.isfinite(hi - lo)):
        raise ValueError("hi - lo must be finite: the box is too wide to sample")
    n = lo.size
    m = []  # the size of f's values, from its first one

    def fx(x):
        value = f(x[0] if scalar else x.copy())
        if not m:
            m.append(np.size(returned_array(value, "f", np.shape(as_array(value, "f")))))
        value = returned_array(value, "f", (m[0],))
        if not np.isfinite(value).all():
            raise ValueError(f"f returned a non-finite value at x = {x}: its Lipschitz "
                             "constant on the box is not defined")
        return value

    def slope(x):
        if grad is None:
            J = jacobian(fx, x, bounds=(lo, hi))
        else:
            fx(x)  # m, and f finite there
            J = returned_array(grad(x[0] if scalar else x.copy()), "grad", (m[0], n))
            if not np.isfinite(J).all():
                raise ValueError(f"grad returned a non-finite value at x = {x}")
        U, s, Vt = np.linalg.svd(J)
        return s[0], Vt[0]

    def ratio(x, y):
        return _norm(fx(x) - fx(y)) / _norm(x - y)  # no squares to overflow or underflow

    rng = np.random.default_rng(seed)
    width = _norm(hi - lo)
    h = 1e-4 * width
    best = (-1.0, None, None, "pairs")
    close = []
    for _ in range(samples):
        x, y = rng.uniform(lo, hi), rng.uniform(lo, hi)
        d = rng.standard_normal(n)
        z = np.clip(x + h * d / np.linalg.norm(d), lo, hi)
        for a, b in ((x, y), (x, z)):
            if np.any(a != b):
                r = ratio(a, b)
                best = max(best, (r, a, b, "pairs"), key=lambda t: t[0])
        if np.any(z != x):
            close.append((ratio(x, z), x))
    close.sort(key=lambda t: -t[0])
    for _, x0 in close[:3]:
        res = minimize(lambda x: -slope(x)[0], x0, method="L-BFGS-B",
                       bounds=list(zip(lo, hi)), options={"maxiter": 50})
        x_star = np.clip(res.x, lo, hi)
        u = slope(x_star)[1]
        a, b = np.clip(x_star - h / 2 * u, lo, hi), np.clip(x_star + h / 2 * u, lo, hi)
        if np.any(a != b):
            r = ratio(a, b)
            best = max(best, (r, a, b, "gradient"), key=lambda t: t[0])
    value, x, y, method = best
    if x is None:
        raise ValueError("lo and hi leave no two points of the box with a finite slope "
                         "between them (the box is narrower than the spacing of floats)")
    if scalar:
        x, y = float(x[0]), float(y[0])
    return LipschitzEstimate(value, x, y, method)


# -- stationary points -------------------------------------------------------

class StationaryPoint(NamedTuple):
    """One stationary point of :func:`stationary_points`: where, and what kind.

    Attributes
    ----------
    x : float
        Where f'(x) = 0.
    kind : str
        ``"minimum"``, ``"maximum"`` or ``"inflection"``.
    """

    x: float
    kind: str


class StationaryPoints(list):
    """The :class:`StationaryPoint` list of :func:`stationary_points`, ascending in x;
    ``str()`` is a table.

    Parameters
    ----------
    points : iterable of StationaryPoint
    values, curvatures : iterable of float
        f and f'' at each point.

    Attributes
    ----------
    values : list of float
        ``values[i]`` = f(x_i).
    curvatures : list of float
        ``curvatures[i]`` = f''(x_i).
    """

    def __init__(self, points, values, curvatures):
        super().__init__(points)
        self.values = list(values)
        self.curvatures = list(curvatures)

    def __str__(self):
        if not self:
            return "no stationary points"
        lines = [f"{'x':>22}  {'f(x)':>22}  {'f2(x)':>12}  kind"]
        for (x, kind), v, c in zip(self, self.values, self.curvatures):
            lines.append(f"{x:22.15g}  {v:22.15g}  {c:12.5g}  {kind}")
        return "\n".join(lines)


def stationary_points(f, lo, hi, *, fprime=None, fsecond=None, num=2001, xtol=1e-12):
    """Every point of [lo, hi] where f'(x) = 0, each classified by f''.

    Parameters
    ----------
    f : callable
        A function of one float returning a float.
    lo, hi : float
        The interval, ``lo < hi``.
    fprime, fsecond : callable, optional
        f' and f''; if None, :func:`pykernels.gradient` of ``f`` (resp. of f').
    num : int
        Grid points for the bracketing (>= 3); it sets the resolution: two stationary
        points closer than half a grid step are reported as one.
    xtol : float
        Absolute tolerance of Brent's method.

    Returns
    -------
    StationaryPoints
        A list of ``StationaryPoint(x, kind)`` ascending in x, with ``.values`` (f) and
        ``.curvatures`` (f''); ``print()`` shows a table.

    Raises
    ------
    TypeError, ValueError
        On non-callable arguments, ``lo >= hi``, non-finite bounds, an interval too
        wide or narrow for ``num`` grid points, ``num < 3`` or too large to fit in
        memory; ``f``, ``fprime`` or ``fsecond`` returning something other than a
        finite real number (naming it).

    Notes
    -----
    f' is evaluated on a uniform grid; every sign change is refined by Brent's method
    (``scipy.optimize.brentq``), exact zeros on the grid are kept, and roots where f'
    touches zero without changing sign (double roots: local minima of |f'| on the grid)
    are refined by bounded Brent minimisation of |f'| and kept when
    ``|f'(x)| <= 1e-8 max|f'|`` over the grid; so are ends of the interval where f'
    is that small.  A point is a minimum if f''(x) > 0 and a
    maximum if f''(x) < 0; when ``|f''(x)|`` is negligible (``<= 1e-6 max|f'| / (hi - lo)``)
    the first-derivative test decides (sign of f' half a grid step either side: - then +
    is a minimum, + then - a maximum, no change an inflection), so x^4 at 0 is a
    minimum and x^3 at 0 an inflection.  Missing derivatives come from the derivative
    engine: :func:`pykernels.gradient` with Richardson extrapolation, its evaluations
    kept inside [lo, hi] (f'' as the derivative of f').

    Examples
    --------
    >>> import pykernels as pk
    >>> pts = pk.stationary_points(lambda x: x**4 - 40 * x**2 - 100 * x, -10, 10)
    >>> [(round(p.x, 6), p.kind) for p in pts]  # 5 and (-5 -+ sqrt(5)) / 2
    [(-3.618034, 'minimum'), (-1.381966, 'maximum'), (5.0, 'minimum')]
    """
    from scipy.optimize import brentq, minimize_scalar

    from .derivatives import gradient

    function(f, "f")
    for g, name in ((fprime, "fprime"), (fsecond, "fsecond")):
        if g is not None:
            function(g, name)
    lo, hi = real(lo, "lo"), real(hi, "hi")
    if lo >= hi:
        raise ValueError(f"lo must be < hi, got lo={lo}, hi={hi}")
    num = positive_int(num, "num", minimum=3)
    xtol = real(xtol, "xtol", low=0.0, low_open=True)
    spacing = (hi - lo) / (num - 1)
    if not np.isfinite(spacing) or spacing < np.finfo(float).tiny:
        raise ValueError(f"[lo, hi] = [{lo}, {hi}] is too "
                         f"{'narrow' if np.isfinite(spacing) else 'wide'} for a grid of "
                         f"num={num} points (its step must be a finite normal float)")
    fits_in_memory(4 * num, 8, "num", f"a grid of {num} points")

    def value(g, name, x):
        v = returned_scalar(g(x), name)
        if not np.isfinite(v):
            raise ValueError(f"{name} returned {v} at x = {float(x)!r}")
        return v

    def derivative(g, name, x):
        try:
            return float(gradient(lambda t: g(t[0]), np.array([x]), method="richardson",
                                  bounds=(lo, hi))[0])
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"the derivative of {name} at x = {float(x)!r} (Richardson differences "
                            f"in [lo, hi]): {exc}") from None

    def d1(x):
        return value(fprime, "fprime", x) if fprime is not None else derivative(f, "f", x)

    def d2(x):
        return value(fsecond, "fsecond", x) if fsecond is not None else \
            derivative(d1, "fprime" if fprime is not None else "f' (itself differenced)", x)

    grid = np.linspace(lo, hi, num)
    g = np.array([d1(x) for x in grid])
    if not np.isfinite(g).all():
        raise ValueError(f"{'fprime' if fprime is not None else 'the derivative of f'} is not "
                         "finite on the whole interval [lo, hi]")
    spacing = grid[1] - grid[0]
    scale = max(np.abs(g).max(), np.finfo(float).tiny)
    roots = [x for x, gx in zip(grid, g)
             if gx == 0 or (x in (lo, hi) and abs(gx) <= 1e-8 * scale)]
    for i in np.flatnonzero(g[:-1] * g[1:] < 0):
        roots.append(brentq(d1, grid[i], grid[i + 1], xtol=xtol))
    size = np.abs(g)
    for i in range(1, num - 1):
        if (g[i] != 0 and g[i - 1] * g[i] > 0 and g[i] * g[i + 1] > 0
                and size[i] < size[i - 1] and size[i] <= size[i + 1]):
            res = minimize_scalar(lambda x: abs(d1(x)), bounds=(grid[i - 1], grid[i + 1]),
                                  method="bounded", options={"xatol": xtol})
            if abs(d1(res.x)) <= 1e-8 * scale:
                roots.append(float(res.x))
    roots.sort()
    merged = [x for j, x in enumerate(roots) if j == 0 or x - roots[j - 1] > spacing / 2]
    points, values, curvatures = [], [], []
    for x in merged:
        c = d2(x)
        if c > 1e-6 * scale / (hi - lo):
            kind = "minimum"
        elif c < -1e-6 * scale / (hi - lo):
            kind = "maximum"
        else:
            left = np.sign(d1(max(x - spacing / 2, lo))) if x > lo else 0.0
            right = np.sign(d1(min(x + spacing / 2, hi))) if x < hi else 0.0
            kind = ("minimum" if left <= 0 <= right and left != right else
                    "maximum" if left >= 0 >= right and left != right else "inflection")
        points.append(StationaryPoint(float(x), kind))
        values.append(value(f, "f", x))
        curvatures.append(c)
    return StationaryPoints(points, values, curvatures)
