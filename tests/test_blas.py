"""kernels/_blas.gemm: C <- alpha op(A) op(B) + beta C against NumPy, and its small
products (the register tile of kernels/_gemm_tile.py) against a long-double product."""

import contextlib
import ctypes
import mmap
import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from pykernels.kernels import _blas
from pykernels.kernels._blas import BY_BLAS, BY_TILE, gemm


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


# -- small products: the register tile of kernels/_gemm_tile.py ---------------------------

def _host_has_avx512():
    import llvmlite.binding as llvm

    features = numba.config.CPU_FEATURES
    if features is not None:
        return "+avx512f" in features.split(",")
    return bool(llvm.get_host_cpu_features().get("avx512f"))


needs_avx512 = pytest.mark.skipif(not _host_has_avx512(),
                                  reason="the register tile serves AVX-512 CPUs only")


@numba.njit
def _tile(alpha, A, trans_a, B, trans_b, beta, C):
    """gemm's product, and whether the register tile (BY_TILE) or BLAS computed it."""
    m, n = C.shape
    return _blas._gemm(trans_a, trans_b, m, n, A.shape[0] if trans_a else A.shape[1], alpha,
                       A, B, beta, C)


def _operands(rng, dtype, m, n, k, trans_a, trans_b):
    A = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return A, B, rng.standard_normal((m, n)).astype(dtype)


def _assert_exact_to_rounding(got, alpha, A, trans_a, B, trans_b, beta, C0):
    """|got - exact| <= (k + 2) u (|alpha| |op(A)| |op(B)| + |beta C0|), the bound of a
    sum of k fused multiply-adds, a product by alpha and a sum with beta C0; exact in
    long double (64-bit significand: k <= 256 terms of 24/53-bit products are exact to
    far below a float64 rounding)."""
    a = (A.T if trans_a else A).astype(np.longdouble)
    b = (B.T if trans_b else B).astype(np.longdouble)
    exact = alpha * (a @ b)
    scale = abs(alpha) * (np.abs(a) @ np.abs(b))
    if beta != 0.0:
        exact += beta * C0.astype(np.longdouble)
        scale += abs(beta) * np.abs(C0.astype(np.longdouble))
    u = np.finfo(got.dtype).eps / 2
    bound = (a.shape[1] + 2) * u * scale
    err = np.abs(got.astype(np.longdouble) - exact)
    assert np.all(err <= bound), float(np.max(err / np.maximum(bound, np.finfo(float).tiny)))


# (m, n, k): tiles of 12 rows partial or whole, panels of 2 vectors (16 f64 / 32 f32
# columns) partial or whole, inner dimensions around a vector's lanes and at the limit
_SHAPES = [(1, 8, 1), (11, 16, 7), (12, 32, 8), (13, 33, 9), (25, 17, 17), (24, 64, 128),
           (64, 10, 128), (37, 129, 256)]


@needs_avx512
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (1.0, 1.0), (-0.5, 0.25)])
@pytest.mark.parametrize("m, n, k", _SHAPES)
def test_small_products_are_exact_to_rounding(dtype, trans_a, trans_b, alpha, beta, m, n, k):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    A, B, C0 = _operands(rng, dtype, m, n, k, trans_a, trans_b)
    pad = 40
    buf = np.full(pad + m * n + pad, 7.0, dtype)
    C = buf[pad:pad + m * n].reshape(m, n)  # C inside a larger buffer: nothing else written
    C[...] = C0 if beta != 0.0 else np.nan  # beta 0 ignores C, NaN included
    A0, B0 = A.copy(), B.copy()
    assert _tile(alpha, A, trans_a, B, trans_b, beta, C) == BY_TILE
    _assert_exact_to_rounding(C, alpha, A, trans_a, B, trans_b, beta, C0)
    np.testing.assert_array_equal(buf[:pad], 7.0)
    np.testing.assert_array_equal(buf[pad + m * n:], 7.0)
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(B, B0)


@needs_avx512
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_small_product_rows_have_the_bits_of_any_shape(dtype, trans_a, trans_b):
    """Each entry is one sum in the order of the inner index: a row of C has the same
    bits whether it is computed in a product of 29 rows, of 3, or alone, and again."""
    rng = np.random.default_rng(1)
    m, n, k = 29, 45, 67
    A, B, _ = _operands(rng, dtype, m, n, k, trans_a, trans_b)
    C = np.empty((m, n), dtype)
    assert _tile(1.0, A, trans_a, B, trans_b, 0.0, C) == BY_TILE
    for rows in (slice(27, 28), slice(10, 13), slice(0, 29)):
        part = np.ascontiguousarray(A[:, rows] if trans_a else A[rows])
        got = np.empty((rows.stop - rows.start, n), dtype)
        assert _tile(1.0, part, trans_a, B, trans_b, 0.0, got) == BY_TILE
        np.testing.assert_array_equal(got, C[rows])


@needs_avx512
@pytest.mark.parametrize("dtype, lanes", [(np.float64, 8), (np.float32, 16)])
@pytest.mark.parametrize("m, n, k, small", [
    (5, 16, 256, True), (5, 16, 257, False),       # inner dimension <= 256
    (3, 1024, 4, True), (3, 1025, 4, False),       # width <= 1024
    (5, "lanes/2", 9, True), (5, "lanes/2-1", 9, False),  # at least half a vector wide
    (5, 16, 0, False), (0, 16, 4, True)])          # nothing to sum: BLAS scales C by beta
def test_small_product_limits(dtype, lanes, m, n, k, small):
    n = {"lanes/2": lanes // 2, "lanes/2-1": lanes // 2 - 1}.get(n, n)
    rng = np.random.default_rng(2)
    A, B, C0 = _operands(rng, dtype, m, n, k, False, True)
    C = C0.copy()
    assert _tile(1.0, A, False, B, True, 1.0, C) == (BY_TILE if small else BY_BLAS)
    _assert_exact_to_rounding(C, 1.0, A, False, B, True, 1.0, C0)


@needs_avx512
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gemm_serves_small_products_by_the_tile(dtype):
    rng = np.random.default_rng(3)
    A, B, _ = _operands(rng, dtype, 64, 128, 64, False, True)
    by_tile, by_gemm = np.empty((64, 128), dtype), np.empty((64, 128), dtype)
    _tile(1.0, A, False, B, True, 0.0, by_tile)
    _gemm(1.0, A, False, B, True, 0.0, by_gemm)
    np.testing.assert_array_equal(by_gemm, by_tile)


def _before_a_guard_page(stack, shape, dtype):
    """A C-contiguous array whose last byte is followed by an unreadable page (readable
    again when ``stack`` closes): a read past its end is a segfault, not a silently
    discarded value."""
    page = mmap.PAGESIZE
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    size = -(-nbytes // page) * page
    buf = np.frombuffer(mmap.mmap(-1, size + page), np.uint8)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    guard = buf.ctypes.data + size
    assert libc.mprotect(guard, page, 0) == 0, os.strerror(ctypes.get_errno())  # PROT_NONE
    stack.callback(libc.mprotect, guard, page, mmap.PROT_READ | mmap.PROT_WRITE)
    return buf[size - nbytes:size].view(dtype).reshape(shape)


@needs_avx512
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect guard pages")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("m, n, k", [(13, 37, 9), (5, 10, 130)])
def test_small_products_read_nothing_past_their_operands(dtype, trans_a, trans_b, m, n, k):
    """The last, partial tile reads A's last row again and the ragged panel reads B
    through masks: with every operand ending at an unreadable page, no segfault."""
    rng = np.random.default_rng(4)
    A0, B0, _ = _operands(rng, dtype, m, n, k, trans_a, trans_b)
    with contextlib.ExitStack() as stack:
        A = _before_a_guard_page(stack, A0.shape, dtype)
        B = _before_a_guard_page(stack, B0.shape, dtype)
        C = _before_a_guard_page(stack, (m, n), dtype)
        A[...], B[...] = A0, B0
        assert _tile(1.0, A, trans_a, B, trans_b, 0.0, C) == BY_TILE
        _assert_exact_to_rounding(C.copy(), 1.0, A0, trans_a, B0, trans_b, 0.0, None)


def test_without_avx512_every_product_goes_to_blas(tmp_path):
    """Compiled for a CPU without AVX-512 (NUMBA_CPU_NAME=generic: no features), the tile
    is never emitted -- no instruction the CPU cannot run -- and BLAS serves all."""
    code = (
        "import numpy as np\n"
        "from test_blas import BY_BLAS, _tile\n"
        "A, B = np.ones((24, 64)), np.ones((64, 32))\n"
        "C = np.zeros((24, 32))\n"
        "assert _tile(1.0, A, False, B, False, 0.0, C) == BY_BLAS\n"
        "assert (C == 64.0).all()\n"
        "print('ok')\n")
    env = {**os.environ, "NUMBA_CPU_NAME": "generic", "NUMBA_CACHE_DIR": str(tmp_path)}
    env.pop("NUMBA_CPU_FEATURES", None)
    run = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                         env=env, cwd=os.path.dirname(__file__), timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
