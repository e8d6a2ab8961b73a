"""Backend dispatch: one registry from backend name to the module of its kernels.

Every backend module exposes the same kernel functions (same names, same argument
order, outputs last), so a call site asks :func:`kernel` for a function by name and
never branches on the backend.  Adding a backend is one entry in ``_MODULES``.

The default backend is ``"c"`` when the C extension is built -- it was compiled at
install, so a fresh process answers its first call without compiling anything and
without importing Numba -- else ``"numba"``.  ``PYKERNELS_BACKEND``,
:func:`set_backend`, :func:`use_backend` and ``backend=`` always mean exactly the
backend they name.
"""

import contextlib
import contextvars
import importlib
import os

__all__ = ["BackendUnavailable", "backends", "get_backend", "set_backend", "use_backend"]

_MODULES = {
    "numba": "pykernels.kernels",
    "c": "pykernels._cbackend",
    "numpy": "pykernels.reference",
}
_HOW_TO_BUILD = {
    "numba": "install numba: pip install numba",
    "c": ("reinstall pykernels with a C compiler and BLAS available "
          "(pip install -e . --no-build-isolation -v shows the build log)"),
}


class BackendUnavailable(RuntimeError):
    """Raised when a backend is requested that this install cannot use."""


_loaded = {}
_errors = {}


def _load(name):
    """Import a backend's module once; remember why it failed if it does."""
    if name not in _loaded and name not in _errors:
        try:
            module = importlib.import_module(_MODULES[name])
            check = getattr(module, "available", None)
            if check is not None:
                check()
            _loaded[name] = module
        except Exception as exc:  # ImportError, OSError from a missing shared library, ...
            _errors[name] = f"{type(exc).__name__}: {exc}"
    return _loaded.get(name)


def _check_name(name):
    if not isinstance(name, str) or name not in _MODULES:
        raise ValueError(f"backend must be one of {sorted(_MODULES)}, got {name!r}")


def backends():
    """Backends usable in this install, in order of preference.

    Returns
    -------
    list of str
        A subset of ``["numba", "c", "numpy"]``; ``"numpy"`` is always there.
    """
    return [name for name in _MODULES if _load(name) is not None]


def automatic_backend():
    """The backend chosen when nothing names one: ``"c"`` when built, else ``"numba"``.

    Returns
    -------
    str
    """
    return "c" if _load("c") is not None else "numba"


def _require(name):
    try:
        module = _loaded.get(name)
    except TypeError:  # unhashable, e.g. backend=["c"]: not a name (_check_name says so)
        module = None
    if module is not None:
        return module
    _check_name(name)
    module = _load(name)
    if module is None:
        raise BackendUnavailable(
            f"backend {name!r} is not available: {_errors[name]}; "
            f"to build it, {_HOW_TO_BUILD.get(name, 'reinstall pykernels')}")
    return module


_current = contextvars.ContextVar("pykernels_backend", default=None)
_global_default = None


def get_backend():
    """The backend used when a call passes ``backend=None``.

    Returns
    -------
    str
        Set by :func:`set_backend` / :func:`use_backend`, otherwise by the
        environment variable ``PYKERNELS_BACKEND`` (read once, at the first
        call), otherwise :func:`automatic_backend`: ``"c"`` when the C extension is
        built, else ``"numba"``.
    """
    global _global_default
    name = _current.get()
    if name is None:
        if _global_default is None:
            name = os.environ.get("PYKERNELS_BACKEND") or automatic_backend()
            _check_name(name)
            _global_default = name
        name = _global_default
    return name


def set_backend(name):
    """Make ``name`` the default backend of this process.

    Parameters
    ----------
    name : {"numba", "c", "numpy"}

    Raises
    ------
    ValueError
        If ``name`` is not a known backend.
    BackendUnavailable
        If it is known but not usable in this install (the message says why).
    """
    global _global_default
    _require(name)
    _global_default = name


@contextlib.contextmanager
def use_backend(name):
    """Context manager: use backend ``name`` inside the ``with`` block.

    The choice is per thread (and per asyncio task): other threads keep theirs.

    Parameters
    ----------
    name : {"numba", "c", "numpy"}

    Raises
    ------
    ValueError, BackendUnavailable
        As :func:`set_backend`.

    Examples
    --------
    >>> import pykernels as pk
    >>> with pk.use_backend("numpy"):
    ...     pk.get_backend()
    'numpy'
    """
    _require(name)
    token = _current.set(name)
    try:
        yield name
    finally:
        _current.reset(token)


def resolve(backend=None):
    """The backend module for ``backend`` (None: the current default)."""
    return _require(get_backend() if backend is None else backend)


def kernel(name, backend=None):
    """Kernel function ``name`` of ``backend`` (None: the current default)."""
    return getattr(resolve(backend), name)


_UNCHECKED = {}  # (backend module, kernel name) -> the kernel without re-checks


def unchecked(module, name):
    """Kernel ``name`` of backend ``module`` for a caller that checked its arguments:
    the module's ``unchecked(name)`` where it has one (the C backend, whose kernel-level
    functions check every buffer again), else the kernel itself.  Looked up once."""
    kernel = _UNCHECKED.get((module, name))
    if kernel is None:
        own = getattr(module, "unchecked", None)
        kernel = _UNCHECKED[module, name] = getattr(module, name) if own is None else own(name)
    return kernel


_OWN_BIND = {}  # backend module -> its own ``bind`` or None


def bind(module, name, sizes, codes, work, theta):
    """The network kernel ``name`` of backend ``module`` with what stays the same
    between a network's calls bound: its layer ``sizes``, activation and loss ``codes``,
    its workspace ``work`` (large enough for every batch it is called with) and its own
    parameter vector ``theta``; for :class:`pykernels.MLP`, whose arrays are made as the
    kernels take them (C-contiguous, writeable, of the network's dtype and shapes) and
    are not checked again.

    Returns
    -------
    callable
        For ``name``:

        * ``mlp_predict``: ``(theta, X, out) -> finite``;
        * ``mlp_loss``: ``(theta, X, Y, sw, scale, l2) -> value``;
        * ``mlp_loss_and_grad``: ``(theta, X, Y, sw, scale, l2, grad) -> (value, finite)``;
        * ``mlp_hvp``, ``mlp_gnvp``: ``(theta, X, Y, sw, scale, l2, v, out) -> (value,
          finite)``;
        * ``mlp_jacobian``: ``(theta, X, out, wrt_params) -> finite``;

        ``value`` is the loss, ``finite`` whether the array written holds no NaN or
        Inf.  A backend
        module with a ``bind`` of its own (the C backend: pointers made once) provides
        it; for the others the kernel is called as it is.
    """
    if module not in _OWN_BIND:
        _OWN_BIND[module] = getattr(module, "bind", None)  # once: a miss costs an import
    own = _OWN_BIND[module]
    if own is not None:
        return own(name, sizes, codes, work, theta)
    kernel, finite = getattr(module, name), module.all_finite
    hidden, output, loss = codes
    if name == "mlp_predict":
        def run(theta, X, out):
            kernel(theta, sizes, hidden, output, X, work, out)
            return finite(out.reshape(-1))
    elif name == "mlp_jacobian":
        def run(theta, X, out, wrt_params):
            kernel(theta, sizes, hidden, output, X, work, out, wrt_params)
            return finite(out.reshape(-1))
    elif name == "mlp_loss":
        def run(theta, X, Y, sw, scale, l2):
            return kernel(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, work)
    elif name == "mlp_loss_and_grad":
        def run(theta, X, Y, sw, scale, l2, grad):
            value = kernel(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, work, grad)
            return value, finite(grad)
    else:  # mlp_hvp, mlp_gnvp
        def run(theta, X, Y, sw, scale, l2, v, out):
            value = kernel(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, work, out)
            return value, finite(out)
    return run
