"""Curvature and smoothness: exact Hessian-vector products of a network's loss,
Hessian spectra, Lipschitz constants and stationary points.

Run: python examples/04_curvature.py
"""

import numpy as np

import pykernels as pk
from pykernels.datasets import spirals

X, y = spirals(200, seed=0)
net = pk.MLP([2, 16, 16, 2], activation="tanh", output="softmax", loss="cross_entropy", seed=0)
v = np.random.default_rng(0).standard_normal(net.size)

Hv = net.hvp(X, y, v)          # exact, by the R-operator (forward-over-reverse)
Gv = net.gnvp(X, y, v)         # Gauss-Newton product: positive semi-definite
print(f"v.Hv = {v @ Hv:.4f}, v.Gv = {v @ Gv:.4f} (>= 0)")

top = pk.hessian_eigs(lambda u: net.hvp(X, y, u), net.size, k=3, which="both")
print("extreme Hessian eigenvalues:", top.values, "after", top.nprod, "products")

J = net.jacobian(X[:5], wrt="input")            # (5, n_out, n_in)
print("input Jacobian of the first sample:\n", J[0])

lower = pk.lipschitz(lambda x: net.predict(x[None, :])[0], -3 * np.ones(2), 3 * np.ones(2))
print(f"Lipschitz constant of the network on [-3, 3]^2: {lower.value:.3f} (sampled) "
      f"<= {net.lipschitz_bound():.3f} (bound)")

points = pk.stationary_points(lambda x: x ** 4 - 40 * x ** 2 - 100 * x, -10, 10)
print(points)
