"""General matrix product ``C <- alpha op(A) op(B) + beta C`` for Numba kernels, by BLAS
or, for small products on AVX-512 CPUs, by the register-tile loop of :mod:`._gemm_tile`.

``np.dot(A, B, out)`` inside Numba always overwrites ``out``.  The R-operator kernels
sum two products into one buffer (``R a W^T + a V^T``, ``R delta W + delta V``), which
BLAS's ``beta`` does without a temporary and without an extra pass over the sum.
:func:`gemm` calls the entry point Numba's own ``np.dot`` calls (``numba_xxgemm`` of
Numba's helper library, which forwards to SciPy's BLAS), so kernels using it are
compiled and cached exactly like kernels using ``np.dot``.  Products with inner dimension
<= 256, width <= 1024 and more than a column or two go to the register tile instead
(2-3x faster than OpenBLAS's Haswell kernels on a network's shapes), as in the C
backend's csrc/gemm.c, whose bits they give.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas

from ._gemm_tile import host_has_avx512, small_product
from ._jit import jit_inline

_CHAR = ir.IntType(8)
_VOIDP = ir.IntType(8).as_pointer()


def _check_operands(A, B, C):
    """TypingError unless A, B, C are C-contiguous arrays of one float dtype, C writable."""
    arrays = (A, B, C)
    if not all(isinstance(x, types.Array) for x in arrays):
        raise TypingError("gemm: A, B and C must be arrays")
    dtype = C.dtype
    if dtype not in (types.float32, types.float64) or any(x.dtype != dtype for x in arrays):
        raise TypingError("gemm: A, B and C must share one float32/float64 dtype")
    if any(x.layout != "C" for x in arrays) or not C.mutable:
        raise TypingError("gemm: A, B and C must be C-contiguous and C writable")


def _data(context, builder, value, ty):
    return context.make_array(ty)(context, builder, value).data


@intrinsic
def _small_gemm(typingctx, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
    """Row-major ``gemm`` by the register-tile loop of :mod:`._gemm_tile` when the
    product is small and the CPU has AVX-512F: True when it computed C, False (nothing
    written) when the caller must call BLAS."""
    _check_operands(A, B, C)
    dtype = C.dtype

    def codegen(context, builder, signature, args):
        if not host_has_avx512(context):
            return ir.Constant(ir.IntType(1), 0)
        ta, tb, m_, n_, k_, alpha_, a, lda_, b, ldb_, beta_, c, ldc_ = args
        done = builder.call(small_product(builder.module, context.get_value_type(dtype)), (
            ta, tb, m_, n_, k_, context.cast(builder, alpha_, signature.args[5], dtype),
            _data(context, builder, a, A), lda_, _data(context, builder, b, B), ldb_,
            context.cast(builder, beta_, signature.args[10], dtype),
            _data(context, builder, c, C), ldc_))
        return builder.icmp_signed("!=", done, ir.Constant(done.type, 0))

    sig = types.boolean(types.intp, types.intp, types.intp, types.intp, types.intp, alpha,
                        A, types.intp, B, types.intp, beta, C, types.intp)
    return sig, codegen


@intrinsic
def _xxgemm(typingctx, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
    """Column-major BLAS ``gemm`` on the data of C-contiguous float arrays; returns the
    wrapper's status (0 on success)."""
    ensure_blas()  # SciPy's BLAS, checked when compiling, as np.dot does
    _check_operands(A, B, C)
    dtype = C.dtype

    def codegen(context, builder, signature, args):
        ta, tb, m_, n_, k_, alpha_, a, lda_, b, ldb_, beta_, c, ldc_ = args
        fnty = ir.FunctionType(ir.IntType(32), [
            _CHAR, _CHAR, _CHAR, cgutils.intp_t, cgutils.intp_t, cgutils.intp_t,
            _VOIDP, _VOIDP, cgutils.intp_t, _VOIDP, cgutils.intp_t, _VOIDP,
            _VOIDP, cgutils.intp_t])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        alpha_p, beta_p = (
            cgutils.alloca_once_value(builder, context.cast(builder, value, ty, dtype))
            for value, ty in ((alpha_, signature.args[5]), (beta_, signature.args[10])))

        def data(value, ty):
            return builder.bitcast(_data(context, builder, value, ty), _VOIDP)

        kind = ir.Constant(_CHAR, ord("d" if dtype == types.float64 else "s"))
        return builder.call(fn, (
            kind, builder.trunc(ta, _CHAR), builder.trunc(tb, _CHAR), m_, n_, k_,
            builder.bitcast(alpha_p, _VOIDP), data(a, A), lda_,
            data(b, B), ldb_, builder.bitcast(beta_p, _VOIDP), data(c, C), ldc_))

    sig = types.int32(types.intp, types.intp, types.intp, types.intp, types.intp, alpha,
                      A, types.intp, B, types.intp, beta, C, types.intp)
    return sig, codegen


@jit_inline
def gemm(alpha, A, trans_a, B, trans_b, beta, C):
    """C (m, n) <- alpha op(A) op(B) + beta C, op(X) = X.T when ``trans_x``.

    A, B, C are C-contiguous 2-D arrays of one float dtype; C must not overlap A or B.
    Mismatched shapes raise ValueError, as np.dot does (BLAS would read out of bounds).
    With beta = 0, C's old contents are ignored (NaN included), as in BLAS.  Small
    products (see the module's docstring) sum each entry in the order of the inner index,
    one rounding per fused multiply-add: the same bits whatever the shape they sit in.
    """
    m, n = C.shape
    k = A.shape[0] if trans_a else A.shape[1]
    if ((A.shape[1] if trans_a else A.shape[0]) != m or (B.shape[0] if trans_b else B.shape[1]) != n
            or (B.shape[1] if trans_b else B.shape[0]) != k):
        raise ValueError("gemm: shapes of A, B and C do not match")
    if _small_gemm(1 if trans_a else 0, 1 if trans_b else 0, m, n, k, alpha, A,
                   max(A.shape[1], 1), B, max(B.shape[1], 1), beta, C, max(n, 1)):
        return
    # row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T
    status = _xxgemm(84 if trans_b else 78, 84 if trans_a else 78, n, m, k, alpha,
                     B, max(B.shape[1], 1), A, max(A.shape[1], 1), beta, C, max(n, 1))
    if status != 0:
        raise RuntimeError("BLAS gemm failed (SciPy's BLAS could not be loaded)")
