"""Finite-difference derivatives: pykernels against scipy, numdifftools and bare loops.

Groups (one thread everywhere, see conftest.py):

* ``gradient|rosenbrock-100|central`` -- ``pk.gradient`` of an ``@njit`` f, scipy's
  ``approx_derivative`` (3-point) calling the same ``@njit`` f from Python (the fastest
  callable scipy can get) and a vectorised NumPy version of it (``-numpy-f``: what a
  scipy user writes), and a bare compiled central-difference loop doing the same 200
  evaluations;
* ``jacobian|broyden-1000|central`` -- the same for a dense 1000 x 1000 Jacobian;
* ``gradient-overhead|rosenbrock-10`` -- repeated calls: ``pk.gradient``, a
  ``GradientPlan`` and the bare loop (the difference is the per-call overhead);
* ``gradient|rosenbrock-100|richardson`` -- against ``numdifftools.Gradient`` (on the
  ``@njit`` f and on the NumPy version) when installed (``extra_info["error"]`` holds the
  max relative error of each);
* ``sparse|broyden-1000`` -- 3-colour sparse Jacobian against scipy's ``sparsity`` path;
* ``sparse|broyden-10000`` -- sparse against our own dense Jacobian.

    pytest bench/bench_derivatives.py --benchmark-only --benchmark-group-by=group
"""

import functools
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize._numdiff import approx_derivative

import pykernels as pk
from pykernels.derivatives import GradientPlan, color_groups

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from problems import get

EPS3 = np.finfo(float).eps ** (1 / 3)


def _bare_gradient(f):
    @numba.njit
    def loop(x, out):
        xp = x.copy()
        for j in range(x.size):
            h = EPS3 * max(1.0, abs(x[j]))
            xp[j] = x[j] + h
            fp = f(xp)
            xp[j] = x[j] - h
            fm = f(xp)
            xp[j] = x[j]
            out[j] = (fp - fm) / (2.0 * h)
    return loop


def _bare_jacobian(f):
    @numba.njit
    def loop(x, out_t):
        xp = x.copy()
        for j in range(x.size):
            h = EPS3 * max(1.0, abs(x[j]))
            xp[j] = x[j] + h
            fp = f(xp)
            xp[j] = x[j] - h
            fm = f(xp)
            xp[j] = x[j]
            out_t[j] = (fp - fm) / (2.0 * h)
    return loop


def _call_bare(loop, x, out):
    """The bare loop as a benchmark callable returning the derivative ((m, n) for a
    Jacobian, whose loop writes the transpose)."""
    def run():
        loop(x, out)
        return out.T
    return run


def _rel(a, b):
    a = a.toarray() if sp.issparse(a) else a
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _run(benchmark, group, fn, exact=None, rounds=None):
    fn()  # compile / warm up outside the timing
    benchmark.group = group
    if rounds:
        out = benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=0)
    else:
        out = benchmark(fn)
    if exact is not None:
        benchmark.extra_info["error"] = _rel(out, exact)
    return out


@numba.njit
def rosen(x):
    """Extended Rosenbrock (problems.py's, summed without allocating)."""
    s = 0.0
    for k in range(0, x.size, 2):
        a = 10.0 * (x[k + 1] - x[k] * x[k])
        b = 1.0 - x[k]
        s += a * a + b * b
    return s


def rosen_numpy(x):
    """The same function as a vectorised NumPy callable (what a scipy user writes)."""
    a = 10.0 * (x[1::2] - x[0::2] ** 2)
    b = 1.0 - x[0::2]
    return np.sum(a * a + b * b)


def broyden_numpy(x):
    """Broyden tridiagonal residual, vectorised NumPy."""
    r = (3.0 - 2.0 * x) * x + 1.0
    r[1:] -= x[:-1]
    r[:-1] -= 2.0 * x[1:]
    return r


def _rosenbrock(n):
    p = get("rosenbrock", n)
    return p, p.x0 + 0.1


GRADIENT_IMPLS = {
    "pykernels-njit": lambda p, x: lambda: pk.gradient(rosen, x),
    "scipy-3-point": lambda p, x: lambda: approx_derivative(rosen, x, method="3-point"),
    "scipy-3-point-numpy-f": lambda p, x: lambda: approx_derivative(rosen_numpy, x,
                                                                    method="3-point"),
    "bare-compiled-loop": lambda p, x: _call_bare(_bare_gradient(rosen), x, np.empty(x.size)),
}


@pytest.mark.parametrize("impl", list(GRADIENT_IMPLS))
def bench_gradient_central(benchmark, impl):
    p, x = _rosenbrock(100)
    out = _run(benchmark, "gradient|rosenbrock-100|central", GRADIENT_IMPLS[impl](p, x),
               p.grad(x))
    assert _rel(out, p.grad(x)) < 1e-8


JACOBIAN_IMPLS = {
    "pykernels-njit": lambda p, x: lambda: pk.jacobian(p.residual_jit, x),
    "scipy-3-point": lambda p, x: lambda: approx_derivative(p.residual_jit, x,
                                                            method="3-point"),
    "scipy-3-point-numpy-f": lambda p, x: lambda: approx_derivative(broyden_numpy, x,
                                                                    method="3-point"),
    "bare-compiled-loop": lambda p, x: _call_bare(_bare_jacobian(p.residual_jit), x,
                                                  np.empty((x.size, x.size))),
}


@pytest.mark.parametrize("impl", list(JACOBIAN_IMPLS))
def bench_jacobian_central(benchmark, impl):
    p = get("broyden_tridiagonal", 1000)
    x = np.linspace(-1.0, 1.0, p.n)
    out = _run(benchmark, "jacobian|broyden-1000|central", JACOBIAN_IMPLS[impl](p, x),
               rounds=10)
    assert _rel(out, p.jac(x)) < 1e-8


OVERHEAD_IMPLS = {
    "pk.gradient": lambda p, x: lambda: pk.gradient(rosen, x),
    "GradientPlan": lambda p, x: functools.partial(GradientPlan(rosen, x.size), x),
    "bare-compiled-loop": GRADIENT_IMPLS["bare-compiled-loop"],
}


@pytest.mark.parametrize("impl", list(OVERHEAD_IMPLS))
def bench_gradient_overhead(benchmark, impl):
    p, x = _rosenbrock(10)
    out = _run(benchmark, "gradient-overhead|rosenbrock-10", OVERHEAD_IMPLS[impl](p, x))
    assert _rel(out, p.grad(x)) < 1e-8


def _numdifftools(f):
    def make(p, x):
        nd = pytest.importorskip("numdifftools")
        gradient = nd.Gradient(f)
        return lambda: gradient(x)
    return make


RICHARDSON_IMPLS = {
    "pykernels-njit": lambda p, x: lambda: pk.gradient(rosen, x, method="richardson"),
    "numdifftools": _numdifftools(rosen),
    "numdifftools-numpy-f": _numdifftools(rosen_numpy),
}


@pytest.mark.parametrize("impl", list(RICHARDSON_IMPLS))
def bench_gradient_richardson(benchmark, impl):
    p, x = _rosenbrock(100)
    out = _run(benchmark, "gradient|rosenbrock-100|richardson", RICHARDSON_IMPLS[impl](p, x),
               p.grad(x), rounds=10)
    assert _rel(out, p.grad(x)) < 1e-10


def _tridiagonal(n):
    return sp.diags([np.ones(n - 1), np.ones(n), np.ones(n - 1)], [-1, 0, 1], format="csr")


SPARSE_IMPLS = {
    "pykernels-njit-grouping": lambda p, x, S: functools.partial(
        pk.jacobian, p.residual_jit, x, sparsity=color_groups(S)),
    "pykernels-njit-pattern": lambda p, x, S: lambda: pk.jacobian(p.residual_jit, x,
                                                                  sparsity=S),
    "scipy-3-point-sparsity": lambda p, x, S: lambda: approx_derivative(
        p.residual_jit, x, method="3-point", sparsity=S),
    "scipy-3-point-sparsity-numpy-f": lambda p, x, S: lambda: approx_derivative(
        broyden_numpy, x, method="3-point", sparsity=S),
    "pykernels-njit-dense": lambda p, x, S: lambda: pk.jacobian(p.residual_jit, x),
}


@pytest.mark.parametrize("n", [1000, 10_000])
@pytest.mark.parametrize("impl", list(SPARSE_IMPLS))
def bench_sparse_jacobian(benchmark, impl, n):
    if n == 10_000 and impl.startswith("scipy"):
        pytest.skip("the n = 10,000 case compares sparse with our own dense Jacobian")
    if n == 1000 and impl == "pykernels-njit-dense":
        pytest.skip("the dense case is measured in jacobian|broyden-1000|central")
    p = get("broyden_tridiagonal", n)
    x = np.linspace(-1.0, 1.0, n)
    S = _tridiagonal(n)
    dense = impl == "pykernels-njit-dense"
    out = _run(benchmark, f"sparse|broyden-{n}", SPARSE_IMPLS[impl](p, x, S),
               rounds=3 if dense else None)
    if dense:
        assert np.max(np.abs(np.diagonal(out) - (3.0 - 4.0 * x))) < 1e-8
    else:
        exact = sp.diags([np.full(n - 1, -1.0), 3.0 - 4.0 * x, np.full(n - 1, -2.0)],
                         [-1, 0, 1], format="csr")
        assert abs(out - exact).max() < 1e-8
