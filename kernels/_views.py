"""Views of a flat buffer as matrices, for the network kernels.

``flat[start:start + rows * cols].reshape((rows, cols))`` costs Numba a slice, a call
of its reshape helper and an exception path at every call site, each typed and lowered
again; :func:`matrix` is the same view as a handful of LLVM instructions.
"""

from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array


@intrinsic
def matrix(typingctx, flat, start, rows, cols):
    """The C-contiguous (rows, cols) view of ``flat[start:start + rows * cols]``, flat a
    1-D C-contiguous array; unchecked (kernels trust their inputs: the entries must lie
    in ``flat``)."""
    if not (isinstance(flat, types.Array) and flat.ndim == 1 and flat.layout == "C"):
        raise TypingError("matrix: flat must be a 1-D C-contiguous array")
    if not all(isinstance(x, types.Integer) for x in (start, rows, cols)):
        raise TypingError("matrix: start, rows and cols must be integers")
    result = flat.copy(ndim=2, layout="C")

    def codegen(context, builder, signature, args):
        src = context.make_array(flat)(context, builder, args[0])
        start_, rows_, cols_ = (context.cast(builder, value, ty, types.intp)
                                for value, ty in zip(args[1:], signature.args[1:]))
        view = context.make_array(result)(context, builder)
        populate_array(view, data=cgutils.gep(builder, src.data, start_),
                       shape=[rows_, cols_], strides=[builder.mul(cols_, src.itemsize),
                                                      src.itemsize],
                       itemsize=src.itemsize, meminfo=src.meminfo, parent=src.parent)
        return impl_ret_borrowed(context, builder, result, view._getvalue())

    return result(flat, start, rows, cols), codegen


@intrinsic
def entries(typingctx, M):
    """The 1-D view of all the entries of the C-contiguous array M, row after row (as
    ``M.reshape(M.size)``, without its checks)."""
    if not (isinstance(M, types.Array) and M.layout == "C"):
        raise TypingError("entries: M must be a C-contiguous array")
    result = M.copy(ndim=1, layout="C")

    def codegen(context, builder, signature, args):
        src = context.make_array(M)(context, builder, args[0])
        view = context.make_array(result)(context, builder)
        populate_array(view, data=src.data, shape=[src.nitems], strides=[src.itemsize],
                       itemsize=src.itemsize, meminfo=src.meminfo, parent=src.parent)
        return impl_ret_borrowed(context, builder, result, view._getvalue())

    return result(M), codegen
