"""An independent hostile-input suite for pk.minimize (issue 14's last bar): every call
either raises a ValueError/TypeError naming the argument, or returns a result whose
point and value are finite (or says, unsuccessfully, that nothing was) -- no hang, no
other exception, no silent NaN.  Regression tests for each defect it found follow."""

import concurrent.futures
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import pykernels as pk
from pykernels.optimize import METHODS

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

FUNS = {
    "quadratic": lambda x: float(np.sum(np.asarray(x) ** 2)),
    "kink": lambda x: float(np.max(np.abs(x))),
    "unbounded": lambda x: -float(np.sum(x)),
    "nan-near-0": lambda x: float(np.sum(x ** 2)) if np.min(np.abs(x)) > 0.25 else np.nan,
    "inf": lambda x: np.inf,
    "huge": lambda x: 1e305 * float(np.sum(x ** 2)),
    "subnormal": lambda x: 5e-324 * float(np.sum(x ** 2) > 1),
    "array-of-one": lambda x: np.array([np.sum(x ** 2)]),
    "none": lambda x: None,
    "string": lambda x: "1.0",
    "complex": lambda x: 1.0 + 1j,
    "bool": lambda x: True,
    "vector": lambda x: np.ones(3),
    "ragged": lambda x: [[1.0], [2.0, 3.0]],
    "writes-x": lambda x: (x.fill(7.0), 1.0)[1],
}
JACS = {
    None: None,
    "exact": lambda x: 2.0 * np.asarray(x),
    "short": lambda x: np.ones(1),
    "bool": lambda x: np.ones(np.size(x), bool),
    "strings": lambda x: ["1"] * np.size(x),
    "nan": lambda x: np.full(np.size(x), np.nan),
    "column": lambda x: 2.0 * np.asarray(x)[:, None],
    "object": lambda x: np.array([None] * np.size(x)),
}
GOOD_X0 = st.lists(st.floats(-2, 2, allow_subnormal=False), min_size=1, max_size=3)
BAD_X0 = st.sampled_from([
    np.array([1, 2], np.int8), np.array([True, False]), np.array(2.0), np.arange(6.0)[::-3],
    np.array([1.0, 2.0], np.float32), np.array([5e-324, -0.0]), np.array([1e300, -1e300]),
    np.array([np.nan, 1.0]), np.array([np.inf]), np.empty(0), np.ones((2, 2)),
    np.array(["1", "2"]), np.array([1 + 2j]), np.array([1.0, None], object),
    np.ones(2, np.float16), [[1.0], [2.0, 3.0]], "1.0", None])
BAD_OPTIONS = {
    "gtol": [None, 0.0, 1e-3, -1.0, np.nan, "1e-3"],
    "ftol": [None, 1e-12, np.inf, -0.0],
    "maxfev": [1, 50, 0, 2.5, True],
    "maxtime": [1.0, np.inf, -1.0, np.nan],
    "patience": [None, 1, 5, 0],
    "lr": [1e-3, 1e300, 0.0, np.nan, "x"],
    "popsize": [2, 7, 1, 10**15],
    "memory": [1, 3, 0, 10**15],
    "linesearch": [True, False, "no", 1],
    "vectorized": [False, "yes"],
    "unknown": [1],
}
BOUNDS = [None, (-1.0, 1.0), ([-1, None], [None, 1]), ("a", "b"), (1.0, -1.0), (np.nan, 1.0),
          [(0, 1)], 3.0, (-1e308, 1e308)]
#: what a message may name: the arguments of pk.minimize and its options
NAMES = ("fun", "jac", "x0", "options", "bounds", "method", "lr", "maxiter", "tol")


@st.composite
def calls(draw):
    """A call of pk.minimize with at most one hostile part (the function, its gradient,
    x0, one option or the bounds), so that each meets otherwise valid arguments."""
    method = draw(st.sampled_from(sorted(METHODS)))
    family, bounded, _accepted = METHODS[method]
    part = draw(st.sampled_from(["none", "fun", "jac", "x0", "option", "bounds"]))
    fun = draw(st.sampled_from(sorted(FUNS))) if part == "fun" else "quadratic"
    x0 = draw(BAD_X0 if part == "x0" else GOOD_X0)
    kwargs = {"method": method, "seed": 0, "maxiter": 15, "options": {}}
    if family != "zero":
        kwargs["jac"] = JACS[draw(st.sampled_from(list(JACS)))] if part == "jac" else None
    if part == "option":
        key = draw(st.sampled_from(sorted(BAD_OPTIONS)))
        kwargs["options"][key] = draw(st.sampled_from(BAD_OPTIONS[key]))
    if part == "bounds" and bounded:
        kwargs["bounds"] = draw(st.sampled_from(BOUNDS))
    return fun, x0, kwargs


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(call=calls())
def test_minimize_answers_or_names_the_argument(call):
    fun, x0, kwargs = call
    start = time.perf_counter()
    try:
        res = pk.minimize(FUNS[fun], x0, **kwargs)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert any(name in message for name in NAMES), message
        assert len(message) < 1000
        event(f"{type(exc).__name__}")
        return
    event(f"result, status {res.status}")
    assert time.perf_counter() - start < 20
    assert isinstance(res, pk.OptimizeResult) and res.message
    assert np.all(np.isfinite(res.x))
    assert np.isfinite(res.fun) or (res.status == 6 and not res.success), res
    if res.jac is not None:
        assert np.all(np.isfinite(res.jac))


# -- regressions: one test per defect the campaign found ------------------------------

@pytest.mark.parametrize("method", ["random-search", "simulated-annealing", "genetic"])
@pytest.mark.parametrize("value,what", [(None, "NoneType"), (1j, "complex"),
                                        (np.ones(2), "array"), ("1.0", "str")])
def test_zero_order_fun_returning_no_real_number_names_fun(method, value, what):
    # was: float(None) -- "float() argument must be a string or a real number"
    with pytest.raises((TypeError, ValueError), match=f"fun must return .*{what}"):
        pk.minimize(lambda x: value, [1.0, 2.0], method=method, maxiter=3)


@pytest.mark.parametrize("method", ["lbfgs", "adam", "newton-cg", "genetic"])
@pytest.mark.parametrize("key", ["gtol", "ftol", "xtol"])
def test_a_tolerance_of_none_means_its_default(method, key):
    # was: TypeError "'<=' not supported between instances of 'float' and 'NoneType'"
    res = pk.minimize(FUNS["quadratic"], [1.0, 2.0], method=method, maxiter=30, seed=0,
                      options={key: None})
    ref = pk.minimize(FUNS["quadratic"], [1.0, 2.0], method=method, maxiter=30, seed=0)
    np.testing.assert_array_equal(res.x, ref.x)


@pytest.mark.parametrize("method,options,name", [
    ("genetic", {"popsize": 10**15}, "popsize"),
    ("random-search", {"popsize": 2**62}, "popsize"),
    ("lbfgs", {"memory": 10**15}, "memory"),
])
def test_sizes_that_cannot_fit_are_refused_before_allocating(method, options, name):
    # was: a hang (popsize 1e9) or numpy's MemoryError (memory 1e12)
    with pytest.raises(ValueError, match=rf"options\['{name}'\] asks for .* GiB, more than"):
        pk.minimize(FUNS["quadratic"], [1.0, 2.0], method=method, options=options)


def test_a_tournament_larger_than_the_population_is_refused():
    # was: a (2, popsize, 10**6) index array per generation -- a hang
    with pytest.raises(ValueError, match=r"options\['tournament'\] must be <= popsize"):
        pk.minimize(FUNS["quadratic"], [1.0, 2.0], method="genetic",
                    options={"tournament": 10**6})


@pytest.mark.parametrize("method,options,name", [
    ("adam", {"linesearch": "no"}, "options['linesearch']"),
    ("gd", {"linesearch": 0}, "options['linesearch']"),
    ("genetic", {"vectorized": "yes"}, "options['vectorized']"),
])
def test_flags_are_booleans_not_truthy_values(method, options, name):
    # was: "no" read as True (a line search the caller switched off)
    with pytest.raises(TypeError, match=rf"{name.replace('[', '.').replace(']', '.')} must "
                                        "be True or False"):
        pk.minimize(FUNS["quadratic"], [1.0, 2.0], method=method, maxiter=3, options=options)
    with pytest.raises(TypeError, match="progress must be True or False"):
        pk.minimize(FUNS["quadratic"], [1.0, 2.0], method=method, maxiter=3, progress="yes")


@pytest.mark.parametrize("method", ["newton", "newton-cg", "lbfgs", "adam"])
@pytest.mark.parametrize("jac,exc,match", [
    (JACS["bool"], TypeError, ("jac must return a real array of shape .2,., got an array of "
                              "dtype bool")),
    (JACS["strings"], TypeError, "jac must return a real array"),
    (lambda x: np.ones(3), ValueError, r"jac must return an array of shape \(2,\)"),
])
def test_gradient_values_are_checked_in_every_method(method, jac, exc, match):
    # was: strings converted to numbers, booleans subtracted inside pk.hvp, and errors
    # naming "f" or "grad" (the difference engine's names) for the caller's jac
    with pytest.raises(exc, match=match):
        pk.minimize(FUNS["quadratic"], [1.0, 2.0], method=method, jac=jac, maxiter=5)


@pytest.mark.parametrize("hess,exc,match", [
    (lambda x: np.eye(1), ValueError, r"hess must return an array of shape \(2, 2\)"),
    (lambda x: None, TypeError, "hess must return a real array"),
    (lambda x: "H", TypeError, "hess must return a real array"),
])
def test_newton_cg_checks_a_dense_hess(hess, exc, match):
    # was: numpy's matmul errors ("mismatch in its core dimension 0")
    with pytest.raises(exc, match=match):
        pk.minimize(FUNS["quadratic"], [1.0, 2.0], method="newton-cg", jac=JACS["exact"],
                    hess=hess, maxiter=5)


def test_a_failed_automatic_step_still_reports_f_at_x0():
    # was: fun=nan (the curvature products ran before f was ever evaluated)
    res = pk.minimize(FUNS["quadratic"], [1.0, 2.0], method="gd", jac=JACS["exact"],
                      hessp=lambda x, v: np.full(2, np.nan), options={"step": "auto"})
    assert res.status == 6 and not res.success
    assert res.fun == 5.0 and res.nfev == 1


@pytest.mark.parametrize("executor", ["pool", 3, object()])
def test_an_executor_without_submit_is_refused(executor):
    # was: AttributeError: 'str' object has no attribute 'submit'
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        pk.minimize(FUNS["quadratic"], [1.0, 2.0], method="genetic", executor=executor)


def test_a_real_executor_still_works():
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        res = pk.minimize(FUNS["quadratic"], [1.0, 2.0], method="genetic", executor=pool,
                          maxiter=3, seed=0)
    ref = pk.minimize(FUNS["quadratic"], [1.0, 2.0], method="genetic", maxiter=3, seed=0)
    np.testing.assert_array_equal(res.x, ref.x)


def test_an_infinite_time_budget_keeps_the_default_iteration_budget():
    # was: maxtime=inf counted as a budget, so no default maxiter: with patience off a
    # non-smooth f ran forever
    res = pk.minimize(FUNS["kink"], [1.0, -0.5], method="adam",
                      options={"maxtime": np.inf, "patience": None})
    assert res.status == 1 and res.nit == pk.optimize.default_maxiter("adam", 2)


def test_a_one_entry_array_is_a_value_also_inside_the_differences():
    # was: accepted at x0 but refused by the finite differences ("f must return a
    # real scalar, got list") one call later
    res = pk.minimize(lambda x: [float(np.sum(x ** 2))], [1.0, 2.0], maxiter=50)
    assert res.success and res.fun < 1e-10
