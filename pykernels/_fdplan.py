"""Machinery behind :mod:`pykernels.derivatives`: kinds of ``f``, drivers, steps, extrapolation.

Three kinds of ``f`` reach one set of drivers (see ``kernels/fd.py``):

* a Numba ``@njit`` dispatcher: compiled drivers specialised once per ``f``;
* a cffi function pointer: wrapped once into an ``@njit`` function, then as above
  (on the ``"c"`` backend the C loops of ``csrc/fd.c`` call it instead);
* anything else callable: the NumPy reference drivers, points evaluated one by one
  (or through an executor's ``map``).

Read-only arrays that depend only on ``n`` (unbounded boxes, relative step vectors)
are cached, so a repeated call with the same ``f`` allocates only its outputs.

Numba is imported only for a compiled (or cffi) ``f``: the path of a plain Python ``f``
-- steps, checks, colouring of small patterns, the NumPy loops -- never touches it.
"""

import functools
import sys

import numpy as np

from . import _backend, reference
from .reference import fd as codes  # method, stencil and status codes (== kernels.fd's)

EPS = float(np.finfo(np.float64).eps)
METHODS = ("forward", "backward", "central", "complex", "richardson")
CODE = {"forward": codes.FORWARD, "backward": codes.BACKWARD, "central": codes.CENTRAL,
        "complex": codes.COMPLEX, "richardson": codes.CENTRAL}

#: Relative steps r (h_i = r * max(1, |x_i|)) of first derivatives.  The error of a
#: difference is truncation (~ h for one-sided, h^2 for central) plus rounding
#: (~ eps |f| / h); r balances the two.  The complex step has no subtraction, hence no
#: rounding error, and takes a tiny step.  Richardson's base step is the coarsest of
#: STEPS central differences h, h/2, ..., h/128 with h = max(1, |x_i|) / 2: large enough
#: for the rounding error to vanish, and runs that are too coarse lose to finer ones in
#: :func:`richardson` (on the classic test problems r = 1/2 beat numdifftools' default
#: at 16 of 21 points, and in the worst case, where r = 1/4 did at 11).
FIRST_STEP = {"forward": EPS ** 0.5, "backward": EPS ** 0.5, "central": EPS ** (1 / 3),
              "complex": EPS, "richardson": 0.5}
#: Relative steps of second derivatives from f alone (rounding ~ eps |f| / h^2): forward
#: eps^(1/3), central eps^(1/4); the complex-step Hessian differences the complex-step
#: gradient along a real step of eps^(1/3).
SECOND_STEP = {"forward": EPS ** (1 / 3), "backward": EPS ** (1 / 3), "central": EPS ** 0.25,
               "complex": EPS ** (1 / 3), "richardson": 0.25}
STEPS = 8   # richardson: central differences at h / RATIO**k, k < STEPS
LEVELS = 4  # consecutive steps per extrapolation (cancels h^2, h^4, h^6)
RATIO = 2.0

S_ONESIDED = codes.S_ONESIDED
BAD_SHAPE = codes.BAD_SHAPE


# ------------------------------------------------------------------ kinds of f

@functools.lru_cache(maxsize=1)
def _ffi():
    import cffi  # only once a cffi f shows up

    return cffi.FFI()


def cffi_ctype(f):
    """The cffi ctype of ``f`` when it is a cffi function pointer, else None.

    Raises
    ------
    TypeError
        For other cffi data (a ``void *``, an ``int *``): not a function.
    ValueError
        For a NULL function pointer (calling it would crash the process).
    """
    if type(f).__module__ != "_cffi_backend":
        return None
    ffi = _ffi()
    ctype = ffi.typeof(f)
    if ctype.kind != "function":
        raise TypeError(f"f must be a callable or a cffi function pointer, got cffi data of "
                        f"type {ctype.cname!r}")
    if f == ffi.NULL:
        raise ValueError(f"f is a NULL cffi function pointer (of type {ctype.cname!r})")
    return ctype


@functools.lru_cache(maxsize=256)
def _cffi_wrapper(address, vector, m, fp):
    from . import kernels

    return kernels.fd_from_cffi(fp, vector, m)


def cffi_complex(f):
    """Whether ``f`` is a cffi function pointer over ``double _Complex`` (complex step;
    only the C loops can call it: neither Numba nor Python's libffi take complex)."""
    ctype = cffi_ctype(f)
    return ctype is not None and bool(ctype.args) and "complex" in ctype.args[0].cname


def c_value(f, m=0):
    """A real cffi ``f`` at one point, called through cffi (the C backend's view)."""
    return _backend.resolve("c").fd_value(f, m)


def _only_complex(*_):
    raise TypeError("f is a cffi function over double _Complex: it supports "
                    "method='complex' only")


def compiled_kind(f):
    """"njit" for an ``@njit`` f, "cffi" for a cffi function pointer, else None."""
    numba = sys.modules.get("numba")
    if numba is not None and isinstance(f, numba.core.registry.CPUDispatcher):
        return "njit"
    return "cffi" if cffi_ctype(f) is not None else None


def compiled(f, vector=False, m=0):
    """``f`` as an ``@njit`` function (itself, or a wrapped cffi pointer), or None."""
    numba = sys.modules.get("numba")  # an @njit f means Numba is imported already
    if numba is not None and isinstance(f, numba.core.registry.CPUDispatcher):
        return f
    ctype = cffi_ctype(f)
    if ctype is None:
        return None
    is_vector = ctype.result.cname == "void"
    if is_vector != vector:
        want = "a vector" if vector else "a scalar"
        raise TypeError(f"f is a cffi function of type {ctype.cname!r}; here f must be "
                        f"{want} function")
    address = int(_ffi().cast("uintptr_t", f))
    return _cffi_wrapper(address, vector, m if vector else 0, f)


def at_one_point(f):
    """A vectorized ``f`` as a function of one point (a column of one)."""
    def one(y, *args):
        return reference.fd.vectorized_values(f, y[:, None], args)[0]
    return one


def drivers(f, fc, *, workers, executor, backend, vectorized=False):
    """(drivers, steps module, chunk count) for ``f`` (``fc``: its compiled form or None)."""
    if vectorized:
        return reference.fd_drivers(f, vectorized=True), reference, 1
    name = _backend.get_backend() if backend is None else backend
    if backend is not None or fc is not None:
        _backend.resolve(name)  # unknown or unavailable backends raise here
    callable_f = f if fc is None else fc
    if executor is not None:
        return reference.fd_drivers(callable_f, mapper=executor.map), reference, 1
    if fc is not None and cffi_complex(f):
        if backend not in (None, "c"):
            raise TypeError(f"f is a cffi function over double _Complex: only the C loops "
                            f"call it (backend='c' or None), got backend={backend!r}")
        c_drivers = _backend.resolve("c").fd_drivers(f)
        real = ("gradient", "hessian", "jacobian", "jacobian_grouped", "hessian_grouped")
        return {**dict.fromkeys(real, _only_complex), **c_drivers}, reference, 1
    if fc is None or name == "numpy":
        return reference.fd_drivers(callable_f), reference, 1
    import numba

    from . import kernels

    # one chunk of columns per thread: more chunks than threads only cost copies of x
    workers = min(workers, numba.config.NUMBA_NUM_THREADS)
    compiled_drivers = kernels.fd_drivers(fc, workers > 1)
    if name == "c" and fc is not f:
        # a cffi f on the "c" backend: C loops call it (real steps; the complex step,
        # which C cannot take, stays with the Numba drivers and reports that)
        c_drivers = _backend.resolve("c").fd_drivers(f)
        return {**compiled_drivers, **c_drivers}, kernels, 1
    return compiled_drivers, kernels, workers


def typing_error():
    """Numba's TypingError, or an exception nothing raises when Numba is not imported
    (then no driver is compiled)."""
    numba = sys.modules.get("numba")
    return numba.core.errors.TypingError if numba is not None else _NeverRaised


class _NeverRaised(Exception):
    pass


def run(driver, *a, workers=1):
    """Call a driver; on ``workers`` Numba threads when > 1; compile errors -> TypeError."""
    try:
        if workers > 1:
            import numba

            previous = numba.get_num_threads()
            numba.set_num_threads(min(workers, numba.config.NUMBA_NUM_THREADS))
            try:
                return driver(*a)
            finally:
                numba.set_num_threads(previous)
        return driver(*a)
    except typing_error() as exc:
        raise TypeError(f"f cannot be called by the compiled difference loop with these "
                        f"arguments (scalar f for gradient/hessian, 1-D array f for jacobian; "
                        f"complex input for method='complex'): {str(exc).splitlines()[0]}"
                        ) from None


# ------------------------------------------------------------------ steps

@functools.lru_cache(maxsize=64)
def _constant(n, value):
    a = np.full(n, value)
    a.flags.writeable = False
    return a


def is_auto(step):
    """Whether ``step`` asks for noise-aware steps; other strings are errors."""
    if isinstance(step, str):
        if step != "auto":
            raise TypeError(f"step must be a positive number, an array of them or 'auto', "
                             f"got {step!r}")
        return True
    return False


def step_spec(step, n, rule):
    """(hs, relative): relative ``rule`` when ``step`` is None, else absolute steps."""
    if step is None:
        return _constant(n, rule), True
    s = np.asarray(step)
    if s.dtype.kind not in "iuf":
        raise TypeError(f"step must be a positive number or array, got {step!r}")
    if s.ndim > 1 or (s.ndim == 1 and s.shape != (n,)):
        raise ValueError(f"step must be a scalar or of shape ({n},), got shape {s.shape}")
    s = np.broadcast_to(s.astype(np.float64), (n,))
    if not (np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError(f"step must be positive and finite, got {step!r}")
    return np.ascontiguousarray(s), False


def box(bounds, n):
    """(lo, hi) arrays of shape (n,); unbounded when ``bounds`` (or a side, or an entry
    of a side) is None."""
    if bounds is None:
        return _constant(n, -np.inf), _constant(n, np.inf)
    try:
        lo, hi = bounds
    except (TypeError, ValueError):
        raise TypeError(f"bounds must be a pair (lo, hi), got {bounds!r}") from None
    out = []
    for name, b, side in (("lo", lo, -np.inf), ("hi", hi, np.inf)):
        # None means unbounded, on the whole side or per component (as in scipy)
        try:
            b = np.array([side if v is None else v for v in b] if isinstance(b, (list, tuple))
                         else (side if b is None else b), dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"bounds {name} must be a number, None or an array of numbers, "
                            f"got {b!r:.60}") from None
        if b.ndim > 1 or (b.ndim == 1 and b.shape != (n,)):
            raise ValueError(f"bounds {name} must be a scalar or of shape ({n},), "
                             f"got shape {b.shape}")
        if np.isnan(b).any():
            raise ValueError(f"bounds {name} must not contain NaN")
        out.append(np.ascontiguousarray(np.broadcast_to(b, (n,))))
    empty = np.flatnonzero(out[0] >= out[1])
    if empty.size:
        j = empty[0]
        raise ValueError(f"bounds must satisfy lo < hi, got lo[{j}] = {out[0][j]} and "
                         f"hi[{j}] = {out[1][j]}")
    return tuple(out)


def check_inside(lo, hi, x):
    """ValueError unless lo <= x <= hi."""
    outside = np.flatnonzero((x < lo) | (x > hi))
    if outside.size:
        j = outside[0]
        raise ValueError(f"x must lie inside bounds: x[{j}] = {x[j]} is outside "
                         f"[{lo[j]}, {hi[j]}]")


#: a step within this many ulps of x leaves a difference quotient of rounding only
MIN_STEP_ULPS = 256


def steps(backend_kernels, x, hs, relative, lo, hi, code):
    """(h, stencil, need_f0) for every component; a ValueError when the bounds leave a
    component no room for a step that the rounding of ``x + h`` does not swamp."""
    h = np.empty(x.size)
    stencil = np.empty(x.size, np.int8)
    need_f0 = backend_kernels.fd_steps(x, hs, relative, lo, hi, code, h, stencil)
    if need_f0 and relative:  # one-sided or shrunk steps: a box may leave them no room
        tiny = np.flatnonzero(np.abs(h) < MIN_STEP_ULPS * np.spacing(np.abs(x)))
        if tiny.size:
            j = tiny[0]
            raise ValueError(f"the step of component {j} underflowed: the bounds "
                             f"[{lo[j]!r}, {hi[j]!r}] leave x[{j}] = {x[j]!r} room for a step "
                             f"of {abs(h[j]):.3g} only, under {MIN_STEP_ULPS} ulps of x[{j}]; "
                             f"widen the bounds or give a larger step")
    return h, stencil, need_f0


# ------------------------------------------------------------------ extrapolation

def richardson(estimate, powers, noise=None):
    """Extrapolate ``estimate(k)``, the difference at step h / RATIO**k, k < STEPS.

    Each run of LEVELS consecutive steps is extrapolated (``powers(level)``: the error
    exponent cancelled at ``level``; 2, 4, 6 for central differences, an array when it
    varies per entry); per entry the run with the smallest error estimate wins.  The
    estimate is the change made by the run's last extrapolation, plus ``noise(k)``
    (the caller's bound on the rounding error of the difference at step k, ~ eps |f| / h)
    at the run's finest step, plus ``16 eps |value|``; a run with non-finite values has
    an infinite estimate.  Returns (value, error).
    """
    table = np.stack([estimate(k) for k in range(STEPS)])
    for level in range(LEVELS - 1):
        factor = RATIO ** powers(level)
        previous = table
        # all runs at once: row k of the new table extrapolates rows k, k + 1
        table = (factor * table[1:] - table[:-1]) / (factor - 1.0)
    error = np.abs(table - previous[1:]) + 16.0 * EPS * np.abs(table)
    if noise is not None:
        error += np.stack([noise(k) for k in range(LEVELS - 1, STEPS)])
    # a run that met a non-finite value (f undefined that far from x) never wins
    error = np.where(np.isfinite(error), error, np.inf)
    best = np.argmin(error, axis=0)[None]
    return (np.take_along_axis(table, best, axis=0)[0],
            np.take_along_axis(error, best, axis=0)[0])
