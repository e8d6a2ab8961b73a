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
* ``repeated-hvp|rosenbrock-10`` -- a repeated ``pk.hvp`` against two repeated
  ``GradientPlan`` gradients (what it differences), and a repeated ``pk.jacobian`` of
  the exact gradient (its Hessian);
* ``gradient|rosenbrock-100|richardson`` -- against ``numdifftools.Gradient`` (on the
  ``@njit`` f and on the NumPy version) when installed (``extra_info["error"]`` holds the
  max relative error of each);
* ``sparse|broyden-1000`` -- 3-colour sparse Jacobian against scipy's ``sparsity`` path;
* ``sparse|broyden-10000`` -- sparse against our own dense Jacobian;
* ``gradient-vectorized|rosenbrock-100|central`` -- ``vectorized=True`` (the 200 points
  in two calls) against the point-by-point call of a NumPy Rosenbrock (bar: >= 10x);
* ``hessian-sparse|pentadiagonal-2000|central`` -- ``pk.hessian(grad=g, sparsity=P)``
  (star colouring, 5 colours: 10 gradient calls) against the dense ``pk.hessian(grad=g)``
  (4000 gradient calls; bar: >= 100x), and the sparse Hessian from f alone.

The gradient, Jacobian and Richardson groups are the cases of
:func:`pykernels.benchmarks.derivative_cases` (implementations named by backend:
``numba`` is ``pk.gradient``/``pk.jacobian`` of the ``@njit`` f, ``numpy`` the
reference loop), the same code ``pykernels bench`` times.

    pytest bench/bench_derivatives.py --benchmark-only --benchmark-group-by=group
"""

import functools
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize._numdiff import approx_derivative

import pykernels as pk
from pykernels.benchmarks import (_hessian_point, broyden_numpy, derivative_cases,
                                  derivative_step, pentadiagonal_hessian, rosenbrock_gradient,
                                  rosenbrock_njit)
from pykernels.derivatives import GradientPlan, color_groups

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from problems import get

CASES = derivative_cases()  # shared with `pykernels bench`


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def bench_derivative(benchmark, case):
    try:
        run = case.make()
    except ImportError as exc:
        pytest.skip(str(exc))
    kind, problem, method = case.group.split("|")
    n = int(problem.split("-")[1])
    if kind.startswith("gradient"):
        x = np.tile([-1.2, 1.0], n // 2) + 0.1
        exact = rosenbrock_gradient(x)
    elif kind == "hessian-sparse":
        exact = pentadiagonal_hessian(_hessian_point(n)).toarray()
        out = _run(benchmark, case.group, run, exact, rounds=3 if "dense" in case.impl else None)
        # from f alone: second differences of a sum of 4000 terms, rounding ~ eps |f| / h^2
        assert _rel(out, exact) < (1e-3 if case.impl == "sparse-f" else 1e-6)
        return
    else:
        x = np.linspace(-1.0, 1.0, n)
        exact = np.diag(3.0 - 4.0 * x) - np.eye(n, k=-1) - 2.0 * np.eye(n, k=1)
    out = _run(benchmark, case.group, run, exact, rounds=10 if kind == "jacobian" or
               method == "richardson" else None)
    assert _rel(out, exact) < (1e-10 if method == "richardson" else 1e-8)


def _rel(a, b):
    a = a.toarray() if sp.issparse(a) else np.asarray(a)
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


rosen = rosenbrock_njit()


def _rosenbrock(n):
    p = get("rosenbrock", n)
    return p, p.x0 + 0.1


OVERHEAD_IMPLS = {
    "pk.gradient": lambda p, x: lambda: pk.gradient(rosen, x),
    "GradientPlan": lambda p, x: functools.partial(GradientPlan(rosen, x.size), x),
    "bare-compiled-loop": lambda p, x: derivative_step("gradient|rosenbrock-10|central",
                                                       "bare-compiled-loop"),
}


@pytest.mark.parametrize("impl", list(OVERHEAD_IMPLS))
def bench_gradient_overhead(benchmark, impl):
    p, x = _rosenbrock(10)
    out = _run(benchmark, "gradient-overhead|rosenbrock-10", OVERHEAD_IMPLS[impl](p, x))
    assert _rel(out, p.grad(x)) < 1e-8


def _two_plan_gradients(p, x, v):
    plan = GradientPlan(rosen, x.size, rel_step=np.finfo(float).eps ** 0.25)
    t = np.finfo(float).eps ** 0.25 * max(1.0, np.max(np.abs(x)))
    return lambda: (plan(x + t * v) - plan(x - t * v)) / (2.0 * t)


REPEATED_IMPLS = {
    # a repeated hvp costs what two repeated gradients cost (one compiled call)
    "pk.hvp": lambda p, x, v: lambda: pk.hvp(rosen, x, v),
    "two-GradientPlan-calls": _two_plan_gradients,
    "pk.jacobian-of-gradient": lambda p, x, v: functools.partial(
        pk.jacobian, _rosenbrock_gradient_njit(), x),
}


def _rosenbrock_gradient_njit():
    from pykernels.benchmarks import rosenbrock_gradient_njit

    return rosenbrock_gradient_njit()


@pytest.mark.parametrize("impl", list(REPEATED_IMPLS))
def bench_repeated_hvp_and_jacobian(benchmark, impl):
    p, x = _rosenbrock(10)
    v = np.linspace(-1.0, 1.0, 10)
    out = _run(benchmark, "repeated-hvp|rosenbrock-10", REPEATED_IMPLS[impl](p, x, v))
    H = p.hess(x)
    expected = H if impl.startswith("pk.jacobian") else H @ v
    assert _rel(out, expected) < 1e-5


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
