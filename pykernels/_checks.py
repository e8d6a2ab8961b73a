"""Input checking shared by the public API: every error names the argument."""

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype, name="dtype"):
    """``dtype`` as float32 or float64, else a TypeError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {dt}")
    return dt


_all_finite_kernel = None


def all_finite(a):
    """True when every entry of the contiguous float array ``a`` is finite.

    Runs the C backend's check when it is built, else the Numba kernel: checking
    input never imports Numba in a process the C backend serves.
    """
    global _all_finite_kernel
    if _all_finite_kernel is None:
        from . import _backend
        _all_finite_kernel = _backend.kernel("all_finite", _backend.automatic_backend())
    return _all_finite_kernel(a.reshape(-1))


def float_array(x, name, *, dtype=None, ndim=None, finite=True, allow_int=False):
    """``x`` as a C-contiguous float array, checked.

    Parameters
    ----------
    x : array_like
    name : str
        The argument's name, used in error messages.
    dtype : numpy dtype, optional
        Cast float32/float64 input to this dtype (None keeps it).
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    finite : bool
        Reject NaN and Inf.
    allow_int : bool
        Accept integer and bool input (converted to ``dtype`` or float64).
    """
    arr = x if type(x) is np.ndarray else np.asarray(x)
    if arr.dtype.kind in "iub" and allow_int:
        arr = arr.astype(dtype or np.float64)
    elif arr.dtype not in FLOAT_DTYPES:
        allowed = "a float32, float64 or integer" if allow_int else "a float32 or float64"
        raise TypeError(f"{name} must be {allowed} array, got dtype {arr.dtype}")
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in dims:
            want = " or ".join(f"{d}-D" for d in dims)
            raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    if not (arr.flags.c_contiguous and (dtype is None or arr.dtype == dtype)):
        arr = np.ascontiguousarray(arr, dtype=dtype)
    if finite and not all_finite(arr):
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(f"{name} must be finite, found {arr[where]} at index {where}")
    return arr


def choice(value, name, options):
    """``value`` if it is one of ``options`` (a dict or sequence), else a ValueError."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
    return value


def positive_int(value, name, minimum=1):
    """``value`` as an int >= ``minimum``, else a TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)
