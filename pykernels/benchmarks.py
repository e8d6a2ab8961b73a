"""Benchmark cases shared by ``bench/`` (pytest-benchmark) and ``pykernels bench``.

A :class:`Case` names a comparison group (``"mlp-step|tiny|f64"``), one
implementation in it (a backend, or a peer such as ``"torch"``), and a factory
returning a zero-argument callable that does one unit of work; both drivers time
exactly that callable.  A factory raises ``ImportError`` or
:class:`pykernels.BackendUnavailable` when its implementation is not installed.
"""

import dataclasses
import json
import time
from typing import Callable

import numpy as np

from ._backend import BackendUnavailable, backends
from .network import MLP


@dataclasses.dataclass(frozen=True)
class Case:
    """One implementation of one benchmark group."""

    group: str
    impl: str
    make: Callable[[], Callable[[], object]]
    quick: bool = True

    @property
    def id(self):
        """``group|impl``, unique among the cases."""
        return f"{self.group}|{self.impl}"

#: name -> (layer sizes, hidden activation, output, loss, batch)
MLP_CASES = {
    "tiny": ([2, 32, 32, 1], "tanh", "identity", "mse", 32),
    "small": ([64, 128, 128, 10], "relu", "softmax", "cross_entropy", 64),
    "large": ([1024, 1024, 1024, 10], "relu", "softmax", "cross_entropy", 512),
}
LEARNING_RATE = 1e-3


def mlp_problem(case, dtype=np.float64, seed=0):
    """The network and one batch (X, Y) of benchmark case ``case``."""
    sizes, activation, output, loss, batch = MLP_CASES[case]
    net = MLP(sizes, activation=activation, output=output, loss=loss, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    if loss == "cross_entropy":
        Y = rng.integers(0, sizes[-1], batch)
    else:
        Y = rng.standard_normal((batch, sizes[-1])).astype(dtype)
    return net, X, Y


def mlp_step(case, backend, dtype=np.float64):
    """One SGD training step (loss_and_grad + update) of ``case`` on ``backend``."""
    net, X, Y = mlp_problem(case, dtype)
    theta = net.theta
    lr = dtype(LEARNING_RATE)

    def step():
        value, grad = net.loss_and_grad(X, Y, backend=backend)
        grad *= lr
        np.subtract(theta, grad, out=theta)
        return value

    return step


def torch_mlp_step(case, dtype=np.float64):
    """The same step in PyTorch eager mode (raises ImportError without torch)."""
    import torch

    net, X, Y = mlp_problem(case, dtype)
    params = [torch.tensor(p.copy(), requires_grad=True) for W, b in net.layers for p in (W, b)]
    act = {"tanh": torch.tanh, "relu": torch.relu}[net.activation]
    F = torch.nn.functional
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(np.asarray(Y))
    loss = F.cross_entropy if net.loss_name == "cross_entropy" else F.mse_loss
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE)

    def step():
        optimizer.zero_grad()
        a = Xt
        for k in range(0, len(params) - 2, 2):
            a = act(a @ params[k].T + params[k + 1])
        value = loss(a @ params[-2].T + params[-1], Yt)
        value.backward()
        optimizer.step()
        return value.item()

    return step


def gemm_floor_step(case, dtype=np.float64):
    """Only the matrix products of one step, by ``np.dot`` into preallocated outputs.

    A lower bound for any implementation that calls BLAS: forward ``a W^T`` per
    layer, backward ``delta^T a`` and ``delta W``.
    """
    net, X, _ = mlp_problem(case, dtype)
    batch = len(X)
    acts = [X] + [np.ones((batch, W.shape[0]), dtype) for W, _ in net.layers]
    grads = [np.empty_like(W) for W, _ in net.layers]

    def step():
        for k, (W, _) in enumerate(net.layers):
            np.dot(acts[k], W.T, out=acts[k + 1])
        for k in range(len(net.layers) - 1, -1, -1):
            W = net.layers[k][0]
            np.dot(acts[k + 1].T, acts[k], out=grads[k])
            if k > 0:
                np.dot(acts[k + 1], W, out=acts[k])
        return 0.0

    return step


def mlp_flops(case):
    """Floating-point operations of one step: 2 per multiply-add, forward + 2x backward."""
    sizes, *_, batch = MLP_CASES[case]
    return 6 * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def mlp_cases():
    """Training-step cases: every backend, PyTorch eager and the BLAS floor."""
    cases = []
    for name in MLP_CASES:
        for tag, dtype in (("f64", np.float64), ("f32", np.float32)):
            group = f"mlp-step|{name}|{tag}"
            quick = name != "large"
            for backend in backends():
                cases.append(Case(group, backend, _bind(mlp_step, name, backend, dtype), quick))
            cases.append(Case(group, "torch", _bind(torch_mlp_step, name, dtype), quick))
            cases.append(Case(group, "gemm-floor", _bind(gemm_floor_step, name, dtype), quick))
    return cases


def _bind(factory, *args):
    return lambda: factory(*args)


def all_cases():
    """Every benchmark case, in group order."""
    return mlp_cases()


def time_call(step, min_time=0.2, repeats=5):
    """Median seconds per call of ``step`` over ``repeats`` timing rounds.

    Each round calls ``step`` as many times as fit in ``min_time / repeats`` (at
    least once), after one untimed call that compiles and warms caches.
    """
    step()
    start = time.perf_counter()
    step()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(min_time / repeats / once))
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            step()
        rounds.append((time.perf_counter() - start) / number)
    return float(np.median(rounds))


def run(cases, *, min_time=0.2, out=None):
    """Time ``cases`` on one thread; print a ratio table per group; return the rows.

    Returns
    -------
    list of dict
        One row per case: ``group``, ``impl``, ``seconds`` (median per call, None
        when the implementation is unavailable), ``ratio`` (to the group's fastest)
        and ``note``.
    """
    import sys

    import numba
    from threadpoolctl import threadpool_limits

    out = out or sys.stdout
    rows = []
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(1):
            for case in cases:
                try:
                    seconds, note = time_call(case.make(), min_time), ""
                except (ImportError, BackendUnavailable) as exc:
                    seconds, note = None, f"unavailable: {exc}"
                rows.append(dict(group=case.group, impl=case.impl, seconds=seconds, note=note))
    finally:
        numba.set_num_threads(previous)
    for row in rows:
        times = [r["seconds"] for r in rows if r["group"] == row["group"] and r["seconds"]]
        row["ratio"] = row["seconds"] / min(times) if row["seconds"] else None
    _print_table(rows, out)
    return rows


def _print_table(rows, out):
    group = None
    for row in rows:
        if row["group"] != group:
            group = row["group"]
            print(f"\n{group}", file=out)
            print(f"  {'implementation':<16} {'median':>12} {'ratio':>7}", file=out)
        if row["seconds"] is None:
            print(f"  {row['impl']:<16} {'-':>12} {'-':>7}  {row['note'][:60]}", file=out)
        else:
            print(f"  {row['impl']:<16} {_format_seconds(row['seconds']):>12} "
                  f"{row['ratio']:>6.2f}x", file=out)


def _format_seconds(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def write_json(rows, path):
    """Write the rows of :func:`run` to ``path`` as JSON (atomically)."""
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump({"cases": rows}, fh, indent=1)
    os.replace(tmp, path)
