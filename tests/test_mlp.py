"""MLP kernels: every activation x output x loss x dtype against the NumPy
reference and against central differences of the loss."""

import itertools

import numpy as np
import pytest

import pykernels as pk
from pykernels.network import ACTIVATIONS, LOSS_OUTPUTS, LOSSES, OUTPUTS

COMBOS = [(act, out, loss)
          for act, out, loss in itertools.product(ACTIVATIONS, OUTPUTS, LOSSES)
          if out in LOSS_OUTPUTS.get(loss, OUTPUTS)]
TOL = {np.float64: 1e-12, np.float32: 2e-5}


def make_data(net, batch, seed=0, labels=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, net.n_in)).astype(net.dtype)
    if net.loss_name == "cross_entropy" and net.output == "softmax":
        y = rng.integers(0, net.n_out, batch)
        if labels:
            return X, y
        return X, np.eye(net.n_out, dtype=net.dtype)[y]
    if net.loss_name == "cross_entropy":
        return X, rng.uniform(0, 1, (batch, net.n_out)).astype(net.dtype)
    if net.loss_name == "poisson":  # counts, zeros included
        return X, rng.poisson(1.5, (batch, net.n_out)).astype(net.dtype)
    return X, rng.standard_normal((batch, net.n_out)).astype(net.dtype)


def make_net(act, out, loss, dtype=np.float64, sizes=(3, 5, 4, 3), seed=1):
    net = pk.MLP(list(sizes), activation=act, output=out, loss=loss, dtype=dtype, seed=seed)
    # non-zero biases so that every parameter influences the result
    net.theta += np.random.default_rng(seed).normal(0, 0.1, net.size).astype(dtype)
    return net


def assert_close(actual, desired, rtol, scale=None):
    scale = np.max(np.abs(desired)) if scale is None else scale
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * max(scale, 1e-30))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_loss_and_grad_matches_reference(act, out, loss, dtype):
    net = make_net(act, out, loss, dtype)
    X, Y = make_data(net, 7)
    ref_loss, ref_grad = net.loss_and_grad(X, Y, backend="numpy")
    value, grad = net.loss_and_grad(X, Y, backend="numba")
    assert grad.dtype == dtype
    assert_close(value, ref_loss, TOL[dtype])
    assert_close(grad, ref_grad, TOL[dtype])
    assert_close(net.loss(X, Y, backend="numba"), ref_loss, TOL[dtype])
    assert_close(net.predict(X, backend="numba"), net.predict(X, backend="numpy"), TOL[dtype])


@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_gradient_matches_central_differences(act, out, loss):
    net = make_net(act, out, loss)
    X, Y = make_data(net, 6, seed=2)
    value, grad = net.loss_and_grad(X, Y)
    h = 1e-6
    fd = np.empty(net.size)
    for i in range(net.size):
        e = np.zeros(net.size)
        e[i] = h
        fd[i] = (net.loss(X, Y, net.theta + e) - net.loss(X, Y, net.theta - e)) / (2 * h)
    # l1 and relu have kinks; the random points are away from them with probability 1
    assert_close(grad, fd, 1e-6)
    assert value == pytest.approx(net.loss(X, Y))


def test_integer_labels_equal_one_hot():
    net = make_net("relu", "softmax", "cross_entropy")
    X, y = make_data(net, 9, labels=True)
    a = net.loss_and_grad(X, y)
    b = net.loss_and_grad(X, np.eye(net.n_out)[y])
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_huge_logits_give_finite_loss_and_gradient(output):
    net = pk.MLP([2, 3], activation="identity", output=output, loss="cross_entropy", seed=0)
    W, b = net.layers[0]
    W[...] = 0
    b[...] = [1e4, -1e4, 0]
    X = np.zeros((2, 2))
    Y = np.array([[0, 1, 0], [1, 0, 0]], dtype=float)
    for backend in ("numba", "numpy"):
        value, grad = net.loss_and_grad(X, Y, backend=backend)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
    # exact values: logsumexp of row [1e4, -1e4, 0] is 1e4 to double precision
    if output == "softmax":
        assert value == pytest.approx((2e4 + 0) / 2)
    else:
        assert value == pytest.approx((2e4 + 2 * np.log(2)) / 6)


def test_sigmoid_and_tanh_saturate_without_overflow():
    net = pk.MLP([1, 1], activation="identity", output="sigmoid", loss="mse", seed=0)
    net.theta[:] = [1.0, 0.0]
    X = np.array([[-1e4], [-800.0], [0.0], [800.0], [1e4]])
    with np.errstate(all="raise"):
        out = net.predict(X, backend="numba")
    np.testing.assert_array_equal(out.ravel(), [0, 0, 0.5, 1, 1])


def test_known_values_small_network():
    """A hand-computed 1-1-1 network: loss and gradient in closed form."""
    net = pk.MLP([1, 1, 1], activation="tanh", output="identity", loss="mse", seed=0)
    w1, b1, w2, b2 = 0.7, -0.2, 1.3, 0.1
    net.theta[:] = [w1, b1, w2, b2]
    x, y = 0.5, 0.4
    h = np.tanh(w1 * x + b1)
    r = w2 * h + b2 - y
    dh = 2 * r * w2 * (1 - h * h)
    expected = [dh * x, dh, 2 * r * h, 2 * r]
    for backend in ("numba", "numpy"):
        value, grad = net.loss_and_grad([[x]], [[y]], backend=backend)
        assert value == pytest.approx(r * r, rel=1e-14)
        np.testing.assert_allclose(grad, expected, rtol=1e-14)


def test_init_is_seeded_glorot_and_he():
    a = pk.MLP([100, 200, 10], activation="relu", seed=3)
    b = pk.MLP([100, 200, 10], activation="relu", seed=3)
    np.testing.assert_array_equal(a.theta, b.theta)
    (W1, b1), (W2, b2) = a.layers
    assert np.std(W1) == pytest.approx(np.sqrt(2 / 100), rel=0.05)  # He
    assert np.max(np.abs(W2)) <= np.sqrt(6 / 210)  # Glorot uniform, output layer
    assert not b1.any() and not b2.any()
    assert W1.base is not None and np.shares_memory(W1, a.theta)


def test_float32_end_to_end():
    net = make_net("sigmoid", "softmax", "cross_entropy", dtype=np.float32)
    X, y = make_data(net, 5, labels=True)
    assert net.predict(X).dtype == np.float32
    assert net.loss_and_grad(X.astype(np.float64), y)[1].dtype == np.float32


def test_one_compilation_per_dtype():
    """Networks of other shapes, activations and losses, and inputs of other layouts or
    read-only, reuse the compiled kernels."""
    from pykernels import kernels

    def run(sizes, act, out, loss, dtype, readonly=False):
        net = make_net(act, out, loss, dtype, sizes=sizes)
        X, Y = make_data(net, 5)
        theta = net.theta.copy()
        if readonly:
            X, Y = np.asfortranarray(X), Y.copy()
            X.flags.writeable = Y.flags.writeable = theta.flags.writeable = False
        net.loss_and_grad(X, Y, theta, backend="numba")

    run((3, 4, 2), "tanh", "identity", "mse", np.float64)
    run((3, 4, 2), "tanh", "identity", "mse", np.float32)
    before = len(kernels.mlp_loss_and_grad.signatures)
    for dtype in (np.float64, np.float32):
        run((7, 2, 9, 3), "relu", "softmax", "cross_entropy", dtype)
        run((1, 1), "sigmoid", "sigmoid", "huber", dtype)
        run((3, 4, 2), "tanh", "identity", "mse", dtype, readonly=True)
    assert len(kernels.mlp_loss_and_grad.signatures) == before
