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
