"""Mini-batch training of a ``pk.MLP`` in place: ``pk.train``."""

import json
import math
import os
import time
import zipfile

import numpy as np

from . import _backend
from ._checks import choice, positive_int
from .network import atomic_savez
from .optim import OPTIMIZERS, _Optimizer

__all__ = ["train"]

SCHEDULES = ("constant", "step", "cosine")
_CKPT_FORMAT = "pykernels.train-checkpoint"
_HISTORY_KEYS = ("loss", "val_loss", "lr")


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


def _optimizer(optimizer, lr, backend):
    if isinstance(optimizer, _Optimizer):
        return optimizer
    cls = OPTIMIZERS[choice(optimizer, "optimizer", [k for k in OPTIMIZERS if k != "gd"])]
    return cls(lr, backend=backend)


def _save_checkpoint(path, net, opt, state, rng, epoch, history):
    arrays = {"format": np.array(_CKPT_FORMAT), "optimizer": np.array(repr(opt)),
              "theta": net.theta, "epoch": np.array(epoch), "step": np.array(state["step"]),
              "rng": np.array(json.dumps(rng.bit_generator.state))}
    arrays.update({f"state_{k}": v for k, v in state.items() if k != "step"})
    arrays.update({f"history_{k}": np.array(history[k], dtype=np.float64)
                   for k in _HISTORY_KEYS})
    atomic_savez(path, arrays)


def _load_checkpoint(path, net, opt, state, rng, history):
    """Restore theta, optimizer state, RNG and history; returns the next epoch."""
    try:
        with np.load(path, allow_pickle=False) as data:
            fields = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise ValueError(f"checkpoint {path!r} is not a readable training checkpoint: "
                         f"{exc}") from exc
    if str(fields.get("format")) != _CKPT_FORMAT:
        raise ValueError(f"checkpoint {path!r} is not a pykernels training checkpoint")
    if str(fields["optimizer"]) != repr(opt):
        raise ValueError(f"checkpoint {path!r} was written by {fields['optimizer']}, "
                         f"not by {opt!r}")
    net.theta = fields["theta"]
    state["step"] = int(fields["step"])
    for key in state:
        if key != "step":
            state[key][...] = fields[f"state_{key}"]
    rng.bit_generator.state = json.loads(str(fields["rng"]))
    for key in _HISTORY_KEYS:
        history[key] = fields[f"history_{key}"].tolist()
    return int(fields["epoch"])


def train(net, X, Y, optimizer="adam", lr=1e-3, epochs=10, batch_size=64, seed=0,
          progress=False, callback=None, validation=None, checkpoint=None, resume=False,
          *, schedule="constant", step_size=10, gamma=0.1, sample_weight=None, l2=0.0,
          backend=None):
    """Train ``net`` in place by mini-batch first-order optimization.

    Each epoch shuffles the rows with one seeded generator, walks them in batches of
    ``batch_size`` (the last batch may be smaller) and after each batch's
    backpropagation applies one update kernel to the flat ``net.theta``.

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
        Written atomically after every epoch: theta, optimizer state, RNG state, epoch
        and history.  An interrupted write leaves the previous checkpoint intact.
    resume : bool
        Continue from ``checkpoint`` when it exists (bit-for-bit the same as a run
        that was never interrupted); start afresh when it does not.
    schedule : {"constant", "step", "cosine"} or callable
        Learning rate per epoch: constant; ``lr * gamma ** (epoch // step_size)``;
        cosine annealing ``lr (1 + cos(pi epoch / epochs)) / 2``; or ``schedule(epoch)``.
    step_size : int
    gamma : float
        Parameters of the ``"step"`` schedule.
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
    backend : str, optional

    Returns
    -------
    dict
        ``"loss"`` (each epoch's mini-batch losses, evaluated before each update,
        averaged with the batches' total sample weights -- their sizes without
        ``sample_weight``), ``"val_loss"`` (the unweighted mean loss on
        ``validation``, without the penalty; NaN entries without validation),
        ``"lr"`` and ``"time"`` (seconds per epoch), one entry per epoch.

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
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=<path>")
    X = net._check_X(X)
    Y = net._check_Y(Y, X.shape[0])
    sw, _, l2 = net._check_weights(sample_weight, l2, X.shape[0])
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("validation must be a tuple (X_val, Y_val)")
        Xv = net._check_X(validation[0])
        Yv = net._check_Y(validation[1], Xv.shape[0])
        val_weights = net._check_weights(None, 0.0, Xv.shape[0])
    module = _backend.resolve(backend)
    opt = _optimizer(optimizer, lr, backend)
    rate = _schedule(schedule, opt.lr, epochs, positive_int(step_size, "step_size"), gamma)
    theta = net.theta
    state = opt.init(theta)
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
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, initial=start, desc="train", unit="epoch")
    try:
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            lr_epoch = float(rate(epoch))
            order = rng.permutation(n)
            total = weight = 0.0
            for lo in range(0, n, batch_size):
                idx = order[lo:lo + batch_size]
                Xb = X.take(idx, axis=0)
                Yb = Y.take(idx, axis=0)
                swb = sw.take(idx) if sw.size else sw
                wb = float(np.sum(swb, dtype=np.float64)) if sw.size else float(len(idx))
                scale = 1.0 / (wb * row_terms) if wb > 0 else 0.0
                total += wb * module.mlp_loss_and_grad(
                    theta, net.sizes, *net._codes, Xb, Yb, swb, scale, l2,
                    net._work(module, len(idx)), grad)
                weight += wb
                opt._apply(module, theta, grad, state, lr_epoch)
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
