"""An independent hostile-input suite for the derivative functions (issue 14's last bar):
pk.gradient, jacobian, hessian, hvp and check_grad with Python, ``@njit`` and cffi f
answer with finite numbers or raise a ValueError/TypeError naming the argument.
Regression tests for each defect the campaign found follow."""

import os
import subprocess
import sys
import textwrap
import time

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import pykernels as pk

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@numba.njit
def cubic(x):
    return np.sum(x ** 3)


@numba.njit
def njit_int(x):
    return 3


@numba.njit
def njit_vector(x):
    return x * 2.0


@numba.njit
def njit_nan_beyond_one(x):
    return np.nan if x[0] > 1.0 else np.sum(x ** 2)


@numba.njit
def njit_complex(x):
    return 1j


FUNS = {
    "good": lambda x: float(np.sum(np.asarray(x) ** 3)),
    "njit": cubic,
    "njit-int": njit_int,
    "njit-vector": njit_vector,
    "njit-nan-beyond-one": njit_nan_beyond_one,
    "njit-complex": njit_complex,
    "bytes": lambda x: b"1",
    "object-array": lambda x: np.array([None]),
    "float16": lambda x: np.float16(1.0),
    "nested": lambda x: [[1.0]],
    "inf-at-x": lambda x: np.inf,
    "huge": lambda x: 1e308 * float(np.sum(x)),
    "raises-on-perturbation": lambda x: float(np.sum(x)) if np.all(x == np.round(x)) else None,
}
VECTOR_FUNS = {
    "good": lambda x: np.asarray(x) ** 2,
    "njit": njit_vector,
    "grows": lambda x: np.ones(3 + int(np.any(x != np.round(x)))),
    "matrix": lambda x: np.ones((2, 2)),
    "strings": lambda x: np.array(["a", "b"]),
    "scalar": lambda x: 1.0,
}
POINTS = [
    np.array([1.0, 2.0, 3.0]), np.array([1, 2, 3], np.uint8), np.array([True, False, True]),
    np.array([1.0, 2.0], np.float32), np.arange(9.0)[::-4], np.array([5e-324, -0.0, 1e-310]),
    np.array([1e300, -1e300]), np.array([np.nan, 1.0]), np.array([-np.inf]), np.array([]),
    np.ones((3, 1)), np.array(2.0), np.array(["1", "2"]), np.array([1j, 2j]),
    np.array([None, 1.0], object), [[1.0], [2.0, 3.0]], np.ones(2, np.float16),
    np.array([2**62, 1], np.int64)]
OPTIONS = {
    "method": ["central", "forward", "backward", "complex", "richardson", "Central", "", 3],
    "step": [1e-6, [1e-4, 1e-4, 1e-4], np.array([1e-3]), 0.0, -1e-3, 1e-300, 1e300, np.nan,
             "auto", "AUTO", b"auto", True, 1j],
    "bounds": [(0.0, 5.0), (None, None), ([0, 0, 0], [5, 5, 5]), (5.0, 0.0), (-np.inf, np.inf),
               (np.nan, 1.0), ((0, 1), (2, 3)), [(0, 5)] * 3, "box", (-1e308, 1e308)],
    "workers": [1, 2, 2**40, 0, -3, 1.5, "2", True, None],
    "full_output": [True, False, "yes", 1, None],
    "backend": ["numpy", "numba", "c", "C", ["c"], 0],
    "args": [(), (1.0,), [1.0], None, "a"],
    "sparsity": [np.eye(3, dtype=bool), sp.identity(3, format="coo"), np.eye(3).tolist(),
                 np.full((3, 3), np.nan), np.ones((4, 3)), np.eye(2), "diag", np.ones(3)],
}
CALLS = ("gradient", "jacobian", "hessian", "hvp", "check_grad")
NAMES = ("f", "x", "v", "grad", "method", "step", "bounds", "workers", "full_output", "backend",
         "args", "sparsity", "component", "column")


@st.composite
def calls(draw):
    """One derivative call with at most one hostile part: f, x, or one option."""
    call = draw(st.sampled_from(CALLS))
    part = draw(st.sampled_from(["none", "f", "x", "option"]))
    table = VECTOR_FUNS if call == "jacobian" else FUNS
    f = table[draw(st.sampled_from(sorted(table)))] if part == "f" else table["good"]
    x = draw(st.sampled_from(POINTS)) if part == "x" else np.array([1.0, 2.0, 3.0])
    options = {}
    if part == "option":
        key = draw(st.sampled_from(sorted(OPTIONS)))
        if not (key == "sparsity" and call in ("gradient", "hvp", "check_grad")):
            options[key] = draw(st.sampled_from(OPTIONS[key]))
        if call == "check_grad":
            options = {k: v for k, v in options.items()
                       if k in ("args", "backend", "full_output")}
        if call == "hvp":
            options = {k: v for k, v in options.items() if k not in ("bounds", "full_output")}
    return call, f, x, options


def _call(call, f, x, options):
    if call == "hvp":
        return pk.hvp(f, x, np.ones(np.shape(x)) if np.ndim(x) == 1 else x, **options)
    if call == "check_grad":
        return pk.check_grad(f, lambda y: 3.0 * np.asarray(y) ** 2, x, **options)
    return getattr(pk, call)(f, x, **options)


def _finite(value):
    if isinstance(value, tuple):
        return all(_finite(v) for v in value if not hasattr(v, "noise")
                   and not hasattr(v, "worst"))
    if sp.issparse(value):
        value = value.toarray()
    return bool(np.all(np.isfinite(np.asarray(value, dtype=float))))


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(case=calls())
def test_derivatives_answer_or_name_the_argument(case):
    call, f, x, options = case
    start = time.perf_counter()
    try:
        result = _call(call, f, x, options)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert any(name in message for name in NAMES), message
        assert len(message) < 2000
        event(type(exc).__name__)
        return
    event("result")
    assert time.perf_counter() - start < 30
    assert _finite(result), (call, options, result)


# -- regressions ----------------------------------------------------------------------

def test_njit_functions_sharing_a_name_get_their_own_derivatives():
    # was: the drivers compiled for one @njit lambda were found again, through the
    # on-disk cache, for every other lambda of the file: the second lambda's gradient
    # was the first one's (a silent wrong answer)
    first = numba.njit(lambda y: np.sum(y ** 3))
    second = numba.njit(lambda y: np.sum(y ** 2))
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(pk.gradient(first, x), 3 * x ** 2, rtol=1e-8)
    np.testing.assert_allclose(pk.gradient(second, x), 2 * x, rtol=1e-8)
    np.testing.assert_allclose(pk.hessian(second, x), 2 * np.eye(3), atol=1e-5)
    np.testing.assert_allclose(pk.hvp(second, x, x), 2 * x, rtol=1e-6)
    squares = numba.njit(lambda y: y ** 2)
    cubes = numba.njit(lambda y: y ** 3)
    np.testing.assert_allclose(pk.jacobian(squares, x), np.diag(2 * x), atol=1e-8)
    np.testing.assert_allclose(pk.jacobian(cubes, x), np.diag(3 * x ** 2), atol=1e-7)


_GLOBAL_SCRIPT = textwrap.dedent("""
    import sys
    import numba, numpy as np
    import pykernels as pk
    SCALE = float(sys.argv[1])
    f = numba.njit(lambda x: SCALE * np.sum(x ** 2))
    print(pk.gradient(f, np.array([1.0, 2.0]))[1])
""")


def test_a_changed_global_of_f_is_not_served_from_another_process_cache(tmp_path):
    # was: the drivers cached on disk were keyed by the file and the name only, so a
    # process with another value of a global f reads got the first process's drivers
    script = tmp_path / "scaled.py"
    script.write_text(_GLOBAL_SCRIPT)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    got = [float(subprocess.run([sys.executable, str(script), scale], env=env, check=True,
                                capture_output=True, text=True).stdout)
           for scale in ("1", "3")]
    np.testing.assert_allclose(got, [4.0, 12.0], rtol=1e-6)


def test_more_workers_than_threads_is_fast_and_gives_the_same_bits():
    # was: one chunk of columns per requested worker: 2**40 chunks, a hang
    x = np.linspace(-1.0, 1.0, 7)
    start = time.perf_counter()
    many = pk.gradient(cubic, x, workers=2**40)
    assert time.perf_counter() - start < 20
    np.testing.assert_array_equal(many, pk.gradient(cubic, x))
    np.testing.assert_array_equal(pk.jacobian(njit_vector, x, workers=10**6),
                                  pk.jacobian(njit_vector, x))


@pytest.mark.parametrize("call", ["gradient", "jacobian", "hessian"])
def test_a_richardson_step_lost_in_rounding_says_so(call):
    # was: "f returned non-finite values at every step" (the steps vanished in x + h)
    f = (lambda y: y ** 2) if call == "jacobian" else FUNS["good"]
    with pytest.raises(ValueError, match="the step of component 0 underflowed"):
        getattr(pk, call)(f, np.array([1.0, 2.0]), method="richardson", step=1e-300)


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("ctype", ["double(*)(const double *, int64_t)",
                                   "void(*)(const double *, int64_t, double *, int64_t)"])
def test_a_null_cffi_function_pointer_is_refused_not_called(call, ctype):
    # was: a segmentation fault (the compiled loops called address 0)
    cffi = pytest.importorskip("cffi")
    null = cffi.FFI().cast(ctype, 0)
    with pytest.raises(ValueError, match="f is a NULL cffi function pointer"):
        _call(call, null, np.array([1.0, 2.0]), {})


@pytest.mark.parametrize("ctype", ["void *", "int *"])
def test_cffi_data_that_is_not_a_function_names_f(ctype):
    # was: "cdata 'void *' is not callable"
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    data = ffi.new(ctype.replace("void", "char"))
    with pytest.raises(TypeError, match="f must be a callable or a cffi function pointer"):
        pk.gradient(data, np.array([1.0, 2.0]))


@pytest.mark.parametrize("call", ["gradient", "jacobian", "hessian", "check_grad"])
@pytest.mark.parametrize("value", ["yes", 1, None])
def test_full_output_is_a_boolean(call, value):
    # was: "yes" (and 1) read as True, None as False
    f = (lambda y: y ** 2) if call == "jacobian" else FUNS["good"]
    with pytest.raises(TypeError, match="full_output must be True or False"):
        _call(call, f, np.array([1.0, 2.0]), {"full_output": value})


def test_check_grad_against_a_zero_difference_is_finite():
    # was: inf (|grad| / tiny overflowed) where the difference is zero and grad is not
    err, check = pk.check_grad(lambda y: 1.0, lambda y: np.array([27.0, 0.0]), np.ones(2),
                               full_output=True)
    assert err == 1.0 and check.worst == 0
    assert pk.check_grad(FUNS["good"], lambda y: 3.0 * y ** 2, np.ones(2)) < 1e-10
