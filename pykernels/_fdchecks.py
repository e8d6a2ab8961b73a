"""Checks and error messages of :mod:`pykernels.derivatives`: every error names the
argument, and a bad value of ``f`` names the component/column and ``x``."""

import numpy as np

from . import _fdplan as fdp
from ._checks import choice, float_array
from ._checks import executor as check_executor


def method(method):
    return choice(method, "method", fdp.METHODS)


def point(x, name="x"):
    """``x`` as a finite, non-empty, C-contiguous float64 vector (NumPy checks: no
    Numba kernel on the path of a plain Python f)."""
    x = float_array(x, name, dtype=np.float64, ndim=1, allow_int=True, finite=False)
    if x.size == 0:
        raise ValueError(f"{name} must have at least one entry, got shape (0,)")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise ValueError(f"{name} must be finite, found {x[bad[0]]} at index ({bad[0]},)")
    return x


def args(args):
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple, got {type(args).__name__}")
    return args


def executor(executor):
    return check_executor(executor, "executor", ("map",))


def show(x):
    return np.array2string(x, precision=6, threshold=8)


def raise_if_underflowed(j, x, h):
    """Raise when the step ``h[j]`` vanished in ``x[j] + h[j]`` (a box, or a step,
    narrower than a few ulp of ``x[j]``): the differences there are 0/0."""
    if (x[j] + h[j]) - x[j] == 0.0:
        raise ValueError(f"the step of component {j} underflowed: x[{j}] + h == x[{j}] "
                         f"for h = {h[j]:.3g} at x[{j}] = {x[j]!r} (bounds narrower than the "
                         f"spacing of floating-point numbers there?); widen the bounds or "
                         f"give a larger step")


def raise_value(what, j, x, h):
    """The error for a non-finite derivative of column ``j``: a step that vanished in
    ``x[j] + h[j]`` says so (:func:`raise_if_underflowed`); else ``f`` returned a
    non-finite value."""
    raise_if_underflowed(j, x, h)
    raise ValueError(f"f returned a non-finite value for {what} {j} "
                     f"(x[{j}] perturbed by h = {h[j]:.3g}) at x = {show(x)}")


def check_status(status, what, x, h, groups=None, allow_nonfinite=False):
    """Raise for the first bad column (group) of a Jacobian driver's ``status``;
    ``allow_nonfinite``: only shape errors raise (Richardson skips non-finite runs)."""
    if allow_nonfinite:
        status = np.where(status == fdp.BAD_SHAPE, status, 0)
    bad = np.flatnonzero(status)
    if not bad.size:
        return
    g = int(bad[0])
    j = g if groups is None else int(groups.order[groups.gptr[g]])
    if status[g] == fdp.BAD_SHAPE:
        raise ValueError(f"f returned an array of the wrong shape for {what} {j} "
                         f"(x[{j}] perturbed by h = {h[j]:.3g}) at x = {show(x)}; "
                         "the expected shape is that of f(x), or (m,) of the sparsity pattern")
    raise_value(what, j, x, h)


def describe(v):
    """A short description of a value for error messages."""
    if isinstance(v, np.ndarray) and v.ndim:
        return f"an array of shape {v.shape} and dtype {v.dtype}"
    return f"{type(v).__name__} {v!r:.40}"


def scalar_value(f, x, args):
    """f(x) as a float: a real number (Python or NumPy), finite; else a ValueError
    naming f and what it returned."""
    v = f(x, *args)
    if isinstance(v, (bool, np.bool_)) or np.ndim(v) != 0 or \
            np.asarray(v).dtype.kind not in "iuf":
        raise ValueError(f"f must return a real scalar, got {describe(v)} at x = {show(x)}")
    v = float(v)
    if not np.isfinite(v):
        raise ValueError(f"f(x) is not finite ({v}) at x = {show(x)}")
    return v


def vector_value(f, x, args):
    """f(x) as a 1-D float64 array, finite; else a ValueError naming f."""
    value = f(x, *args)
    v = np.asarray(value) if not isinstance(value, (str, bytes)) else np.asarray(None)
    if v.ndim != 1 or v.dtype.kind not in "iuf":
        raise ValueError(f"f must return a 1-D array of real numbers, got {describe(value)} "
                         f"at x = {show(x)}")
    v = np.ascontiguousarray(v, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        raise ValueError(f"f(x) is not finite: component {bad[0]} is {v[bad[0]]} "
                         f"at x = {show(x)}")
    return v


def check_complex(values, f, x, h, args):
    """A complex step whose response is exactly zero everywhere means f dropped the
    imaginary part -- unless the derivative is truly zero, which a probe at a shifted
    point (all components stepped at once) tells apart."""
    if np.any(values) or f is _complex_cffi_value:  # a C f over complex keeps it
        return
    shifted = x + 1e-3 * np.maximum(1.0, np.abs(x))
    probe = np.asarray(f(shifted + 1j * h, *args))
    if not np.any(np.imag(probe)):
        raise ValueError("method='complex' needs f to propagate complex input, but f "
                         "returned a zero imaginary part for every perturbation (does it "
                         "cast to float, or call math.* functions?)")


def parts(f, vector, m, workers, executor, backend, vectorized=False):
    """(callable f at one point, drivers, steps module, chunks) for the kind of ``f``."""
    if not isinstance(vectorized, (bool, np.bool_)):
        raise TypeError(f"vectorized must be True or False, got {vectorized!r}")
    if not callable(f) and fdp.compiled(f, vector, m) is None:
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if vectorized:
        if fdp.cffi_ctype(f) is not None:
            raise TypeError("vectorized=True needs a Python (or @njit) f taking an (n, k) "
                            "array; a cffi function pointer takes one point")
        if executor is not None:
            raise ValueError("give executor or vectorized=True, not both")
        drv, mod, chunks = fdp.drivers(f, None, workers=1, executor=None, backend="numpy",
                                       vectorized=True)
        return fdp.at_one_point(f), drv, mod, chunks
    fc = fdp.compiled(f, vector, m)
    drv, mod, chunks = fdp.drivers(f, fc, workers=workers, executor=executor, backend=backend)
    if fc is not None and fdp.cffi_complex(f):
        fc = _complex_cffi_value  # neither Python nor Numba can call it: C only
    elif fc is not None and fc is not f and backend == "c":
        fc = fdp.c_value(f, m)  # f(x) through cffi: takes array args, as the C loops do
    return (f if fc is None else fc), drv, mod, chunks


def _complex_cffi_value(*_):
    raise TypeError("f is a cffi function over double _Complex: only the C loops call it "
                    "(f(x) itself is not available, so methods that need it do not apply)")


def check_extrapolated(value, what, x, h=None):
    """Raise when Richardson found no step at which ``f`` was finite for some entry;
    with ``h``, the coarsest steps (when the first index of ``value`` is the
    component perturbed), a step that vanished in ``x + h`` is named as such."""
    bad = np.argwhere(~np.isfinite(value.data if hasattr(value, "data") else value))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        if h is not None:
            raise_if_underflowed(where[0], x, h)
        raise ValueError(f"f returned non-finite values at every step for {what} "
                         f"{where[0] if len(where) == 1 else where} at x = {show(x)}")


def checked_gradient(grad, n, vectorized=False):
    """``grad`` as a function of one point whose values are checked: an array of
    shape (n,) of numbers (complex allowed at a complex point), all finite; any
    other value raises a ValueError naming ``grad``."""
    at = fdp.at_one_point(grad) if vectorized else grad

    def g(y, *args):
        value = np.asarray(at(y, *args))
        kinds = "biufc" if np.iscomplexobj(y) else "biuf"
        if value.shape != (n,) or value.dtype.kind not in kinds:
            raise ValueError(f"grad must return an array of shape ({n},) (the gradient at "
                             f"x), got shape {value.shape} and dtype {value.dtype} at "
                             f"x = {show(np.real(y))}")
        bad = np.flatnonzero(~np.isfinite(value))
        if bad.size:
            raise ValueError(f"grad returned a non-finite value ({value[bad[0]]} in "
                             f"component {bad[0]}) at x = {show(np.real(y))}")
        return value
    return g
