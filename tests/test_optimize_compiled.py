"""The compiled L-BFGS loop for @njit fun/jac, and the scipy bridge."""

import numba
import numpy as np
import pytest
import scipy.optimize as so

import pykernels as pk
from pykernels.benchmarks import rosenbrock_gradient_njit, rosenbrock_njit
from pykernels.scipy_bridge import method

rosen, rosen_grad = rosenbrock_njit(), rosenbrock_gradient_njit()


@numba.njit
def nan_beyond(x):
    return np.nan if x[0] > 1.5 else (x[0] - 1.0) ** 2


@numba.njit
def nan_beyond_grad(x):
    return 2.0 * (x - 1.0)


@pytest.mark.parametrize("n", [2, 100])
def test_compiled_equals_python_path(n):
    """The Python loop runs the NumPy twins of the compiled L-BFGS kernels (a plain
    Python f needs no Numba): the same iterations, up to the rounding of the sums."""
    x0 = np.tile([-1.2, 1.0], n // 2)
    fast = pk.minimize(rosen, x0, jac=rosen_grad, tol=1e-8)
    slow = pk.minimize(lambda x: rosen(x), x0, jac=lambda x: rosen_grad(x), tol=1e-8)
    assert fast.success and fast.fun < 1e-12
    np.testing.assert_allclose(fast.x, slow.x, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.history, slow.history, rtol=1e-7, atol=1e-14)
    assert (fast.nit, fast.nfev, fast.njev, fast.status) == (slow.nit, slow.nfev, slow.njev,
                                                            slow.status)


def test_lbfgs_and_wolfe_kernels_match_their_numpy_twins():
    from pykernels.kernels import optim as k
    from pykernels.reference import optim as ref

    rng = np.random.default_rng(0)
    n, m = 37, 5
    for count in range(m + 1):
        parts, g = {}, rng.standard_normal(n)
        for mod in (k, ref):
            S, Y = np.zeros((m, n)), np.zeros((m, n))
            rho, alpha, d = np.zeros(m), np.zeros(m), np.empty(n)
            newest = m - 1
            pairs = np.random.default_rng(count)
            for _ in range(count + 2):   # the last pair has s.y < 0: skipped
                x = pairs.standard_normal(n)
                s = pairs.standard_normal(n)
                y = s + 0.1 * pairs.standard_normal(n) if _ <= count else -s
                newest = mod.lbfgs_push(S, Y, rho, newest, x + s, x, g + y, g)
            mod.lbfgs_direction(g, S, Y, rho, newest, min(count + 1, m), alpha, d)
            parts[mod] = (newest, d.copy(), S.copy(), rho.copy())
        assert parts[k][0] == parts[ref][0]
        for a, b in zip(parts[k][1:], parts[ref][1:]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # the line search's decisions, trial by trial, on a NaN beyond 2 and a quartic
    for phi in (lambda t: (np.nan, np.nan) if t > 2 else ((t - 1.5) ** 2, 2 * (t - 1.5)),
                lambda t: ((t - 3) ** 4 - t, 4 * (t - 3) ** 3 - 1)):
        trials = {}
        for mod in (k, ref):
            state, t, seen = np.empty(mod.WOLFE_STATE_SIZE), 1.0, []
            f0, d0 = phi(0.0)
            mod.wolfe_init(state, f0, d0, 1e-4, 0.1)
            for _ in range(50):
                t = mod.wolfe_next(state, t, *phi(t))
                seen.append(t)
                if t < 0:
                    break
            trials[mod] = (seen, mod.wolfe_lower(state))
        np.testing.assert_allclose(trials[k][0], trials[ref][0], rtol=1e-14)
        assert trials[k][1] == trials[ref][1]


def test_compiled_budgets_and_nan():
    x0 = np.tile([-1.2, 1.0], 5)
    res = pk.minimize(rosen, x0, jac=rosen_grad, maxiter=4)
    assert (res.status, res.nit, res.success) == (1, 4, False)
    res = pk.minimize(rosen, x0, jac=rosen_grad, options={"maxfev": 7})
    assert res.status == 2 and res.nfev <= 7 and not res.success
    res = pk.minimize(nan_beyond, np.array([-3.0]), jac=nan_beyond_grad, tol=1e-10)
    assert res.success and abs(res.x[0] - 1.0) < 1e-8
    # a callback needs Python between iterations: same result through the Python loop
    seen = []
    res2 = pk.minimize(rosen, x0, jac=rosen_grad, maxiter=4, callback=seen.append)
    assert len(seen) == 4 and np.array_equal(res2.history, pk.minimize(
        rosen, x0, jac=rosen_grad, maxiter=4).history)


@pytest.mark.parametrize("name", ["lbfgs", "newton-cg", "gd"])
def test_scipy_bridge(name):
    calls = []
    kw = {"hessp": so.rosen_hess_prod} if name == "newton-cg" else {}
    res = so.minimize(so.rosen, np.array([-1.2, 1.0]), method=method(name), jac=so.rosen_der,
                      callback=lambda xk: calls.append(xk.copy()),
                      options={"gtol": 1e-6, "maxiter": 20000}, **kw)
    assert isinstance(res, so.OptimizeResult)
    assert res.success and np.allclose(res.x, 1.0, atol=1e-4)
    assert len(calls) == res.nit


def test_scipy_bridge_rejects():
    with pytest.raises(ValueError, match="name"):
        method("bfgs")
    with pytest.raises(ValueError, match="constraints"):
        so.minimize(so.rosen, np.zeros(2), method=method("lbfgs"),
                    constraints=[{"type": "eq", "fun": lambda x: x[0]}])


@pytest.mark.parametrize("name,opts", [("gd", {"lr": 1e-3, "linesearch": False}),
                                       ("momentum", {"lr": 5e-4, "beta": 0.9}),
                                       ("nesterov", {"lr": 5e-4}),
                                       ("adagrad", {"lr": 0.1}),
                                       ("rmsprop", {"lr": 1e-3}),
                                       ("adam", {"lr": 1e-2})])
def test_compiled_first_order_equals_python_path(name, opts):
    x0 = np.tile([-1.2, 1.0], 3)
    kw = dict(method=name, maxiter=300, options=opts)
    fast = pk.minimize(rosen, x0, jac=rosen_grad, **kw)
    slow = pk.minimize(lambda x: rosen(x), x0, jac=lambda x: rosen_grad(x), **kw)
    np.testing.assert_array_equal(fast.x, slow.x)
    np.testing.assert_array_equal(fast.history, slow.history)
    assert (fast.nit, fast.nfev, fast.status, fast.message) == (slow.nit, slow.nfev,
                                                                 slow.status, slow.message)
    assert fast.fun < rosen(x0)


def test_drivers_compile_once_for_every_function():
    from pykernels.kernels import optim as k

    @numba.njit
    def sphere(x):
        return np.sum(x * x)

    @numba.njit
    def sphere_grad(x):
        return 2.0 * x

    for fun, jac in ((rosen, rosen_grad), (sphere, sphere_grad)):
        pk.minimize(fun, np.ones(4), jac=jac)
        pk.minimize(fun, np.ones(4), jac=jac, method="adam", maxiter=5)
        pk.minimize(fun, np.ones(4), method="genetic", maxiter=2, seed=0)
    assert len(k.lbfgs_loop.signatures) == 1
    assert len(k.first_order_loop.signatures) == 1
    assert len(k.evaluate_rows.signatures) == 1


def test_seed_sequence_accepted():
    ss = np.random.SeedSequence(5)
    a = pk.minimize(rosen, np.zeros(2), method="random-search", seed=ss, maxiter=5)
    b = pk.minimize(rosen, np.zeros(2), method="random-search", seed=5, maxiter=5)
    np.testing.assert_array_equal(a.history, b.history)
