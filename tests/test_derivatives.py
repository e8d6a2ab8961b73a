"""pk.gradient / jacobian / hessian / hvp / check_grad against exact derivatives."""

import concurrent.futures
import multiprocessing

import numba
import numpy as np
import pytest
from problems import PROBLEMS, get

import pykernels as pk
from pykernels import kernels

METHODS = ["forward", "backward", "central", "richardson", "complex"]
#: relative error max|d - exact| / max|exact| at well-scaled points, float64 (issue 3)
TOL = {"forward": 1e-6, "backward": 1e-6, "central": 1e-9, "richardson": 1e-12,
       "complex": 1e-14}
#: second derivatives from f alone (rounding ~ eps |f| / h^2)
TOL2 = {"forward": 1e-4, "backward": 1e-4, "central": 1e-6, "richardson": 1e-10,
        "complex": 1e-9}

# trigonometric at x0 evaluates n - sum(cos x) with cancellation (f itself is noisy) and
# Brown's function is badly scaled on purpose: both are tested separately below
WELL_SCALED = [p for p in PROBLEMS if p.name != "brown_badly_scaled"]


def points(p):
    rng = np.random.default_rng(p.n)
    pts = [p.x0 + 0.3 * rng.standard_normal(p.n)]
    if p.name != "trigonometric":
        pts.append(p.x0)
    return pts


def rel_err(a, exact):
    a = a.toarray() if hasattr(a, "toarray") else a
    return np.max(np.abs(a - exact)) / np.max(np.abs(exact))


def ids(p):
    return f"{p.name}-{p.n}"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("p", WELL_SCALED, ids=ids)
def test_gradient_exact(p, method):
    for x in points(p):
        assert rel_err(pk.gradient(p.fun, x, method=method), p.grad(x)) <= TOL[method]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("p", WELL_SCALED, ids=ids)
def test_jacobian_exact(p, method):
    for x in points(p):
        J = pk.jacobian(p.residual, x, method=method)
        assert J.shape == (p.m, p.n)
        assert rel_err(J, p.jac(x)) <= TOL[method]


@pytest.mark.parametrize("method", ["central", "richardson", "complex"])
def test_badly_scaled_points(method):
    # Brown badly scaled (x ~ 1e6 and 1e-6) and the trigonometric function at x0:
    # accurate, though not to the well-scaled tolerance for central/richardson
    loose = {"central": 1e-5, "richardson": 1e-7, "complex": 1e-14}[method]
    for p, x in [(get("brown_badly_scaled"), np.array([1.0, 1.0])),
                 (get("brown_badly_scaled"), np.array([1e6 + 3, 2e-6 - 1e-7])),
                 (get("trigonometric", 30), get("trigonometric", 30).x0)]:
        assert rel_err(pk.gradient(p.fun, x, method=method), p.grad(x)) <= loose


@pytest.mark.parametrize("method", ["forward", "central", "richardson", "complex"])
@pytest.mark.parametrize("name", ["rosenbrock", "wood", "helical_valley"])
def test_hessian_exact(name, method):
    p = get(name)
    for x in points(p):
        H = pk.hessian(p.fun, x, method=method)
        assert np.array_equal(H, H.T)
        assert rel_err(H, p.hess(x)) <= TOL2[method]
        Hg = pk.hessian(None, x, grad=p.grad, method="central" if method == "complex" else method)
        assert np.array_equal(Hg, Hg.T)
        assert rel_err(Hg, p.hess(x)) <= 10 * TOL[method if method != "complex" else "central"]


@pytest.mark.parametrize("method", ["forward", "central", "richardson", "complex"])
def test_hvp_equals_hessian_times_v(method):
    p = get("trigonometric", 10)
    x = points(p)[0]
    v = np.random.default_rng(0).standard_normal(p.n)
    exact = p.hess(x) @ v
    # from f alone: a difference of a difference (2 divisions by a step)
    tol = {"forward": 1e-4, "central": 1e-6, "richardson": 1e-10, "complex": 1e-9}[method]
    assert rel_err(pk.hvp(p.fun, x, v, method=method), exact) <= tol
    grad_method = method if method != "complex" else "central"  # p.grad is real-only
    assert rel_err(pk.hvp(None, x, v, grad=p.grad, method=grad_method), exact) <= 10 * TOL[
        grad_method]
    assert np.array_equal(pk.hvp(p.fun, x, np.zeros(p.n)), np.zeros(p.n))


def test_hvp_args_and_compiled_f():
    p = get("wood")
    x, v = points(p)[0], np.arange(1.0, 5.0)

    def scaled(y, c):
        return c * p.fun(y)

    exact = 3.0 * p.hess(x) @ v
    assert rel_err(pk.hvp(scaled, x, v, args=(3.0,)), exact) <= 1e-6
    assert rel_err(pk.hvp(None, x, v, grad=lambda y, c: c * p.grad(y), args=(3.0,)),
                   exact) <= 10 * TOL["central"]
    assert rel_err(pk.hvp(p.fun_jit, x, v), exact / 3.0) <= 1e-6
    assert np.array_equal(pk.hvp(p.fun_jit, x, v), pk.hvp(p.fun_jit, x, v, backend="numpy"))


def test_richardson_error_estimate():
    for p in WELL_SCALED[:8]:
        for x in points(p):
            g, err = pk.gradient(p.fun, x, method="richardson", full_output=True)
            assert err.shape == g.shape and np.all(err >= 0)
            # an order-of-magnitude estimate, as numdifftools'
            assert np.all(np.abs(g - p.grad(x)) <= 20 * err)
            assert np.max(err) <= 1e-9 * np.max(np.abs(g))
    p = get("wood")
    H, err = pk.hessian(p.fun, points(p)[0], method="richardson", full_output=True)
    assert np.all(np.abs(H - p.hess(points(p)[0])) <= 20 * err)
    assert np.max(err) <= 1e-9 * np.max(np.abs(H))


def test_richardson_skips_steps_where_f_is_undefined():
    # the coarsest steps of x = 0.3 reach log(<0): those runs lose, the result stays exact
    x = np.array([0.3, 2.0])
    with np.errstate(invalid="ignore"):
        g = pk.gradient(lambda y: np.sum(np.log(y)), x, method="richardson")
        J = pk.jacobian(np.log, x, method="richardson")
        H = pk.hessian(lambda y: np.sum(np.log(y)), x, method="richardson")
    assert rel_err(g, 1 / x) <= TOL["richardson"]
    assert rel_err(J, np.diag(1 / x)) <= TOL["richardson"]
    assert rel_err(H, np.diag(-1 / x ** 2)) <= TOL2["richardson"]
    # undefined at every step: an error naming the component
    with pytest.raises(ValueError, match="non-finite values at every step for component 1"):
        pk.gradient(lambda y: y[0] if y[1] == 2.0 else np.nan, x, method="richardson")


def test_check_grad():
    p = get("wood")
    x = points(p)[0]
    assert pk.check_grad(p.fun, p.grad, x) < 1e-11
    wrong = lambda y: p.grad(y) * (1 + 1e-4 * np.arange(4))
    assert pk.check_grad(p.fun, wrong, x) > 1e-5


# ------------------------------------------------------------------ kinds of f

@pytest.mark.parametrize("method", METHODS)
def test_compiled_loop_identical_to_reference_loop(method):
    # the same @njit f through the compiled drivers and through the NumPy reference:
    # the same points and the same arithmetic, hence the same bits
    p = get("helical_valley")
    x = points(p)[0]
    assert np.array_equal(pk.gradient(p.fun_jit, x, method=method),
                          pk.gradient(p.fun_jit, x, method=method, backend="numpy"))
    assert np.array_equal(pk.jacobian(p.residual_jit, x, method=method),
                          pk.jacobian(p.residual_jit, x, method=method, backend="numpy"))
    if method != "backward":
        assert np.array_equal(pk.hessian(p.fun_jit, x, method=method),
                              pk.hessian(p.fun_jit, x, method=method, backend="numpy"))


@pytest.mark.parametrize("method", METHODS)
def test_python_and_njit_f_agree(method):
    # Python and Numba may round f differently (LLVM contracts a*b+c into FMA), so the
    # two kinds of f agree to the method's accuracy rather than bit for bit
    p = get("rosenbrock", 10)
    x = points(p)[0]
    assert rel_err(pk.gradient(p.fun, x, method=method),
                   pk.gradient(p.fun_jit, x, method=method)) <= TOL[method]
    assert rel_err(pk.jacobian(p.residual, x, method=method),
                   pk.jacobian(p.residual_jit, x, method=method)) <= TOL[method]


def test_args_passed_through():
    @numba.njit
    def f(x, a, w):
        return a * np.sum(w * x ** 3)

    def fpy(x, a, w):
        return a * np.sum(w * x ** 3)

    x = np.array([1.0, -2.0, 0.5])
    w = np.array([1.0, 2.0, 3.0])
    exact = 2.0 * 3 * w * x ** 2
    for fun in (f, fpy):
        assert rel_err(pk.gradient(fun, x, args=(2.0, w)), exact) <= TOL["central"]
        assert rel_err(pk.jacobian(lambda y, a, ww, fun=fun: np.array([fun(y, a, ww)]), x,
                                   args=(2.0, w))[0], exact) <= TOL["central"]


def test_workers_identical_to_serial():
    p = get("broyden_tridiagonal", 100)
    x = points(p)[0]
    assert np.array_equal(pk.jacobian(p.residual_jit, x, workers=2),
                          pk.jacobian(p.residual_jit, x))
    assert np.array_equal(pk.gradient(p.fun_jit, x, workers=2), pk.gradient(p.fun_jit, x))


def test_hessian_workers_and_executor_identical():
    p = get("trigonometric", 10)
    x = points(p)[0]
    serial = pk.hessian(p.fun_jit, x)
    assert np.array_equal(pk.hessian(p.fun_jit, x, workers=2), serial)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        assert np.array_equal(pk.hessian(p.fun, x, executor=ex), pk.hessian(p.fun, x))


@pytest.mark.parametrize("backend", pk.backends())
def test_every_backend_gives_the_same_gradient(backend):
    # "numba" and "c" run the compiled loop, "numpy" the reference loop: same bits
    p = get("wood")
    x = points(p)[0]
    assert np.array_equal(pk.gradient(p.fun_jit, x, backend=backend), pk.gradient(p.fun_jit, x))


def test_gradient_plan():
    p = get("rosenbrock", 10)
    x = points(p)[0]
    plan = pk.derivatives.GradientPlan(p.fun_jit, p.n)
    assert np.array_equal(plan(x), pk.gradient(p.fun_jit, x))
    assert np.array_equal(plan(list(x)), plan(x))  # converted, then the same
    g, err = pk.derivatives.GradientPlan(p.fun, p.n, method="richardson")(x, full_output=True)
    assert rel_err(g, p.grad(x)) <= TOL["richardson"] and err.shape == (p.n,)
    bounded = pk.derivatives.GradientPlan(p.fun_jit, p.n, bounds=(x, x + 1.0))
    assert rel_err(bounded(x), p.grad(x)) <= 1e-7
    with pytest.raises(ValueError, match=r"x must have shape \(10,\)"):
        plan(x[:4])
    with pytest.raises(ValueError, match="x must lie inside bounds"):
        bounded(x - 1.0)


def test_no_recompile_on_second_call():
    p = get("rosenbrock", 10)
    pk.gradient(p.fun_jit, p.x0)
    driver = kernels.fd_drivers(p.fun_jit)["gradient"]
    before = len(driver.signatures)
    pk.gradient(p.fun_jit, p.x0 + 1.0)
    assert kernels.fd_drivers(p.fun_jit)["gradient"] is driver
    assert len(driver.signatures) == before == 1


def test_concurrent_calls_from_threads():
    # plans and drivers are shared between threads: results must not mix
    p = get("rosenbrock", 10)
    xs = [p.x0 + 0.01 * k for k in range(16)]
    expected = [pk.gradient(p.fun_jit, x) for x in xs]
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda x: pk.gradient(p.fun_jit, x), xs * 8))
    assert all(np.array_equal(g, e) for g, e in zip(got, expected * 8))


def test_executor_thread_pool_identical():
    p = get("trigonometric", 10)
    x = points(p)[0]
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        assert np.array_equal(pk.gradient(p.fun, x, executor=ex), pk.gradient(p.fun, x))
        assert np.array_equal(pk.jacobian(p.residual, x, executor=ex, method="richardson"),
                              pk.jacobian(p.residual, x, method="richardson"))


def test_executor_process_pool_identical():
    # points and f travel by pickle: f must be importable (problems.py's are)
    p = get("wood")
    x = points(p)[0]
    # spawn, not fork: other tests may have started threads (BLAS, JAX) in this process
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn) as ex:
        assert np.array_equal(pk.jacobian(p.residual, x, executor=ex),
                              pk.jacobian(p.residual, x))


def test_executor_dask_local_cluster():
    distributed = pytest.importorskip("distributed")
    p = get("wood")
    x = points(p)[0]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        ex = client.get_executor()
        assert np.array_equal(pk.jacobian(p.residual, x, executor=ex),
                              pk.jacobian(p.residual, x))
        assert np.array_equal(pk.gradient(p.fun, x, executor=ex), pk.gradient(p.fun, x))


def test_richardson_as_accurate_as_numdifftools():
    nd = pytest.importorskip("numdifftools")
    ours, theirs = [], []
    for p in WELL_SCALED:
        if p.n > 10:
            continue
        for x in points(p):
            ours.append(rel_err(pk.gradient(p.fun, x, method="richardson"), p.grad(x)))
            theirs.append(rel_err(nd.Gradient(p.fun)(x), p.grad(x)))
    assert max(ours) <= max(max(theirs), TOL["richardson"])


def test_hessian_from_a_gradient_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"grad must return an array of shape \(2,\)"):
        pk.hessian(None, np.ones(2), grad=lambda x: x[:1])


def test_none_in_bounds_means_unbounded():
    f = lambda x: np.sum(np.log(x))  # noqa: E731
    x = np.array([1e-6, 2.0])
    expected = pk.gradient(f, x, bounds=(0.0, np.inf))
    np.testing.assert_array_equal(pk.gradient(f, x, bounds=(0.0, None)), expected)
    np.testing.assert_array_equal(pk.gradient(f, x, bounds=([0.0, None], [None, 5.0])),
                                  pk.gradient(f, x, bounds=([0.0, -np.inf], [np.inf, 5.0])))
    np.testing.assert_allclose(expected, 1 / x, rtol=1e-8)


@pytest.mark.parametrize("call", [
    lambda: pk.gradient(np.sum, np.ones(0)),
    lambda: pk.jacobian(np.sin, np.ones(0)),
    lambda: pk.hessian(np.sum, np.ones(0)),
    lambda: pk.hvp(np.sum, np.ones(0), np.ones(0)),
])
def test_empty_x_is_an_error(call):
    with pytest.raises(ValueError, match=r"x must have at least one entry|x.size must be >= 1"):
        call()


def test_check_grad_full_output_pins_the_wrong_component():
    p = get("rosenbrock", 10)
    x = points(p)[0]
    err, check = pk.check_grad(p.fun, p.grad, x, full_output=True)
    assert err == check.errors[check.worst] < 1e-11 and check.errors.shape == (10,)
    for planted in (0, 7):
        def wrong(y, k=planted):
            g = p.grad(y)
            g[k] *= 1 + 1e-6   # one component off by one part in a million
            return g
        err, check = pk.check_grad(p.fun, wrong, x, full_output=True)
        assert check.worst == planted
        assert np.all(np.delete(check.errors, planted) < 1e-11) and err > 1e-8
        assert np.array_equal(check.grad, wrong(x))
        assert np.all(check.estimate_error < 1e-9 * np.max(np.abs(check.estimate)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_check_grad_nonfinite_gradient_names_grad(bad):
    with pytest.raises(ValueError, match="grad returned a non-finite value"):
        pk.check_grad(lambda x: np.sum(x ** 2), lambda x: np.array([bad, 1.0]), np.ones(2))


@pytest.mark.parametrize("method", ["central", "forward", "backward"])
def test_repeated_jacobian_and_hvp_one_compiled_call_same_bits(method):
    # the plan-cache fast paths (one compiled call) give the bits of the general path
    from pykernels import derivatives

    p = get("broyden_tridiagonal", 30)
    x = points(p)[0]
    J = pk.jacobian(p.residual_jit, x, method=method)
    assert np.array_equal(J, pk.jacobian(p.residual_jit, x, method=method, backend="numpy"))
    assert any(k[0] is p.residual_jit for k in derivatives._JACOBIAN_PLANS)
    q = get("rosenbrock", 10)
    y, v = points(q)[0], np.linspace(-1.0, 2.0, 10)
    if method == "central":
        Hv = pk.hvp(q.fun_jit, y, v)
        assert np.array_equal(Hv, pk.hvp(q.fun_jit, y, v, backend="numpy"))
        assert any(k[0] is q.fun_jit for k in derivatives._HVP_FAST_PLANS)
        tiny = np.zeros(10)
        tiny[0] = 5e-324
        assert np.array_equal(pk.hvp(q.fun_jit, y, tiny), pk.hvp(q.fun_jit, y, tiny,
                                                                  backend="numpy"))
    # problems still get the general path's errors
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="x must be finite"):
        pk.hvp(q.fun_jit, bad, v)
    with pytest.raises(ValueError, match="column 1"):
        pk.jacobian(numba.njit(lambda z: z if z[1] == 0.5 else z * np.nan), np.full(4, 0.5),
                    method=method)
