"""The ``"c"`` backend: the C kernels of ``csrc/`` through cffi.

Same kernel names and argument order as :mod:`pykernels.kernels` (the Numba
backend); each wrapper checks what C relies on -- dtypes, C-contiguity, every
buffer's length against ``sizes`` and the batch -- before a pointer reaches C, and
dispatches float64 / float32 arrays to ``pk_*_f64`` / ``pk_*_f32``.

Kernels: the MLP step (``mlp_predict``, ``mlp_loss``, ``mlp_loss_and_grad``), the
R-operator products (``mlp_hvp``, ``mlp_gnvp``, ``mlp_jacobian``), the optimizer
updates (``sgd_update`` ... ``adam_update``), and ``fd_steps`` / ``fd_drivers``: the
finite-difference loops over a cffi function pointer and its extra arguments, real
steps and (for a function over ``double _Complex``) the complex step; plain Python
callables stay with the NumPy backend.  The extension
``pykernels._pk_c`` is optional; :func:`available` says why it is missing.
"""

import ctypes
import functools
import os

import numpy as np

__all__ = [
    "adagrad_update",
    "adam_update",
    "all_finite",
    "available",
    "bind",
    "fd_drivers",
    "fd_steps",
    "mlp_gnvp",
    "mlp_hvp",
    "mlp_jacobian",
    "mlp_loss",
    "mlp_loss_and_grad",
    "mlp_predict",
    "momentum_update",
    "nesterov_update",
    "rmsprop_update",
    "rop_workspace_size",
    "sgd_update",
    "unchecked",
    "workspace_size",
]


def _load_blas():
    """Load scipy-openblas32's library, if installed, so the extension's link to it resolves.

    The extension records the library by its soname only: loaded here first, the
    dynamic linker reuses it whether pykernels is installed or editable.  Returns a
    hint for the error message when the package is missing.
    """
    try:
        import scipy_openblas32
    except ImportError:
        return "; if it was built against scipy-openblas32: pip install scipy-openblas32"
    ctypes.CDLL(os.path.join(scipy_openblas32.get_lib_dir(),
                             scipy_openblas32.get_library(fullname=True)), ctypes.RTLD_GLOBAL)
    return ""


_HINT = ""
try:
    _HINT = _load_blas()
    from ._pk_c import ffi, lib
    _ERROR = None
except (ImportError, OSError) as exc:
    ffi = lib = None
    _ERROR = f"{type(exc).__name__}: {exc}{_HINT}"

_CTYPES = {np.dtype(np.float64): "double[]", np.dtype(np.float32): "float[]",
           np.dtype(np.int8): "int8_t[]", np.dtype(np.int64): "int64_t[]"}
_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))
_STATUS = {-1: "unknown activation or loss code, cross_entropy without a softmax or "
               "sigmoid output, or poisson without an exp output",
           -2: "a layer size or the batch is < 1 or > 2**31 - 1, or sw is neither empty "
               "nor (batch,)"}
_shapes = {}  # (sizes bytes, batch) -> _Shape; bounded, see _shape
_FINITE = {} if lib is None else {np.dtype(np.float64): ("double[]", lib.pk_all_finite_f64),
                                  np.dtype(np.float32): ("float[]", lib.pk_all_finite_f32)}


def available():
    """Raise ImportError with the reason when the C extension cannot be used."""
    if lib is None:
        raise ImportError(f"the C extension pykernels._pk_c is not built or does not load "
                          f"({_ERROR})")


def _status(code):
    if code < 0:
        raise ValueError(f"C kernel failed: {_STATUS.get(int(code), f'status {code}')}")
    return code


class _Shape:
    """What C derives from (sizes, batch): a private copy of sizes and its pointer,
    the entries of theta and work, and the shapes of X and of Y / out."""

    __slots__ = (
        "batch",
        "n_rop",
        "n_sizes",
        "n_theta",
        "n_work",
        "p_sizes",
        "sizes",
        "x",
        "y",
    )

    def __init__(self, sizes, batch):
        self.sizes = sizes.copy()
        self.p_sizes = ffi.from_buffer("int64_t[]", self.sizes)
        self.n_sizes = sizes.size
        self.batch = batch
        self.n_theta = _status(lib.pk_mlp_theta_size(self.p_sizes, self.n_sizes))
        self.n_work = _status(lib.pk_mlp_workspace_size(self.p_sizes, self.n_sizes, batch))
        self.n_rop = lib.pk_mlp_rop_workspace_size(self.p_sizes, self.n_sizes, batch)
        self.x = (batch, int(sizes[0]))
        self.y = (batch, int(sizes[-1]))


def _shape(sizes, batch):
    """The :class:`_Shape` of (sizes, batch), cached: the checks of a repeated call
    cost a dictionary look-up."""
    sizes = np.ascontiguousarray(sizes, dtype=np.int64)
    if sizes.ndim != 1:
        raise ValueError(f"sizes must be 1-D, got shape {sizes.shape}")
    key = (sizes.tobytes(), batch)
    shape = _shapes.get(key)
    if shape is None:
        shape = _Shape(sizes, batch)
        if len(_shapes) >= 256:
            _shapes.clear()
        _shapes[key] = shape
    return shape


def all_finite(x):
    """True when no entry of the contiguous 1-D float array x is NaN or +-Inf.

    The caller passes a float32 or float64 C-contiguous array (``float_array`` made
    it so); anything else is a TypeError from cffi, never a read out of bounds.
    """
    ctype, check = _FINITE.get(x.dtype, (None, None))
    if check is None:
        raise TypeError(f"all_finite takes a float32 or float64 array, got {x.dtype}")
    return bool(check(ffi.from_buffer(ctype, x), x.size))


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

    Raises
    ------
    ValueError
        If a size or ``batch`` is < 1 or larger than BLAS takes (2**31 - 1).
    """
    return _shape(sizes, int(batch)).n_work


def _pointer(array, name, dtype, shape, writable=False):
    """cffi pointer to ``array`` after checking its type, dtype, contiguity and shape.

    ``shape`` is the exact shape, or an int: the least number of entries.
    """
    if type(array) is not np.ndarray or (array.dtype is not dtype and array.dtype != dtype):
        raise TypeError(f"{name} must be a {dtype} ndarray, got "
                        f"{getattr(array, 'dtype', type(array).__name__)}")
    flags = array.flags
    if not flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if writable and not flags.writeable:
        raise ValueError(f"{name} must be writeable")
    if type(shape) is tuple:
        if array.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    elif array.size < shape:
        raise ValueError(f"{name} must have at least {shape} entries, got {array.size}")
    return ffi.from_buffer(_CTYPES[dtype], array)


def _prepare(theta, sizes, X, work, rop=False):
    """Check the arguments every MLP kernel takes (``rop``: work is an R-operator one).

    Returns
    -------
    tuple
        ``(f32, dtype, head, data, shape)``: whether the arrays are float32, their
        dtype, the C arguments ``(theta, sizes, n_sizes)`` and ``(X, batch, work)``,
        and the (batch, n_out) shape of Y and out.
    """
    dtype = getattr(X, "dtype", None)
    if dtype not in _FLOATS:
        raise TypeError(f"X must be a float32 or float64 ndarray, got {dtype}")
    shape = _shape(sizes, X.shape[0] if X.ndim == 2 else 0)
    head = (_pointer(theta, "theta", dtype, (shape.n_theta,)), shape.p_sizes, shape.n_sizes)
    n_work = _status(shape.n_rop) if rop else shape.n_work
    data = (_pointer(X, "X", dtype, shape.x), shape.batch,
            _pointer(work, "work", dtype, n_work, writable=True))
    return dtype.itemsize == 4, dtype, head, data, shape.y


def mlp_predict(theta, sizes, hidden, output, X, work, out):
    """out (batch, n_out) <- the network's output for the rows of X (see kernels/mlp.py)."""
    f32, dtype, head, data, shape = _prepare(theta, sizes, X, work)
    p_out = _pointer(out, "out", dtype, shape, writable=True)
    fn = lib.pk_mlp_predict_f32 if f32 else lib.pk_mlp_predict_f64
    _status(fn(*head, int(hidden), int(output), *data, p_out))


def _targets(Y, sw, scale, l2, dtype, shape):
    """The C arguments ``(Y, sw, n_sw, scale, l2)`` after checking Y (``shape``) and sw
    (an empty array -- passed as NULL, the common case -- or (batch,))."""
    if type(sw) is np.ndarray and sw.size == 0:
        p_sw, n_sw = ffi.NULL, 0
    else:
        p_sw, n_sw = _pointer(sw, "sw", dtype, shape[:1]), shape[0]
    return _pointer(Y, "Y", dtype, shape), p_sw, n_sw, float(scale), float(l2)


def mlp_loss(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, work):
    """The (weighted, scaled, penalised) loss of the network on (X, Y) (see kernels/mlp.py)."""
    f32, dtype, head, (p_X, batch, p_work), shape = _prepare(theta, sizes, X, work)
    targets = _targets(Y, sw, scale, l2, dtype, shape)
    value = ffi.new("double *")
    fn = lib.pk_mlp_loss_f32 if f32 else lib.pk_mlp_loss_f64
    _status(fn(*head, int(hidden), int(output), int(loss), p_X, batch, *targets, p_work, value))
    return value[0]


def mlp_loss_and_grad(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, work, grad):
    """The loss on (X, Y) as :func:`mlp_loss`; grad (theta.size,) <- its gradient."""
    f32, dtype, head, (p_X, batch, p_work), shape = _prepare(theta, sizes, X, work)
    targets = _targets(Y, sw, scale, l2, dtype, shape)
    p_grad = _pointer(grad, "grad", dtype, theta.shape, writable=True)
    value = ffi.new("double *")
    fn = lib.pk_mlp_loss_and_grad_f32 if f32 else lib.pk_mlp_loss_and_grad_f64
    _status(fn(*head, int(hidden), int(output), int(loss), p_X, batch, *targets, p_work,
               p_grad, value))
    return value[0]


# -- R-operator products and Jacobians (kernels/rop.py) -----------------------------

def rop_workspace_size(sizes, batch):
    """Entries of the ``work`` buffer of :func:`mlp_hvp` / :func:`mlp_gnvp` / :func:`mlp_jacobian`.

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
    return _status(_shape(sizes, int(batch)).n_rop)


def _rop(name, theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, work, out):
    f32, dtype, head, (p_X, batch, p_work), shape = _prepare(theta, sizes, X, work, rop=True)
    targets = _targets(Y, sw, scale, l2, dtype, shape)
    p_v = _pointer(v, "v", dtype, theta.shape)
    p_out = _pointer(out, "out", dtype, theta.shape, writable=True)
    value = ffi.new("double *")
    fn = getattr(lib, f"pk_{name}_{'f32' if f32 else 'f64'}")
    _status(fn(*head, int(hidden), int(output), int(loss), p_X, batch, *targets, p_v, p_work,
               p_out, value))
    return value[0]


def mlp_hvp(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, work, out):
    """out (theta.size,) <- H v, H the Hessian of the loss (as :func:`mlp_loss`); returns
    the loss."""
    return _rop("mlp_hvp", theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, work,
                out)


def mlp_gnvp(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, work, out):
    """out (theta.size,) <- G v, G the Gauss-Newton matrix of the loss; returns the loss."""
    return _rop("mlp_gnvp", theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, work,
                out)


def mlp_jacobian(theta, sizes, hidden, output, X, work, out, wrt_params):
    """Per-sample Jacobians of the outputs: out (batch, n_out, n_in or theta.size)."""
    f32, dtype, head, data, (batch, n_out) = _prepare(theta, sizes, X, work, rop=True)
    width = theta.size if wrt_params else X.shape[1]
    p_out = _pointer(out, "out", dtype, (batch, n_out, width), writable=True)
    fn = lib.pk_mlp_jacobian_f32 if f32 else lib.pk_mlp_jacobian_f64
    _status(fn(*head, int(hidden), int(output), *data, p_out, bool(wrt_params)))

# -- network.py's calls -------------------------------------------------------------

def bind(name, sizes, codes, work, theta):
    """The MLP kernel ``name`` for :class:`pykernels.MLP`'s calls (see
    :func:`pykernels._backend.bind` for what each returns): ``sizes``, ``codes``,
    ``work`` and the network's own ``theta`` become C arguments once, and the arrays
    of each call are trusted -- the network made them C-contiguous, writeable, of
    ``work``'s dtype and of the right sizes -- so a call costs the C function, one
    pointer per other array and the finiteness scan of its output.  ``work`` and
    ``theta`` are kept alive by the returned function.
    """
    sizes = np.array(sizes, dtype=np.int64)  # a private copy, kept alive with its pointer
    ctype, finite = _FINITE[work.dtype]
    fn = getattr(lib, f"pk_{name}_{'f32' if work.dtype.itemsize == 4 else 'f64'}")
    head = (ffi.from_buffer("int64_t[]", sizes), sizes.size) + tuple(int(c) for c in codes)
    if name in ("mlp_predict", "mlp_jacobian"):
        head = head[:-1]  # no loss code
    p_work, own = ffi.from_buffer(ctype, work), (theta, ffi.from_buffer(ctype, theta))
    value = ffi.new("double *")
    buffer, null = ffi.from_buffer, ffi.NULL

    # each returns the C function's status with its result: _status raises for < 0
    if name == "mlp_predict":
        def run(theta, X, out):
            p_out = buffer(ctype, out)
            status = fn(own[1] if theta is own[0] else buffer(ctype, theta), *head,
                        buffer(ctype, X), X.shape[0], p_work, p_out)
            return _status(status) if status else finite(p_out, out.size)
    elif name == "mlp_jacobian":
        def run(theta, X, out, wrt_params):
            p_out = buffer(ctype, out)
            status = fn(own[1] if theta is own[0] else buffer(ctype, theta), *head,
                        buffer(ctype, X), X.shape[0], p_work, p_out, wrt_params)
            return _status(status) if status else finite(p_out, out.size)
    elif name == "mlp_loss":
        def run(theta, X, Y, sw, scale, l2):
            status = fn(own[1] if theta is own[0] else buffer(ctype, theta), *head,
                        buffer(ctype, X), X.shape[0], buffer(ctype, Y),
                        buffer(ctype, sw) if sw.size else null, sw.size, scale, l2, p_work,
                        value)
            return _status(status) if status else value[0]
    elif name == "mlp_loss_and_grad":
        def run(theta, X, Y, sw, scale, l2, grad):
            p_grad = buffer(ctype, grad)
            status = fn(own[1] if theta is own[0] else buffer(ctype, theta), *head,
                        buffer(ctype, X), X.shape[0], buffer(ctype, Y),
                        buffer(ctype, sw) if sw.size else null, sw.size, scale, l2, p_work,
                        p_grad, value)
            return _status(status) if status else (value[0], finite(p_grad, grad.size))
    else:  # mlp_hvp, mlp_gnvp
        def run(theta, X, Y, sw, scale, l2, v, out):
            p_out = buffer(ctype, out)
            status = fn(own[1] if theta is own[0] else buffer(ctype, theta), *head,
                        buffer(ctype, X), X.shape[0], buffer(ctype, Y),
                        buffer(ctype, sw) if sw.size else null, sw.size, scale, l2,
                        buffer(ctype, v), p_work, p_out, value)
            return _status(status) if status else (value[0], finite(p_out, out.size))
    return run


# -- optimizer updates (kernels/optim.py) -------------------------------------------

def _update(name, theta, grad, slots, *scalars):
    """Check theta (1-D, writeable), grad and the state ``slots`` (theta's shape and
    dtype, writeable), then run the update in place (:func:`unchecked`)."""
    dtype = getattr(theta, "dtype", None)
    if dtype not in _FLOATS:
        raise TypeError(f"theta must be a float32 or float64 ndarray, got {dtype}")
    shape = (theta.size,)
    _pointer(theta, "theta", dtype, shape, writable=True)
    _pointer(grad, "grad", dtype, shape)
    for k, slot in enumerate(slots):
        _pointer(slot, f"state {k}", dtype, shape, writable=True)
    unchecked(name)(theta, grad, *slots, *scalars)


_SLOTS = {"sgd_update": 0, "momentum_update": 1, "nesterov_update": 1, "adagrad_update": 1,
          "rmsprop_update": 1, "adam_update": 2}


@functools.lru_cache(maxsize=None)
def unchecked(name):
    """The optimizer update ``name`` without the checks of the function of that name, for
    callers that checked theta, grad and the state already (``pk.optim``'s ``step``,
    ``pk.train``, ``pk.minimize``): same arguments, one pointer per array, then the C
    loop."""
    if name not in _SLOTS:
        raise ValueError(f"no optimizer update {name!r}")
    slots, buffer = _SLOTS[name], ffi.from_buffer
    kernels = {dtype: (ctype, getattr(lib, f"pk_{name}_{'f32' if dtype.itemsize == 4 else 'f64'}"))
               for dtype, (ctype, _) in _FINITE.items()}

    def update(theta, grad, *rest):
        ctype, fn = kernels[theta.dtype]
        pointers = [buffer(ctype, theta), theta.size, buffer(ctype, grad)]
        pointers += [buffer(ctype, slot) for slot in rest[:slots]]
        _status(fn(*pointers, *rest[slots:]))

    def adam(theta, grad, m, v, lr, beta1, beta2, eps, step):  # C takes the step as int64
        ctype, fn = kernels[theta.dtype]
        _status(fn(buffer(ctype, theta), theta.size, buffer(ctype, grad), buffer(ctype, m),
                   buffer(ctype, v), lr, beta1, beta2, eps, int(step)))
    return adam if name == "adam_update" else update


def sgd_update(theta, grad, lr):
    """theta -= lr * grad (see kernels/optim.py)."""
    _update("sgd_update", theta, grad, (), float(lr))


def momentum_update(theta, grad, velocity, lr, beta):
    """Heavy ball: velocity = beta * velocity + grad; theta -= lr * velocity."""
    _update("momentum_update", theta, grad, (velocity,), float(lr), float(beta))


def nesterov_update(theta, grad, velocity, lr, beta):
    """Nesterov momentum: theta -= lr * (grad + beta * velocity)."""
    _update("nesterov_update", theta, grad, (velocity,), float(lr), float(beta))


def adagrad_update(theta, grad, accum, lr, eps):
    """accum += grad^2; theta -= lr * grad / (sqrt(accum) + eps)."""
    _update("adagrad_update", theta, grad, (accum,), float(lr), float(eps))


def rmsprop_update(theta, grad, accum, lr, rho, eps):
    """accum = rho * accum + (1 - rho) * grad^2; theta -= lr * grad / (sqrt(accum) + eps)."""
    _update("rmsprop_update", theta, grad, (accum,), float(lr), float(rho), float(eps))


def adam_update(theta, grad, m, v, lr, beta1, beta2, eps, step):
    """Adam with bias correction; ``step`` is the 1-based count of updates so far."""
    _update("adam_update", theta, grad, (m, v), float(lr), float(beta1), float(beta2),
            float(eps), int(step))


# -- finite differences over a C function pointer (kernels/fd.py) --------------------

_F64, _I8, _I64 = np.dtype(np.float64), np.dtype(np.int8), np.dtype(np.int64)
_FD_METHODS = {0: "forward", 1: "backward", 2: "central"}


def fd_steps(x, hs, relative, lo, hi, method, h, stencil):
    """h, stencil (n) <- the signed step and stencil of every component (kernels/fd.py).

    Returns
    -------
    bool
        Whether some stencil needs f(x).  The complex step (method 3) has no C loop.
    """
    if method not in _FD_METHODS:
        raise ValueError(f"method code must be one of {_FD_METHODS} in the C backend, "
                         f"got {method!r}")
    n = (getattr(x, "size", 0),)
    need = ffi.new("int *")
    _status(lib.pk_fd_steps_f64(
        _pointer(x, "x", _F64, n), n[0], _pointer(hs, "hs", _F64, n), bool(relative),
        _pointer(lo, "lo", _F64, n), _pointer(hi, "hi", _F64, n), int(method),
        _pointer(h, "h", _F64, n, writable=True),
        _pointer(stencil, "stencil", _I8, n, writable=True), need))
    return bool(need[0])


def fd_signature(f):
    """(vector, complex_step, kinds) of a cffi function pointer of a signature the C
    difference loops call, else a TypeError naming f and the signatures they take.

    ``kinds``: per extra parameter, ``PK_ARG_DOUBLE`` (a ``double``) or
    ``PK_ARG_ARRAY`` (a pointer to doubles).
    """
    if lib is None or type(f).__module__ != "_cffi_backend" or \
            ffi.typeof(f).kind != "function":
        raise TypeError(f"the C backend's difference loops need a cffi function pointer, "
                        f"got {type(f).__name__}")
    ctype = ffi.typeof(f)
    params = [a.cname.replace("const ", "") for a in ctype.args]
    result = ctype.result.cname
    for complex_step, real in ((False, "double"), (True, "_cffi_double_complex_t")):
        point = f"{real} *"
        if params[:2] == [point, "int64_t"] and result == real:
            vector, extra = False, params[2:]
        elif params[:4] == [point, "int64_t", point, "int64_t"] and result == "void":
            vector, extra = True, params[4:]
        else:
            continue
        kinds = [{"double": lib.PK_ARG_DOUBLE, "double *": lib.PK_ARG_ARRAY}.get(p)
                 for p in extra]
        if len(kinds) <= lib.PK_FD_MAX_ARGS and None not in kinds:
            return vector, complex_step, kinds
    raise TypeError(
        f"f must be double f(const double *x, int64_t n, ...) or void f(const double *x, "
        f"int64_t n, double *out, int64_t m, ...) -- or the same over double _Complex for "
        f"the complex step -- with at most {lib.PK_FD_MAX_ARGS} extra parameters, each a "
        f"double or a pointer to doubles, got {ctype.cname}")


class _Function:
    """The ``pk_fd_function`` of ``f`` with the values of ``args`` (arrays kept alive)."""

    def __init__(self, f, vector, complex_step, kinds, args):
        if len(args) != len(kinds):
            raise ValueError(f"f takes {len(kinds)} extra argument(s) after x, got "
                             f"args of length {len(args)}")
        self.struct = ffi.new("pk_fd_function *")
        self.struct.fn = ffi.cast("void(*)(void)", f)
        self.struct.vector, self.struct.complex_step = vector, complex_step
        self.struct.nargs = len(kinds)
        self._arrays = []
        for k, (kind, value) in enumerate(zip(kinds, args)):
            self.struct.kinds[k] = kind
            if kind == lib.PK_ARG_DOUBLE:
                self.struct.args[k].d = float(value)
            else:
                array = np.ascontiguousarray(value, dtype=np.float64)
                if array.size == 0:
                    raise ValueError(f"args[{k}] must be a non-empty array of numbers")
                self._arrays.append(array)
                self.struct.args[k].p = ffi.from_buffer("double[]", array)


def fd_value(f, m=0):
    """``f`` (a real cffi function pointer the C loops take) as a Python function of one
    point: ``value(x, *args)`` (a float, or an (m,) array for a vector f)."""
    vector, complex_step, kinds = fd_signature(f)

    def value(x, *args):
        fn = _Function(f, vector, complex_step, kinds, args)
        call_args = [fn.struct.args[k].d if kind == lib.PK_ARG_DOUBLE else fn.struct.args[k].p
                     for k, kind in enumerate(kinds)]
        x = np.ascontiguousarray(x, dtype=np.float64)
        p_x = ffi.from_buffer("double[]", x)
        if not vector:
            return f(p_x, x.size, *call_args)
        out = np.empty(m)
        f(p_x, x.size, ffi.from_buffer("double[]", out), m, *call_args)
        return out
    return value


def _indices(a, name, size, lo, hi):
    """int64 pointer to ``a`` after checking that every entry lies in [lo, hi)."""
    a = np.ascontiguousarray(a, dtype=np.int64)  # kept alive by the pointer
    p = _pointer(a, name, _I64, (size,))
    if size and (a.min() < lo or a.max() >= hi):
        raise ValueError(f"{name} must lie in [{lo}, {hi}), got [{a.min()}, {a.max()}]")
    return p


def _grouping(order, gptr, colptr, rows, dest, n, m, data_size, ngroups):
    """The checked index pointers of a grouped Jacobian."""
    p_gptr = _indices(gptr, "gptr", ngroups + 1, 0, getattr(order, "size", 0) + 1)
    p_colptr = _indices(colptr, "colptr", n + 1, 0, getattr(rows, "size", 0) + 1)
    if np.any(np.diff(gptr) < 0) or np.any(np.diff(colptr) < 0):
        raise ValueError("gptr and colptr must be non-decreasing")
    return (_indices(order, "order", order.size, 0, n), p_gptr, ngroups, p_colptr,
            _indices(rows, "rows", rows.size, 0, m),
            _indices(dest, "dest", dest.size, 0, data_size))


def fd_drivers(f, parallel=False):
    """Difference drivers calling the C function pointer ``f`` from C.

    Parameters
    ----------
    f : cffi function pointer
        ``double f(const double *x, int64_t n, ...)`` (scalar) or
        ``void f(const double *x, int64_t n, double *out, int64_t m, ...)`` (vector),
        or the same over ``double _Complex`` (complex step); up to three extra
        parameters, each a ``double`` or a pointer to doubles, receive ``args``.
    parallel : bool
        Ignored: the C loops are serial (the Numba drivers' chunks write disjoint
        outputs, so the numbers are the same).

    Returns
    -------
    dict
        Real ``f``: ``gradient``, ``hessian`` (scalar) or ``jacobian``,
        ``jacobian_grouped`` (vector); complex ``f``: ``gradient_complex``,
        ``hessian_complex`` or ``jacobian_complex``, ``jacobian_grouped_complex``; with
        the signatures of :func:`pykernels.kernels.fd.fd_drivers`' drivers
        (``nchunks`` ignored).
    """
    vector, complex_step, kinds = fd_signature(f)

    def function(args):
        return _Function(f, vector, complex_step, kinds, args)

    def size(a):
        return (getattr(a, "size", 0),)

    def gradient(x, h, stencil, f0, nchunks, out, args):
        fn, n = function(args), size(x)
        work, bad = np.empty(n[0]), ffi.new("int64_t *")
        _status(lib.pk_fd_gradient_f64(
            fn.struct, _pointer(x, "x", _F64, n), n[0], _pointer(h, "h", _F64, n),
            _pointer(stencil, "stencil", _I8, n), float(f0), _pointer(work, "work", _F64, n),
            _pointer(out, "out", _F64, n, writable=True), bad))
        return bad[0]

    def gradient_complex(x, h, nchunks, out, args):
        fn, n = function(args), size(x)
        work, bad = np.empty(2 * n[0]), ffi.new("int64_t *")
        _status(lib.pk_fd_gradient_complex_f64(
            fn.struct, _pointer(x, "x", _F64, n), n[0], _pointer(h, "h", _F64, n),
            _pointer(work, "work", _F64, work.shape),
            _pointer(out, "out", _F64, n, writable=True), bad))
        return bad[0]

    def hessian(x, h, forward, f0, nchunks, out, args):
        fn, n = function(args), size(x)
        work = np.empty(2 * n[0])
        _status(lib.pk_fd_hessian_f64(
            fn.struct, _pointer(x, "x", _F64, n), n[0], _pointer(h, "h", _F64, n),
            bool(forward), float(f0), _pointer(work, "work", _F64, work.shape),
            _pointer(out, "out", _F64, (n[0], n[0]), writable=True)))

    def hessian_complex(x, hc, h, nchunks, out, args):
        fn, n = function(args), size(x)
        work = np.empty(2 * n[0])
        _status(lib.pk_fd_hessian_complex_f64(
            fn.struct, _pointer(x, "x", _F64, n), n[0], _pointer(hc, "hc", _F64, n),
            _pointer(h, "h", _F64, n), _pointer(work, "work", _F64, work.shape),
            _pointer(out, "out", _F64, (n[0], n[0]), writable=True)))

    def _head(x, h, stencil, f0):
        n, m = size(x)[0], size(f0)[0]
        work = np.empty(n + 2 * m)
        return n, m, [_pointer(x, "x", _F64, (n,)), n, _pointer(h, "h", _F64, (n,)),
                      _pointer(stencil, "stencil", _I8, (n,)), _pointer(f0, "f0", _F64, (m,)),
                      m], _pointer(work, "work", _F64, work.shape)

    def jacobian(x, h, stencil, f0, nchunks, out_t, status, args):
        fn = function(args)
        n, m, head, work = _head(x, h, stencil, f0)
        _status(lib.pk_fd_jacobian_f64(
            fn.struct, *head, work, _pointer(out_t, "out_t", _F64, (n, m), writable=True),
            _pointer(status, "status", _I8, (n,), writable=True)))

    def jacobian_complex(x, h, m, nchunks, out_t, status, args):
        fn, n = function(args), size(x)[0]
        work = np.empty(2 * (n + int(m)))
        _status(lib.pk_fd_jacobian_complex_f64(
            fn.struct, _pointer(x, "x", _F64, (n,)), n, _pointer(h, "h", _F64, (n,)), int(m),
            _pointer(work, "work", _F64, work.shape),
            _pointer(out_t, "out_t", _F64, (n, int(m)), writable=True),
            _pointer(status, "status", _I8, (n,), writable=True)))

    def jacobian_grouped(x, h, stencil, f0, order, gptr, colptr, rows, dest, nchunks,
                         data, status, args):
        fn = function(args)
        n, m, head, work = _head(x, h, stencil, f0)
        ngroups = getattr(status, "size", 0)
        index = _grouping(order, gptr, colptr, rows, dest, n, m, getattr(data, "size", 0),
                          ngroups)
        _status(lib.pk_fd_jacobian_grouped_f64(
            fn.struct, *head, *index, work,
            _pointer(data, "data", _F64, (getattr(data, "size", 0),), writable=True),
            _pointer(status, "status", _I8, (ngroups,), writable=True)))

    def jacobian_grouped_complex(x, h, m, order, gptr, colptr, rows, dest, nchunks, data,
                                 status, args):
        fn, n, m = function(args), size(x)[0], int(m)
        ngroups = getattr(status, "size", 0)
        index = _grouping(order, gptr, colptr, rows, dest, n, m, getattr(data, "size", 0),
                          ngroups)
        work = np.empty(2 * (n + m))
        _status(lib.pk_fd_jacobian_grouped_complex_f64(
            fn.struct, _pointer(x, "x", _F64, (n,)), n, _pointer(h, "h", _F64, (n,)), m,
            *index, _pointer(work, "work", _F64, work.shape),
            _pointer(data, "data", _F64, (getattr(data, "size", 0),), writable=True),
            _pointer(status, "status", _I8, (ngroups,), writable=True)))

    drivers = {(False, False): {"gradient": gradient, "hessian": hessian},
               (False, True): {"gradient_complex": gradient_complex,
                               "hessian_complex": hessian_complex},
               (True, False): {"jacobian": jacobian, "jacobian_grouped": jacobian_grouped},
               (True, True): {"jacobian_complex": jacobian_complex,
                              "jacobian_grouped_complex": jacobian_grouped_complex}}
    return drivers[vector, complex_step]
