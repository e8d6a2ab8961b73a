"""L-BFGS: pykernels' compiled loop (@njit fun/jac) vs scipy's L-BFGS-B (NumPy objective).

Extended Rosenbrock at n = 100 and 1000, one thread and one core on both sides.
Run: ``python -m pytest bench/bench_optimize.py --benchmark-only``
(CI smoke: ``--benchmark-disable``).  Each case also asserts both converge with
comparable evaluation counts (not times).
"""

import numba
import numpy as np
import pytest
import scipy.optimize as so

import pykernels as pk

SIZES = [100, 1000]


@numba.njit
def rosen_jit(x):
    s = 0.0
    for i in range(0, x.size, 2):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


@numba.njit
def rosen_grad_jit(x):
    g = np.empty_like(x)
    for i in range(0, x.size, 2):
        t = x[i + 1] - x[i] ** 2
        g[i] = -400.0 * x[i] * t - 2.0 * (1.0 - x[i])
        g[i + 1] = 200.0 * t
    return g


def rosen_np(x):
    odd, even = x[0::2], x[1::2]
    return float(np.sum(100.0 * (even - odd ** 2) ** 2 + (1.0 - odd) ** 2))


def rosen_grad_np(x):
    odd, even = x[0::2], x[1::2]
    t = even - odd ** 2
    g = np.empty_like(x)
    g[0::2] = -400.0 * odd * t - 2.0 * (1.0 - odd)
    g[1::2] = 200.0 * t
    return g


def _x0(n):
    return np.tile([-1.2, 1.0], n // 2)


@pytest.mark.parametrize("n", SIZES)
def test_pykernels_lbfgs_compiled(benchmark, n):
    benchmark.group = f"lbfgs|ext-rosenbrock|n={n}"
    pk.minimize(rosen_jit, _x0(n), jac=rosen_grad_jit, method="lbfgs")  # compile first
    res = benchmark(pk.minimize, rosen_jit, _x0(n), jac=rosen_grad_jit, method="lbfgs")
    assert res.success and res.fun < 1e-8
    benchmark.extra_info.update(nfev=res.nfev, nit=res.nit)


@pytest.mark.parametrize("n", SIZES)
def test_pykernels_lbfgs_python(benchmark, n):
    benchmark.group = f"lbfgs|ext-rosenbrock|n={n}"
    res = benchmark(pk.minimize, rosen_np, _x0(n), jac=rosen_grad_np, method="lbfgs")
    assert res.success and res.fun < 1e-8
    benchmark.extra_info.update(nfev=res.nfev, nit=res.nit)


@pytest.mark.parametrize("n", SIZES)
def test_scipy_lbfgsb(benchmark, n):
    benchmark.group = f"lbfgs|ext-rosenbrock|n={n}"
    res = benchmark(so.minimize, rosen_np, _x0(n), jac=rosen_grad_np, method="L-BFGS-B")
    ours = pk.minimize(rosen_jit, _x0(n), jac=rosen_grad_jit, method="lbfgs")
    assert res.fun < 1e-6
    assert ours.nfev <= 2 * res.nfev            # comparable evaluation counts
    benchmark.extra_info.update(nfev=res.nfev, nit=res.nit)
