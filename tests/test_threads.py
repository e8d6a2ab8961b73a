"""Kernels release the GIL and keep no shared state: threads give single-thread results."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import pykernels as pk
from pykernels.datasets import spirals


def _train(seed, steps=60):
    X, y = spirals(256, seed=seed)
    net = pk.MLP([2, 16, 16, 2], activation="tanh", output="softmax", loss="cross_entropy",
                 seed=seed)
    losses = []
    for k in range(steps):
        rows = slice((k * 32) % 256, (k * 32) % 256 + 32)
        value, grad = net.loss_and_grad(X[rows], y[rows])
        net.theta -= 0.1 * grad
        losses.append(value)
    return net.theta.copy(), losses


def test_two_threads_training_separate_networks():
    expected = [_train(seed) for seed in (1, 2)]
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(_train, (1, 2)))
    for (theta, losses), (theta_ref, losses_ref) in zip(got, expected):
        np.testing.assert_array_equal(theta, theta_ref)
        assert losses == losses_ref


def test_two_threads_evaluating_one_network():
    net = pk.MLP([8, 64, 64, 3], activation="relu", output="softmax", loss="cross_entropy",
                 seed=0)
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((b, 8)), rng.integers(0, 3, b)) for b in (50, 50, 17, 50)]
    expected = [net.loss_and_grad(X, y) for X, y in batches] * 25

    def evaluate(k):
        X, y = batches[k % len(batches)]
        return net.loss_and_grad(X, y)

    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(evaluate, range(len(expected))))
    for (value, grad), (value_ref, grad_ref) in zip(got, expected):
        assert value == value_ref
        np.testing.assert_array_equal(grad, grad_ref)


def test_kernels_are_compiled_nogil():
    from pykernels import kernels

    for name in ("mlp_predict", "mlp_loss", "mlp_loss_and_grad"):
        assert getattr(kernels, name).targetoptions["nogil"] is True
