"""Hessian-vector products of the MLP benchmark networks, and Lanczos on a network Hessian.

Group ``hvp|<net>|f64`` compares, on one thread: one ``loss_and_grad`` (the unit),
``net.hvp`` (R-operator), ``net.gnvp``, the central-difference HVP (two gradients,
step 1e-5 in norm), the NumPy reference (small net only) and
``torch.autograd.functional.hvp`` when torch is installed; ``extra_info`` holds each
result's relative difference from ``net.hvp``.  ``hessian-eigs|~1000-params`` finds the top Hessian eigenvalue by
Lanczos; ``extra_info`` holds the products used and the relative error.

    pytest bench/bench_curvature.py --benchmark-only --benchmark-group-by=group
"""

import numpy as np
import pytest

import pykernels as pk
from pykernels.benchmarks import mlp_problem


def _problem(size):
    net, X, Y = mlp_problem(size)
    v = np.random.default_rng(1).standard_normal(net.size)
    return net, X, Y, v


def _central_difference(net, X, Y, v, h=1e-5):
    """(grad(theta + e v) - grad(theta - e v)) / 2e with |e v| = h, two gradients."""
    theta, e = net.theta, h / np.linalg.norm(v)

    def hvp():
        plus = net.loss_and_grad(X, Y, theta + e * v)[1]
        return (plus - net.loss_and_grad(X, Y, theta - e * v)[1]) / (2 * e)

    return hvp


def _torch_hvp(net, X, Y, v):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    shapes = [(int(o), int(i)) for i, o in zip(net.sizes[:-1], net.sizes[1:])]
    x, y = torch.from_numpy(X), torch.from_numpy(np.asarray(Y))
    theta, direction = torch.from_numpy(net.theta.copy()), torch.from_numpy(v)

    def loss(t):
        a, start = x, 0
        for k, (n_out, n_in) in enumerate(shapes):
            W = t[start:start + n_out * n_in].reshape(n_out, n_in)
            b = t[start + n_out * n_in:start + n_out * (n_in + 1)]
            start += n_out * (n_in + 1)
            a = a @ W.T + b
            a = torch.relu(a) if k < len(shapes) - 1 else a
        return F.cross_entropy(a, y)

    return lambda: torch.autograd.functional.hvp(loss, theta, direction)[1]


IMPLS = {
    "loss_and_grad": lambda net, X, Y, v: lambda: net.loss_and_grad(X, Y)[1],
    "hvp": lambda net, X, Y, v: lambda: net.hvp(X, Y, v),
    "gnvp": lambda net, X, Y, v: lambda: net.gnvp(X, Y, v),
    "central-difference": _central_difference,
    "hvp-numpy-reference": lambda net, X, Y, v: lambda: net.hvp(X, Y, v, backend="numpy"),
    "torch-hvp": _torch_hvp,
}


@pytest.mark.parametrize("size", ["small", "large"])
@pytest.mark.parametrize("impl", list(IMPLS))
def bench_hvp(benchmark, size, impl):
    if size == "large" and impl == "hvp-numpy-reference":
        pytest.skip("the reference is for correctness, not speed")
    net, X, Y, v = _problem(size)
    run = IMPLS[impl](net, X, Y, v)
    out = run()  # compile / warm up outside the timing
    exact = net.hvp(X, Y, v)
    benchmark.group = f"hvp|{size}|f64"
    if impl != "loss_and_grad":
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
