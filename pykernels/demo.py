"""``pykernels demo``: the lecture's story on generated data, printed as it runs."""

import sys
import time

import numpy as np

from .datasets import spirals
from .network import MLP


def _say(text="", out=None):
    print(text, file=out or sys.stdout, flush=True)


def train_spirals(quick=False, backend=None, seed=0, out=None):
    """Train a 2-64-64-2 tanh network on two spirals by mini-batch gradient descent.

    Prints loss and accuracy per epoch; returns the trained network and the
    final training accuracy.
    """
    X, y = spirals(600, noise=0.05, seed=seed)
    net = MLP([2, 64, 64, 2], activation="tanh", output="softmax", loss="cross_entropy",
              seed=seed)
    epochs, batch, lr, beta = (100 if quick else 300), 32, 0.02, 0.9
    rng = np.random.default_rng(seed)
    velocity = np.zeros_like(net.theta)
    _say(f"Two interleaved spirals, {len(X)} points; network {net.sizes.tolist()}, "
         f"{net.size} parameters in one flat theta.", out)
    _say(f"Mini-batch gradient descent with momentum: batch {batch}, step {lr}, "
         f"momentum {beta}.", out)
    _say(f"{'epoch':>6} {'loss':>10} {'accuracy':>9} {'seconds':>8}", out)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X))
        for k in range(0, len(X), batch):
            rows = order[k:k + batch]
            _, grad = net.loss_and_grad(X[rows], y[rows], backend=backend)
            velocity = beta * velocity - lr * grad
            net.theta += velocity
        if epoch == 1 or epoch % (epochs // 10) == 0:
            loss = net.loss(X, y, backend=backend)
            accuracy = np.mean(net.predict(X, backend=backend).argmax(axis=1) == y)
            _say(f"{epoch:>6} {loss:>10.4f} {accuracy:>9.1%} "
                 f"{time.perf_counter() - start:>8.2f}", out)
    return net, accuracy


def run(quick=False, backend=None, seed=0, out=None):
    """Run every section of the demo."""
    _say("pykernels demo: a network y = G(W x + b), layer after layer, trained by "
         "backpropagation.\n", out)
    train_spirals(quick=quick, backend=backend, seed=seed, out=out)
