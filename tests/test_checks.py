"""The input-check kernel of every backend: finds every NaN/Inf, never flags a finite
value."""

import numpy as np
import pytest

import pykernels as pk
from pykernels import _backend


@pytest.fixture(params=pk.backends())
def all_finite(request):
    return _backend.kernel("all_finite", request.param)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_finds_a_bad_value_anywhere(all_finite, dtype, bad):
    for n in (1, 2, 7, 33, 1000):
        for where in {0, n // 2, n - 1}:
            x = np.ones(n, dtype)
            x[where] = bad
            assert not all_finite(x), (n, where)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_finite_extremes_pass(all_finite, dtype):
    info = np.finfo(dtype)
    x = np.array([info.max, -info.max, info.tiny, info.smallest_subnormal, 0.0, -0.0] * 50,
                 dtype)
    assert all_finite(x)
    assert all_finite(np.empty(0, dtype))
