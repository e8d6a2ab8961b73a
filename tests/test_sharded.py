"""A network's objective sharded over a Dask cluster of worker processes: equal to the
local objective, the same bits for any number of workers, robust to a dying worker."""

import os
import time

import numpy as np
import pytest

import pykernels as pk

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Dask's port/graph notices


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=50) as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    cluster.scale(3)
    with distributed.Client(cluster) as client:
        client.wait_for_workers(3, timeout=120)
        yield client


def problem(dtype=np.float64, rows=600, seed=0):
    net = pk.MLP([6, 12, 3], activation="tanh", output="softmax", loss="cross_entropy",
                 dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, 6)).astype(dtype)
    y = rng.integers(0, 3, rows)
    sw = rng.random(rows).astype(dtype) + 0.1
    return net, X, y, sw


def close(a, b, rtol):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.max(np.abs(b)))


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("weighted", [False, True])
def test_equal_to_the_local_objective(client, dtype, rtol, weighted):
    net, X, y, sw = problem(dtype)
    kwargs = dict(sample_weight=sw if weighted else None, l2=0.01 if weighted else 0.0)
    local = net.objective(X, y, **kwargs)
    sharded = net.objective(X, y, executor=client, shards=5, **kwargs)
    theta = net.theta + 0.1
    v = np.random.default_rng(1).standard_normal(net.size).astype(dtype)
    close(sharded.fun(theta), local.fun(theta), rtol)
    f, g = sharded.fun_and_grad(theta)
    close(f, local.fun(theta), rtol)
    close(g, local.grad(theta), rtol)
    close(sharded.grad(theta), g, 0)
    close(sharded.hvp(theta, v), local.hvp(theta, v), rtol)
    close(sharded.gnvp(theta, v), local.gnvp(theta, v), rtol)
    assert sharded.rows == len(X) and sharded.n_shards == 5


def bits(objective, theta, v):
    f, g = objective.fun_and_grad(theta)
    return [np.float64(f).tobytes(), g.tobytes(), objective.hvp(theta, v).tobytes(),
            objective.gnvp(theta, v).tobytes()]


def test_same_bits_for_any_number_of_workers(client, cluster):
    net, X, y, sw = problem()
    theta, v = net.theta - 0.05, np.linspace(-1, 1, net.size)
    sharded = net.objective(X, y, sample_weight=sw, l2=1e-3, executor=client, shards=6)
    with_three = bits(sharded, theta, v)
    cluster.scale(1)
    while len(client.nthreads()) > 1:
        time.sleep(0.1)
    assert bits(sharded, theta, v) == with_three  # the shards moved to the one worker left
    cluster.scale(3)
    client.wait_for_workers(3)
    again = net.objective(X, y, sample_weight=sw, l2=1e-3, executor=client, shards=6)
    assert bits(again, theta, v) == with_three


def test_dask_arrays_become_shards(client):
    net, X, y, sw = problem()
    blocks = (150, 150, 150, 150)
    from_numpy = net.objective(X, y, sample_weight=sw, executor=client, shards=4)
    from_dask = net.objective(da.from_array(X, chunks=(blocks, 6)), da.from_array(y, chunks=150),
                              sample_weight=da.from_array(sw, chunks=150), executor=client)
    theta, v = net.theta, np.ones(net.size)
    assert from_dask.n_shards == 4
    assert bits(from_dask, theta, v) == bits(from_numpy, theta, v)
    rechunked = net.objective(da.from_array(X, chunks=(100, 6)), da.from_array(y, chunks=100),
                              sample_weight=sw, executor=client, shards=4)
    assert bits(rechunked, theta, v) == bits(from_numpy, theta, v)


@pytest.mark.parametrize("method", ["lbfgs", "newton-cg", "adam"])
def test_minimize_follows_the_local_run(client, method):
    # The objectives differ by ~1e-16 (the order of additions), which later iterations
    # near the optimum may amplify into other inexact-CG and line-search decisions: 12
    # iterations follow the local run to ~1e-12 here.
    net, X, y, _ = problem()
    local = pk.minimize(net.objective(X, y, l2=1e-3), net.theta, method=method, maxiter=12)
    sharded = pk.minimize(net.objective(X, y, l2=1e-3, executor=client, shards=4), net.theta,
                          method=method, maxiter=12)
    assert sharded.nit == local.nit and sharded.nfev == local.nfev
    np.testing.assert_allclose(sharded.x, local.x, rtol=0, atol=1e-9)
    assert abs(sharded.fun - local.fun) <= 1e-12 * abs(local.fun)


def test_hessian_eigs_of_the_sharded_hvp(client):
    net, X, y, _ = problem()
    local = net.objective(X, y)
    sharded = net.objective(X, y, executor=client, shards=3)
    theta = net.theta
    want = pk.hessian_eigs(lambda u: local.hvp(theta, u), net.size, k=2, which="both")
    got = pk.hessian_eigs(lambda u: sharded.hvp(theta, u), net.size, k=2, which="both")
    np.testing.assert_allclose(got.values, want.values, rtol=1e-9)


def test_a_worker_killed_mid_run_changes_nothing(client):
    net, X, y, _ = problem(rows=900)
    objective = net.objective(X, y, executor=client, shards=6)
    undisturbed = pk.minimize(objective, net.theta, method="lbfgs", maxiter=15)
    victims = iter(list(client.nthreads())[:2])

    def kill(result):
        if result.nit in (4, 9):
            try:
                client.run(os._exit, 1, workers=[next(victims)])
            except Exception:  # the connection to the dying worker closes mid-call
                pass

    disturbed = pk.minimize(objective, net.theta, method="lbfgs", maxiter=15, callback=kill)
    assert disturbed.x.tobytes() == undisturbed.x.tobytes()
    assert disturbed.fun == undisturbed.fun and disturbed.nit == undisturbed.nit


def test_bad_input_is_a_clear_error(client):
    net, X, y, _ = problem()
    sharded = net.objective(X, y, executor=client, shards=2)
    with pytest.raises(ValueError, match="theta must have"):
        sharded.fun(np.ones(net.size + 1))
    with pytest.raises(ValueError, match="v must have"):
        sharded.hvp(net.theta, np.ones(3))
    bad = X.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="X must be finite"):
        net.objective(bad, y, executor=client)
    with pytest.raises(ValueError, match=r"shard 0: X must be finite"):
        net.objective(da.from_array(bad, chunks=(5, 6)), y, executor=client, shards=2)
    with pytest.raises(TypeError, match="dask.distributed.Client"):
        from concurrent.futures import ThreadPoolExecutor
        net.objective(X, y, executor=ThreadPoolExecutor(1))
    with pytest.raises(ValueError, match="shards needs executor"):
        net.objective(X, y, shards=3)
    with pytest.raises(ValueError, match="shards must be >= 1"):
        net.objective(X, y, executor=client, shards=0)


def _break_workers(broken):
    from pykernels.network import MLP

    def fail(*args, **kwargs):
        raise ValueError("the kernel refused")

    if broken:
        MLP._saved_sums, MLP._sums = MLP._sums, fail
    else:
        MLP._sums = MLP._saved_sums


def test_an_error_on_a_worker_names_the_shard(client):
    net, X, y, _ = problem()
    sharded = net.objective(X, y, executor=client, shards=3)
    client.run(_break_workers, True)
    try:
        with pytest.raises(ValueError, match=r"shard 0 \(rows 0:200\): the kernel refused"):
            sharded.hvp(net.theta, np.ones(net.size))
    finally:
        client.run(_break_workers, False)
    assert np.isfinite(sharded.fun(net.theta))


def test_a_vanished_cluster_is_a_clear_error():
    net, X, y, _ = problem(rows=50)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=50) as cluster:
        client = distributed.Client(cluster)
        sharded = net.objective(X, y, executor=client, shards=2)
        sharded.timeout = 3.0
        assert np.isfinite(sharded.fun(net.theta))
        cluster.scale(0)
        while client.nthreads():
            time.sleep(0.1)
        with pytest.raises(RuntimeError, match="no workers"):
            sharded.fun(net.theta)
        client.close()
        with pytest.raises(RuntimeError, match="unreachable|closed|no workers"):
            sharded.fun(net.theta)


def test_kernels_accept_read_only_arrays():
    net, X, y, sw = problem(rows=20)
    for a in (X, y, sw):
        a.setflags(write=False)
    for backend in pk.backends():
        np.testing.assert_allclose(net.loss(X, y, sample_weight=sw, backend=backend),
                                   net.loss(X.copy(), y.copy(), sample_weight=sw.copy(),
                                            backend="numpy"), rtol=1e-12)


def test_no_processes_left_behind():
    psutil = pytest.importorskip("psutil")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=50) as cluster:
        with distributed.Client(cluster) as client:
            net, X, y, _ = problem(rows=40)
            net.objective(X, y, executor=client).fun(net.theta)
    after = {p.pid for p in psutil.Process().children(recursive=True)
             if p.is_running() and p.status() != psutil.STATUS_ZOMBIE}
    assert after <= before
