"""kernels/_views.py: the intrinsic views of the network kernels against NumPy's slices."""

import numba
import numpy as np
import pytest

from pykernels.kernels._views import entries, lower, matrix, segment, upper


@numba.njit
def _views(flat, start, rows, cols):
    M = matrix(flat, start, rows, cols)
    return M, segment(flat, start, rows), upper(M), lower(M), entries(M)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_views_are_numpys_slices(dtype):
    flat = np.arange(40, dtype=dtype)
    M, seg, up, low, flat_M = _views(flat, 3, 6, 5)
    expected = flat[3:33].reshape(6, 5)
    for got, want in ((M, expected), (seg, flat[3:9]), (up, expected[:3]),
                      (low, expected[3:]), (flat_M, flat[3:33])):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == dtype and got.flags.c_contiguous
    M[1, 2] = -1.0  # views, not copies
    low[0, 0] = -2.0
    assert flat[3 + 7] == -1.0 and flat[3 + 15] == -2.0


def test_empty_views():
    M, seg, up, low, flat_M = _views(np.ones(4), 4, 0, 0)
    assert M.shape == (0, 0) and seg.shape == (0,) and up.shape == low.shape == (0, 0)


def test_views_reject_non_contiguous_arrays():
    with pytest.raises(numba.core.errors.TypingError, match="C-contiguous"):
        _views(np.ones(20)[::2], 0, 2, 2)
