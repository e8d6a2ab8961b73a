"""Views of a flat buffer as vectors and matrices, for the network kernels.

``flat[start:start + rows * cols].reshape((rows, cols))`` costs Numba a slice (with the
clamping of its bounds), a call of its reshape helper and an exception path at every
call site, each typed and lowered again; the intrinsics here are the same views as a
handful of LLVM instructions, unchecked (kernels trust their inputs: a view must lie in
the array it is taken of).
"""

from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array


def _view(context, builder, src, result, data, shape, strides):
    """A view of the array structure ``src``: an array of type ``result``."""
    view = context.make_array(result)(context, builder)
    populate_array(view, data=data, shape=shape, strides=strides, itemsize=src.itemsize,
                   meminfo=src.meminfo, parent=src.parent)
    return impl_ret_borrowed(context, builder, result, view._getvalue())


def _intp(context, builder, args, argtypes):
    return [context.cast(builder, value, ty, types.intp) for value, ty in zip(args, argtypes)]


@intrinsic
def segment(typingctx, flat, start, n):
    """The view ``flat[start:start + n]`` of the 1-D C-contiguous array flat."""
    if not (isinstance(flat, types.Array) and flat.ndim == 1 and flat.layout == "C"):
        raise TypingError("segment: flat must be a 1-D C-contiguous array")
    if not all(isinstance(x, types.Integer) for x in (start, n)):
        raise TypingError("segment: start and n must be integers")

    def codegen(context, builder, signature, args):
        src = context.make_array(flat)(context, builder, args[0])
        start_, n_ = _intp(context, builder, args[1:], signature.args[1:])
        return _view(context, builder, src, flat, cgutils.gep(builder, src.data, start_),
                     [n_], [src.itemsize])

    return flat(flat, start, n), codegen


def _half(name, lower):
    def typer(typingctx, M):
        if not (isinstance(M, types.Array) and M.ndim == 2 and M.layout == "C"):
            raise TypingError(f"{name}: M must be a 2-D C-contiguous array")

        def codegen(context, builder, signature, args):
            src = context.make_array(M)(context, builder, args[0])
            rows, cols = cgutils.unpack_tuple(builder, src.shape, 2)
            half = builder.sdiv(rows, rows.type(2))
            first = builder.mul(half, cols) if lower else cols.type(0)
            return _view(context, builder, src, M, cgutils.gep(builder, src.data, first),
                         [half, cols], cgutils.unpack_tuple(builder, src.strides, 2))

        return M(M), codegen

    typer.__name__ = name
    typer.__doc__ = (f"The {'lower' if lower else 'upper'} half of the rows of the 2-D "
                     "C-contiguous array M, which has an even number of rows: "
                     f"``M[{'M.shape[0] // 2:' if lower else ':M.shape[0] // 2'}]``.")
    return intrinsic(typer)


upper = _half("upper", False)
lower = _half("lower", True)


@intrinsic
def matrix(typingctx, flat, start, rows, cols):
    """The C-contiguous (rows, cols) view of ``flat[start:start + rows * cols]``, flat a
    1-D C-contiguous array."""
    if not (isinstance(flat, types.Array) and flat.ndim == 1 and flat.layout == "C"):
        raise TypingError("matrix: flat must be a 1-D C-contiguous array")
    if not all(isinstance(x, types.Integer) for x in (start, rows, cols)):
        raise TypingError("matrix: start, rows and cols must be integers")
    result = flat.copy(ndim=2, layout="C")

    def codegen(context, builder, signature, args):
        src = context.make_array(flat)(context, builder, args[0])
        start_, rows_, cols_ = _intp(context, builder, args[1:], signature.args[1:])
        return _view(context, builder, src, result, cgutils.gep(builder, src.data, start_),
                     [rows_, cols_], [builder.mul(cols_, src.itemsize), src.itemsize])

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
        return _view(context, builder, src, result, src.data, [src.nitems], [src.itemsize])

    return result(M), codegen
