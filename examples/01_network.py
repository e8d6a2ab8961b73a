"""A network on one flat parameter vector, trained by hand-written gradient descent.

Run: python examples/01_network.py
"""

import numpy as np

import pykernels as pk
from pykernels.datasets import spirals

X, y = spirals(600, seed=0)
net = pk.MLP([2, 64, 64, 2], activation="tanh", output="softmax", loss="cross_entropy",
             seed=0)
print(net, "with", net.size, "parameters")

rng = np.random.default_rng(0)
velocity = np.zeros_like(net.theta)
for epoch in range(60):
    for rows in np.array_split(rng.permutation(len(X)), len(X) // 32):
        loss, grad = net.loss_and_grad(X[rows], y[rows])  # backpropagation, compiled
        velocity = 0.9 * velocity - 0.02 * grad             # heavy-ball momentum
        net.theta += velocity                               # layers are views: updated too

accuracy = np.mean(net.predict(X).argmax(axis=1) == y)
print(f"loss {net.loss(X, y):.4f}, training accuracy {accuracy:.1%}")
assert accuracy > 0.95
