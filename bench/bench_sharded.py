"""A network's objective sharded over a 2-worker Dask LocalCluster against one process.

Groups ``sharded|<rows>|fun_and_grad``: ``local`` is one process on one thread (this
one, pinned by bench/conftest.py); ``dask-2-workers`` two worker processes of one
thread each, started with both cores available, the shards placed once.  Bars
(issue 13): at 400,000 rows the cluster >= 1.5x faster than one process; at 2,000 rows
it costs <= 10 ms more per call.

    pytest bench/bench_sharded.py --benchmark-only --benchmark-group-by=group
"""

import os

import numpy as np
import pytest

import pykernels as pk
from pykernels import benchmarks

distributed = pytest.importorskip("distributed")

SIZES = [64, 128, 10]


@pytest.fixture(scope="module")
def client():
    pinned = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if pinned is not None:  # the workers get every core; this process stays on its one
        benchmarks._set_affinity(set(range(os.cpu_count())))
    try:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=50)
    finally:
        if pinned is not None:
            benchmarks._set_affinity(pinned)
    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module", params=[2_000, 400_000])
def problem(request):
    rows = request.param
    net = pk.MLP(SIZES, activation="tanh", output="softmax", loss="cross_entropy", seed=0)
    rng = np.random.default_rng(0)
    return net, rng.standard_normal((rows, SIZES[0])), rng.integers(0, SIZES[-1], rows)


@pytest.mark.parametrize("impl", ["local", "dask-2-workers"])
def bench_sharded_fun_and_grad(benchmark, client, problem, impl):
    net, X, y = problem
    objective = (net.objective(X, y) if impl == "local"
                 else net.objective(X, y, executor=client, shards=2))
    objective.fun_and_grad(net.theta)  # compile, load, place
    benchmark.group = f"sharded|{len(X)}|fun_and_grad"
    value, grad = benchmark.pedantic(objective.fun_and_grad, args=(net.theta,), rounds=7,
                                     iterations=1, warmup_rounds=1)
    assert np.isfinite(value) and grad.shape == net.theta.shape
