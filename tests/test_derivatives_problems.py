"""The test problems themselves: their exact derivatives are right (sympy, complex step)."""

import numpy as np
import pytest
from problems import PROBLEMS, get


def complex_step_jacobian(residual, x, h=1e-30):
    # independent of pykernels: Im r(x + i h e_j) / h is exact to rounding
    return np.column_stack([np.imag(residual(x + 1j * h * e)) / h for e in np.eye(x.size)])


@pytest.mark.parametrize("p", PROBLEMS, ids=lambda p: f"{p.name}-{p.n}")
def test_jacobian_gradient_and_minimum(p):
    rng = np.random.default_rng(0)
    for x in (p.x0, p.x0 + 0.2 * rng.standard_normal(p.n)):
        J = p.jac(x)
        assert np.max(np.abs(J - complex_step_jacobian(p.residual, x))) <= 1e-13 * max(
            1.0, np.max(np.abs(J)))
        assert np.allclose(p.grad(x), 2 * J.T @ p.residual(x), rtol=1e-14, atol=0)
        H = p.hess(x)
        assert np.array_equal(H, H.T)
    if p.xstar is not None:
        assert p.fun(p.xstar) == p.fstar
        assert np.max(np.abs(p.grad(p.xstar))) <= 1e-10


def test_njit_versions_match():
    for p in PROBLEMS[:9]:
        x = p.x0 + 0.1
        assert np.array_equal(p.residual_jit(x), p.residual(x))
        assert np.isclose(p.fun_jit(x), p.fun(x), rtol=1e-14)


@pytest.mark.parametrize("name,n", [("rosenbrock", 4), ("powell_singular", 4), ("beale", 2),
                                    ("wood", 4), ("broyden_tridiagonal", 5),
                                    ("brown_badly_scaled", 2)])
def test_hessian_against_sympy(name, n):
    sympy = pytest.importorskip("sympy")
    p = get(name, n)
    syms = sympy.symbols(f"x0:{n}")
    f = sum(r ** 2 for r in p.residual(np.array(syms, dtype=object)))
    grad = [sympy.diff(f, s) for s in syms]
    hess = sympy.hessian(f, syms)
    g_fun = sympy.lambdify(syms, grad, "numpy")
    h_fun = sympy.lambdify(syms, hess, "numpy")
    rng = np.random.default_rng(1)
    for x in (p.x0, p.x0 + 0.3 * rng.standard_normal(n)):
        H = np.array(h_fun(*x), dtype=float)
        assert np.allclose(p.grad(x), np.array(g_fun(*x), dtype=float), rtol=1e-12, atol=1e-9)
        assert np.allclose(p.hess(x), H, rtol=1e-12, atol=1e-9 * np.max(np.abs(H)))
