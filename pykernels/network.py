"""Multilayer perceptrons on one flat parameter vector: ``pk.MLP``."""

import math
import os
import stat
import tempfile
import threading

import numpy as np

from . import _backend
from ._checks import (all_finite, as_array, choice, fits_in_memory, float_array, float_dtype,
                      int_sequence, l2_penalty, scaled_weights)
from ._checks import seed as check_seed

__all__ = ["MLP"]

ACTIVATIONS = {"identity": 0, "tanh": 1, "relu": 2, "sigmoid": 3}
OUTPUTS = {"identity": 0, "tanh": 1, "sigmoid": 3, "softmax": 4, "exp": 5}
LOSSES = {"mse": 0, "l1": 1, "huber": 2, "cross_entropy": 3, "poisson": 4}
#: The outputs a loss needs (a loss not listed takes every output).
LOSS_OUTPUTS = {"cross_entropy": ("softmax", "sigmoid"), "poisson": ("exp",)}
_PRODUCTS = {"mlp_hvp": "the Hessian-vector product", "mlp_gnvp": "the Gauss-Newton product"}
_FILE_FORMAT = "pykernels.MLP"
_FILE_VERSION = 1
_FILE_KEYS = {"format", "version", "sizes", "activation", "output", "loss", "theta"}


#: The most parameters a network may have: BLAS takes 32-bit sizes (scipy-openblas32).
MAX_PARAMETERS = 2**31 - 1


def _parameter_count(sizes, dtype):
    """Entries of theta for the layer widths ``sizes`` (a list of ints >= 1); a
    ValueError naming ``sizes`` when they cannot fit (see :class:`MLP`)."""
    count = sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    if max(sizes) > MAX_PARAMETERS or count > MAX_PARAMETERS:
        raise ValueError(f"sizes {sizes} give {count} parameters; a network has at most "
                         f"2**31 - 1 = {MAX_PARAMETERS} and layers at most that wide (BLAS "
                         "takes 32-bit sizes)")
    fits_in_memory(count, np.dtype(dtype).itemsize, f"sizes {sizes}",
                   f"{count} parameters of {np.dtype(dtype).name}")
    return count


# x87 extended precision where NumPy has it (exponents to 1e4932), for _extended
_EXTENDED = (np.longdouble if np.finfo(np.longdouble).maxexp > np.finfo(np.float64).maxexp
             else None)


def _writeable(a):
    """``a``, or a copy of it where it is read-only: the Numba kernels are compiled once
    per dtype, for C-contiguous writeable arrays (a read-only argument would be another
    specialisation to compile)."""
    return a if a.flags.writeable else a.copy()


def _ready(a, dtype, ndim):
    """Whether ``a`` is an array as the kernels take it already: an ndarray of ``dtype``
    with ``ndim`` dimensions, C-contiguous and writeable (the check of a repeated call)."""
    if type(a) is not np.ndarray or a.ndim != ndim or a.dtype != dtype:
        return False
    flags = a.flags
    return flags.c_contiguous and flags.writeable


#: The kernels whose workspace is an R-operator one (rop_workspace_size, zero-filled).
_ROP_KERNELS = ("mlp_hvp", "mlp_gnvp", "mlp_jacobian")


class MLP:
    """A multilayer perceptron y = G_L(W_L ... G(W_1 x + b_1) ... + b_L).

    Parameters
    ----------
    sizes : list or tuple of int
        Layer widths ``[n_in, n_hidden..., n_out]`` (at least two entries, each >= 1).
        The network may have at most :data:`MAX_PARAMETERS` = 2**31 - 1 parameters
        (BLAS takes 32-bit sizes), and theta must fit in the machine's physical
        memory.
    activation : {"tanh", "relu", "sigmoid", "identity"}
        Activation G of the hidden layers.
    output : {"identity", "sigmoid", "softmax", "tanh", "exp"}
        Activation of the last layer (``"exp"``: a = exp(z), the mean of a Poisson
        regression; it takes every elementwise loss).
    loss : {"mse", "l1", "huber", "cross_entropy", "poisson"}
        Loss, a mean over the batch (and, for the elementwise losses -- all but
        softmax cross-entropy -- over the outputs, as ``torch.nn.functional`` with
        ``reduction="mean"``); sample weights and an L2 penalty are arguments of the
        evaluation methods.  Huber uses delta = 1.  ``cross_entropy`` needs a
        ``softmax`` output (categorical: integer labels or one-hot rows) or a
        ``sigmoid`` output (binary: targets in [0, 1]).  ``poisson`` needs the
        ``exp`` output and targets y >= 0: it is half the Poisson deviance,
        ``y log(y / mu) - y + mu`` with ``mu = exp(z)`` (0 log 0 = 0), computed from
        z; scikit-learn's ``MLPRegressor(loss="poisson")`` sums it over the outputs
        where this is a mean.
    dtype : {numpy.float64, numpy.float32}
        Dtype of the parameters and of every computation.
    seed : int or None
        Seed of the initialisation: Glorot-uniform weights for tanh/sigmoid/identity
        layers, He-normal for relu layers, zero biases.

    Raises
    ------
    TypeError
        ``sizes`` not a list/tuple of integers (a set has no order), a ``dtype``
        other than float32/float64, a ``seed`` that is not an integer.
    ValueError
        Fewer than two sizes, a size < 1, more parameters than fit (see ``sizes``),
        an unknown ``activation``/``output``/``loss`` or a cross-entropy loss without
        a softmax or sigmoid output, a negative ``seed``.

    Attributes
    ----------
    theta : ndarray, shape (size,)
        All parameters in one flat vector: for each layer its weight matrix
        ``W`` (n_out, n_in) row-major, then its bias ``b`` (n_out,).
    layers : list of (W, b)
        Views into ``theta``; writing to them changes ``theta``.
    size : int
        ``theta.size``.

    Examples
    --------
    >>> import numpy as np, pykernels as pk
    >>> net = pk.MLP([2, 16, 1], activation="tanh", seed=0)
    >>> X = np.random.default_rng(0).standard_normal((8, 2))
    >>> loss, grad = net.loss_and_grad(X, X[:, :1] * X[:, 1:])
    >>> grad.shape == net.theta.shape
    True
    """

    def __init__(self, sizes, activation="tanh", output="identity", loss="mse",
                 dtype=np.float64, seed=0):
        self.dtype = float_dtype(dtype)
        sizes = int_sequence(sizes, "sizes", min_len=2)
        n_theta = _parameter_count(sizes, self.dtype)
        self.sizes = np.array(sizes, dtype=np.int64)
        self.activation = choice(activation, "activation", ACTIVATIONS)
        self.output = choice(output, "output", OUTPUTS)
        self.loss_name = choice(loss, "loss", LOSSES)
        if loss == "cross_entropy" and output not in LOSS_OUTPUTS[loss]:
            raise ValueError("loss='cross_entropy' needs output='softmax' (categorical) or "
                             f"output='sigmoid' (binary), got output={output!r}")
        if loss == "poisson" and output not in LOSS_OUTPUTS[loss]:
            raise ValueError("loss='poisson' needs output='exp' (the Poisson mean "
                             f"exp(z)), got output={output!r}")
        seed = check_seed(seed)
        self._codes = (ACTIVATIONS[activation], OUTPUTS[output], LOSSES[loss])
        # the kernels sum a row's loss over its outputs (softmax cross-entropy has one
        # per row): the mean divides by this many outputs per row
        self._row_terms = 1 if loss == "cross_entropy" and output == "softmax" else self.n_out
        self._shapes = (self.n_in, self.n_out, self._row_terms)  # read on every call
        self._no_weights = np.empty(0, self.dtype)  # sw of the kernels: all weights 1
        widths = list(zip(self.sizes[:-1], self.sizes[1:]))
        self._theta = np.zeros(n_theta, dtype=self.dtype)
        self.layers = []
        t = 0
        for n_in, n_out in widths:
            W = self._theta[t:t + n_out * n_in].reshape(n_out, n_in)
            t += n_out * n_in
            self.layers.append((W, self._theta[t:t + n_out]))
            t += n_out
        self._local = threading.local()
        self.init(seed)

    # -- parameters --------------------------------------------------------

    def init(self, seed=0):
        """Re-initialise the parameters in place (see the class docstring).

        Parameters
        ----------
        seed : int or None
            Seed of the generator; None draws fresh entropy.

        Returns
        -------
        MLP
            ``self``, for chaining.
        """
        rng = np.random.default_rng(seed)
        for k, (W, b) in enumerate(self.layers):
            n_out, n_in = W.shape
            hidden = k < len(self.layers) - 1
            if hidden and self.activation == "relu":
                W[...] = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
            else:
                limit = np.sqrt(6.0 / (n_in + n_out))
                W[...] = rng.uniform(-limit, limit, (n_out, n_in))
            b[...] = 0.0
        return self

    @property
    def theta(self):
        """The flat parameter vector (the ``layers`` are views into it)."""
        return self._theta

    @theta.setter
    def theta(self, value):
        self._theta[...] = self._check_theta(value)

    @property
    def size(self):
        """Number of parameters."""
        return self._theta.size

    @property
    def n_in(self):
        """Input width."""
        return int(self.sizes[0])

    @property
    def n_out(self):
        """Output width."""
        return int(self.sizes[-1])

    def __repr__(self):
        return (f"MLP({self.sizes.tolist()}, activation={self.activation!r}, "
                f"output={self.output!r}, loss={self.loss_name!r}, dtype={self.dtype.name})")

    # -- checking ----------------------------------------------------------

    def _check_theta(self, theta):
        if theta is None:
            return self._theta
        theta = float_array(theta, "theta", dtype=self.dtype, ndim=1)
        if theta.size != self.size:
            raise ValueError(f"theta must have {self.size} entries (net.size), got {theta.size}")
        return _writeable(theta)

    def _check_X(self, X, finite=True):
        """X as the kernels take it.  ``finite=False`` leaves out the scan for NaN and Inf
        of an X that is ready already (:func:`_ready`): the caller diagnoses a result
        that is not finite instead (:meth:`_diagnose`)."""
        if finite or not _ready(X, self.dtype, 2):
            X = _writeable(float_array(X, "X", dtype=self.dtype, ndim=2, finite=finite))
        if X.shape[1] != self.n_in or X.shape[0] == 0:
            raise ValueError(f"X must have shape (batch >= 1, {self.n_in}), got {X.shape}")
        return X

    def _check_Y(self, Y, batch, finite=True):
        """Targets as a (batch, n_out) float array; integer class labels are one-hot
        encoded.  ``finite`` as for :meth:`_check_X`."""
        if (not finite and self.loss_name not in LOSS_OUTPUTS and _ready(Y, self.dtype, 2)
                and Y.shape == (batch, self.n_out)):
            return Y
        Y = as_array(Y, "Y")
        if Y.dtype.kind in "iu" and self.output == "softmax" and self.loss_name == "cross_entropy":
            if Y.shape != (batch,):
                raise ValueError(f"Y (integer class labels) must have shape ({batch},), "
                                 f"got {Y.shape}")
            if Y.size and (Y.min() < 0 or Y.max() >= self.n_out):
                raise ValueError(f"Y (integer class labels) must lie in [0, {self.n_out}), "
                                 f"got values in [{Y.min()}, {Y.max()}]")
            onehot = np.zeros((batch, self.n_out), dtype=self.dtype)
            onehot[np.arange(batch), Y] = 1.0
            return onehot
        Y = float_array(Y, "Y", dtype=self.dtype, ndim=(1, 2), allow_int=True)
        if Y.ndim == 1 and self.n_out == 1:
            Y = Y.reshape(batch if Y.size == batch else -1, 1)
        if Y.shape != (batch, self.n_out):
            raise ValueError(f"Y must have shape ({batch}, {self.n_out}) to match X, got {Y.shape}")
        if self.loss_name == "cross_entropy" and (Y.min() < 0 or Y.max() > 1):
            raise ValueError("Y (cross-entropy targets) must lie in [0, 1], "
                             f"got values in [{Y.min()}, {Y.max()}]")
        if self.loss_name == "poisson" and Y.min() < 0:
            raise ValueError(f"Y (Poisson targets) must be >= 0, got a minimum of {Y.min()}")
        return _writeable(Y)

    def _check_weights(self, sample_weight, l2, batch, rescale=True):
        """The kernels' weighting arguments (sw, scale, l2) for ``batch`` rows: scale
        turns their weighted sum into the weighted mean of the rows' mean losses.
        ``rescale=False`` keeps the weights' values (a shard of rows, whose weights
        are scaled with the others')."""
        if sample_weight is None:
            sw, total = self._no_weights, batch
        else:
            sw = float_array(sample_weight, "sample_weight", dtype=self.dtype, ndim=1,
                             allow_int=True)
            if sw.shape != (batch,):
                raise ValueError(f"sample_weight must have shape ({batch},) to match X, "
                                 f"got {sw.shape}")
            if sw.min() < 0:
                raise ValueError(f"sample_weight must be >= 0, got a minimum of {sw.min()}")
            if not sw.max() > 0:
                raise ValueError("sample_weight must have a positive sum, got all zeros")
            sw = scaled_weights(sw, sw.max()) if rescale else _writeable(sw)
            total = float(np.sum(sw, dtype=np.float64))
        return sw, 1.0 / (total * self._row_terms), l2_penalty(l2)

    def _work(self, backend, batch):
        """This thread's workspace of ``backend`` for ``batch`` rows (see :meth:`_kernel`)."""
        return self._held(backend, False, batch)[1]

    def _held(self, backend, rop, batch):
        """This thread's (batch, work, kernels) of ``backend``: a workspace for ``batch``
        rows at least and the kernels bound to it.

        One buffer per backend, kind (plain or R-operator) and thread, reused, never
        shared, grown to the largest batch seen; smaller batches use its start (the
        kernels take a buffer at least that long), so memory stays bounded whatever
        sequence of batch sizes comes.  An R-operator buffer is zero-filled when made:
        its header then says it keeps no pass, and a kept pass records its batch there,
        so a call with another batch never takes it for its own.
        """
        key = ("rop", backend.__name__) if rop else backend.__name__
        held = self._local.__dict__.get(key)
        if held is None or held[0] < batch:
            if rop:
                work = np.zeros(backend.rop_workspace_size(self.sizes, batch), self.dtype)
            else:
                work = np.empty(backend.workspace_size(self.sizes, batch), self.dtype)
            held = self._local.__dict__[key] = (batch, work, {})
        return held

    def _kernel(self, backend, name, batch):
        """The kernel ``name`` of ``backend`` bound to this network and to this thread's
        workspace for ``batch`` rows (:func:`pykernels._backend.bind`)."""
        held = self._held(backend, name in _ROP_KERNELS, batch)
        kernel = held[2].get(name)
        if kernel is None:
            kernel = held[2][name] = _backend.bind(backend, name, self.sizes, self._codes,
                                                    held[1], self._theta)
        return kernel

    def _diagnose(self, what, value, out, inputs, name, args):
        """The loss (or None) of a result that is not finite, if it is the true value;
        called when the loss ``value`` (or None) or the array ``out`` holds a NaN or an
        infinity, ``name`` and ``args`` the kernel and the arguments that gave them.

        A non-finite input among ``inputs`` ((name, array or None) pairs) is named
        (ValueError).  From finite inputs an infinity is the true, overflowing value
        and is returned.  A NaN is an overflow inside the network (inf - inf, 0 * inf):
        the kernel is evaluated again in extended precision (:meth:`_extended`), whose
        result, rounded to the network's dtype, is the true value (infinities where it
        overflows); a NaN there too (an exp output past even that range) is a
        FloatingPointError, never a silent result.
        """
        for label, array in inputs:
            if array is not None and not all_finite(array):
                where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
                raise ValueError(f"{label} must be finite, found {array[where]} at index {where}")
        nan = ((value is not None and math.isnan(value))
               or (out is not None and np.isnan(out).any()))
        if nan and _EXTENDED is not None:
            value, nan = self._extended(name, args, out)
        if nan:
            raise FloatingPointError(
                f"{what} overflows {self.dtype.name} at this theta and X: a product or sum "
                f"inside the network exceeds {float(np.finfo(self.dtype).max):.3g}, which "
                "leaves NaN (inf - inf or 0 * inf), even in extended precision; scale theta "
                "or X down")
        return value

    def _extended(self, name, args, out):
        """(loss or None, whether a NaN is left): the NumPy reference's kernel ``name``
        at ``args`` (the arguments of the bound kernel, ``out`` among them) in x87
        extended precision, whose exponents reach 1e4932, so that products of finite
        float64 values cannot overflow; its result rounded into ``out``."""
        wide = [a.astype(_EXTENDED) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
                else a for a in args]
        kernel = _backend.bind(_backend.resolve("numpy"), name, self.sizes, self._codes,
                               np.empty(0, _EXTENDED), wide[0])
        with np.errstate(all="ignore"):
            got = kernel(*wide)
            if out is not None:
                out[...] = next(w for a, w in zip(args, wide) if a is out)
        value = None
        if name == "mlp_loss":
            value = float(got)
        elif isinstance(got, tuple):
            value = float(got[0])
        nan = ((value is not None and math.isnan(value))
               or (out is not None and np.isnan(out).any()))
        return value, nan

    # -- evaluation --------------------------------------------------------

    def predict(self, X, theta=None, *, backend=None):
        """Network output for the rows of ``X``.

        Parameters
        ----------
        X : array_like, shape (batch, n_in)
        theta : array_like, shape (size,), optional
            Parameters to use instead of ``net.theta``.
        backend : str, optional
            ``"numba"``, ``"c"`` or ``"numpy"``; None uses the current default.

        Returns
        -------
        ndarray, shape (batch, n_out)
        """
        theta = self._check_theta(theta)
        X = self._check_X(X)
        out = np.empty((X.shape[0], self.n_out), self.dtype)
        if not self._kernel(_backend.resolve(backend), "mlp_predict", X.shape[0])(theta, X, out):
            self._diagnose("predict", None, out, (("theta", theta), ("X", X)), "mlp_predict",
                           (theta, X, out))
        return out

    @staticmethod
    def _inputs(theta, X, Y, weights):
        """The (name, array) pairs :meth:`_diagnose` checks."""
        return (("theta", theta), ("X", X), ("Y", Y), ("sample_weight", weights[0]))

    def _checked(self, X, Y, theta, sample_weight, l2, finite=True):
        """theta, X, Y and the kernels' (sw, scale, l2), checked (``finite`` as for
        :meth:`_check_X`)."""
        if (not finite and theta is None and sample_weight is None and type(l2) is float
                and l2 == 0.0 and self.loss_name not in LOSS_OUTPUTS
                and _ready(X, self.dtype, 2) and _ready(Y, self.dtype, 2)):
            # the common call, checked in a few attribute reads: the network's theta,
            # neither weights nor penalty, float X and Y made as the kernels take them
            batch, shape = X.shape[0], self._shapes
            if batch and X.shape[1] == shape[0] and Y.shape == (batch, shape[1]):
                return self._theta, X, Y, (self._no_weights, 1.0 / (batch * shape[2]), 0.0)
        theta = self._check_theta(theta)
        X = self._check_X(X, finite)
        Y = self._check_Y(Y, X.shape[0], finite)
        return theta, X, Y, self._check_weights(sample_weight, l2, X.shape[0])

    def loss(self, X, Y, theta=None, *, sample_weight=None, l2=0.0, backend=None):
        """Loss on ``(X, Y)``: the (weighted) mean loss plus an optional L2 penalty.

        Parameters
        ----------
        X : array_like, shape (batch, n_in)
        Y : array_like
            Targets, shape (batch, n_out) (or (batch,) when n_out == 1); for
            softmax cross-entropy also integer class labels of shape (batch,).
        theta : array_like, shape (size,), optional
        sample_weight : array_like, shape (batch,), optional
            Weight s_i of each row: finite, >= 0, with a positive sum.  None: all 1.
        l2 : float
            Coefficient of the L2 penalty on the weight matrices (not the biases);
            finite, >= 0.
        backend : str, optional

        Returns
        -------
        float

        Raises
        ------
        ValueError, TypeError
            On a bad argument (NaN or Inf included); the message names it.
        FloatingPointError
            When finite inputs overflow the dtype inside the network into NaN
            (inf - inf, 0 * inf); a loss that overflows without a NaN is returned
            as inf, its true value.  The same holds for every evaluation method.

        Notes
        -----
        .. math:: L(\\theta) = \\frac{\\sum_i s_i \\bar l_i}{\\sum_i s_i}
                  + \\frac{l_2}{2} \\sum_l \\|W_l\\|_F^2

        with :math:`\\bar l_i` row i's loss: for the elementwise losses (all but softmax
        cross-entropy) the mean over its outputs.  Without weights and penalty this is
        the plain mean loss.  Integer weights equal repeating rows; scaling all weights
        by a constant changes nothing; zero weights drop rows.  scikit-learn's
        ``alpha`` for a batch of n rows (total weight n) is ``l2 = alpha / n``.
        """
        theta, X, Y, weights = self._checked(X, Y, theta, sample_weight, l2)
        kernel = self._kernel(_backend.resolve(backend), "mlp_loss", X.shape[0])
        value = float(kernel(theta, X, Y, *weights))
        if not math.isfinite(value):
            value = self._diagnose("the loss", value, None, self._inputs(theta, X, Y, weights),
                                   "mlp_loss", (theta, X, Y, *weights))
        return value

    def loss_and_grad(self, X, Y, theta=None, *, sample_weight=None, l2=0.0, backend=None):
        """Loss on ``(X, Y)`` and its gradient with respect to theta (backpropagation).

        Parameters are as for :meth:`loss`, whose Notes give the loss.

        Returns
        -------
        loss : float
        grad : ndarray, shape (size,)
            Laid out like ``theta``; the penalty adds ``l2 * W`` to each weight matrix's
            part.
        """
        # X and Y are not scanned for NaN/Inf: any of them makes the loss or the gradient
        # (X enters every entry of the first layer's) non-finite, which is then diagnosed
        theta, X, Y, weights = self._checked(X, Y, theta, sample_weight, l2, finite=False)
        kernel = self._kernel(_backend.resolve(backend), "mlp_loss_and_grad", X.shape[0])
        grad = np.empty(self._theta.size, self.dtype)
        value, finite = kernel(theta, X, Y, *weights, grad)
        value = float(value)
        if not (finite and math.isfinite(value)):
            value = self._diagnose("the loss or its gradient", value, grad,
                                   self._inputs(theta, X, Y, weights), "mlp_loss_and_grad",
                                   (theta, X, Y, *weights, grad))
        return value, grad

    # -- curvature (R-operator) -------------------------------------------------

    def _rop_module(self, name, backend):
        module = _backend.resolve(backend)
        if not hasattr(module, name):
            raise _backend.BackendUnavailable(
                f"backend {module.__name__!r} has no {name} kernel yet; use 'numba' or 'numpy'")
        return module

    def _apply(self, module, name, theta, X, Y, weights, v):
        """(out, finite, v): kernel ``name`` (mlp_hvp or mlp_gnvp) at checked (theta, X, Y,
        weights) along v, whether the product and the loss are finite, and v checked."""
        v = _writeable(float_array(v, "v", dtype=self.dtype, ndim=1))
        if v.size != self.size:
            raise ValueError(f"v must have {self.size} entries (net.size), got {v.size}")
        out = np.empty(self.size, self.dtype)
        value, finite = self._kernel(module, name, X.shape[0])(theta, X, Y, *weights, v, out)
        return out, finite and math.isfinite(value), v

    def _product(self, name, X, Y, v, theta, sample_weight, l2, backend):
        # X and Y are not scanned for NaN/Inf: see loss_and_grad
        theta, X, Y, weights = self._checked(X, Y, theta, sample_weight, l2, finite=False)
        out, finite, v = self._apply(self._rop_module(name, backend), name, theta, X, Y,
                                     weights, v)
        if not finite:  # the product, or the loss it was taken of (Y may not enter H v)
            self._diagnose(_PRODUCTS[name], None, out, self._inputs(theta, X, Y, weights),
                           name, (theta, X, Y, *weights, v, out))
        return out

    def hvp(self, X, Y, v, theta=None, *, sample_weight=None, l2=0.0, backend=None):
        """Exact Hessian-vector product of the loss w.r.t. theta (R-operator).

        Parameters
        ----------
        X, Y : array_like
            Inputs and targets, as for :meth:`loss`.
        v : array_like, shape (size,)
            Direction, laid out like ``theta``; finite.
        theta : array_like, shape (size,), optional
        sample_weight : array_like, shape (batch,), optional
        l2 : float
            Sample weights and L2 penalty of the loss, as for :meth:`loss`.
        backend : str, optional

        Returns
        -------
        ndarray, shape (size,)
            ``H v`` with ``H`` the Hessian of ``net.loss(X, Y, sample_weight=...,
            l2=...)`` at theta (the penalty adds ``l2 V`` to each weight matrix's part).

        Raises
        ------
        ValueError
            If ``v`` has the wrong size or holds NaN/Inf (and as :meth:`loss`).

        Notes
        -----
        Pearlmutter's R-operator, R{x} = d/de x(theta + e v) at e = 0, in the kernels:
        a forward sweep of directional derivatives,

        .. math:: R z_{l+1} = R a_l W_l^T + a_l V_l^T + c_l, \\quad
                  R a_{l+1} = G'(z_{l+1}) \\odot R z_{l+1},

        then a backward sweep differentiating backpropagation,

        .. math:: R\\,\\partial W_l = R\\delta_{l+1}^T a_l + \\delta_{l+1}^T R a_l, \\quad
                  R\\delta_l = (R\\delta_{l+1} W_l + \\delta_{l+1} V_l) \\odot G'(z_l)
                  + (\\delta_{l+1} W_l) \\odot G''(z_l) R z_l,

        starting from :math:`R\\delta_L = H_z R z_L` (the loss's Hessian w.r.t. the
        output pre-activation, each row's part times its weight).  Every product is a
        BLAS GEMM; a value and its R-derivative are stacked so one GEMM serves both.
        Cost: 2-2.2 gradients (the product rule doubles every hidden layer's GEMMs; the
        input layer's R{a_0} = 0 saves some), about what the central difference of two
        gradients costs, but exact up to rounding -- no step size.  The network keeps
        the forward and backward pass of the last (theta, X, Y, sample weights, l2) per
        thread: further products at the same point (Lanczos, conjugate gradients) skip
        the GEMMs that do not involve v and cost about 1.7 gradients; a change of any
        of them, in place or not, is detected by comparing their bits.  At the kinks of
        relu, l1 and huber the one-sided second derivative (0) is used.

        Examples
        --------
        >>> import numpy as np, pykernels as pk
        >>> net = pk.MLP([2, 8, 1], activation="tanh", seed=0)
        >>> X = np.random.default_rng(0).standard_normal((16, 2))
        >>> net.hvp(X, X[:, :1], np.ones(net.size)).shape
        (33,)
        """
        return self._product("mlp_hvp", X, Y, v, theta, sample_weight, l2, backend)

    def gnvp(self, X, Y, v, theta=None, *, sample_weight=None, l2=0.0, backend=None):
        """Gauss-Newton matrix-vector product ``G v`` (positive semi-definite ``G``).

        Parameters are as for :meth:`hvp`.

        Returns
        -------
        ndarray, shape (size,)

        Notes
        -----
        :math:`G = \\sum_i s_i J_i^T H_i J_i / \\sum_i s_i + l_2 P` with :math:`J_i` the
        Jacobian of the network's logits z (cross-entropy and Poisson, convex in z) or
        outputs a (mse, l1, huber, convex in a) for sample i, :math:`H_i` the loss's
        Hessian there, :math:`s_i` its weight and P the projection on the weight entries.
        Computed as the R-operator product of :meth:`hvp` without the terms in the
        layers' second derivatives and in :math:`\\delta^T R a`; for l1 (zero curvature)
        and no penalty G is 0.
        """
        return self._product("mlp_gnvp", X, Y, v, theta, sample_weight, l2, backend)

    def jacobian(self, X, wrt="input", theta=None, *, backend=None):
        """Per-sample Jacobian of the network's outputs (one backward sweep per output).

        Parameters
        ----------
        X : array_like, shape (batch, n_in)
        wrt : {"input", "params"}
        theta : array_like, shape (size,), optional
        backend : str, optional

        Returns
        -------
        ndarray
            ``J[i, k, j] = d predict(X)[i, k] / d X[i, j]``, shape (batch, n_out, n_in);
            or ``d predict(X)[i, k] / d theta[j]``, shape (batch, n_out, size).
        """
        choice(wrt, "wrt", ("input", "params"))
        theta = self._check_theta(theta)
        X = self._check_X(X)
        kernel = self._kernel(self._rop_module("mlp_jacobian", backend), "mlp_jacobian",
                              X.shape[0])
        width = self.size if wrt == "params" else self.n_in
        out = np.empty((X.shape[0], self.n_out, width), self.dtype)
        if not kernel(theta, X, out, wrt == "params"):
            self._diagnose("the Jacobian", None, out, (("theta", theta), ("X", X)),
                           "mlp_jacobian", (theta, X, out, wrt == "params"))
        return out

    def lipschitz_bound(self, theta=None):
        """An upper bound on the Lipschitz constant of ``x -> predict(x)`` (2-norms).

        Parameters
        ----------
        theta : array_like, shape (size,), optional
            Parameters to use instead of ``net.theta``.

        Returns
        -------
        float
            :math:`\\prod_l \\|W_l\\|_2 \\cdot \\prod_l \\mathrm{Lip}(G_l)`.

        Notes
        -----
        Each layer is the composition of an affine map (Lipschitz constant
        :math:`\\|W\\|_2`) and its activation: 1 for identity, tanh and relu, 1/4 for
        sigmoid, 1/2 for softmax (its Jacobian diag(a) - a a^T has row sums of absolute
        values 2 a_i (1 - a_i) <= 1/2); exp has none, so the bound is inf.  Each
        :math:`\\|W\\|_2^2` is the largest eigenvalue of :math:`W^T W` by
        :func:`pykernels.hessian_eigs` (Lanczos) plus its residual norm, an upper bound on
        the eigenvalue's error, so the product is an upper bound.
        """
        from .curvature import spectral_norm_bound

        theta = self._check_theta(theta)
        constants = {"identity": 1.0, "tanh": 1.0, "relu": 1.0, "sigmoid": 0.25,
                     "softmax": 0.5, "exp": math.inf}
        factors = []
        for k in range(len(self.layers)):
            n_in, n_out = int(self.sizes[k]), int(self.sizes[k + 1])
            start = sum(int(self.sizes[j + 1]) * (int(self.sizes[j]) + 1) for j in range(k))
            W = theta[start:start + n_out * n_in].reshape(n_out, n_in).astype(np.float64)
            last = k == len(self.layers) - 1
            factors += [spectral_norm_bound(W), constants[self.output if last else self.activation]]
        # a zero layer makes the network constant: 0, even beside an exp output's inf
        return 0.0 if min(factors) == 0.0 else float(math.prod(factors))

    def objective(self, X, Y, *, sample_weight=None, l2=0.0, backend=None, executor=None,
                  shards=None):
        """The full-batch loss on ``(X, Y)`` as a :class:`pk.Objective` over theta.

        ``X``, ``Y`` and the weights are checked (and integer labels one-hot encoded)
        once, here; the objective's ``fun``, ``grad``, ``fun_and_grad`` (one
        backpropagation), ``hvp`` (R-operator) and ``gnvp`` (Gauss-Newton product) then
        take only theta (and v), so ``pk.minimize(net.objective(X, Y), net.theta,
        method=...)`` trains the network with any method.  ``net.theta`` is not
        changed; assign ``net.theta = res.x`` afterwards.

        Parameters
        ----------
        X, Y : array_like
            Inputs and targets, as for :meth:`loss`.
        sample_weight : array_like, shape (batch,), optional
        l2 : float
            Sample weights and L2 penalty of the loss, as for :meth:`loss`.
        backend : str, optional
            Backend of the kernels the objective calls.
        executor : distributed.Client, optional
            Spread the rows over this Dask cluster: they are cut into ``shards`` placed
            on the workers once, and each evaluation adds the workers' sums in shard
            order (see :class:`pykernels.sharded.ShardedObjective`).  ``X``, ``Y`` and
            ``sample_weight`` may then be dask arrays, whose row chunks become the
            shards without passing through this process.
        shards : int, optional
            Number of shards (with ``executor``; default: twice the cluster's threads).

        Returns
        -------
        pk.Objective
            ``fun(theta)`` is ``net.loss(X, Y, theta, sample_weight=..., l2=...)``;
            ``hvp(theta, v)`` and ``gnvp(theta, v)`` are :meth:`hvp` and :meth:`gnvp`.
            With ``executor``, a :class:`~pykernels.sharded.ShardedObjective` that
            computes the same values (to ~1e-16 relative: the additions are ordered by
            shard instead of by row).

        Examples
        --------
        >>> import numpy as np, pykernels as pk
        >>> net = pk.MLP([2, 8, 1], seed=0)
        >>> X = np.random.default_rng(0).standard_normal((32, 2))
        >>> res = pk.minimize(net.objective(X, X[:, :1] * X[:, 1:]), net.theta, maxiter=50)
        >>> bool(res.fun < net.loss(X, X[:, :1] * X[:, 1:]))
        True
        """
        if executor is not None:
            from .sharded import ShardedObjective
            return ShardedObjective(self, X, Y, executor, shards=shards,
                                    sample_weight=sample_weight, l2=l2, backend=backend)
        if shards is not None:
            raise ValueError("shards needs executor= (a dask.distributed.Client)")
        from .optimize import Objective
        _, X, Y, weights = self._checked(X, Y, None, sample_weight, l2)
        module = _backend.resolve(backend)

        def fun(theta):
            return self._evaluate(module, "loss", self._check_theta(theta), X, Y, weights)[0]

        def fun_and_grad(theta):
            return self._evaluate(module, "loss_and_grad", self._check_theta(theta), X, Y,
                                  weights)

        def product(kind):
            self._rop_module(f"mlp_{kind}", backend)
            return lambda theta, v: self._evaluate(module, kind, self._check_theta(theta), X,
                                                   Y, weights, v)[1]

        return Objective(fun, grad=lambda theta: fun_and_grad(theta)[1],
                         hvp=product("hvp"), fun_and_grad=fun_and_grad,
                         gnvp=product("gnvp"))

    def _evaluate(self, module, kind, theta, X, Y, weights, v=None):
        """(loss or None, gradient or product or None): ``kind`` ("loss",
        "loss_and_grad", "hvp" or "gnvp") by backend ``module`` at checked theta, X, Y
        and kernel weights (sw, scale, l2), as the kernels give it -- a result that is
        not finite is left to the caller (an optimizer, a sharded objective) to judge."""
        if kind == "loss":
            return float(self._kernel(module, "mlp_loss", len(X))(theta, X, Y, *weights)), None
        if kind == "loss_and_grad":
            grad = np.empty(self.size, self.dtype)
            kernel = self._kernel(module, "mlp_loss_and_grad", len(X))
            return float(kernel(theta, X, Y, *weights, grad)[0]), grad
        return None, self._apply(module, f"mlp_{kind}", theta, X, Y, weights, v)[0]

    def _sums(self, kind, X, Y, sw, theta, v=None, *, backend=None):
        """Sums over the checked rows (X, Y, sw) of the weighted loss and of its
        gradient (``kind="loss_and_grad"``) or product with v (``"hvp"``, ``"gnvp"``):
        the kernels at scale 1 without penalty, the parts a sharded objective adds up.

        Returns
        -------
        (float or None, ndarray or None)
        """
        module = (self._rop_module(f"mlp_{kind}", backend) if kind in ("hvp", "gnvp")
                  else _backend.resolve(backend))
        return self._evaluate(module, kind, theta, X, Y, (sw, 1.0, 0.0), v)

    # -- files ---------------------------------------------------------------

    def save(self, path):
        """Write the network to ``path`` (``.npz``, no pickle), atomically.

        The file is written beside ``path`` under a temporary name and renamed
        over it, so an interrupted write never leaves a truncated file (see
        :func:`atomic_savez`).

        Parameters
        ----------
        path : str or os.PathLike
            Destination, written as given (no suffix is added).

        Raises
        ------
        FileNotFoundError, IsADirectoryError, PermissionError
            When ``path``'s directory does not exist, ``path`` is a directory, or the
            directory is not writable; the message names ``path``.
        """
        arrays = dict(format=np.array(_FILE_FORMAT), version=np.array(_FILE_VERSION),
                      sizes=self.sizes, activation=np.array(self.activation),
                      output=np.array(self.output), loss=np.array(self.loss_name),
                      theta=self._theta)
        atomic_savez(path, arrays, "path")

    @classmethod
    def load(cls, path):
        """Read a network written by :meth:`save`, validating every field.

        Nothing larger than the file's own consistent contents is allocated: each
        field's declared shape is checked against the bytes it holds, and theta's
        length against ``sizes``, before any array is read or the network built.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        MLP

        Raises
        ------
        TypeError
            If ``path`` is not a str, bytes or os.PathLike.
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If the file is not a complete, consistent pykernels network file; the
            message names the file and the field.
        """
        fields = _read_npz(path, _FILE_KEYS)
        if str(fields["format"]) != _FILE_FORMAT or fields["version"].dtype.kind not in "iu" \
                or fields["version"].shape != () or int(fields["version"]) != _FILE_VERSION:
            raise ValueError(f"{os.fspath(path)!r} is not a version-{_FILE_VERSION} pykernels "
                             "network file (fields 'format', 'version')")
        sizes, theta = fields["sizes"], fields["theta"]
        if sizes.dtype.kind not in "iu" or sizes.ndim != 1:
            raise ValueError(f"{os.fspath(path)!r}: field 'sizes' must be a 1-D integer array")
        try:
            widths = int_sequence(sizes.tolist(), "sizes", min_len=2)
            count = _parameter_count(widths, theta.dtype if theta.dtype.kind == "f" else "f8")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{os.fspath(path)!r}: field 'sizes' is not a network: {exc}"
                             ) from None
        if theta.shape != (count,):
            raise ValueError(f"{os.fspath(path)!r}: field 'theta' must have shape ({count},) "
                             f"for sizes {widths}, got {theta.shape}")
        try:
            net = cls(widths, str(fields["activation"]), str(fields["output"]),
                      str(fields["loss"]), dtype=theta.dtype, seed=None)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{os.fspath(path)!r}: inconsistent network description "
                             f"(fields 'activation', 'output', 'loss', 'theta'): {exc}") from None
        if not np.isfinite(theta).all():
            raise ValueError(f"{os.fspath(path)!r}: field 'theta' holds non-finite values")
        net.theta = theta
        return net


#: Largest ratio of a zip member's size to its compressed size (deflate stays below 1032:1).
_MAX_ZIP_RATIO = 1100


def _member_header(archive, info):
    """(shape, dtype) an ``.npy`` member declares, checked against the bytes it holds,
    so that reading it allocates no more than the file consistently contains."""
    if info.file_size > _MAX_ZIP_RATIO * info.compress_size + 1024:
        raise ValueError(f"declares {info.file_size} bytes compressed into "
                         f"{info.compress_size}: not a ratio deflate makes")
    with archive.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read(fh)
        header = fh.tell()
    if dtype.hasobject:
        raise ValueError("holds Python objects (pickles are never loaded)")
    count = 1
    for n in shape:
        count *= n
    if header + count * dtype.itemsize != info.file_size:
        raise ValueError(f"declares shape {shape} of {dtype} ({count * dtype.itemsize} bytes) "
                         f"but holds {info.file_size - header} bytes")
    return shape, dtype


def _read_npz(path, keys=None, *, max_fields=64):
    """The arrays of the ``.npz`` file ``path``: exactly ``keys`` when given (else any
    names, at most ``max_fields``), each a plain numeric or text array, no pickles.

    Raises
    ------
    TypeError
        ``path`` not a str, bytes or os.PathLike.
    FileNotFoundError, IsADirectoryError, PermissionError
        As ``open`` does.
    ValueError
        For anything damaged, or not a regular file (a FIFO, a device), naming the file
        and, where it is one field, the field.
    """
    name = _path(path, "path")
    mode = os.stat(name).st_mode  # FileNotFoundError, PermissionError as open raises them
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{name!r} is a directory, not a pykernels file")
    if not stat.S_ISREG(mode):  # a FIFO or a device would block or never end
        raise ValueError(f"{name!r} is not a regular file (a pipe, socket or device)")
    try:
        data = np.load(name, allow_pickle=False)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as exc:  # zipfile/numpy raise many kinds on damaged files
        raise ValueError(f"{name!r} is not a readable pykernels file: "
                         f"{type(exc).__name__}: {exc}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{name!r} is not a readable pykernels file: not an .npz archive")
    with data:
        found = data.files
        if keys is not None and set(found) != set(keys):
            raise ValueError(f"{name!r} is not a valid pykernels file: expected the fields "
                             f"{sorted(keys)}, found {sorted(found)}")
        if len(found) > max_fields or len(set(found)) != len(found):
            raise ValueError(f"{name!r} is not a valid pykernels file: {len(found)} fields")
        fields = {}
        for key in found:
            try:
                _member_header(data.zip, data.zip.getinfo(key + ".npy"))
                fields[key] = data[key]
            except Exception as exc:
                raise ValueError(f"{name!r}: field {key!r} is unreadable: "
                                 f"{type(exc).__name__}: {exc}") from None
            if not isinstance(fields[key], np.ndarray) or fields[key].dtype.kind not in "biufU":
                raise ValueError(f"{name!r}: field {key!r} is not a plain numeric/text array")
    return fields


def _path(path, name):
    """``path`` (str, bytes or os.PathLike, not empty) as a str; errors name ``name``."""
    try:
        path = os.fsdecode(os.fspath(path))
    except TypeError:
        raise TypeError(f"{name} must be a file path (str or os.PathLike), got "
                        f"{type(path).__name__}") from None
    if not path:
        raise ValueError(f"{name} must be a file path, got an empty one")
    return path


def check_writable(path, name):
    """Raise unless a file can be written at ``path``: its directory exists and is
    writable, and ``path`` is not a directory.  The errors name ``name`` and ``path``.

    Parameters
    ----------
    path : str or os.PathLike
    name : str
        The argument that gave ``path`` (e.g. ``"checkpoint"``).

    Returns
    -------
    str
        ``path`` as a string.

    Raises
    ------
    TypeError
        ``path`` not a str, bytes or os.PathLike.
    FileNotFoundError, IsADirectoryError, PermissionError
    """
    path = _path(path, name)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{name}={path!r}: the directory {folder!r} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{name}={path!r} is a directory, not a file path")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"{name}={path!r}: the directory {folder!r} is not writable")
    return path


def _host_tag():
    """8 hex digits naming this machine in temporary file names (several machines may
    write into one shared directory)."""
    import hashlib
    import socket

    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _temporary_prefix(path, pid):
    return f".tmp-{_host_tag()}-{pid}-{os.path.basename(path)[:64]}-"


def _remove_stale_temporaries(path, suffix=".npz"):
    """Delete the temporary files of earlier writes to ``path`` whose writer process
    is gone (killed mid-write).  Only files this machine's processes wrote are judged,
    never this process's own (another thread may be writing), and a live writer's
    file is never touched."""
    if os.name != "posix":  # os.kill(pid, 0) probes a process only on POSIX
        return
    folder = os.path.dirname(os.path.abspath(path))
    host = f".tmp-{_host_tag()}-"
    tail = f"-{os.path.basename(path)[:64]}-"
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for entry in names:
        pid, sep, rest = entry[len(host):].partition("-")
        if not (entry.startswith(host) and entry.endswith(suffix) and sep and pid.isdigit()
                and ("-" + rest).startswith(tail)) or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue                          # the writer lives: its file is in use
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError, OSError):
            continue                          # alive (another user's) or unknowable
        try:
            os.unlink(os.path.join(folder, entry))
        except OSError:
            pass


def atomic_write(path, write, name="path", *, suffix=".npz", binary=True):
    """Call ``write(fh)`` on a temporary file beside ``path``, then rename it over ``path``.

    An interrupted write leaves ``path`` as it was; a killed process may leave its
    temporary file (``.tmp-<host>-<pid>-<name>-*<suffix>``) behind, which the next
    successful write to ``path`` removes once that process is gone.

    Parameters
    ----------
    path : str or os.PathLike
    write : callable
        ``write(fh)`` writes the contents to the open file ``fh``.
    name : str
        The argument that gave ``path``, named in errors.
    suffix : str
        Of the temporary file's name.
    binary : bool
        Open the temporary file in binary (else text) mode.

    Raises
    ------
    TypeError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError
        From :func:`check_writable`, before anything is written.
    """
    path = check_writable(path, name)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=_temporary_prefix(path, os.getpid()),
                               suffix=suffix)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    _remove_stale_temporaries(path, suffix)


def atomic_savez(path, arrays, name="path"):
    """``numpy.savez`` of ``arrays`` to ``path`` through :func:`atomic_write`.

    Parameters
    ----------
    path : str or os.PathLike
    arrays : dict of str -> ndarray
    name : str
        The argument that gave ``path``, named in errors.

    Raises
    ------
    TypeError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError
        From :func:`check_writable`, before anything is written.
    """
    atomic_write(path, lambda fh: np.savez(fh, **arrays), name)
