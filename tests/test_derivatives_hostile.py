"""Hostile input to the derivative functions (issue 14): every call either answers with
finite numbers or raises a ValueError/TypeError naming what is wrong."""

import numba
import numpy as np
import pytest
import scipy.sparse as sp

import pykernels as pk

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

FUNCTIONS = {
    "good": lambda x: np.sum(np.asarray(x) * np.asarray(x)),
    "nan": lambda x: np.nan,
    "none": lambda x: None,
    "string": lambda x: "f",
    "complex": lambda x: 1.0 + 2.0j,
    "vector": lambda x: np.ones(3),
    "vector-of-x": lambda x: np.asarray(x) * 2.0,
    "wrong-size": lambda x: np.ones(np.size(x) + (1 if np.asarray(x).flat[0] == 0 else 2)),
    "njit": numba.njit(lambda x: np.sum(x * x)),
}
VALUES = [0.0, 1.0, -2.5, 1e-300, 5e-324, 1e300, np.nan, np.inf, -np.inf]
DTYPES = [np.float64, np.float32, np.int64, np.bool_, np.complex128, object, "U3"]


@st.composite
def points(draw):
    """Arrays of every dtype, layout and shape, NaN/Inf/extreme values included -- or,
    half the time, a plain valid point, so that bad functions and options meet it."""
    if draw(st.booleans()):
        return np.array(draw(st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=4)))
    shape = draw(st.sampled_from([(0,), (1,), (3,), (4,), (2, 2), ()]))
    size = int(np.prod(shape)) if shape else 1
    values = draw(st.lists(st.sampled_from(VALUES), min_size=size, max_size=size))
    dtype = draw(st.sampled_from(DTYPES))
    with np.errstate(all="ignore"):
        x = np.array(values, dtype=float).reshape(shape)
        try:
            x = x.astype(dtype)
        except (ValueError, OverflowError):
            x = x.astype(object)
    layout = draw(st.sampled_from(["c", "fortran", "strided", "list"]))
    if layout == "fortran" and x.ndim == 2:
        x = np.asfortranarray(x)
    elif layout == "strided" and x.ndim == 1:
        x = np.repeat(x, 2)[::2]
    elif layout == "list":
        x = x.tolist()
    return x


def _no_bounds(o):
    return {k: v for k, v in o.items() if k != "bounds"}


CALLS = {
    "gradient": lambda f, g, x, o: pk.gradient(f, x, **o),
    "jacobian": lambda f, g, x, o: pk.jacobian(f, x, **o),
    "hessian": lambda f, g, x, o: pk.hessian(f, x, **o),
    "hessian-grad": lambda f, g, x, o: pk.hessian(None, x, grad=g, **_no_bounds(o)),
    "hvp": lambda f, g, x, o: pk.hvp(f, x, x, **_no_bounds(o)),
    "hvp-grad": lambda f, g, x, o: pk.hvp(None, x, x, grad=g, **_no_bounds(o)),
    "check_grad": lambda f, g, x, o: pk.check_grad(f, g, x),
    "hessian-sparse": lambda f, g, x, o: pk.hessian(f, x, sparsity=sp.identity(np.size(x)),
                                                    **_no_bounds(o)),
}
OPTIONS = st.fixed_dictionaries({}, optional={
    "method": st.sampled_from(["central", "forward", "complex", "richardson", "bad", None]),
    "step": st.sampled_from([None, 1e-4, 0.0, -1.0, np.nan, "auto", "x", [1e-3]]),
    "bounds": st.sampled_from([None, (0.0, 1.0), ("a", "b"), (1.0, 0.0), (-1e-15, 1e-15),
                               3.0]),
    "vectorized": st.sampled_from([False, True, "yes"]),
    "backend": st.sampled_from([None, "numpy", "numba", "fortran", ["c"]]),
})


def finite_result(value):
    if isinstance(value, tuple):
        return all(finite_result(v) for v in value if not hasattr(v, "noise"))
    if sp.issparse(value):
        value = value.toarray()
    if isinstance(value, float):
        return np.isfinite(value)
    return np.all(np.isfinite(np.asarray(value)))


@hypothesis.settings(max_examples=1500, deadline=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(call=st.sampled_from(sorted(CALLS)), fname=st.sampled_from(sorted(FUNCTIONS)),
                  gname=st.sampled_from(sorted(FUNCTIONS)), x=points(), options=OPTIONS)
def test_clear_error_or_finite_answer(call, fname, gname, x, options):
    if options.get("vectorized") is True and "njit" in (fname, gname):
        options["vectorized"] = False   # an @njit f taking (n, k) is a different f
    try:
        with np.errstate(all="ignore"):
            result = CALLS[call](FUNCTIONS[fname], FUNCTIONS[gname], x, options)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert message and len(message) < 2000
        return
    assert finite_result(result), (call, fname, x, options, result)


@pytest.mark.parametrize("workers", [True, False, 1.0, "2", None, -1])
def test_bad_workers_rejected_even_on_the_fast_path(workers):
    f = FUNCTIONS["njit"]
    x = np.ones(3)
    pk.gradient(f, x)   # the plan of workers=1 is cached now
    with pytest.raises((TypeError, ValueError), match="workers"):
        pk.gradient(f, x, workers=workers)


def test_step_underflow_in_a_tiny_box_says_so():
    x = np.array([1.0, 2.0])
    bounds = (np.array([1.0 - 1e-15, 1.0]), np.array([1.0 + 1e-15, 3.0]))
    with pytest.raises(ValueError, match="step of component 0 underflowed"):
        pk.gradient(lambda y: float(np.sum(y ** 2)), x, bounds=bounds)


def test_tiny_v_gives_a_result():
    x = np.array([1.0, 2.0])
    for v in (np.array([5e-324, 0.0]), np.array([1e-300, -2e-300])):
        Hv = pk.hvp(lambda y: float(y[0] ** 2 * y[1]), x, v)
        np.testing.assert_allclose(Hv, np.array([[4.0, 2.0], [2.0, 0.0]]) @ v, rtol=1e-5)


@pytest.mark.parametrize("value,what", [(None, "NoneType"), ("a", "str"), (1j, "complex"),
                                        (np.ones(2), "array of shape")])
def test_f_returning_the_wrong_kind_names_f(value, what):
    with pytest.raises(ValueError, match=f"f must return a real scalar, got .*{what}"):
        pk.gradient(lambda y: value, np.ones(2))
    with pytest.raises(ValueError, match="f must return"):
        pk.hessian(lambda y: value, np.ones(2))
    with pytest.raises(ValueError, match="f must return"):
        pk.jacobian(lambda y: value if what != "array of shape" else None, np.ones(2))


def test_hvp_grad_errors_name_grad():
    x = np.ones(2)
    with pytest.raises(ValueError, match=r"grad must return an array of shape \(2,\)"):
        pk.hvp(None, x, x, grad=lambda y: np.ones(3))
    with pytest.raises(ValueError, match="grad returned a non-finite value"):
        pk.hvp(None, x, x, grad=lambda y: np.array([np.nan, 1.0]))


def test_bounds_of_strings():
    with pytest.raises(TypeError, match="bounds lo must be a number"):
        pk.gradient(lambda y: 1.0, np.ones(2), bounds=("a", "b"))
