"""Input checking shared by the public API: every error names the argument and says
what was expected.

One validator per kind of argument -- arrays (:func:`float_array`), names
(:func:`choice`), integers (:func:`positive_int`), real numbers (:func:`real`),
callables (:func:`function`), option dicts (:func:`mapping`), seeds (:func:`seed`),
layer widths (:func:`int_sequence`), flags (:func:`flag`), executors
(:func:`executor`), sizes that must fit in memory (:func:`fits_in_memory`) and what a
user's function returned (:func:`returned_scalar`, :func:`returned_array`) -- so every
public function rejects bad input the same way.
"""

import math
import numbers
import os

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype, name="dtype"):
    """``dtype`` as float32 or float64.

    Parameters
    ----------
    dtype : dtype-like
    name : str

    Returns
    -------
    numpy.dtype

    Raises
    ------
    TypeError
        For any other dtype.
    """
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
    return _all_finite_kernel(a if a.ndim == 1 else a.reshape(-1))


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
    arr = x if type(x) is np.ndarray else as_array(x, name)
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
    """``value`` if it is one of ``options``.

    Parameters
    ----------
    value : object
    name : str
    options : dict or sequence of str

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``value`` is not one of them, listing them.
    """
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
    return value


def l2_penalty(value, name="l2"):
    """``value`` as an L2 penalty's coefficient: a finite float >= 0.

    Parameters
    ----------
    value : object
    name : str

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        As :func:`real`, naming ``name``.
    """
    if type(value) is float and value == 0.0:  # the common case, without the general checks
        return value
    return real(value, name, low=0.0)


def positive_int(value, name, minimum=1):
    """``value`` as an int >= ``minimum``.

    Parameters
    ----------
    value : object
    name : str
    minimum : int

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``value`` is not an integer (bools and floats are not).
    ValueError
        If it is < ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def as_array(x, name):
    """``numpy.asarray(x)``, with a clear error for ragged nested sequences.

    Parameters
    ----------
    x : array_like
    name : str

    Returns
    -------
    ndarray

    Raises
    ------
    ValueError
        If ``x`` is a ragged nested sequence (naming ``name``, not numpy's
        "inhomogeneous shape").
    """
    try:
        return np.asarray(x)
    except ValueError as exc:
        if "inhomogeneous" not in str(exc) and "sequence" not in str(exc):
            raise
        raise ValueError(f"{name} must be a rectangular array (nested sequences of equal "
                         "lengths), got a ragged sequence") from None


def _show(value):
    text = repr(value)
    return type(value).__name__ + (" " + text if len(text) <= 60 else "")


def real(value, name, *, low=None, high=None, low_open=False, high_open=False,
         finite=True):
    """``value`` as a float: a real number (not a bool), finite unless ``finite=False``,
    within ``[low, high]``.

    Parameters
    ----------
    value : object
    name : str
    low, high : float, optional
        Bounds of the range (None: open on that side).
    low_open, high_open : bool
        Exclude that end.
    finite : bool
        Refuse +-Inf (NaN is always refused).

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is NaN, infinite (with ``finite``) or out of range; the message names
        ``name`` and the range expected.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_show(value)}")
    value = float(value)
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if np.isnan(value) or (finite and np.isinf(value)) or below or above:
        if low is not None and high is not None:
            where = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            where = f" {'>' if low_open else '>='} {low:g}"
        elif high is not None:
            where = f" {'<' if high_open else '<='} {high:g}"
        else:
            where = ""
        raise ValueError(f"{name} must be a {'finite ' if finite else ''}number{where}, "
                         f"got {value!r}")
    return value


def function(value, name, *, optional=False):
    """``value`` if it is callable (or None with ``optional``).

    Parameters
    ----------
    value : object
    name : str
    optional : bool

    Returns
    -------
    callable or None

    Raises
    ------
    TypeError
        Otherwise, naming ``name`` and the type given.
    """
    if callable(value) or (optional and value is None):
        return value
    raise TypeError(f"{name} must be callable{' or None' if optional else ''}, "
                    f"got {_show(value)}")


def mapping(value, name):
    """``value`` (a dict-like, or None meaning empty) as a new dict.

    Parameters
    ----------
    value : dict-like or None
    name : str

    Returns
    -------
    dict

    Raises
    ------
    TypeError
        If ``value`` is not a dict-like (e.g. a list of names).
    """
    if value is None:
        return {}
    if not isinstance(value, dict) and not (hasattr(value, "keys")
                                            and hasattr(value, "__getitem__")):
        raise TypeError(f"{name} must be a dict of name -> value, got {_show(value)}")
    return dict(value)


def seed(value, name="seed"):
    """A seed for ``numpy.random.default_rng``.

    Parameters
    ----------
    value : None, int >= 0, SeedSequence, Generator or BitGenerator
    name : str

    Returns
    -------
    object
        ``value`` (an int as a Python int).

    Raises
    ------
    TypeError
        For any other kind of value.
    ValueError
        For a negative integer.
    """
    if value is None or isinstance(value, (np.random.SeedSequence, np.random.Generator,
                                           np.random.BitGenerator)):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be None, an integer >= 0 or a "
                        f"numpy.random.SeedSequence, got {_show(value)}")
    if value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value}")
    return int(value)


def int_sequence(value, name, *, min_len=1, minimum=1):
    """A list, tuple or 1-D integer array as a list of ints.

    Sets and dicts are refused: their order is not the caller's.

    Parameters
    ----------
    value : list, tuple or 1-D ndarray of int
    name : str
    min_len : int
        Fewest entries.
    minimum : int
        Smallest entry.

    Returns
    -------
    list of int

    Raises
    ------
    TypeError
        Not a list/tuple/1-D array, or an entry not an integer (``name[i]``).
    ValueError
        Too few entries, or an entry < ``minimum`` (``name[i]``).
    """
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {value.shape}")
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple of integers, got {_show(value)}")
    if len(value) < min_len:
        raise ValueError(f"{name} must have at least {min_len} entries, got {list(value)}")
    return [positive_int(v, f"{name}[{i}]", minimum) for i, v in enumerate(value)]


def returned_scalar(value, name):
    """What a user's function ``name`` returned, as a float.

    Parameters
    ----------
    value : object
        A real number, or an array (or nested sequence) of one real entry.
    name : str
        The function, e.g. ``"fun"``.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        For None, a string, a complex number or another kind of object.
    ValueError
        For an array of another size (or a ragged sequence).
    """
    if isinstance(value, float):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (np.ndarray, list, tuple)):
        arr = as_array(value, f"the value returned by {name}")
        if arr.dtype.kind in "fiu":
            if arr.size != 1:
                raise ValueError(f"{name} must return a scalar, got an array of shape "
                                 f"{arr.shape}")
            return float(arr.reshape(()))
    raise TypeError(f"{name} must return a real number, got {_show(value)}")


def returned_array(value, name, shape, *, exact=False):
    """What a user's function ``name`` returned, as a float64 array of ``shape``.

    Parameters
    ----------
    value : object
        An array or (nested) sequence of real numbers.
    name : str
        The function, e.g. ``"jac"``.
    shape : tuple of int
        The shape expected; with ``exact=False`` any shape of that many entries is
        reshaped to it (``(n, 1)`` for ``(n,)``).
    exact : bool
        Require exactly ``shape``.

    Returns
    -------
    ndarray of float64
        A new array when ``value`` was not one already (NaN/Inf are the caller's to
        judge).

    Raises
    ------
    TypeError
        For None, strings, booleans, complex or other objects (numbers that are not
        real, or no numbers at all).
    ValueError
        For a ragged sequence or an array of another shape.
    """
    arr = as_array(value, f"the value returned by {name}")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must return a real array of shape {shape}, got "
                        f"{_described(value, arr)}")
    if arr.shape != shape and (exact or arr.size != math.prod(shape)):
        raise ValueError(f"{name} must return an array of shape {shape}, got shape "
                         f"{arr.shape}")
    return np.asarray(arr, dtype=np.float64).reshape(shape)


def _described(value, arr):
    if isinstance(value, np.ndarray):
        return f"an array of dtype {arr.dtype}"
    return _show(value) if arr.ndim == 0 else f"a {type(value).__name__} of {arr.dtype} entries"


def flag(value, name):
    """``value`` as a bool: only True or False (NumPy's too) -- a string such as "no"
    is not read as its truth value.

    Parameters
    ----------
    value : object
    name : str

    Returns
    -------
    bool

    Raises
    ------
    TypeError
        For anything else, naming ``name``.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {_show(value)}")


def executor(value, name="executor", methods=("submit", "map")):
    """``value`` if it is None or an executor: an object with ``methods``
    (``concurrent.futures.Executor`` and ``dask.distributed.Client`` have both).

    Parameters
    ----------
    value : object
    name : str
    methods : tuple of str
        The methods the caller uses.

    Returns
    -------
    object

    Raises
    ------
    TypeError
        Otherwise, naming ``name``.
    """
    if value is None or all(callable(getattr(value, m, None)) for m in methods):
        return value
    raise TypeError(f"{name} must be a concurrent.futures.Executor (with "
                    f"{' and '.join(methods)}) or None, got {_show(value)}")


def physical_memory():
    """Bytes of memory of this machine, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def fits_in_memory(count, itemsize, name, what):
    """Raise unless ``count`` entries of ``itemsize`` bytes fit in this machine's
    memory: a size from an argument (or a file) must give a clear error, not an
    allocation that fails, swaps or wakes the OOM killer.

    Parameters
    ----------
    count : int
        Entries the argument asks for.
    itemsize : int
        Bytes per entry.
    name : str
        The argument, e.g. ``"options['popsize']"``.
    what : str
        What would be allocated, e.g. ``"a population of 10**9 points of 2"``.

    Raises
    ------
    ValueError
        Naming ``name``, the size asked for and the machine's memory.
    """
    memory = physical_memory()
    if memory is not None and count * itemsize > memory:
        raise ValueError(f"{name} asks for {what}: {count * itemsize / 2**30:.3g} GiB, "
                         f"more than this machine's {memory / 2**30:.1f} GiB of memory")


def scaled_weights(sw, top):
    """Sample weights ``sw`` times the power of two that brings their largest entry
    ``top`` (positive, finite) into [0.5, 1).

    The weighted mean they define does not change (the scaling is exact), and neither
    the weights' sum (huge weights) nor 1 / sum (tiny ones) can overflow.

    Parameters
    ----------
    sw : ndarray or dask array
        Of a float dtype.
    top : float
        ``sw.max()``.

    Returns
    -------
    array of the kind and dtype of ``sw``
    """
    return np.ldexp(sw, -int(np.frexp(float(top))[1]))
