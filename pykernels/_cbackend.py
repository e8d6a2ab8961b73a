"""The ``"c"`` backend: the C kernels of ``csrc/`` through cffi.

Same kernel names and argument order as :mod:`pykernels.kernels` (the Numba
backend); each wrapper checks what C relies on -- dtypes, C-contiguity, every
buffer's length against ``sizes`` and the batch -- before a pointer reaches C, and
dispatches float64 / float32 arrays to ``pk_*_f64`` / ``pk_*_f32``.  The extension
``pykernels._pk_c`` is optional; :func:`available` says why it is missing.
"""

import ctypes
import os

import numpy as np

__all__ = ["available", "mlp_loss", "mlp_loss_and_grad", "mlp_predict", "workspace_size"]


def _load_blas():
    """Load scipy-openblas32's library, if installed, so the extension's link to it resolves.

    The extension records the library by its soname only: loaded here first, the
    dynamic linker reuses it whether pykernels is installed or editable.
    """
    try:
        import scipy_openblas32
    except ImportError:
        return
    ctypes.CDLL(os.path.join(scipy_openblas32.get_lib_dir(),
                             scipy_openblas32.get_library(fullname=True)), ctypes.RTLD_GLOBAL)


try:
    _load_blas()
    from ._pk_c import ffi, lib
    _ERROR = None
except (ImportError, OSError) as exc:
    ffi = lib = None
    _ERROR = f"{type(exc).__name__}: {exc}"

_TYPES = {np.dtype(np.float64): ("double[]", "_f64"), np.dtype(np.float32): ("float[]", "_f32")}
_STATUS = {-1: "unknown activation or loss code, or cross_entropy without a softmax or "
               "sigmoid output",
           -2: "a layer size or the batch is < 1 or > 2**31 - 1"}


def available():
    """Raise ImportError with the reason when the C extension cannot be used."""
    if lib is None:
        raise ImportError(f"the C extension pykernels._pk_c is not built or does not load "
                          f"({_ERROR})")


def _status(code):
    if code < 0:
        raise ValueError(f"C kernel failed: {_STATUS.get(int(code), f'status {code}')}")
    return code


def _sizes(sizes):
    """sizes as a contiguous int64 array and its cffi pointer."""
    sizes = np.ascontiguousarray(sizes, dtype=np.int64)
    if sizes.ndim != 1:
        raise ValueError(f"sizes must be 1-D, got shape {sizes.shape}")
    return sizes, ffi.from_buffer("int64_t[]", sizes)


def workspace_size(sizes, batch):
    """Entries of the ``work`` buffer for layer sizes ``sizes`` and ``batch`` rows.

    Parameters
    ----------
    sizes : array_like of int
        Layer widths ``n_0 ... n_L``.
    batch : int
        Rows per call.

    Returns
    -------
    int
    """
    sizes, p_sizes = _sizes(sizes)
    return _status(lib.pk_mlp_workspace_size(p_sizes, sizes.size, int(batch)))


def _pointer(array, name, dtype, shape, writable=False):
    """cffi pointer to ``array`` after checking its type, dtype, contiguity and shape.

    ``shape`` is the exact shape, or an int: the least number of entries.
    """
    if type(array) is not np.ndarray or array.dtype != dtype:
        raise TypeError(f"{name} must be a {dtype} ndarray, got "
                        f"{getattr(array, 'dtype', type(array).__name__)}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if isinstance(shape, tuple):
        if array.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    elif array.size < shape:
        raise ValueError(f"{name} must have at least {shape} entries, got {array.size}")
    return ffi.from_buffer(_TYPES[dtype][0], array, require_writable=writable)


def _prepare(theta, sizes, X, work):
    """Check the arguments every MLP kernel takes.

    Returns
    -------
    tuple
        ``(suffix, dtype, head, data, shape)``: the ``_f64``/``_f32`` suffix, the
        dtype the other arrays must have, the C arguments ``(theta, sizes,
        n_sizes)`` and ``(X, batch, work)``, and the (batch, n_out) shape of Y and out.
    """
    dtype = getattr(X, "dtype", None)
    if dtype not in _TYPES:
        raise TypeError(f"X must be a float32 or float64 ndarray, got {dtype}")
    sizes, p_sizes = _sizes(sizes)
    n_theta = _status(lib.pk_mlp_theta_size(p_sizes, sizes.size))
    batch = X.shape[0] if X.ndim == 2 else 0
    n_work = _status(lib.pk_mlp_workspace_size(p_sizes, sizes.size, batch))
    head = (_pointer(theta, "theta", dtype, (n_theta,)), p_sizes, sizes.size)
    data = (_pointer(X, "X", dtype, (batch, int(sizes[0]))), batch,
            _pointer(work, "work", dtype, n_work, writable=True))
    return _TYPES[dtype][1], dtype, head, data, (batch, int(sizes[-1]))


def mlp_predict(theta, sizes, hidden, output, X, work, out):
    """out (batch, n_out) <- the network's output for the rows of X (see kernels/mlp.py)."""
    suffix, dtype, head, (p_X, batch, p_work), shape = _prepare(theta, sizes, X, work)
    p_out = _pointer(out, "out", dtype, shape, writable=True)
    fn = lib.pk_mlp_predict_f64 if suffix == "_f64" else lib.pk_mlp_predict_f32
    _status(fn(*head, int(hidden), int(output), p_X, batch, p_work, p_out))


def mlp_loss(theta, sizes, hidden, output, loss, X, Y, work):
    """Mean loss of the network on (X, Y) (see kernels/mlp.py)."""
    suffix, dtype, head, (p_X, batch, p_work), shape = _prepare(theta, sizes, X, work)
    p_Y = _pointer(Y, "Y", dtype, shape)
    value = ffi.new("double *")
    fn = lib.pk_mlp_loss_f64 if suffix == "_f64" else lib.pk_mlp_loss_f32
    _status(fn(*head, int(hidden), int(output), int(loss), p_X, batch, p_Y, p_work, value))
    return value[0]


def mlp_loss_and_grad(theta, sizes, hidden, output, loss, X, Y, work, grad):
    """Mean loss on (X, Y); grad (theta.size,) <- its gradient (see kernels/mlp.py)."""
    suffix, dtype, head, (p_X, batch, p_work), shape = _prepare(theta, sizes, X, work)
    p_Y = _pointer(Y, "Y", dtype, shape)
    p_grad = _pointer(grad, "grad", dtype, theta.shape, writable=True)
    value = ffi.new("double *")
    fn = lib.pk_mlp_loss_and_grad_f64 if suffix == "_f64" else lib.pk_mlp_loss_and_grad_f32
    _status(fn(*head, int(hidden), int(output), int(loss), p_X, batch, p_Y, p_work, p_grad,
               value))
    return value[0]
