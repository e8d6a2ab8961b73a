"""General matrix product ``C <- alpha op(A) op(B) + beta C`` for Numba kernels, by BLAS
or, for small products on AVX-512 CPUs, by the register-tile loop of :mod:`._gemm_tile`.

``np.dot(A, B, out)`` inside Numba always overwrites ``out``.  The R-operator kernels
sum two products into one buffer (``R a W^T + a V^T``, ``R delta W + delta V``), which
BLAS's ``beta`` does without a temporary and without an extra pass over the sum.
:func:`gemm` calls the entry point Numba's own ``np.dot`` calls (``numba_xxgemm`` of
Numba's helper library, which forwards to SciPy's BLAS), so kernels using it are
compiled and cached exactly like kernels using ``np.dot``.  Products with inner dimension
<= 256, width <= 1024 and more than a column or two go to the register tile instead
(1.3-2.2x faster than OpenBLAS's Haswell kernels on a network's shapes), as in the C
backend's csrc/gemm.c, whose bits they give when both take the tile.
"""

import functools

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas

from ._gemm_tile import host_has_avx512, small_product

_CHAR = ir.IntType(8)
_VOIDP = ir.IntType(8).as_pointer()


#: What :func:`_gemm` returns: the product by BLAS, or by the register tile.
BY_BLAS, BY_TILE = 0, 1


def _check_operands(A, B, C):
    """The dtype of C, after checking that A, B and C are 2-D C-contiguous arrays of one
    float dtype and C is writable (else a TypingError, at compile time)."""
    arrays = (A, B, C)
    if not all(isinstance(x, types.Array) and x.ndim == 2 for x in arrays):
        raise TypingError("gemm: A, B and C must be 2-D arrays")
    dtype = C.dtype
    if dtype not in (types.float32, types.float64) or any(x.dtype != dtype for x in arrays):
        raise TypingError("gemm: A, B and C must share one float32/float64 dtype")
    if any(x.layout != "C" for x in arrays) or not C.mutable:
        raise TypingError("gemm: A, B and C must be C-contiguous and C writable")
    return dtype


def _unpack(context, builder, signature, args, dtype, flags, scalars, arrays):
    """The arguments at positions ``flags`` (transposition flags) as intp 0 or 1, at
    ``scalars`` cast to ``dtype``, at ``arrays`` as array structures."""
    def flag(i):
        value = context.cast(builder, args[i], signature.args[i], types.boolean)
        return builder.zext(value, cgutils.intp_t)

    return ([flag(i) for i in flags],
            [context.cast(builder, args[i], signature.args[i], dtype) for i in scalars],
            [context.make_array(signature.args[i])(context, builder, args[i]) for i in arrays])


def _product(context, builder, dtype, ta, tb, m, n, k, alpha, A, B, beta, C):
    """Emit C <- alpha op(A) op(B) + beta C (A, B, C the arrays' structures, the rest LLVM
    values of intp and of ``dtype``); returns the i32 BY_TILE, or BLAS's status."""
    (a, lda), (b, ldb), (c, ldc) = (  # data and row length (>= 1, as BLAS wants)
        (x.data, _at_least_one(builder, builder.extract_value(x.shape, 1))) for x in (A, B, C))
    if host_has_avx512(context):
        tile = small_product(builder.module, context.get_value_type(dtype))
        served = builder.call(tile, (ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
        by_tile = builder.icmp_signed("!=", served, ir.Constant(served.type, 0))
    else:
        by_tile = cgutils.false_bit
    result = cgutils.alloca_once_value(builder, ir.Constant(ir.IntType(32), BY_TILE))
    with builder.if_then(builder.not_(by_tile)):
        builder.store(_call_blas(context, builder, dtype, ta, tb, m, n, k, alpha,
                                 a, lda, b, ldb, beta, c, ldc), result)
    return builder.load(result)


@intrinsic
def _gemm(typingctx, trans_a, trans_b, m, n, k, alpha, A, B, beta, C):
    """Row-major C (m, n) <- alpha op(A) op(B) + beta C on C-contiguous float arrays of
    matching shapes: by the register tile of :mod:`._gemm_tile` when the product is
    small and the CPU has AVX-512F (returns BY_TILE), else by BLAS (returns BLAS's
    status: BY_BLAS on success, -1 when SciPy's BLAS could not be loaded)."""
    ensure_blas()  # SciPy's BLAS, checked when compiling, as np.dot does
    dtype = _check_operands(A, B, C)

    def codegen(context, builder, signature, args):
        (ta, tb), (alpha_, beta_), (a, b, c) = _unpack(
            context, builder, signature, args, dtype, (0, 1), (5, 8), (6, 7, 9))
        m_, n_, k_ = args[2:5]
        return _product(context, builder, dtype, ta, tb, m_, n_, k_, alpha_, a, b, beta_, c)

    sig = types.int32(trans_a, trans_b, types.intp, types.intp, types.intp, alpha, A, B,
                      beta, C)
    return sig, codegen


def _at_least_one(builder, value):
    one = ir.Constant(value.type, 1)
    return builder.select(builder.icmp_signed("<", value, one), one, value)


def _call_blas(context, builder, dtype, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """BLAS's status for row-major C = alpha op(A) op(B) + beta C by ``numba_xxgemm``
    (column-major): C^T = alpha op(B)^T op(A)^T + beta C^T."""
    fnty = ir.FunctionType(ir.IntType(32), [
        _CHAR, _CHAR, _CHAR, cgutils.intp_t, cgutils.intp_t, cgutils.intp_t,
        _VOIDP, _VOIDP, cgutils.intp_t, _VOIDP, cgutils.intp_t, _VOIDP,
        _VOIDP, cgutils.intp_t])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")

    def trans(flag):  # 'T' or 'N'
        return builder.select(builder.icmp_signed("!=", flag, ir.Constant(flag.type, 0)),
                              ir.Constant(_CHAR, ord("T")), ir.Constant(_CHAR, ord("N")))

    def pointer(value):
        return builder.bitcast(value, _VOIDP)

    alpha_p, beta_p = (cgutils.alloca_once_value(builder, x) for x in (alpha, beta))
    kind = ir.Constant(_CHAR, ord("d" if dtype == types.float64 else "s"))
    return builder.call(fn, (kind, trans(tb), trans(ta), n, m, k, pointer(alpha_p), pointer(b),
                             ldb, pointer(a), lda, pointer(beta_p), pointer(c), ldc))


@intrinsic
def gemm(typingctx, alpha, A, trans_a, B, trans_b, beta, C):
    """C (m, n) <- alpha op(A) op(B) + beta C, op(X) = X.T when ``trans_x``.

    A, B, C are C-contiguous 2-D arrays of one float dtype; C must not overlap A or B.
    Mismatched shapes raise ValueError, as np.dot does (BLAS would read out of bounds).
    With beta = 0, C's old contents are ignored (NaN included), as in BLAS.  Small
    products (see the module's docstring) sum each entry in the order of the inner index,
    one rounding per fused multiply-add: the same bits whatever the shape they sit in.

    An intrinsic rather than an inlined function: a kernel's call sites cost no Numba
    IR to type and lower again, only the LLVM instructions of the checks and the call.
    """
    ensure_blas()
    dtype = _check_operands(A, B, C)

    def codegen(context, builder, signature, args):
        (ta, tb), (alpha_, beta_), (a, b, c) = _unpack(
            context, builder, signature, args, dtype, (2, 4), (0, 5), (1, 3, 6))
        (a_rows, a_cols), (b_rows, b_cols), (m, n) = (
            cgutils.unpack_tuple(builder, x.shape, 2) for x in (a, b, c))

        def pick(flag, if_set, if_not):
            return builder.select(builder.trunc(flag, cgutils.bool_t), if_set, if_not)

        k = pick(ta, a_rows, a_cols)
        mismatch = functools.reduce(builder.or_, (
            builder.icmp_signed("!=", x, y)
            for x, y in ((pick(ta, a_cols, a_rows), m), (pick(tb, b_rows, b_cols), n),
                         (pick(tb, b_cols, b_rows), k))))
        with builder.if_then(mismatch, likely=False):
            context.call_conv.return_user_exc(builder, ValueError,
                                              ("gemm: shapes of A, B and C do not match",))
        status = _product(context, builder, dtype, ta, tb, m, n, k, alpha_, a, b, beta_, c)
        with builder.if_then(builder.icmp_signed("<", status, ir.Constant(status.type, 0)),
                             likely=False):
            context.call_conv.return_user_exc(
                builder, RuntimeError, ("BLAS gemm failed (SciPy's BLAS could not be loaded)",))
        return context.get_dummy_value()

    return types.none(alpha, A, trans_a, B, trans_b, beta, C), codegen
