"""pk.minimize, zero-order methods: global minima, reproducibility, executors, evaluators."""

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest

import pykernels as pk

BOX = ([-5.12, -5.12], [5.12, 5.12])
X0 = [3.3, -2.7]
METHODS = ["random-search", "simulated-annealing", "genetic"]


def rastrigin(x):
    return 10.0 * x.size + np.sum(x * x - 10.0 * np.cos(2.0 * np.pi * x))


def rastrigin_rows(P):
    return 10.0 * P.shape[1] + np.sum(P * P - 10.0 * np.cos(2.0 * np.pi * P), axis=1)


rastrigin_jit = numba.njit(rastrigin)


def himmelblau(x):
    return (x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2


HIMMELBLAU_MINIMA = np.array([[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186],
                              [3.584428, -1.848126]])

# The stated budgets: f < 1e-6 within 4000 evaluations (random search, genetic) and
# 10000 with 40 chains for simulated annealing, the weakest of the three (with 20
# chains and 4000 evaluations it finds Rastrigin's global basin in about half the seeds).
BUDGET = {"random-search": {"maxfev": 4000}, "genetic": {"maxfev": 4000},
          "simulated-annealing": {"maxfev": 10000, "popsize": 40}}


@pytest.mark.parametrize("method", METHODS)
def test_rastrigin_global_minimum(method):
    res = pk.minimize(rastrigin, X0, method=method, bounds=BOX, seed=0,
                      options=BUDGET[method])
    assert res.success and res.status == 2
    assert res.fun < 1e-6 and np.max(np.abs(res.x)) < 1e-4
    assert res.nfev <= BUDGET[method]["maxfev"]


@pytest.mark.parametrize("method", METHODS)
def test_himmelblau_global_minimum(method):
    res = pk.minimize(himmelblau, X0, method=method, bounds=BOX, seed=1,
                      options={"maxfev": 4000})
    assert res.fun < 1e-4
    assert np.min(np.max(np.abs(HIMMELBLAU_MINIMA - res.x), axis=1)) < 1e-2


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_run_other_seed_differs(method):
    runs = [pk.minimize(rastrigin, X0, method=method, bounds=BOX, seed=s, maxiter=20)
            for s in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0].x, runs[1].x)
    np.testing.assert_array_equal(runs[0].history, runs[1].history)
    assert not np.array_equal(runs[0].history, runs[2].history)
    assert runs[0].nit == 20 and runs[0].success


@pytest.mark.parametrize("method", METHODS)
def test_serial_threads_vectorized_njit_identical(method):
    kw = dict(method=method, bounds=BOX, seed=3, maxiter=15)
    serial = pk.minimize(rastrigin, X0, **kw)
    with ThreadPoolExecutor(max_workers=3) as ex:
        threads = pk.minimize(rastrigin, X0, executor=ex, **kw)
    vectorized = pk.minimize(rastrigin_rows, X0, options={"vectorized": True}, **kw)
    compiled = pk.minimize(rastrigin_jit, X0, **kw)
    for other in (threads, vectorized, compiled):
        np.testing.assert_array_equal(serial.x, other.x)
        np.testing.assert_array_equal(serial.history, other.history)
        assert serial.nfev == other.nfev


def test_dask_local_cluster_equals_serial():
    distributed = pytest.importorskip("dask.distributed")
    kw = dict(method="genetic", bounds=BOX, seed=4, maxiter=5, options={"popsize": 16})
    serial = pk.minimize(rastrigin, X0, **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        parallel = pk.minimize(rastrigin, X0, executor=client.get_executor(), **kw)
    np.testing.assert_array_equal(serial.x, parallel.x)
    np.testing.assert_array_equal(serial.history, parallel.history)


@pytest.mark.parametrize("method", METHODS)
def test_counts_and_bounds_clipping(method):
    seen = []

    def f(x):
        seen.append(x.copy())
        return himmelblau(x)

    lo, hi = np.array([-1.0, 0.0]), np.array([4.0, 1.5])
    res = pk.minimize(f, [0.0, 0.5], method=method, bounds=(lo, hi), seed=0, maxiter=10)
    pts = np.array(seen)
    assert res.nfev == len(seen)
    assert (pts >= lo).all() and (pts <= hi).all()
    assert res.fun == min(himmelblau(p) for p in pts)
    assert res.jac is None and res.njev == 0


@pytest.mark.parametrize("method", ["random-search", "simulated-annealing", "genetic"])
def test_zero_order_stops_on_nan_with_the_best_finite_point(method):
    """As for every method: a NaN/Inf objective ends the run, unsuccessfully."""
    seen = []

    def f(x):
        value = np.nan if x[0] < -1 else himmelblau(x)
        seen.append(value)
        return value

    res = pk.minimize(f, [0.0, 0.0], method=method, seed=0, options={"maxfev": 3000})
    assert not res.success and res.status == 6 and "objective is nan" in res.message
    assert np.isnan(seen).any()
    assert res.fun == np.nanmin(seen) and np.isfinite(res.fun)


def test_default_budget_and_bad_options():
    res = pk.minimize(himmelblau, X0, method="random-search", seed=0)
    assert res.nit == 100
    with pytest.raises(ValueError, match="popsize"):
        pk.minimize(himmelblau, X0, method="genetic", options={"popsize": 1})
    with pytest.raises(ValueError, match="lr"):
        pk.minimize(himmelblau, X0, method="genetic", options={"lr": 1})
    with pytest.raises(ValueError, match="executor"):
        pk.minimize(himmelblau, X0, method="lbfgs", jac=lambda x: x,
                    executor=ThreadPoolExecutor(1))


def test_executor_for_finite_difference_gradients():
    serial = pk.minimize(himmelblau, X0, method="lbfgs", tol=1e-6)
    with ThreadPoolExecutor(max_workers=2) as ex:
        spread = pk.minimize(himmelblau, X0, method="lbfgs", tol=1e-6, executor=ex)
    np.testing.assert_array_equal(serial.x, spread.x)
    assert serial.nfev == spread.nfev and serial.success


@pytest.mark.parametrize("method,options,match", [
    ("genetic", {"tournament": 0}, "tournament"),
    ("genetic", {"mutation": "a"}, "mutation"),
    ("genetic", {"mutation": 1.5}, "mutation"),
    ("genetic", {"elite": 2.5}, "elite"),
    ("genetic", {"elite": 50}, "elite"),
    ("genetic", {"popsize": 1.5}, "popsize"),
    ("random-search", {"sigma": [1.0, 2.0, 3.0]}, "sigma"),
    ("simulated-annealing", {"sigma": -1.0}, "sigma"),
    ("simulated-annealing", {"T0": 0.0}, "T0"),
])
def test_bad_zero_order_options_name_the_option(method, options, match):
    # TypeError for the wrong kind (a string, a fraction for a count), else ValueError
    with pytest.raises((TypeError, ValueError), match=rf"options\['{match}'\]"):
        pk.minimize(himmelblau, X0, method=method, seed=0, options=options, maxiter=3)
