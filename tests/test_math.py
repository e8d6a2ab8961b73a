"""The vectorisable elementary functions of kernels/_math.py against NumPy, in ulps."""

import numba
import numpy as np
import pytest
from numba import njit

from pykernels.kernels import _math


def _vectorised(f):
    @njit(error_model="numpy")
    def apply(x, out):
        for i in range(x.size):
            out[i] = f(x[i])
    return apply


def _sigmoid(x):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


CASES = [(_math.exp, np.exp, -745.0, 709.7),
         (_math.tanh, np.tanh, -25.0, 25.0),
         (_math.tanh, np.tanh, -1.0, 1.0),
         (_math.sigmoid, _sigmoid, -740.0, 40.0)]


@pytest.mark.parametrize("f,ref,lo,hi", CASES)
def test_error_at_most_three_ulp(f, ref, lo, hi):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(lo, hi, 100_000), np.linspace(lo, hi, 20_001),
                        [0.0, -0.0, 1e-300, -1e-300, 5e-324, 0.625, -0.625]])
    out = np.empty_like(x)
    _vectorised(f)(x, out)
    expected = ref(x)
    ulp = np.spacing(np.maximum(np.abs(expected), np.finfo(float).tiny))
    assert np.max(np.abs(out - expected) / ulp) <= 3


@pytest.mark.parametrize("f,ref", [(c[0], c[1]) for c in CASES[::2] + CASES[3:]])
def test_special_values(f, ref):
    x = np.array([np.nan, np.inf, -np.inf, 800.0, -800.0, 1e4, -1e4, 0.0])
    out = np.empty_like(x)
    _vectorised(f)(x, out)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(out, ref(x))


def test_tanh_is_odd_and_exact_at_zero():
    x = np.linspace(-30, 30, 6001)
    out, neg = np.empty_like(x), np.empty_like(x)
    apply = _vectorised(_math.tanh)
    apply(x, out)
    apply(-x, neg)
    np.testing.assert_array_equal(out, -neg)
    assert out[3000] == 0.0


@pytest.mark.parametrize("dtype, itype", [(np.float64, np.int64), (np.float32, np.int32)])
def test_bits_is_the_bit_pattern(dtype, itype):
    @njit
    def pattern(x):
        return _math.bits(x[0])

    values = np.array([0.0, -0.0, 1.5, -np.inf, np.nan], dtype)
    payload = np.array([values.view(itype)[-1] | 1], itype).view(dtype)  # another NaN
    for x in np.append(values, payload):
        got = pattern(np.array([x], dtype))
        assert got == np.array([x], dtype).view(itype)[0]
    assert pattern.nopython_signatures[0].return_type == numba.from_dtype(itype)


def test_bits_rejects_integers():
    @njit
    def pattern(x):
        return _math.bits(x)

    with pytest.raises(Exception, match="float32 or float64"):
        pattern(3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pick_selects_without_branching(dtype):
    @njit
    def choose(flag, x, y):
        return _math.pick(flag, x[0], y[0])

    x, y = np.array([np.nan], dtype), np.array([-0.0], dtype)
    assert np.isnan(choose(True, x, y))
    picked = choose(False, x, y)
    assert picked == 0.0 and np.signbit(picked)
    choose(True, x, np.array([1.0]))
    returns = [sig.return_type for sig in choose.nopython_signatures]
    assert set(returns) == {numba.from_dtype(dtype), numba.float64}  # float32 only if both
