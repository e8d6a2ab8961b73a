"""net.hvp / net.gnvp / net.jacobian (R-operator kernels) for every activation x output
x loss: against central differences, the exact Hessian built column by column, the
NumPy reference and explicit Jacobian products."""

import numpy as np
import pytest
from test_mlp import COMBOS, TOL, assert_close, make_data, make_net

import pykernels as pk


def hessian_columns(net, X, Y, product):
    """The matrix of ``product`` (net.hvp or net.gnvp) built column by column."""
    eye = np.eye(net.size)
    return np.column_stack([product(X, Y, eye[i]) for i in range(net.size)])


def central_difference_hvp(net, X, Y, v, h=1e-5):
    """(grad(theta + h v) - grad(theta - h v)) / 2h, two backpropagations."""
    plus = net.loss_and_grad(X, Y, net.theta + h * v)[1]
    minus = net.loss_and_grad(X, Y, net.theta - h * v)[1]
    return (plus - minus) / (2 * h)


@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_hvp_matches_finite_differences_and_hessian(act, out, loss):
    net = make_net(act, out, loss)
    X, Y = make_data(net, 6, seed=3)
    rng = np.random.default_rng(4)
    u, v = rng.standard_normal((2, net.size))
    hv = net.hvp(X, Y, v)
    # central differences are O(h^2) accurate: ~1e-10 of the scale here; relu/l1/huber
    # kinks are avoided with probability 1 at these random points
    assert_close(hv, central_difference_hvp(net, X, Y, v), 1e-7)
    H = hessian_columns(net, X, Y, net.hvp)
    scale = np.abs(H).max()
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-10 * scale)
    assert_close(hv, H @ v, 1e-10)
    hu = net.hvp(X, Y, u)
    assert abs(u @ hv - v @ hu) <= 1e-12 * max(abs(u) @ np.abs(hv), 1e-300)
    fd_columns = np.column_stack([central_difference_hvp(net, X, Y, e) for e in np.eye(net.size)])
    assert_close(H, fd_columns, 1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_numba_matches_reference(act, out, loss, dtype):
    net = make_net(act, out, loss, dtype)
    X, Y = make_data(net, 7, seed=5)
    v = np.random.default_rng(6).standard_normal(net.size).astype(dtype)
    tol = TOL[dtype] * (1e3 if dtype == np.float64 else 10)
    for method in (net.hvp, net.gnvp):
        got, ref = method(X, Y, v, backend="numba"), method(X, Y, v, backend="numpy")
        assert got.dtype == dtype and got.shape == (net.size,)
        assert_close(got, ref, tol, scale=np.abs(ref).max() + np.abs(v).max() * 1e-3)
    for wrt in ("input", "params"):
        got, ref = net.jacobian(X, wrt, backend="numba"), net.jacobian(X, wrt, backend="numpy")
        assert got.dtype == dtype
        assert_close(got, ref, tol)


def output_hessians(net, X, Y):
    """Per-sample H_L of the Gauss-Newton split, and the Jacobians J_i it is sandwiched by:
    w.r.t. the logits for cross-entropy and Poisson, w.r.t. the outputs for the elementwise
    losses."""
    batch, n_out = len(X), net.n_out
    if net.loss_name in ("cross_entropy", "poisson"):
        logits = pk.MLP(net.sizes.tolist(), activation=net.activation, output="identity",
                        loss="mse", seed=None)
        logits.theta = net.theta
        J = logits.jacobian(X, "params")
        a = net.predict(X)
        if net.output == "softmax":
            H = [Y[i].sum() / batch * (np.diag(a[i]) - np.outer(a[i], a[i])) for i in range(batch)]
        elif net.output == "exp":  # the Poisson deviance's second derivative: mu = a
            H = [np.diag(a[i]) / (batch * n_out) for i in range(batch)]
        else:
            H = [np.diag(a[i] * (1 - a[i])) / (batch * n_out) for i in range(batch)]
        return J, np.array(H)
    r = net.predict(X) - Y
    curvature = {"mse": 2.0 + 0 * r, "l1": 0 * r, "huber": (np.abs(r) <= 1) * 1.0}[net.loss_name]
    H = [np.diag(c) / (batch * n_out) for c in curvature]
    return net.jacobian(X, "params"), np.array(H)


@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_gnvp_is_psd_and_equals_jacobian_sandwich(act, out, loss):
    net = make_net(act, out, loss)
    X, Y = make_data(net, 6, seed=7)
    J, H = output_hessians(net, X, Y)
    G = np.einsum("iks,ikl,ilt->st", J, H, J)
    vs = np.random.default_rng(8).standard_normal((50, net.size))
    products = np.array([net.gnvp(X, Y, v) for v in vs])
    assert_close(products, vs @ G, 1e-12, scale=np.abs(G).max() + 1e-300)
    quad = np.einsum("ij,ij->i", vs, products)
    assert np.all(quad >= -1e-12 * np.abs(G).max())
    assert np.linalg.eigvalsh(hessian_columns(net, X, Y, net.gnvp)).min() >= -1e-12 * max(
        np.abs(G).max(), 1e-300)


def test_gnvp_equals_hvp_for_linear_least_squares():
    # identity activations and mse: the loss is quadratic, so G = H exactly
    net = make_net("identity", "identity", "mse", sizes=(3, 4))
    X, Y = make_data(net, 9)
    v = np.random.default_rng(0).standard_normal(net.size)
    assert_close(net.gnvp(X, Y, v), net.hvp(X, Y, v), 1e-13)


@pytest.mark.parametrize("act,out", [("tanh", "softmax"), ("relu", "sigmoid"),
                                     ("sigmoid", "tanh"), ("identity", "identity"),
                                     ("tanh", "exp")])
def test_jacobian_matches_central_differences(act, out):
    net = make_net(act, out, "mse")
    X = np.random.default_rng(9).standard_normal((4, net.n_in))
    h = 1e-6
    Jx = net.jacobian(X, "input")
    assert Jx.shape == (4, net.n_out, net.n_in)
    for j in range(net.n_in):
        e = np.zeros(net.n_in)
        e[j] = h
        assert_close(Jx[:, :, j], (net.predict(X + e) - net.predict(X - e)) / (2 * h), 1e-8,
                     scale=np.abs(Jx).max())
    Jt = net.jacobian(X, "params")
    assert Jt.shape == (4, net.n_out, net.size)
    for j in range(net.size):
        e = np.zeros(net.size)
        e[j] = h
        fd = (net.predict(X, net.theta + e) - net.predict(X, net.theta - e)) / (2 * h)
        assert_close(Jt[:, :, j], fd, 1e-8, scale=np.abs(Jt).max())


def test_integer_labels_and_theta_argument():
    net = make_net("relu", "softmax", "cross_entropy")
    X, y = make_data(net, 9, labels=True)
    v = np.random.default_rng(1).standard_normal(net.size)
    np.testing.assert_array_equal(net.hvp(X, y, v), net.hvp(X, np.eye(net.n_out)[y], v))
    other = net.theta * 0.5
    at_other = net.hvp(X, y, v, theta=other)
    net.theta = other
    np.testing.assert_array_equal(at_other, net.hvp(X, y, v))


def test_bad_input_names_the_argument():
    net = make_net("tanh", "identity", "mse")
    X, Y = make_data(net, 4)
    with pytest.raises(ValueError, match="v must have"):
        net.hvp(X, Y, np.ones(net.size + 1))
    with pytest.raises(ValueError, match="v must be finite"):
        net.gnvp(X, Y, np.full(net.size, np.nan))
    with pytest.raises(ValueError, match="v must be 1-D"):
        net.hvp(X, Y, np.ones((net.size, 1)))
    with pytest.raises(TypeError, match="v must be"):
        net.hvp(X, Y, np.array(["a"] * net.size))
    with pytest.raises(ValueError, match="wrt must be one of"):
        net.jacobian(X, wrt="weights")
    with pytest.raises(ValueError, match="X must have shape"):
        net.hvp(X[:, :2], Y, np.ones(net.size))


def test_second_call_does_not_recompile():
    from pykernels.kernels import rop

    net = make_net("tanh", "softmax", "cross_entropy")
    X, Y = make_data(net, 5)
    v = np.ones(net.size)
    with pk.use_backend("numba"):
        net.hvp(X, Y, v), net.gnvp(X, Y, v), net.jacobian(X, "params")
        before = {k: len(f.signatures) for k, f in vars(rop).items()
                  if hasattr(f, "signatures")}
        other = make_net("relu", "sigmoid", "huber", sizes=(2, 6, 3))
        X2, Y2 = make_data(other, 11)
        X2 = np.asfortranarray(X2)
        X2.flags.writeable = False
        other.hvp(X2, Y2, np.ones(other.size)), other.gnvp(X2, Y2, np.ones(other.size))
        other.jacobian(X2, "params")
    after = {k: len(f.signatures) for k, f in vars(rop).items() if hasattr(f, "signatures")}
    assert after == before


def test_threads_share_a_network_safely():
    from concurrent.futures import ThreadPoolExecutor

    net = make_net("tanh", "softmax", "cross_entropy", sizes=(5, 16, 4))
    batches = [make_data(net, 3 + k, seed=k) for k in range(8)]
    vs = np.random.default_rng(2).standard_normal((8, net.size))
    serial = [net.hvp(X, Y, v) for (X, Y), v in zip(batches, vs)]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            parallel = list(pool.map(lambda a: net.hvp(*a[0], a[1]), zip(batches, vs)))
            for got, want in zip(parallel, serial):
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("sizes", [(3, 2), (4, 1), (7, 2, 3), (2, 3, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_shapes_single_layer_wide_input_batch_one(sizes, dtype):
    net = make_net("sigmoid", "sigmoid", "cross_entropy", dtype, sizes=sizes)
    X, Y = make_data(net, 1)
    v = np.linspace(-1, 1, net.size).astype(dtype)
    tol = TOL[dtype] * 10
    for wrt in ("input", "params"):
        assert_close(net.jacobian(X, wrt), net.jacobian(X, wrt, backend="numpy"), tol)
    assert_close(net.hvp(X, Y, v), net.hvp(X, Y, v, backend="numpy"), tol)
    assert_close(net.gnvp(X, Y, v), net.gnvp(X, Y, v, backend="numpy"), tol)
