"""First-order update rules as objects with ``init``/``step`` on a flat vector: ``pk.optim``.

``pk.train`` and ``pk.minimize(method="adam")`` (etc.) drive these same objects, so a
hand-written loop::

    opt = pk.optim.Adam(lr=1e-3)
    state = opt.init(theta)
    for _ in range(n):
        theta, state = opt.step(theta, grad(theta), state)

follows exactly the trajectory of ``pk.minimize(fun, theta, jac=grad, method="adam",
options={"lr": 1e-3})``.  The work is one compiled update kernel per step
(:mod:`pykernels.kernels.optim`), no per-parameter Python loop.
"""


import numpy as np

from . import _backend
from ._checks import all_finite, float_array, positive_int, real

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam", "OPTIMIZERS",
           "copy_state"]


def copy_state(state):
    """A copy of an optimizer's state (its arrays copied, the step count kept).

    Parameters
    ----------
    state : dict

    Returns
    -------
    dict
    """
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}


#: state["step"] is a 64-bit count in the kernels (incremented before each update)
_MAX_STEP = 2**63 - 1


def _rate(value, name, *, upper=None):
    """A finite float > 0, or in [0, ``upper``) when ``upper`` is given."""
    if upper is None:
        return real(value, name, low=0.0, low_open=True)
    return real(value, name, low=0.0, high=upper, high_open=True)


class _Optimizer:
    """Base class: ``init`` makes the state, ``step`` applies one update in place.

    The state is a dict: ``"step"`` (number of updates done, an int) and one array
    per entry of ``_slots`` (shape and dtype of ``theta``).  It holds only arrays and
    an int, so it can be written to an ``.npz`` file and read back.
    """

    _slots = ()
    _nonnegative = ()  # slots that only ever hold values >= 0 (sums of squares)
    _kernel = ""

    def __init__(self, lr, backend=None):
        self.lr = _rate(lr, "lr")
        self.backend = backend

    def _hyper(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in {"lr": self.lr, **self._hyper()}.items())
        return f"{type(self).__name__}({args})"

    def init(self, theta):
        """Fresh state for parameters shaped like ``theta``.

        Parameters
        ----------
        theta : ndarray, shape (n,)

        Returns
        -------
        dict
            ``{"step": 0, <slot>: zeros_like(theta), ...}``.
        """
        theta = float_array(theta, "theta", ndim=1, finite=False)
        return {"step": 0, **{slot: np.zeros_like(theta) for slot in self._slots}}

    def step(self, theta, grad, state, *, lr=None):
        """One update: ``theta`` and ``state`` are changed in place and returned.

        Parameters
        ----------
        theta : ndarray, shape (n,)
            C-contiguous, writeable float32/float64 parameters.
        grad : array_like, shape (n,)
            Gradient at ``theta``.
        state : dict
            From :meth:`init` (or a previous ``step``).
        lr : float, optional
            Learning rate of this step (a schedule); default ``self.lr``.

        Returns
        -------
        theta, state

        Raises
        ------
        TypeError, ValueError
            On a ``theta``, ``grad``, ``state`` or ``lr`` that does not fit (see
            :meth:`check_state`), a ``grad`` holding NaN or Inf; every backend checks
            the same way, before any update.  After an update that overflowed (theta
            or the state holds Inf: a step or a squared gradient beyond the float
            range), a ValueError says so; theta and the state then hold that update.
        """
        if not (isinstance(theta, np.ndarray) and theta.ndim == 1 and theta.flags.c_contiguous
                and theta.flags.writeable and theta.dtype in (np.float32, np.float64)):
            raise TypeError("theta must be a writeable, C-contiguous 1-D float32/float64 "
                            f"array (it is updated in place), got {type(theta).__name__}")
        grad = float_array(grad, "grad", dtype=theta.dtype, ndim=1)
        if grad.shape != theta.shape:
            raise ValueError(f"grad must have shape {theta.shape} like theta, got {grad.shape}")
        self.check_state(state, theta)
        lr = self.lr if lr is None else _rate(lr, "lr")
        self._apply(_backend.resolve(self.backend), theta, grad, state, lr)
        for key, value in (("theta", theta), *((f"state[{s!r}]", state[s]) for s in self._slots)):
            if not all_finite(value):
                raise ValueError(
                    f"the update overflowed: {key} holds Inf after this step (grad up to "
                    f"{float(np.max(np.abs(grad))):.3g}, lr = {lr:g}); a running sum of "
                    "squared gradients overflows beyond |grad| ~ 1e154 in float64 (1e19 in "
                    "float32): scale the objective or lower lr")
        return theta, state

    def check_state(self, state, theta):
        """Raise unless ``state`` is what :meth:`init` makes for ``theta``.

        Parameters
        ----------
        state : dict
        theta : ndarray, shape (n,)

        Raises
        ------
        TypeError
            ``state`` not a dict, ``state["step"]`` not an integer, a slot not an
            array of theta's dtype.
        ValueError
            A missing entry, a step < 0 or >= 2**63 - 1, a slot of another shape, one
            that is read-only or not C-contiguous (the update writes it in place), or
            one whose values no update makes (see :meth:`check_slot`).

        Returns
        -------
        dict
            ``state``.
        """
        hint = f"; make the state with {type(self).__name__}.init(theta)"
        if not isinstance(state, dict):
            raise TypeError(f"state must be the dict made by init(theta), got "
                            f"{type(state).__name__}")
        for key in ("step",) + self._slots:
            if key not in state:
                raise ValueError(f"state[{key!r}] is missing{hint}")
        if positive_int(state["step"], "state['step']", 0) >= _MAX_STEP:
            raise ValueError(f"state['step'] must be < 2**63 - 1 (a 64-bit count), got "
                             f"{state['step']}")
        for slot in self._slots:
            value = state[slot]
            if not isinstance(value, np.ndarray) or value.dtype != theta.dtype:
                raise TypeError(f"state[{slot!r}] must be a {theta.dtype} array like theta, "
                                f"got {getattr(value, 'dtype', type(value).__name__)}{hint}")
            if value.shape != theta.shape:
                raise ValueError(f"state[{slot!r}] must have shape {theta.shape} like theta, "
                                 f"got {value.shape}{hint}")
            if not (value.flags.c_contiguous and value.flags.writeable):
                raise ValueError(f"state[{slot!r}] must be a writeable, C-contiguous array "
                                 f"(it is updated in place){hint}")
            self.check_slot(slot, value, f"state[{slot!r}]")
        return state

    def check_slot(self, slot, value, label):
        """Raise unless ``value`` holds what updates put in ``slot``: finite numbers,
        and no negative ones in a running sum of squares (whose square root the
        update takes).

        Parameters
        ----------
        slot : str
            One of the optimizer's state entries (``"m"``, ``"v"``, ...).
        value : ndarray
        label : str
            What to call ``value`` in the error (``"state['v']"``, a file's field).

        Raises
        ------
        ValueError
            Naming ``label``.
        """
        if not all_finite(np.ascontiguousarray(value)):
            raise ValueError(f"{label} holds NaN or Inf")
        if slot in self._nonnegative and (value < 0).any():
            raise ValueError(f"{label} holds negative values (it is a running sum of "
                             "squares)")

    def _apply(self, module, theta, grad, state, lr):
        """The unchecked update (for the training and minimize loops)."""
        state["step"] += 1
        _backend.unchecked(module, self._kernel)(theta, grad, *[state[s] for s in self._slots],
                                                 lr, *self._scalars(state))

    def _scalars(self, state):
        return ()


class SGD(_Optimizer):
    """Plain (stochastic) gradient descent: ``theta -= lr * g``.

    Parameters
    ----------
    lr : float
        Learning rate.
    backend : str, optional
        Kernel backend; None uses the current default.

    Raises
    ------
    TypeError, ValueError
        On a hyper-parameter that is not a finite number in its range, naming it.
    """

    _kernel = "sgd_update"

    def __init__(self, lr=1e-2, *, backend=None):
        super().__init__(lr, backend)


class Momentum(_Optimizer):
    """Heavy-ball momentum: ``v = beta v + g; theta -= lr v``.

    Parameters
    ----------
    lr : float
    beta : float in [0, 1)
    backend : str, optional

    Raises
    ------
    TypeError, ValueError
        On a hyper-parameter that is not a finite number in its range, naming it.
    """

    _slots = ("velocity",)
    _kernel = "momentum_update"

    def __init__(self, lr=1e-2, beta=0.9, *, backend=None):
        super().__init__(lr, backend)
        self.beta = _rate(beta, "beta", upper=1.0)

    def _hyper(self):
        return {"beta": self.beta}

    def _scalars(self, state):
        return (self.beta,)


class Nesterov(Momentum):
    """Nesterov momentum: ``v = beta v + g; theta -= lr (g + beta v)``.

    Parameters
    ----------
    lr, beta, backend
        As for :class:`Momentum`.

    Raises
    ------
    TypeError, ValueError
        On a hyper-parameter that is not a finite number in its range, naming it.
    """

    _kernel = "nesterov_update"


class AdaGrad(_Optimizer):
    """AdaGrad: ``s += g^2; theta -= lr g / (sqrt(s) + eps)``.

    Parameters
    ----------
    lr : float
    eps : float
    backend : str, optional

    Raises
    ------
    TypeError, ValueError
        On a hyper-parameter that is not a finite number in its range, naming it.
    """

    _slots = ("accum",)
    _nonnegative = ("accum",)
    _kernel = "adagrad_update"

    def __init__(self, lr=1e-1, eps=1e-8, *, backend=None):
        super().__init__(lr, backend)
        self.eps = _rate(eps, "eps")

    def _hyper(self):
        return {"eps": self.eps}

    def _scalars(self, state):
        return (self.eps,)


class RMSProp(_Optimizer):
    """RMSProp: ``s = rho s + (1 - rho) g^2; theta -= lr g / (sqrt(s) + eps)``.

    Parameters
    ----------
    lr : float
    rho : float in [0, 1)
    eps : float
    backend : str, optional

    Raises
    ------
    TypeError, ValueError
        On a hyper-parameter that is not a finite number in its range, naming it.
    """

    _slots = ("accum",)
    _nonnegative = ("accum",)
    _kernel = "rmsprop_update"

    def __init__(self, lr=1e-3, rho=0.9, eps=1e-8, *, backend=None):
        super().__init__(lr, backend)
        self.rho = _rate(rho, "rho", upper=1.0)
        self.eps = _rate(eps, "eps")

    def _hyper(self):
        return {"rho": self.rho, "eps": self.eps}

    def _scalars(self, state):
        return (self.rho, self.eps)


class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction.

    Parameters
    ----------
    lr : float
    beta1, beta2 : float in [0, 1)
        Decay rates of the first and second moment estimates.
    eps : float
    backend : str, optional

    Raises
    ------
    TypeError, ValueError
        On a hyper-parameter that is not a finite number in its range, naming it.

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> opt = pk.optim.Adam(lr=0.1)
    >>> theta = np.array([1.0, -2.0]); state = opt.init(theta)
    >>> for _ in range(200):
    ...     theta, state = opt.step(theta, 2 * theta, state)
    >>> bool(np.abs(theta).max() < 0.1)
    True
    """

    _slots = ("m", "v")
    _nonnegative = ("v",)
    _kernel = "adam_update"

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, *, backend=None):
        super().__init__(lr, backend)
        self.beta1 = _rate(beta1, "beta1", upper=1.0)
        self.beta2 = _rate(beta2, "beta2", upper=1.0)
        self.eps = _rate(eps, "eps")

    def _hyper(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _scalars(self, state):
        return (self.beta1, self.beta2, self.eps, float(state["step"]))


#: Name (as in ``pk.train(optimizer=...)`` / ``pk.minimize(method=...)``) -> class.
OPTIMIZERS = {"sgd": SGD, "gd": SGD, "momentum": Momentum, "nesterov": Nesterov,
              "adagrad": AdaGrad, "rmsprop": RMSProp, "adam": Adam}
