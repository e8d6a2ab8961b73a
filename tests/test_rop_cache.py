"""The R-operator kernels keep the forward/backward pass of (theta, X, Y) in their work
buffer and skip it in the next call at the same point: reused results must equal fresh
ones, and any change of theta, X, Y (in place included), of the product or of the
network must be noticed."""

import numpy as np
import pytest
from test_mlp import assert_close, make_data, make_net

import pykernels as pk
from pykernels import _backend

BACKENDS = ["numba", "c"]
CASES = [("relu", "softmax", "cross_entropy"), ("tanh", "identity", "mse"),
         ("sigmoid", "sigmoid", "cross_entropy"), ("tanh", "softmax", "huber")]


def module_of(backend):
    try:
        return _backend.resolve(backend)
    except pk.BackendUnavailable as exc:
        pytest.skip(str(exc))


def fresh(net, X, Y, v, backend, kernel="mlp_hvp", theta=None):
    """The product computed in a new, zero-filled work buffer (nothing to reuse)."""
    module = module_of(backend)
    X, Y = net._check_X(X), net._check_Y(Y, len(X))
    theta = net.theta if theta is None else theta
    work = np.zeros(module.rop_workspace_size(net.sizes, len(X)), net.dtype)
    out = np.empty(net.size, net.dtype)
    getattr(module, kernel)(theta, net.sizes, *net._codes, X, Y, v, work, out)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act,out,loss", CASES)
def test_reused_products_equal_fresh_ones(act, out, loss, dtype, backend):
    module_of(backend)
    net = make_net(act, out, loss, dtype, sizes=(3, 6, 5, 4, 3))
    X, Y = make_data(net, 7, seed=2)
    rng = np.random.default_rng(3)
    tol = 1e-13 if dtype == np.float64 else 1e-5
    for v in rng.standard_normal((3, net.size)).astype(dtype):
        for kernel, method in (("mlp_hvp", net.hvp), ("mlp_gnvp", net.gnvp)):
            got = method(X, Y, v, backend=backend)
            assert_close(got, fresh(net, X, Y, v, backend, kernel), tol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_changes_in_place_are_noticed(backend):
    module_of(backend)
    net = make_net("tanh", "softmax", "cross_entropy", sizes=(3, 6, 5, 3))
    X, Y = make_data(net, 5, seed=4)
    v = np.random.default_rng(5).standard_normal(net.size)
    net.hvp(X, Y, v, backend=backend)
    X[0, 0] += 0.5  # the same array, new contents
    np.testing.assert_array_equal(net.hvp(X, Y, v, backend=backend),
                                  fresh(net, X, Y, v, backend))
    net.theta[3] -= 0.25  # the network's own theta, in place
    np.testing.assert_array_equal(net.hvp(X, Y, v, backend=backend),
                                  fresh(net, X, Y, v, backend))
    Y = Y[::-1].copy()
    np.testing.assert_array_equal(net.hvp(X, Y, v, backend=backend),
                                  fresh(net, X, Y, v, backend))
    theta = net.theta * 1.1  # an explicit theta
    np.testing.assert_array_equal(net.hvp(X, Y, v, theta, backend=backend),
                                  fresh(net, X, Y, v, backend, theta=theta))
    # -0.0 and 0.0 are different bits: no reuse, the same result
    theta = net.theta.copy()
    theta[0] = 0.0
    net.hvp(X, Y, v, theta, backend=backend)
    theta[0] = -0.0
    np.testing.assert_array_equal(net.hvp(X, Y, v, theta, backend=backend),
                                  fresh(net, X, Y, v, backend, theta=theta))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gnvp_and_jacobian_between_products(backend):
    module_of(backend)
    net = make_net("sigmoid", "identity", "mse", sizes=(3, 6, 5, 2))
    X, Y = make_data(net, 6, seed=6)
    v = np.random.default_rng(7).standard_normal(net.size)
    expected = fresh(net, X, Y, v, backend)
    work = net._rop_work(module_of(backend), len(X))
    state = lambda: work[0]  # noqa: E731 -- the header's first entry
    assert state() == 0.0
    net.gnvp(X, Y, v, backend=backend)  # keeps only the forward pass
    assert state() == 1.0
    assert_close(net.hvp(X, Y, v, backend=backend), expected, 1e-13)
    assert state() == 2.0
    assert_close(net.gnvp(X, Y, v, backend=backend),
                 fresh(net, X, Y, v, backend, "mlp_gnvp"), 1e-13)
    assert state() == 2.0  # the Gauss-Newton product reuses, and keeps, the whole pass
    net.jacobian(X, "params", backend=backend)  # overwrites the work buffer
    assert state() == 0.0
    assert_close(net.hvp(X, Y, v, backend=backend), expected, 1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_work_buffer_for_two_networks(backend):
    """Kernel-level callers may share a work buffer between networks of one shape: the
    header (activation codes, sizes, batch) tells them apart even when theta is equal."""
    module = module_of(backend)
    relu = make_net("relu", "identity", "mse", sizes=(3, 5, 2))
    tanh = make_net("tanh", "identity", "mse", sizes=(3, 5, 2))
    tanh.theta = relu.theta
    X, Y = make_data(relu, 4, seed=8)
    v = np.random.default_rng(9).standard_normal(relu.size)
    work = np.zeros(module.rop_workspace_size(relu.sizes, 4))
    out = np.empty(relu.size)
    for net in (relu, tanh, relu):
        module.mlp_hvp(net.theta, net.sizes, *net._codes, X, Y, v, work, out)
        np.testing.assert_array_equal(out, fresh(net, X, Y, v, backend))
    small = work[:module.rop_workspace_size(relu.sizes, 3)]
    module.mlp_hvp(relu.theta, relu.sizes, *relu._codes, X[:3], Y[:3], v, small, out)
    np.testing.assert_array_equal(out, fresh(relu, X[:3], Y[:3], v, backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sizes,batch", [((3, 2), 1), ((4, 1), 3), ((2, 7, 1), 1),
                                         ((5, 3, 3, 3, 2), 2)])
def test_reuse_on_small_shapes(sizes, batch, backend):
    module_of(backend)
    net = make_net("sigmoid", "softmax" if sizes[-1] > 1 else "identity",
                   "cross_entropy" if sizes[-1] > 1 else "huber", sizes=sizes)
    X, Y = make_data(net, batch, seed=10)
    for v in np.random.default_rng(11).standard_normal((3, net.size)):
        assert_close(net.hvp(X, Y, v, backend=backend), fresh(net, X, Y, v, backend), 1e-13)
