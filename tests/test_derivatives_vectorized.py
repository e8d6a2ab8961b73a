"""vectorized=True (issue 15, item 2): f takes the points as the columns of an (n, k)
array; results equal the point-by-point ones, in a few calls."""

import numpy as np
import pytest
import scipy.sparse as sp

import pykernels as pk

METHODS = ["central", "forward", "backward", "richardson", "complex"]


def rosen(X):
    """Extended Rosenbrock of a point (n,) or of the columns of (n, k); the sums run in
    the same order either way, so both round alike."""
    total = 0.0 * X[0]
    for k in range(0, X.shape[0], 2):
        total = total + (10.0 * (X[k + 1] - X[k] ** 2)) ** 2 + (1.0 - X[k]) ** 2
    return total


def rosen_grad(X):
    G = np.zeros_like(X)
    t = X[1::2] - X[0::2] ** 2
    G[0::2] = -400.0 * X[0::2] * t - 2.0 * (1.0 - X[0::2])
    G[1::2] = 200.0 * t
    return G


def broyden(X):
    """Broyden tridiagonal residual of (n,) or of the columns of (n, k)."""
    R = (3.0 - 2.0 * X) * X + 1.0
    R[1:] = R[1:] - X[:-1]
    R[:-1] = R[:-1] - 2.0 * X[1:]
    return R


def counted(fun):
    shapes = []

    def wrapper(X, *a):
        shapes.append(np.shape(X))
        return fun(X, *a)
    return wrapper, shapes


X0 = np.tile([-1.2, 1.0], 50) + 0.1


@pytest.mark.parametrize("method", METHODS)
def test_gradient_equals_point_by_point(method):
    f, shapes = counted(rosen)
    g = pk.gradient(f, X0, method=method, vectorized=True)
    assert np.array_equal(g, pk.gradient(rosen, X0, method=method))
    assert all(len(s) == 2 and s[0] == 100 for s in shapes)
    calls = {"central": 3, "forward": 3, "backward": 3, "complex": 3, "richardson": 8 * 3 + 1}
    assert len(shapes) <= calls[method]


def test_central_gradient_at_most_three_calls_and_bounds():
    f, shapes = counted(rosen)
    pk.gradient(f, X0, vectorized=True)
    assert len(shapes) <= 3 and sum(s[1] for s in shapes) == 200
    lo, hi = X0 - 1e-7, X0 + 1.0   # one-sided stencils next to the lower bound
    a = pk.gradient(rosen, X0, bounds=(lo, hi), vectorized=True)
    assert np.array_equal(a, pk.gradient(rosen, X0, bounds=(lo, hi)))


@pytest.mark.parametrize("method", METHODS)
def test_jacobian_dense_and_sparse(method):
    x = np.linspace(-1.0, 1.0, 40)
    dense = pk.jacobian(broyden, x, method=method)
    assert np.array_equal(pk.jacobian(broyden, x, method=method, vectorized=True), dense)
    pattern = sp.diags([np.ones(39), np.ones(40), np.ones(39)], [-1, 0, 1])
    f, shapes = counted(broyden)
    J = pk.jacobian(f, x, method=method, sparsity=pattern, vectorized=True)
    assert (J != pk.jacobian(broyden, x, method=method, sparsity=pattern)).nnz == 0
    assert len(shapes) <= (8 * 2 + 1 if method == "richardson" else 2)


@pytest.mark.parametrize("method", ["central", "forward", "richardson", "complex"])
def test_hessian_dense_sparse_and_from_grad(method):
    x = X0[:10]
    assert np.array_equal(pk.hessian(rosen, x, method=method, vectorized=True),
                          pk.hessian(rosen, x, method=method))
    pattern = sp.diags([np.ones(9), np.ones(10), np.ones(9)], [-1, 0, 1])
    assert (pk.hessian(rosen, x, method=method, sparsity=pattern, vectorized=True)
            != pk.hessian(rosen, x, method=method, sparsity=pattern)).nnz == 0
    if method != "complex":
        assert np.array_equal(pk.hessian(None, x, grad=rosen_grad, method=method,
                                          vectorized=True),
                              pk.hessian(None, x, grad=rosen_grad, method=method))


@pytest.mark.parametrize("method", ["central", "forward", "richardson"])
def test_hvp(method):
    v = np.linspace(-1.0, 1.0, 100)
    # NumPy rounds a few scalar and array operations of rosen differently (last bit),
    # which Richardson's choice of run can amplify to ~1e-15 relative
    np.testing.assert_allclose(pk.hvp(rosen, X0, v, method=method, vectorized=True),
                               pk.hvp(rosen, X0, v, method=method), rtol=1e-12, atol=0)
    assert np.array_equal(pk.hvp(None, X0, v, grad=rosen_grad, method=method,
                                 vectorized=True),
                          pk.hvp(None, X0, v, grad=rosen_grad, method=method))


def test_errors():
    x = np.ones(4)
    with pytest.raises(ValueError, match=r"f is vectorized.*shape \(\d+,\) or \(m, \d+\)"):
        pk.gradient(lambda X: np.sum(X), x, vectorized=True)
    with pytest.raises(ValueError, match="one real value per point"):
        pk.gradient(lambda X: X, x, vectorized=True)
    with pytest.raises(ValueError, match=r"f must return an array of shape \(4, \d+\)"):
        pk.jacobian(lambda X: X[:3] if X.shape[1] > 1 else X, x, vectorized=True)
    with pytest.raises(TypeError, match="vectorized must be True or False"):
        pk.gradient(rosen, x, vectorized="yes")
    with pytest.raises(ValueError, match="executor or vectorized"):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as ex:
            pk.gradient(rosen, x, vectorized=True, executor=ex)
    with pytest.raises(ValueError, match="grad must return an array of shape"):
        pk.hvp(None, x, x, grad=lambda X: X[:2], vectorized=True)
