"""Mini-batch training of a ``pk.MLP`` in place: ``pk.train``."""

import json
import math
import os
import time

import numpy as np

from . import _backend
from ._checks import all_finite, choice, flag, function, positive_int, real
from ._checks import returned_scalar, scaled_weights
from ._checks import seed as check_seed
from .network import MLP, _read_npz, atomic_savez, check_writable
from .optim import _MAX_STEP, OPTIMIZERS, _Optimizer, copy_state

__all__ = ["train"]

SCHEDULES = ("constant", "step", "cosine")
_CKPT_FORMAT = "pykernels.train-checkpoint"
_CKPT_VERSION = 2  # 2: the network's description is in the file
_HISTORY_KEYS = ("loss", "val_loss", "lr")
_MAX_RNG_STATE = 100_000  # characters of the JSON of a generator's state
_CKPT_KEYS = ("format", "version", "optimizer", "sizes", "activation", "output", "loss",
              "theta", "epoch", "step", "rng") + tuple(f"history_{k}" for k in _HISTORY_KEYS)


def _schedule(schedule, lr, epochs, step_size, gamma):
    """Learning rate of each epoch (0-based) as a function."""
    if callable(schedule):
        return schedule
    choice(schedule, "schedule", SCHEDULES)
    if schedule == "constant":
        return lambda epoch: lr
    if schedule == "step":
        return lambda epoch: lr * gamma ** (epoch // step_size)
    # cosine annealing from lr to 0 over the run
    return lambda epoch: 0.5 * lr * (1.0 + math.cos(math.pi * epoch / epochs))


def _rate(rate, epoch):
    """The learning rate of ``epoch``, checked (finite, >= 0)."""
    name = f"the learning rate schedule({epoch})"
    try:
        value = rate(epoch)
    except OverflowError:  # lr * gamma ** k with gamma > 1, in Python floats
        raise ValueError(f"{name} overflowed (a step schedule with gamma > 1?)") from None
    return real(returned_scalar(value, name), name, low=0.0)


def _epochs_to_check(schedule, epochs):
    """Epochs whose rates are checked before training: every epoch of a callable
    schedule; the first and last of a built-in one (its rates are monotone in the
    epoch), so that a long run starts at once."""
    return range(epochs) if callable(schedule) else sorted({0, epochs - 1})


def _optimizer(optimizer, lr, backend):
    if isinstance(optimizer, _Optimizer):
        return optimizer
    cls = OPTIMIZERS[choice(optimizer, "optimizer", [k for k in OPTIMIZERS if k != "gd"])]
    return cls(lr, backend=backend)


def _batch_weights(sw, idx, rows, row_terms):
    """The kernels' (sw, scale) for the rows ``idx`` and their total weight w.

    The batch's weights are scaled as the network scales weights
    (:func:`pykernels._checks.scaled_weights`): its weighted mean unchanged, 1 / (their
    sum) finite even when every weight of the batch is tiny.
    """
    if not sw.size:
        return sw, float(rows), 1.0 / (rows * row_terms)
    swb = sw[idx]
    wb = float(np.sum(swb, dtype=np.float64))
    top = float(swb.max())
    if top == 0.0:
        return swb, 0.0, 0.0  # a batch of zero weight: only the penalty
    swb = scaled_weights(swb, top)
    return swb, wb, 1.0 / (float(np.sum(swb, dtype=np.float64)) * row_terms)


def _diverged(epoch, loss, lr, theta, state, theta_before, state_before):
    """Undo the epoch that made the loss or theta NaN/Inf, then say so."""
    theta[...] = theta_before
    for key, value in state_before.items():
        if isinstance(value, np.ndarray):
            state[key][...] = value  # in place: the caller's state= arrays stay theirs
        else:
            state[key] = value
    raise ValueError(f"training diverged in epoch {epoch}: the loss or the parameters became "
                     f"NaN/Inf (mean loss {loss:.6g}) at the learning rate {lr:g}; net.theta "
                     "and the optimizer state are as they were when that epoch began (lower "
                     "lr, or scale the data)")


def _save_checkpoint(path, net, opt, state, rng, epoch, history):
    arrays = {"format": np.array(_CKPT_FORMAT), "version": np.array(_CKPT_VERSION),
              "optimizer": np.array(repr(opt)), "sizes": net.sizes,
              "activation": np.array(net.activation), "output": np.array(net.output),
              "loss": np.array(net.loss_name), "theta": net.theta,
              "epoch": np.array(epoch), "step": np.array(state["step"]),
              "rng": np.array(json.dumps(rng.bit_generator.state))}
    arrays.update({f"state_{k}": v for k, v in state.items() if k != "step"})
    arrays.update({f"history_{k}": np.array(history[k], dtype=np.float64)
                   for k in _HISTORY_KEYS})
    atomic_savez(path, arrays, "checkpoint")


def _count(fields, key, where):
    """Field ``key`` as an int >= 0 (a scalar integer array)."""
    value = fields[key]
    if value.shape != () or value.dtype.kind not in "iu" or int(value) < 0:
        raise ValueError(f"{where}: field {key!r} must be an integer >= 0, got {value!r}")
    return int(value)


def _load_checkpoint(path, net, opt, state, rng, history):
    """Restore theta, optimizer state, RNG and history from ``path``, every field
    checked first (nothing changes unless all of them are right); returns the next
    epoch."""
    where = f"checkpoint {os.fspath(path)!r}"
    try:
        fields = _read_npz(path)
    except ValueError as exc:
        raise ValueError(f"{where} is not a readable training checkpoint: {exc}") from None
    if str(fields.get("format")) != _CKPT_FORMAT or "version" not in fields \
            or fields["version"].shape != () or fields["version"].dtype.kind not in "iu" \
            or int(fields["version"]) != _CKPT_VERSION:
        raise ValueError(f"{where} is not a version-{_CKPT_VERSION} pykernels training "
                         "checkpoint (fields 'format', 'version')")
    if str(fields.get("optimizer")) != repr(opt):
        raise ValueError(f"{where} was written by {fields.get('optimizer')}, not by {opt!r} "
                         "(field 'optimizer')")
    keys = set(_CKPT_KEYS) | {f"state_{slot}" for slot in opt._slots}
    if set(fields) != keys:
        raise ValueError(f"{where}: expected the fields {sorted(keys)}, found "
                         f"{sorted(fields)}")
    network = {"sizes": net.sizes.tolist(), "activation": net.activation,
               "output": net.output, "loss": net.loss_name}
    for key, mine in network.items():
        theirs = fields[key].tolist()
        if theirs != mine:
            raise ValueError(f"{where} was written for a network with {key}={theirs!r}, "
                             f"not {mine!r} (field {key!r})")
    arrays = {"theta": fields["theta"]}
    arrays.update({f"state_{slot}": fields[f"state_{slot}"] for slot in opt._slots})
    for key, value in arrays.items():
        if value.shape != net.theta.shape or value.dtype != net.dtype:
            raise ValueError(f"{where}: field {key!r} must be a {net.dtype} array of shape "
                             f"{net.theta.shape}, got {value.dtype} {value.shape}")
        if key == "theta" and not np.isfinite(value).all():
            raise ValueError(f"{where}: field {key!r} holds NaN or Inf")
    for slot in opt._slots:  # the rules of opt.check_state
        opt.check_slot(slot, arrays[f"state_{slot}"], f"{where}: field 'state_{slot}'")
    epoch, step = _count(fields, "epoch", where), _count(fields, "step", where)
    if step >= _MAX_STEP:
        raise ValueError(f"{where}: field 'step' must be < 2**63 - 1, got {step}")
    past = {}
    for key in _HISTORY_KEYS:
        value = fields[f"history_{key}"]
        if value.shape != (epoch,) or value.dtype.kind != "f":
            raise ValueError(f"{where}: field 'history_{key}' must hold {epoch} floats (one "
                             f"per epoch done), got {value.dtype} {value.shape}")
        if key != "val_loss" and not (np.isfinite(value).all() and (value >= 0).all()):
            raise ValueError(f"{where}: field 'history_{key}' must hold finite numbers >= 0 "
                             "(a loss and a learning rate per epoch)")
        past[key] = value.tolist()
    text = str(fields["rng"])
    try:
        if len(text) > _MAX_RNG_STATE:  # a generator's state is a few kB of JSON
            raise ValueError(f"{len(text)} characters")
        restored = np.random.default_rng()
        restored.bit_generator.state = json.loads(text)
        if type(restored.bit_generator) is not type(rng.bit_generator):
            raise ValueError(f"a {type(restored.bit_generator).__name__} state")
    except (TypeError, ValueError, KeyError, OverflowError, RecursionError) as exc:
        raise ValueError(f"{where}: field 'rng' is not a generator state: "
                         f"{type(exc).__name__}: {str(exc)[:200]}") from None
    net.theta = arrays["theta"]
    state["step"] = step
    for slot in opt._slots:
        state[slot][...] = arrays[f"state_{slot}"]
    rng.bit_generator.state = restored.bit_generator.state
    history.update(past)
    return epoch


def train(net, X, Y, optimizer="adam", lr=1e-3, epochs=10, batch_size=64, seed=0,
          progress=False, callback=None, validation=None, checkpoint=None, resume=False,
          *, schedule="constant", step_size=10, gamma=0.1, sample_weight=None, l2=0.0,
          shuffle=True, state=None, backend=None):
    """Train ``net`` in place by mini-batch first-order optimization.

    Each epoch shuffles the rows with one seeded generator (unless ``shuffle=False``),
    walks them in batches of ``batch_size`` (the last batch may be smaller) and after
    each batch's backpropagation applies one update kernel to the flat ``net.theta``.

    Parameters
    ----------
    net : pk.MLP
    X : array_like, shape (n, n_in)
    Y : array_like
        Targets as for :meth:`pk.MLP.loss` (integer labels are one-hot encoded once).
    optimizer : {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"} or pk.optim object
        A name (built with ``lr`` and default hyper-parameters) or a configured
        ``pk.optim`` instance (then its own ``lr`` is the base rate).
    lr : float
        Base learning rate.
    epochs : int
        Total number of epochs (also when resuming: the run continues up to it).
    batch_size : int
    seed : int
        Seed of the shuffling generator.
    progress : bool
        Show a tqdm bar over the epochs with the current loss.
    callback : callable, optional
        ``callback(epoch, history)`` after each epoch (and its checkpoint); raising
        ``StopIteration`` ends training cleanly.
    validation : tuple (X_val, Y_val), optional
        Its loss is recorded after each epoch.
    checkpoint : path, optional
        Written atomically after every epoch: theta, optimizer state, RNG state, epoch,
        history and the network's description.  An interrupted write leaves the
        previous checkpoint intact (and the next save removes what a killed write
        left behind).  Its directory must exist.
    resume : bool
        Continue from ``checkpoint`` when it exists (bit-for-bit the same as a run
        that was never interrupted); start afresh when it does not.  Every field is
        checked against this network, optimizer and the rules of its state (finite,
        sums of squares >= 0, counts >= 0) before anything is restored.
    schedule : {"constant", "step", "cosine"} or callable
        Learning rate per epoch: constant; ``lr * gamma ** (epoch // step_size)``;
        cosine annealing ``lr (1 + cos(pi epoch / epochs)) / 2``; or ``schedule(epoch)``,
        which must return finite numbers >= 0 (every epoch's rate is checked before
        training starts, and the callable is called again as each epoch starts, so it
        may follow the training -- e.g. lower the rate on a plateau).
    step_size : int
    gamma : float
        Parameters of the ``"step"`` schedule (``gamma`` finite, >= 0).
    sample_weight : array_like, shape (n,), optional
        Weight of each row of X (finite, >= 0, positive sum), shuffled with the rows.
        Each mini-batch's loss is the weighted mean over its rows (as
        :meth:`pk.MLP.loss`); a mini-batch whose weights are all 0 contributes only
        the penalty.
    l2 : float
        Coefficient of the L2 penalty ``(l2 / 2) sum ||W||^2`` on the weight matrices
        (not the biases) added to every mini-batch's loss; finite, >= 0.
        scikit-learn's ``alpha`` (its penalty is ``alpha / (2 n_batch) ||W||^2``)
        corresponds to ``l2 = alpha / batch_size``.
    shuffle : bool
        False walks the rows in their order every epoch (each batch is then a view
        of ``X``, not a copy).
    state : dict, optional
        The optimizer's state to continue from (made by ``opt.init(net.theta)``, kept
        from an earlier call), updated in place: a run split into several calls then
        follows the trajectory of one run (moments, step count).  None: a fresh state.
    backend : str, optional

    Returns
    -------
    dict
        ``"loss"`` (each epoch's mini-batch losses, evaluated before each update,
        averaged with the batches' total sample weights -- their sizes without
        ``sample_weight``), ``"val_loss"`` (the unweighted mean loss on
        ``validation``, without the penalty; NaN entries without validation),
        ``"lr"`` and ``"time"`` (seconds per epoch), one entry per epoch.

    Raises
    ------
    ValueError
        Bad arguments (as :meth:`pk.MLP.loss` for X and Y), a learning rate from
        ``schedule``/``gamma`` that is NaN, infinite or negative, a ``checkpoint`` to
        resume from that is damaged or was written for another network or
        optimizer -- all before ``net.theta`` changes; training that diverges (the
        loss or theta becomes NaN/Inf in an epoch: that epoch is undone, so
        ``net.theta`` and ``state`` are left finite, as the epoch found them).
    TypeError
        Arguments of the wrong kind.
    FileNotFoundError, IsADirectoryError, PermissionError
        When ``checkpoint`` cannot be written there (its directory is missing, ...),
        before training starts.

    Examples
    --------
    >>> import pykernels as pk
    >>> from pykernels.datasets import spirals
    >>> X, y = spirals(300, seed=0)
    >>> net = pk.MLP([2, 32, 32, 2], output="softmax", loss="cross_entropy", seed=0)
    >>> hist = pk.train(net, X, y, lr=1e-2, epochs=3, batch_size=32)
    >>> len(hist["loss"])
    3
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a pk.MLP, got {type(net).__name__}")
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    seed = check_seed(seed)
    function(callback, "callback", optional=True)
    progress, resume = flag(progress, "progress"), flag(resume, "resume")
    shuffle = flag(shuffle, "shuffle")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=<path>")
    if checkpoint is not None:
        check_writable(checkpoint, "checkpoint")
    X = net._check_X(X)
    Y = net._check_Y(Y, X.shape[0])
    sw, _, l2 = net._check_weights(sample_weight, l2, X.shape[0])  # largest in [0.5, 1)
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("validation must be a tuple (X_val, Y_val)")
        Xv = net._check_X(validation[0])
        Yv = net._check_Y(validation[1], Xv.shape[0])
        val_weights = net._check_weights(None, 0.0, Xv.shape[0])
    module = _backend.resolve(backend)
    opt = _optimizer(optimizer, lr, backend)
    if not callable(schedule) and schedule == "step":
        gamma = real(gamma, "gamma", low=0.0)
    rate = _schedule(schedule, opt.lr, epochs, positive_int(step_size, "step_size"), gamma)
    for epoch in _epochs_to_check(schedule, epochs):  # before training changes anything
        _rate(rate, epoch)
    theta = net.theta
    state = opt.init(theta) if state is None else opt.check_state(state, theta)
    rng = np.random.default_rng(seed)
    history = {key: [] for key in _HISTORY_KEYS}
    history["time"] = []
    start = 0
    if resume and os.path.exists(checkpoint):
        start = _load_checkpoint(checkpoint, net, opt, state, rng, history)
        history["time"] = [float("nan")] * start

    n = X.shape[0]
    row_terms = net._row_terms  # a batch of total weight w has scale 1 / (w row_terms)
    grad = np.empty_like(theta)
    # the network's kernel bound to its sizes, codes and workspace: the batches made
    # below are arrays as the kernels take them, so no call re-checks them
    step = net._kernel(module, "mlp_loss_and_grad", min(batch_size, n))
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, initial=start, desc="train", unit="epoch")
    try:
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            lr_epoch = _rate(rate, epoch)  # again: a schedule may follow the training
            before = theta.copy(), copy_state(state)
            order = rng.permutation(n) if shuffle else None
            total = weight = 0.0
            for lo in range(0, n, batch_size):
                if shuffle:                      # take: ~2 us less than fancy indexing
                    idx = order[lo:lo + batch_size]
                    Xb, Yb = X.take(idx, axis=0), Y.take(idx, axis=0)
                else:                            # views, no copies
                    idx = slice(lo, lo + batch_size)
                    Xb, Yb = X[idx], Y[idx]
                swb, wb, scale = _batch_weights(sw, idx, len(Xb), row_terms)
                total += wb * step(theta, Xb, Yb, swb, scale, l2, grad)[0]
                weight += wb
                opt._apply(module, theta, grad, state, lr_epoch)
            if not (np.isfinite(total) and all_finite(theta)):
                _diverged(epoch, total / weight, lr_epoch, theta, state, *before)
            history["loss"].append(total / weight)
            history["lr"].append(lr_epoch)
            history["val_loss"].append(
                float(module.mlp_loss(theta, net.sizes, *net._codes, Xv, Yv, *val_weights,
                                      net._work(module, len(Xv))))
                if validation is not None else float("nan"))
            history["time"].append(time.perf_counter() - t0)
            if checkpoint is not None:
                _save_checkpoint(checkpoint, net, opt, state, rng, epoch + 1, history)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{history['loss'][-1]:.4g}")
            if callback is not None:
                try:
                    callback(epoch, history)
                except StopIteration:
                    break
    finally:
        if bar is not None:
            bar.close()
    return history
