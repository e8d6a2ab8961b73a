"""Hessian-vector products of the MLP benchmark networks, and Lanczos on a network Hessian.

Group ``hvp|<net>|f64`` compares, on one core: one ``loss_and_grad`` (the unit),
``net.hvp`` (R-operator) on every backend (``numba``, ``c``, ``numpy``: small net only)
repeated at one point -- the network keeps the point's forward/backward pass, as in
Lanczos or CG -- and ``numba-new-point`` at a new theta every call (nothing kept),
``net.gnvp``, the central-difference HVP (two gradients, step 1e-5 in norm),
``torch.autograd.functional.hvp`` and JAX's jitted forward-over-reverse when installed
-- the cases of :func:`pykernels.benchmarks.hvp_cases`, which ``pykernels bench`` times
too; ``extra_info`` holds each result's relative difference from ``net.hvp``.
``hessian-eigs|~1000-params`` finds the top Hessian eigenvalue by Lanczos;
``extra_info`` holds the products used and the relative error.

    pytest bench/bench_curvature.py --benchmark-only --benchmark-group-by=group
"""

import numpy as np
import pytest

import pykernels as pk
from pykernels.benchmarks import hvp_cases, mlp_problem


CASES = hvp_cases()  # shared with `pykernels bench`


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def bench_hvp(benchmark, case):
    try:
        run = case.make()
    except (ImportError, pk.BackendUnavailable) as exc:
        pytest.skip(str(exc))
    out = run()  # compile / warm up outside the timing
    size = case.group.split("|")[1]
    net, X, Y = mlp_problem(size)
    exact = net.hvp(X, Y, np.random.default_rng(1).standard_normal(net.size))
    benchmark.group = case.group
    if case.impl != "loss_and_grad":
        error = np.linalg.norm(np.asarray(out) - exact) / np.linalg.norm(exact)
        benchmark.extra_info["relative_difference_from_hvp"] = float(error)
    if size == "large":
        out = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    else:
        out = benchmark(run)
    assert np.all(np.isfinite(np.asarray(out)))


def bench_hessian_eigs(benchmark):
    net = pk.MLP([8, 32, 20, 5], activation="tanh", output="softmax", loss="cross_entropy",
                 seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((64, 8)), rng.integers(0, 5, 64)
    exact = pk.hessian_eigs(lambda v: net.hvp(X, Y, v), net.size, tol=1e-13,
                            maxiter=net.size).values[-1]

    def run():
        return pk.hessian_eigs(lambda v: net.hvp(X, Y, v), net.size, tol=1e-6)

    result = run()
    benchmark.group = f"hessian-eigs|{net.size}-params"
    benchmark.extra_info["products"] = result.nprod
    benchmark.extra_info["relative_error"] = abs(result.values[-1] - exact) / abs(exact)
    benchmark(run)
    assert abs(result.values[-1] - exact) <= 1e-6 * abs(exact)
