"""kernels/_blas.gemm: C <- alpha op(A) op(B) + beta C against NumPy."""

import numba
import numpy as np
import pytest

from pykernels.kernels._blas import gemm


@numba.njit
def _gemm(alpha, A, trans_a, B, trans_b, beta, C):
    gemm(alpha, A, trans_a, B, trans_b, beta, C)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 1e-5)])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (-0.5, 1.0), (2.0, 0.25)])
def test_gemm_matches_numpy(dtype, tol, trans_a, trans_b, alpha, beta):
    rng = np.random.default_rng(0)
    m, k, n = 7, 5, 3
    A = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    C = rng.standard_normal((m, n)).astype(dtype)
    expected = (alpha * (A.T if trans_a else A).astype(np.float64)
                @ (B.T if trans_b else B).astype(np.float64) + beta * C)
    _gemm(alpha, A, trans_a, B, trans_b, beta, C)
    np.testing.assert_allclose(C, expected, rtol=tol, atol=tol)


def test_beta_zero_ignores_old_contents():
    A, B = np.ones((2, 3)), np.ones((3, 4))
    C = np.full((2, 4), np.nan)
    _gemm(1.0, A, False, B, False, 0.0, C)
    np.testing.assert_array_equal(C, np.full((2, 4), 3.0))


def test_rejects_non_contiguous_operands():
    A = np.ones((4, 4))
    with pytest.raises(numba.core.errors.TypingError, match="C-contiguous"):
        _gemm(1.0, A[:, ::2], False, A[::2], False, 0.0, np.empty((4, 4)))


@pytest.mark.parametrize("shapes", [((2, 3), (4, 5), (2, 5)), ((2, 3), (3, 5), (2, 4)),
                                    ((2, 3), (3, 5), (3, 5))])
def test_mismatched_shapes_raise(shapes):
    A, B, C = (np.ones(s) for s in shapes)
    with pytest.raises(ValueError, match="shapes"):
        _gemm(1.0, A, False, B, False, 0.0, C)
