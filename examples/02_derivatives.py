"""Gradients, Jacobians and Hessian-vector products of any function.

Run: python examples/02_derivatives.py
"""

import numba
import numpy as np

import pykernels as pk


def rosen(x):
    """Extended Rosenbrock function (plain Python/NumPy)."""
    return np.sum(100.0 * (x[1::2] - x[::2] ** 2) ** 2 + (1.0 - x[::2]) ** 2)


@numba.njit
def rosen_jit(x):
    """The same function compiled: the difference loop then runs in compiled code."""
    total = 0.0
    for i in range(0, x.size, 2):
        total += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return total


def rosen_grad(x):
    g = np.zeros_like(x)
    g[::2] = -400.0 * x[::2] * (x[1::2] - x[::2] ** 2) - 2.0 * (1.0 - x[::2])
    g[1::2] = 200.0 * (x[1::2] - x[::2] ** 2)
    return g


x = np.linspace(-1.0, 1.5, 10)
exact = rosen_grad(x)
for method in ("forward", "central", "richardson", "complex"):
    g = pk.gradient(rosen, x, method=method)
    print(f"{method:<11} max relative error {np.max(np.abs(g - exact) / np.abs(exact)):.1e}")

g = pk.gradient(rosen_jit, x)                     # compiled loop, same answer
assert np.allclose(g, pk.gradient(rosen, x), rtol=1e-12)

v = np.ones_like(x)
Hv = pk.hvp(rosen, x, v, grad=rosen_grad)         # H(x) v without forming H
H = pk.hessian(rosen, x, grad=rosen_grad)         # symmetric (n, n)
print("hvp matches hessian @ v:", np.allclose(Hv, H @ v, rtol=1e-6))
print("check_grad:", pk.check_grad(rosen, rosen_grad, x))


def broyden(x):
    """Broyden tridiagonal function R^n -> R^n: a sparse Jacobian."""
    xp = np.concatenate([[0.0], x, [0.0]])
    return (3.0 - 2.0 * x) * x - xp[:-2] - 2.0 * xp[2:] + 1.0


n = 1000
pattern = np.eye(n, dtype=bool) | np.eye(n, k=1, dtype=bool) | np.eye(n, k=-1, dtype=bool)
J = pk.jacobian(broyden, np.zeros(n), sparsity=pattern)   # 3 colour groups, not n columns
print("sparse Jacobian:", type(J).__name__, J.shape, J.nnz, "nonzeros")


# -- sparse Hessians by star colouring, vectorized f, noisy f -------------------------
import scipy.sparse as sp  # noqa: E402

n = 1000
arrow = sp.lil_matrix((n, n), dtype=bool)
arrow[0, :] = arrow[:, 0] = True
arrow.setdiag(True)


def arrow_f(x):
    return x[0] * np.sum(x[1:] ** 2) + np.sum(np.cos(x))


def arrow_grad(x):
    g = 2.0 * x[0] * x - np.sin(x)
    g[0] = np.sum(x[1:] ** 2) - np.sin(x[0])
    return g


xa = np.linspace(0.1, 1.0, n)
H = pk.hessian(None, xa, grad=arrow_grad, sparsity=arrow)   # 2 colours: 4 gradient calls
print("arrowhead Hessian:", H.shape, "nnz", H.nnz, "symmetric:", (H != H.T).nnz == 0)


def rosen_columns(X):
    """Rosenbrock of every column of X (n, k): one call evaluates a whole stencil."""
    return np.sum(100.0 * (X[1::2] - X[::2] ** 2) ** 2 + (1.0 - X[::2]) ** 2, axis=0)


print("vectorized gradient agrees:",
      np.allclose(pk.gradient(rosen_columns, x, vectorized=True), exact, rtol=1e-6))

rng = np.random.default_rng(0)
noisy = lambda y: rosen(y) * (1.0 + 1e-7 * rng.uniform(-1.0, 1.0))  # noqa: E731
g, info = pk.gradient(noisy, x, step="auto", full_output=True)
print(f"noisy f: noise ~ {info.noise:.1e}, error {np.max(np.abs(g - exact)):.1e} "
      f"(default step: {np.max(np.abs(pk.gradient(noisy, x) - exact)):.1e})")
one_wrong = np.ones_like(x)
one_wrong[2] = 1.001
err, check = pk.check_grad(rosen, lambda y: rosen_grad(y) * one_wrong, x, full_output=True)
print("check_grad pins the wrong component:", check.worst)
