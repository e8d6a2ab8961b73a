"""Sparse Jacobians (colouring) and bounds."""

import numpy as np
import pytest
import scipy.sparse as sp
from problems import get

import pykernels as pk
from pykernels.derivatives import color_groups


def banded(n, half_width):
    offsets = range(-half_width, half_width + 1)
    return sp.diags([np.ones(n - abs(k)) for k in offsets], list(offsets), format="csr")


def assert_valid_coloring(groups, pattern):
    S = sp.csc_matrix(pattern, dtype=bool)
    for g in range(groups.ngroups):
        cols = groups.order[groups.gptr[g]:groups.gptr[g + 1]]
        # no row has two nonzeros among the columns of one group
        assert S[:, cols].sum(axis=1).max() <= 1


@pytest.mark.parametrize("order", ["largest_first", "smallest_last"])
def test_banded_patterns_take_bandwidth_groups(order):
    tri = banded(10_000, 1)
    g = color_groups(tri, order=order)
    assert g.ngroups == 3
    assert_valid_coloring(g, tri)
    penta = banded(2_000, 2)
    g = color_groups(penta, order=order)
    assert g.ngroups == 5
    assert_valid_coloring(g, penta)


@pytest.mark.parametrize("order", ["largest_first", "smallest_last", "natural"])
def test_random_pattern_coloring_is_valid(order):
    rng = np.random.default_rng(3)
    mask = rng.random((60, 40)) < 0.08
    g = color_groups(mask, order=order)
    assert_valid_coloring(g, mask)
    assert g.ngroups <= 40
    # the greedy bound: at most 1 + the largest degree of the intersection graph
    S = sp.csc_matrix(mask.astype(float))
    A = (S.T @ S).toarray() != 0
    np.fill_diagonal(A, False)
    assert g.ngroups <= 1 + A.sum(axis=1).max()


@pytest.mark.parametrize("method,evaluations", [("forward", 4), ("central", 6),
                                                ("complex", 3), ("richardson", 8 * 6 + 1)])
def test_tridiagonal_n10000_evaluation_count(method, evaluations):
    p = get("broyden_tridiagonal", 10_000)
    calls = []

    def f(x):
        calls.append(1)
        return p.residual(x)

    x = np.linspace(-1.0, 1.0, p.n)
    J = pk.jacobian(f, x, method=method, sparsity=banded(p.n, 1))
    assert len(calls) == evaluations
    assert isinstance(J, sp.csr_matrix) and J.shape == (p.n, p.n) and J.nnz == 3 * p.n - 2
    exact = sp.csr_matrix(sp.diags([np.full(p.n - 1, -1.0), 3.0 - 4.0 * x,
                                    np.full(p.n - 1, -2.0)], [-1, 0, 1]))
    tol = {"forward": 1e-6, "central": 1e-9, "complex": 1e-14, "richardson": 1e-12}[method]
    assert abs(J - exact).max() <= tol * abs(exact).max()


@pytest.mark.parametrize("method", ["forward", "central", "richardson", "complex"])
def test_sparse_equals_dense_compiled_and_python(method):
    p = get("broyden_tridiagonal", 50)
    x = np.random.default_rng(0).standard_normal(p.n)
    mask = banded(p.n, 1).toarray() != 0
    dense = pk.jacobian(p.residual_jit, x, method=method)
    for f in (p.residual_jit, p.residual):
        J = pk.jacobian(f, x, method=method, sparsity=mask)
        assert isinstance(J, sp.csr_matrix)
        np.testing.assert_allclose(J.toarray(), dense, rtol=0, atol=1e-12 * abs(dense).max()
                                   if method != "forward" else 1e-6 * abs(dense).max())
    # the compiled grouped loop and the reference one agree bit for bit
    assert (pk.jacobian(p.residual_jit, x, method=method, sparsity=mask)
            != pk.jacobian(p.residual_jit, x, method=method, sparsity=mask,
                           backend="numpy")).nnz == 0


def test_sparse_richardson_full_output_and_reuse():
    p = get("broyden_tridiagonal", 30)
    groups = color_groups(banded(p.n, 1))
    x = p.x0 + 0.1
    J, err = pk.jacobian(p.residual, x, method="richardson", sparsity=groups,
                         full_output=True)
    assert isinstance(err, sp.csr_matrix) and err.nnz == J.nnz
    assert abs(J - sp.csr_matrix(p.jac(x))).max() <= 1e-12 * abs(J).max()


# ------------------------------------------------------------------ bounds

def recording(f):
    seen = []

    def g(x, *a):
        seen.append(np.array(x, copy=True))
        return f(x, *a)
    return g, seen


@pytest.mark.parametrize("method", ["forward", "backward", "central", "richardson"])
def test_log_near_zero_bound(method):
    # scipy's 3-point gives 4.33e5 for d/dx log(x) at 1e-6 with bounds (0, inf)
    f, seen = recording(lambda x: np.sum(np.log(x)))
    x = np.array([1e-6, 0.5, 3.0])
    g = pk.gradient(f, x, method=method, bounds=(0.0, np.inf))
    tol = {"forward": 1e-6, "backward": 1e-6, "central": 1e-9, "richardson": 1e-12}[method]
    assert np.max(np.abs(g * x - 1.0)) <= tol
    assert min(np.min(s) for s in seen) > 0.0


@pytest.mark.parametrize("method", ["forward", "backward", "central", "richardson"])
def test_points_on_the_bounds_stay_inside(method):
    def fun(x):
        return np.sum(x ** 3 + np.sqrt(x + 2.0) - 2.0 * x)
    f, seen = recording(fun)
    lo, hi = np.array([0.0, -1.0, 0.0]), np.array([1.0, 0.0, 2.0])
    x = np.array([0.0, 0.0, 1.0])  # on lo, on hi, inside
    g = pk.gradient(f, x, method=method, bounds=(lo, hi))
    exact = 3 * x ** 2 + 0.5 / np.sqrt(x + 2.0) - 2.0
    tol = {"forward": 1e-5, "backward": 1e-5, "central": 1e-7, "richardson": 1e-9}[method]
    assert np.max(np.abs(g - exact) / np.abs(exact)) <= tol
    pts = np.array(seen)
    assert np.all(pts >= lo) and np.all(pts <= hi)


def test_bounds_compiled_equals_reference_and_jacobian():
    p = get("rosenbrock", 4)
    x = np.array([1.0, 0.5, -0.2, 2.0])
    bounds = ([1.0, 0.5, -1.0, 0.0], [3.0, 0.5 + 1e-7, 0.0, 2.0])
    for method in ("central", "forward", "richardson"):
        a = pk.jacobian(p.residual_jit, x, method=method, bounds=bounds)
        b = pk.jacobian(p.residual_jit, x, method=method, bounds=bounds, backend="numpy")
        assert np.array_equal(a, b)
        assert np.max(np.abs(a - p.jac(x))) <= 1e-5 * np.max(np.abs(p.jac(x)))
