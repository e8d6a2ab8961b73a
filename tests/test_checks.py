"""The input-check kernel: finds every NaN/Inf, never flags a finite value."""

import numpy as np
import pytest

from pykernels.kernels.checks import all_finite


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_finds_a_bad_value_anywhere(dtype, bad):
    for n in (1, 2, 7, 33, 1000):
        for where in {0, n // 2, n - 1}:
            x = np.ones(n, dtype)
            x[where] = bad
            assert not all_finite(x), (n, where)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_finite_extremes_pass(dtype):
    info = np.finfo(dtype)
    x = np.array([info.max, -info.max, info.tiny, info.smallest_subnormal, 0.0, -0.0] * 50,
                 dtype)
    assert all_finite(x)
    assert all_finite(np.empty(0, dtype))
