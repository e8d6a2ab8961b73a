"""Sparse Hessians by star colouring (issue 15, item 1): exact oracles written by hand,
evaluation counts, exact symmetry, the colourings themselves."""

import numba
import numpy as np
import pytest
import scipy.sparse as sp

import pykernels as pk
from pykernels import _coloring
from pykernels.derivatives import color_groups
from pykernels.reference import coloring as py_coloring

METHODS = ["central", "forward", "backward", "richardson", "complex"]
TOL = {"central": 1e-6, "forward": 1e-4, "backward": 1e-4, "richardson": 1e-6,
       "complex": 1e-6}
#: from f alone: a second difference divides by h^2 (one-sided: error ~ h = eps^(1/3))
TOL_F = {**TOL, "forward": 1e-3, "backward": 1e-3}


# -- test functions with their exact gradients and Hessians ----------------------------

def arrow_f(x):
    """x_0 * sum_{i>0} x_i^2 + sum cos(x_i): one dense row/column plus the diagonal."""
    return x[0] * np.sum(x[1:] ** 2) + np.sum(np.cos(x))


def arrow_grad(x):
    g = 2.0 * x[0] * x - np.sin(x)
    g[0] = np.sum(x[1:] ** 2) - np.sin(x[0])
    return g


def arrow_hess(x):
    n = x.size
    H = np.diag(2.0 * x[0] - np.cos(x))
    H[0, 0] = -np.cos(x[0])
    H[0, 1:] = H[1:, 0] = 2.0 * x[1:]
    return H, arrow_pattern(n)


def arrow_pattern(n):
    P = sp.lil_matrix((n, n), dtype=bool)
    P[0, :] = True
    P[:, 0] = True
    P.setdiag(True)
    return P.tocsr()


def penta_f(x):
    """sum exp(x_i x_{i+2} / 10) + sum (x_i - x_{i+1})^4 / 4: pentadiagonal."""
    return np.sum(np.exp(0.1 * x[:-2] * x[2:])) + 0.25 * np.sum((x[:-1] - x[1:]) ** 4)


def penta_grad(x):
    g = np.zeros_like(x)
    e = np.exp(0.1 * x[:-2] * x[2:])
    g[:-2] += 0.1 * x[2:] * e
    g[2:] += 0.1 * x[:-2] * e
    d3 = (x[:-1] - x[1:]) ** 3
    g[:-1] += d3
    g[1:] -= d3
    return g


def penta_hess(x):
    n = x.size
    H = np.zeros((n, n))
    i = np.arange(n - 2)
    e = np.exp(0.1 * x[:-2] * x[2:])
    np.add.at(H, (i, i), 0.01 * x[2:] ** 2 * e)
    np.add.at(H, (i + 2, i + 2), 0.01 * x[:-2] ** 2 * e)
    cross = 0.1 * e + 0.01 * x[:-2] * x[2:] * e
    H[i, i + 2] += cross
    H[i + 2, i] += cross
    j = np.arange(n - 1)
    d2 = 3.0 * (x[:-1] - x[1:]) ** 2
    np.add.at(H, (j, j), d2)
    np.add.at(H, (j + 1, j + 1), d2)
    H[j, j + 1] -= d2
    H[j + 1, j] -= d2
    return H, banded(n, 2)


def banded(n, half_width):
    offsets = range(-half_width, half_width + 1)
    return sp.diags([np.ones(n - abs(k)) for k in offsets], list(offsets), format="csr")


CASES = {"arrowhead": (arrow_f, arrow_grad, arrow_hess),
         "pentadiagonal": (penta_f, penta_grad, penta_hess)}


def point(n, seed=0):
    return 0.5 * np.random.default_rng(seed).standard_normal(n) + 0.3


def counted(fun):
    calls = []

    def wrapper(x, *a):
        calls.append(1)
        return fun(x, *a)
    return wrapper, calls


def rel_err(H, exact):
    return abs(H.toarray() - exact).max() / abs(exact).max()


# -- from a gradient --------------------------------------------------------------------

@pytest.mark.parametrize("method", ["central", "forward", "richardson"])
@pytest.mark.parametrize("n", [50, 400, 2000])
@pytest.mark.parametrize("case", list(CASES))
def test_from_gradient_exact_and_symmetric(case, n, method):
    f, grad, hess = CASES[case]
    x = point(n)
    exact, pattern = hess(x)
    H = pk.hessian(f, x, grad=grad, sparsity=pattern, method=method)
    assert isinstance(H, sp.csr_matrix) and H.shape == (n, n)
    assert (H != H.T).nnz == 0                      # exactly symmetric
    assert H.nnz == pattern.nnz
    assert rel_err(H, exact) <= TOL[method]


def test_arrowhead_from_gradient_n1000_takes_two_colours():
    n = 1000
    x = point(n)
    exact, pattern = arrow_hess(x)
    assert color_groups(pattern, symmetric=True).ngroups == 2
    assert color_groups(pattern).ngroups == n      # column grouping cannot help here
    for method, calls_allowed in (("central", 4), ("forward", 3)):
        grad, calls = counted(arrow_grad)
        H = pk.hessian(None, x, grad=grad, sparsity=pattern, method=method)
        assert len(calls) == calls_allowed <= 2 * 4 + 1   # the bar
        assert rel_err(H, exact) <= TOL[method]


def test_sparse_equals_dense_within_accuracy_and_all_gradient_methods():
    n = 30
    x = point(n, 3)
    exact, pattern = penta_hess(x)
    for method in ("central", "forward", "backward", "richardson"):
        dense = pk.hessian(None, x, grad=penta_grad, method=method)
        H = pk.hessian(None, x, grad=penta_grad, sparsity=pattern, method=method)
        assert np.max(np.abs(H.toarray() - dense)) <= 10 * TOL[method] * abs(exact).max()
    H, err = pk.hessian(None, x, grad=penta_grad, sparsity=pattern, method="richardson",
                        full_output=True)
    assert isinstance(err, sp.csr_matrix) and (err != err.T).nnz == 0
    assert np.all(np.abs(H - exact)[pattern.nonzero()] <= 20 * err[pattern.nonzero()] + 1e-12)


# -- from f alone -----------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", list(CASES))
def test_from_f_exact_and_symmetric(case, method):
    f, _, hess = CASES[case]
    x = point(60, 1)
    exact, pattern = hess(x)
    H = pk.hessian(f, x, sparsity=pattern, method=method)
    assert isinstance(H, sp.csr_matrix) and (H != H.T).nnz == 0
    assert rel_err(H, exact) <= TOL_F[method]
    dense = pk.hessian(f, x, method=method)        # the grouped scheme is as accurate
    assert rel_err(H, exact) <= 10 * np.max(np.abs(dense - exact)) / abs(exact).max() + 1e-9


def test_pentadiagonal_from_f_n400_evaluations():
    """Each value of f is one number, so recovering the 1197 distinct entries of a
    pentadiagonal Hessian at n = 400 takes at least ~1197 evaluations whatever the
    scheme (the issue's "<= 200" is below that bound); central takes 2 per
    off-diagonal entry of the upper triangle, 2 per variable (which also give the
    diagonal), 2 per colour and f(x) -- 2n^2-fold fewer than dense second differences."""
    n = 400
    x = point(n, 2)
    exact, pattern = penta_hess(x)
    groups = color_groups(pattern, symmetric=True)
    off_diagonal = (pattern.nnz - n) // 2
    for method, expected in (("central", 2 * off_diagonal + 2 * n + 2 * groups.ngroups + 1),
                             ("forward", off_diagonal + 2 * n + groups.ngroups + 1)):
        f, calls = counted(penta_f)
        H = pk.hessian(f, x, sparsity=pattern, method=method)
        assert len(calls) == expected
        assert rel_err(H, exact) <= TOL_F[method]
    dense_central = 4 * n * (n + 1) // 2
    assert expected * 100 < dense_central


def test_compiled_loop_identical_to_reference_loop():
    n = 40
    x = point(n, 4)
    _, pattern = penta_hess(x)
    f_jit = numba.njit(penta_f)
    for method in METHODS:
        a = pk.hessian(f_jit, x, sparsity=pattern, method=method)
        b = pk.hessian(f_jit, x, sparsity=pattern, method=method, backend="numpy")
        assert (a != b).nnz == 0, method
        if method != "backward":
            c = pk.hessian(f_jit, x, sparsity=pattern, method=method, workers=2)
            assert (a != c).nnz == 0, method


def test_sparsity_errors():
    x = np.ones(4)
    with pytest.raises(ValueError, match="square"):
        pk.hessian(arrow_f, x, sparsity=np.ones((4, 3), bool))
    with pytest.raises(ValueError, match=r"sparsity must have shape \(4, 4\)"):
        pk.hessian(arrow_f, x, sparsity=np.ones((3, 3), bool))
    with pytest.raises(TypeError, match="SymmetricGrouping"):
        pk.hessian(arrow_f, x, sparsity=color_groups(np.eye(4, dtype=bool)))


def test_grouping_reused_and_cached():
    pattern = banded(100, 2)
    g = color_groups(pattern, symmetric=True)
    assert color_groups(pattern.copy(), symmetric=True) is g
    x = point(100)
    assert (pk.hessian(penta_f, x, sparsity=g) != pk.hessian(penta_f, x, sparsity=pattern)).nnz == 0


# -- the colourings ---------------------------------------------------------------------

def graph(pattern):
    S = sp.csr_matrix(pattern, dtype=bool)
    A = (S + S.T).tocsr()
    A.setdiag(False)
    A.eliminate_zeros()
    A.sort_indices()
    return A


def assert_star(colors, A):
    """Distance-1 colouring where every path on four vertices has >= 3 colours, i.e.
    every edge is recoverable at one end."""
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    assert np.all(colors[rows] != colors[A.indices])
    dense = A.toarray()
    for i, j in zip(rows, A.indices):
        at_i = np.sum(dense[i] & (colors == colors[j])) == 1
        at_j = np.sum(dense[j] & (colors == colors[i])) == 1
        assert at_i or at_j


@pytest.mark.parametrize("order", ["largest_first", "smallest_last", "natural"])
def test_star_coloring_valid_and_twins_agree(order):
    from pykernels.kernels import coloring as compiled

    rng = np.random.default_rng(5)
    for density in (0.02, 0.05, 0.2):
        A = graph(rng.random((80, 80)) < density)
        indptr, indices = A.indptr.astype(np.int64), A.indices.astype(np.int64)
        visit = {"natural": np.arange(80, dtype=np.int64),
                 "largest_first": np.argsort(-np.diff(indptr), kind="stable").astype(np.int64),
                 "smallest_last": compiled.smallest_last_order(indptr, indices)}[order]
        assert np.array_equal(visit if order != "smallest_last" else
                              py_coloring.smallest_last_order(indptr, indices), visit)
        for name in ("star_coloring", "greedy_coloring"):
            a, b = np.empty(80, np.int64), np.empty(80, np.int64)
            assert getattr(compiled, name)(visit, indptr, indices, a) == \
                getattr(py_coloring, name)(visit, indptr, indices, b)
            assert np.array_equal(a, b)
        colors = np.empty(80, np.int64)
        py_coloring.star_coloring(visit, indptr, indices, colors)
        assert_star(colors, A)


def test_star_colours_of_classic_patterns():
    assert color_groups(banded(500, 1), symmetric=True).ngroups == 3
    assert color_groups(banded(500, 2), symmetric=True).ngroups <= 5
    assert color_groups(arrow_pattern(300), symmetric=True).ngroups == 2


def test_large_patterns_use_the_compiled_colouring(monkeypatch):
    # the same colours either way: force each path on one pattern
    pattern = banded(300, 2)
    monkeypatch.setattr(_coloring, "PYTHON_WORK", 0)
    compiled = _coloring.group_symmetric(pattern)
    monkeypatch.setattr(_coloring, "PYTHON_WORK", 10 ** 9)
    python = _coloring.group_symmetric(pattern)
    assert np.array_equal(compiled.order, python.order)
    assert np.array_equal(compiled.pair_b, python.pair_b)
