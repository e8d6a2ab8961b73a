"""Classic unconstrained test problems with exact derivatives (Moré, Garbow, Hillstrom 1981).

Every problem is a sum of squares ``f(x) = sum_i r_i(x)**2`` of a residual vector
``r: R^n -> R^m``, so one definition gives a scalar objective (gradient/Hessian tests,
optimizers) and a vector function (Jacobian tests)::

    from problems import PROBLEMS, get
    p = get("rosenbrock", n=10)
    p.fun(p.x0), p.grad(p.x0), p.hess(p.x0)     # plain NumPy, exact derivatives
    p.residual(p.x0), p.jac(p.x0)               # r (m,) and its exact Jacobian (m, n)
    p.fun_jit(p.x0), p.residual_jit(p.x0)       # the same functions as Numba @njit
    p.x0, p.xstar, p.fstar                      # start, a minimiser (or None), min value

Residuals are written once, as plain loops that Python runs and Numba compiles
quickly (sum of squares summed sequentially, so both give the same bits), and
allocate with ``x.dtype`` so they accept complex input (complex-step tests).  The exact
derivatives use ``grad = 2 J^T r`` and ``hess = 2 (J^T J + sum_i r_i H_i)`` with the
residual Jacobian ``J`` and the residual curvature term ``sum_i r_i H_i`` derived by hand
per problem (and checked against sympy in ``test_derivatives_problems.py``).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["PROBLEMS", "Problem", "get", "make"]


@dataclass(frozen=True)
class Problem:
    """One test problem at a fixed dimension ``n``; see the module docstring."""

    name: str
    n: int
    m: int
    residual: Callable
    residual_jit: Callable
    jac: Callable
    curvature: Callable  # x, r -> sum_i r_i * Hessian(r_i), shape (n, n)
    fun_jit: Callable
    x0: np.ndarray
    xstar: np.ndarray | None
    fstar: float

    def fun(self, x):
        return _sum_of_squares(self.residual(x))

    def grad(self, x):
        return 2.0 * self.jac(x).T @ self.residual(x)

    def hess(self, x):
        J = self.jac(x)
        return 2.0 * (J.T @ J + self.curvature(x, self.residual(x)))


# ----------------------------------------------------------------- residuals
# Each residual is plain Python on arrays; `_jit` compiles the same source with Numba.

def _rosenbrock(x):
    r = np.empty(x.size, x.dtype)
    for k in range(0, x.size, 2):
        r[k] = 10.0 * (x[k + 1] - x[k] * x[k])
        r[k + 1] = 1.0 - x[k]
    return r


def _rosenbrock_jac(x):
    n = x.size
    J = np.zeros((n, n))
    i = np.arange(0, n, 2)
    J[i, i] = -20.0 * x[i]
    J[i, i + 1] = 10.0
    J[i + 1, i] = -1.0
    return J


def _rosenbrock_curv(x, r):
    S = np.zeros((x.size, x.size))
    i = np.arange(0, x.size, 2)
    S[i, i] = -20.0 * r[i]
    return S


def _powell(x):
    r = np.empty(x.size, x.dtype)
    for k in range(0, x.size, 4):
        a, b, c, d = x[k], x[k + 1], x[k + 2], x[k + 3]
        r[k] = a + 10.0 * b
        r[k + 1] = math.sqrt(5.0) * (c - d)
        r[k + 2] = (b - 2.0 * c) ** 2
        r[k + 3] = math.sqrt(10.0) * (a - d) ** 2
    return r


def _powell_jac(x):
    n = x.size
    J = np.zeros((n, n))
    for k in range(0, n, 4):
        a, b, c, d = x[k:k + 4]
        J[k, k:k + 4] = [1.0, 10.0, 0.0, 0.0]
        J[k + 1, k:k + 4] = [0.0, 0.0, math.sqrt(5.0), -math.sqrt(5.0)]
        J[k + 2, k:k + 4] = [0.0, 2.0 * (b - 2.0 * c), -4.0 * (b - 2.0 * c), 0.0]
        J[k + 3, k:k + 4] = [2.0 * math.sqrt(10.0) * (a - d), 0.0, 0.0,
                             -2.0 * math.sqrt(10.0) * (a - d)]
    return J


def _powell_curv(x, r):
    n = x.size
    S = np.zeros((n, n))
    v = np.array([0.0, 1.0, -2.0, 0.0])
    w = np.array([1.0, 0.0, 0.0, -1.0])
    for k in range(0, n, 4):
        S[k:k + 4, k:k + 4] = (2.0 * r[k + 2] * np.outer(v, v)
                               + 2.0 * math.sqrt(10.0) * r[k + 3] * np.outer(w, w))
    return S


_BEALE_Y = np.array([1.5, 2.25, 2.625])


def _beale(x):
    r = np.empty(3, x.dtype)
    for i in range(3):
        r[i] = _BEALE_Y[i] - x[0] * (1.0 - x[1] ** (i + 1))
    return r


def _beale_jac(x):
    i = np.arange(1, 4)
    return np.column_stack([-1.0 + x[1] ** i, i * x[0] * x[1] ** (i - 1)])


def _beale_curv(x, r):
    i = np.arange(1, 4)
    off = np.sum(r * i * x[1] ** (i - 1))
    d22 = np.sum(r * i * (i - 1) * x[0] * x[1] ** np.maximum(i - 2, 0))
    return np.array([[0.0, off], [off, d22]])


def _wood(x):
    r = np.empty(6, x.dtype)
    r[0] = 10.0 * (x[1] - x[0] ** 2)
    r[1] = 1.0 - x[0]
    r[2] = math.sqrt(90.0) * (x[3] - x[2] ** 2)
    r[3] = 1.0 - x[2]
    r[4] = math.sqrt(10.0) * (x[1] + x[3] - 2.0)
    r[5] = (x[1] - x[3]) / math.sqrt(10.0)
    return r


def _wood_jac(x):
    s90, s10 = math.sqrt(90.0), math.sqrt(10.0)
    return np.array([
        [-20.0 * x[0], 10.0, 0.0, 0.0],
        [-1.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, -2.0 * s90 * x[2], s90],
        [0.0, 0.0, -1.0, 0.0],
        [0.0, s10, 0.0, s10],
        [0.0, 1.0 / s10, 0.0, -1.0 / s10],
    ])


def _wood_curv(x, r):
    S = np.zeros((4, 4))
    S[0, 0] = -20.0 * r[0]
    S[2, 2] = -2.0 * math.sqrt(90.0) * r[2]
    return S


def _helical(x):
    # theta = arctan(x2/x1) / (2 pi), plus 1/2 when x1 < 0 (MGH's branch choice).
    theta = np.arctan(x[1] / x[0]) / (2.0 * np.pi)
    if x[0].real < 0:
        theta = theta + 0.5
    r = np.empty(3, x.dtype)
    r[0] = 10.0 * (x[2] - 10.0 * theta)
    r[1] = 10.0 * (np.sqrt(x[0] ** 2 + x[1] ** 2) - 1.0)
    r[2] = x[2]
    return r


def _helical_jac(x):
    rho = x[0] ** 2 + x[1] ** 2
    s = math.sqrt(rho)
    c = 100.0 / (2.0 * np.pi * rho)
    return np.array([
        [c * x[1], -c * x[0], 10.0],
        [10.0 * x[0] / s, 10.0 * x[1] / s, 0.0],
        [0.0, 0.0, 1.0],
    ])


def _helical_curv(x, r):
    a, b = x[0], x[1]
    rho = a * a + b * b
    s = math.sqrt(rho)
    # r0 = 10 x3 - 100 theta: Hessian -100 * Hess(theta)
    ht = np.array([[2 * a * b, b * b - a * a], [b * b - a * a, -2 * a * b]]) / (2 * np.pi * rho ** 2)
    # r1 = 10 (sqrt(rho) - 1): Hessian 10 * Hess(sqrt(rho))
    hs = np.array([[b * b, -a * b], [-a * b, a * a]]) / s ** 3
    S = np.zeros((3, 3))
    S[:2, :2] = -100.0 * r[0] * ht + 10.0 * r[1] * hs
    return S


def _broyden_tridiagonal(x):
    n = x.size
    r = np.empty(n, x.dtype)
    for i in range(n):
        r[i] = (3.0 - 2.0 * x[i]) * x[i] + 1.0
        if i > 0:
            r[i] -= x[i - 1]
        if i < n - 1:
            r[i] -= 2.0 * x[i + 1]
    return r


def _broyden_tridiagonal_jac(x):
    n = x.size
    J = np.diag(3.0 - 4.0 * x)
    J[np.arange(1, n), np.arange(n - 1)] = -1.0
    J[np.arange(n - 1), np.arange(1, n)] = -2.0
    return J


def _broyden_tridiagonal_curv(x, r):
    return np.diag(-4.0 * r)


def _trigonometric(x):
    n = x.size
    r = np.empty(n, x.dtype)
    total = np.cos(x[0])
    for j in range(1, n):
        total += np.cos(x[j])
    for i in range(n):
        r[i] = n - total + (i + 1) * (1.0 - np.cos(x[i])) - np.sin(x[i])
    return r


def _trigonometric_jac(x):
    n = x.size
    i = np.arange(1, n + 1)
    J = np.tile(np.sin(x), (n, 1))
    J[i - 1, i - 1] += i * np.sin(x) - np.cos(x)
    return J


def _trigonometric_curv(x, r):
    i = np.arange(1, x.size + 1)
    return np.diag(np.sum(r) * np.cos(x) + r * (i * np.cos(x) + np.sin(x)))


def _brown_badly_scaled(x):
    r = np.empty(3, x.dtype)
    r[0] = x[0] - 1e6
    r[1] = x[1] - 2e-6
    r[2] = x[0] * x[1] - 2.0
    return r


def _brown_badly_scaled_jac(x):
    return np.array([[1.0, 0.0], [0.0, 1.0], [x[1], x[0]]])


def _brown_badly_scaled_curv(x, r):
    return np.array([[0.0, r[2]], [r[2], 0.0]])


# ----------------------------------------------------------------- registry

def _sum_of_squares(r):
    # sequential, no conjugate: the same bits in Python and Numba, analytic for complex x
    total = r[0] * r[0]
    for i in range(1, r.size):
        total += r[i] * r[i]
    return total


_sum_of_squares_nb = numba.njit(_sum_of_squares)


def _sum_of_squares_jit(residual_jit):
    def fun(x):
        return _sum_of_squares_nb(residual_jit(x))
    return numba.njit(fun)


_JIT = {}


def _jitted(residual):
    """The @njit residual and objective of ``residual``, compiled lazily, once per process."""
    if residual not in _JIT:
        res_jit = numba.njit(residual)
        _JIT[residual] = res_jit, _sum_of_squares_jit(res_jit)
    return _JIT[residual]


# name: (residual, jac, curvature, m(n), default n, valid(n), x0(n), xstar(n) or None)
_SPECS = {
    "rosenbrock": (_rosenbrock, _rosenbrock_jac, _rosenbrock_curv, lambda n: n, 2,
                   lambda n: n % 2 == 0, lambda n: np.tile([-1.2, 1.0], n // 2),
                   lambda n: np.ones(n)),
    "powell_singular": (_powell, _powell_jac, _powell_curv, lambda n: n, 4,
                        lambda n: n % 4 == 0, lambda n: np.tile([3.0, -1.0, 0.0, 1.0], n // 4),
                        lambda n: np.zeros(n)),
    "beale": (_beale, _beale_jac, _beale_curv, lambda n: 3, 2, lambda n: n == 2,
              lambda n: np.array([1.0, 1.0]), lambda n: np.array([3.0, 0.5])),
    "wood": (_wood, _wood_jac, _wood_curv, lambda n: 6, 4, lambda n: n == 4,
             lambda n: np.array([-3.0, -1.0, -3.0, -1.0]), lambda n: np.ones(4)),
    "helical_valley": (_helical, _helical_jac, _helical_curv, lambda n: 3, 3, lambda n: n == 3,
                       lambda n: np.array([-1.0, 0.0, 0.0]), lambda n: np.array([1.0, 0.0, 0.0])),
    "broyden_tridiagonal": (_broyden_tridiagonal, _broyden_tridiagonal_jac,
                            _broyden_tridiagonal_curv, lambda n: n, 10, lambda n: n >= 2,
                            lambda n: -np.ones(n), lambda n: None),
    "trigonometric": (_trigonometric, _trigonometric_jac, _trigonometric_curv, lambda n: n, 10,
                      lambda n: n >= 1, lambda n: np.full(n, 1.0 / n), lambda n: None),
    "brown_badly_scaled": (_brown_badly_scaled, _brown_badly_scaled_jac,
                           _brown_badly_scaled_curv, lambda n: 3, 2, lambda n: n == 2,
                           lambda n: np.array([1.0, 1.0]), lambda n: np.array([1e6, 2e-6])),
}


def make(name, n=None):
    """Problem ``name`` at dimension ``n`` (None: its classic dimension)."""
    residual, jac, curv, m, n_default, valid, x0, xstar = _SPECS[name]
    n = n_default if n is None else n
    if not valid(n):
        raise ValueError(f"{name} is not defined for n={n}")
    res_jit, fun_jit = _jitted(residual)
    return Problem(name=name, n=n, m=m(n), residual=residual, residual_jit=res_jit,
                   jac=jac, curvature=curv, fun_jit=fun_jit, x0=x0(n).astype(float),
                   xstar=xstar(n), fstar=0.0)


get = make

#: Every problem at its classic dimension, plus the scalable ones at larger n.
PROBLEMS = [make(name) for name in _SPECS] + [
    make("rosenbrock", 10), make("rosenbrock", 100), make("powell_singular", 8),
    make("broyden_tridiagonal", 100), make("trigonometric", 30),
]
