"""L-BFGS: pykernels' compiled loop (@njit fun/jac) vs scipy's L-BFGS-B (NumPy objective).

Extended Rosenbrock at n = 100 and 1000, one thread and one core on both sides.
Run: ``python -m pytest bench/bench_optimize.py --benchmark-only``
(CI smoke: ``--benchmark-disable``).  Each case also asserts both converge with
comparable evaluation counts (not times).
"""

import numpy as np
import pytest
import scipy.optimize as so

import pykernels as pk
from pykernels.benchmarks import (
    rosenbrock_gradient,
    rosenbrock_gradient_njit,
    rosenbrock_njit,
    rosenbrock_numpy,
)

SIZES = [100, 1000]


rosen_jit, rosen_grad_jit = rosenbrock_njit(), rosenbrock_gradient_njit()
rosen_np, rosen_grad_np = rosenbrock_numpy, rosenbrock_gradient


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
