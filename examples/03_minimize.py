"""Zero-, first- and second-order minimisation through one interface.

Run: python examples/03_minimize.py
"""

import numpy as np

import pykernels as pk


def rosen(x):
    return 100.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2


def rosen_grad(x):
    return np.array([-400.0 * x[0] * (x[1] - x[0] ** 2) - 2.0 * (1.0 - x[0]),
                     200.0 * (x[1] - x[0] ** 2)])


x0 = np.array([-1.2, 1.0])
print(f"{'method':<20} {'f':>10} {'nit':>6} {'nfev':>6} {'njev':>6} {'nhev':>6}  message")
for method in ("random-search", "simulated-annealing", "genetic", "gd", "adam", "lbfgs",
               "newton", "newton-cg"):
    options = {"lr": 0.01} if method == "adam" else None
    res = pk.minimize(rosen, x0, method=method, jac=None if method in (
        "random-search", "simulated-annealing", "genetic") else rosen_grad,
        seed=0, maxiter=2000, options=options)
    print(f"{method:<20} {res.fun:>10.2e} {res.nit:>6} {res.nfev:>6} {res.njev:>6} "
          f"{res.nhev:>6}  {res.message}")

best = pk.minimize(rosen, x0, method="lbfgs", jac=rosen_grad, tol=1e-10)
assert best.success and np.allclose(best.x, 1.0)

# A network's loss goes straight into the optimizers.
from pykernels.datasets import spirals  # noqa: E402

X, y = spirals(200, seed=0)
net = pk.MLP([2, 12, 12, 2], activation="tanh", output="softmax", loss="cross_entropy", seed=0)
res = pk.minimize(net.objective(X, y), net.theta, method="lbfgs", maxiter=500)
net.theta = res.x
print(f"network trained by L-BFGS: loss {res.fun:.2e}, "
      f"accuracy {np.mean(net.predict(X).argmax(axis=1) == y):.1%}")

# Step-by-step use of the same update rules pk.train uses.
opt = pk.optim.Adam(lr=0.05)
x = x0.copy()
state = opt.init(x)
for _ in range(2000):
    x, state = opt.step(x, rosen_grad(x), state)
print("hand-written Adam loop:", x)
