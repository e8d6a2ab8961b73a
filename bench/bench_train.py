"""pk.train epoch vs the bare loss_and_grad kernel calls it makes (bar: <= 1.2x).

Run: ``python -m pytest bench/bench_train.py --benchmark-only``
(CI smoke: ``--benchmark-disable``).  One thread, one core (bench/conftest.py).
"""

import numpy as np
import pytest

import pykernels as pk
from pykernels import _backend

N, BATCH = 2048, 64
SIZES = [64, 128, 128, 10]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, SIZES[0])), rng.integers(0, SIZES[-1], N)


def _net():
    return pk.MLP(SIZES, activation="relu", output="softmax", loss="cross_entropy", seed=0)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_train_epoch(benchmark, data, optimizer):
    X, y = data
    net = _net()
    benchmark.group = "train-epoch|64-128-128-10|batch64"
    benchmark(pk.train, net, X, y, optimizer=optimizer, lr=1e-3, epochs=1, batch_size=BATCH)


def test_bare_loss_and_grad(benchmark, data):
    X, y = data
    net = _net()
    module = _backend.resolve(None)
    Y = net._check_Y(y, N)
    batches = [(np.ascontiguousarray(X[lo:lo + BATCH]), np.ascontiguousarray(Y[lo:lo + BATCH]))
               for lo in range(0, N, BATCH)]
    grad = np.empty(net.size)
    work = net._work(module, BATCH)
    weights = net._check_weights(None, 0.0, BATCH)  # the unweighted mean loss

    def epoch():
        for Xb, Yb in batches:
            module.mlp_loss_and_grad(net.theta, net.sizes, *net._codes, Xb, Yb, *weights, work,
                                     grad)

    benchmark.group = "train-epoch|64-128-128-10|batch64"
    benchmark(epoch)
