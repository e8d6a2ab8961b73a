"""Bad input to pk.MLP: each a clear ValueError/TypeError naming the argument."""

import numpy as np
import pytest

import pykernels as pk


@pytest.fixture
def net():
    return pk.MLP([3, 4, 2], activation="relu", output="softmax", loss="cross_entropy")


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(sizes=[3]), ValueError, "sizes"),
    (dict(sizes="34"), TypeError, "sizes must be a list or tuple"),
    (dict(sizes={3, 7}), TypeError, "sizes must be a list or tuple of integers, got set"),
    (dict(sizes=[2**31, 1]), ValueError, r"sizes \[2147483648, 1\] give 2147483649 "
                                         r"parameters; a network has at most 2\*\*31 - 1"),
    (dict(sizes=[2**16, 2**15, 1]), ValueError, "sizes .* give 2147549185 parameters"),
    (dict(seed=-1), ValueError, "seed must be an integer >= 0"),
    (dict(sizes=[3, 0, 1]), ValueError, r"sizes\[1\]"),
    (dict(sizes=[3, 2.5, 1]), TypeError, r"sizes\[1\]"),
    (dict(activation="softplus"), ValueError, "activation"),
    (dict(output="relu"), ValueError, "output"),
    (dict(loss="hinge"), ValueError, "loss"),
    (dict(loss="cross_entropy", output="identity"), ValueError, "cross_entropy"),
    (dict(dtype=np.float16), TypeError, "dtype"),
    (dict(dtype=np.int32), TypeError, "dtype"),
    (dict(dtype="complex128"), TypeError, "dtype"),
])
def test_constructor_rejects(kwargs, exc, match):
    args = dict(sizes=[3, 4, 1])
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        pk.MLP(args.pop("sizes"), **args)


@pytest.mark.parametrize("X,exc,match", [
    (np.ones((5, 4)), ValueError, r"X must have shape \(batch >= 1, 3\)"),
    (np.ones((0, 3)), ValueError, "X must have shape"),
    (np.ones(3), ValueError, "X must be 2-D"),
    (np.ones((5, 3), dtype=np.float16), TypeError, "X must be a float32 or float64"),
    (np.ones((5, 3), dtype=np.int64), TypeError, "X must be a float32 or float64"),
    (np.full((5, 3), np.nan), ValueError, "X must be finite"),
    (np.array([[1, 2, np.inf]] * 5), ValueError, r"X must be finite, found inf at index \(0, 2\)"),
    ([["a", "b", "c"]], TypeError, "X must be"),
])
@pytest.mark.parametrize("method", ["predict", "loss", "loss_and_grad"])
def test_bad_X(net, X, exc, match, method):
    args = (X,) if method == "predict" else (X, np.zeros(len(X), dtype=int))
    with pytest.raises(exc, match=match):
        getattr(net, method)(*args)


@pytest.mark.parametrize("Y,match", [
    (np.array([0, 1, 2, 0, 1]), r"must lie in \[0, 2\)"),
    (np.array([0, -1, 1, 0, 1]), r"must lie in \[0, 2\)"),
    (np.zeros(4, dtype=int), r"shape \(5,\)"),
    (np.zeros((5, 1), dtype=int), r"shape \(5,\)"),
    (np.zeros((5, 3)), r"Y must have shape \(5, 2\)"),
    (np.full((5, 2), 2.0), r"must lie in \[0, 1\]"),
    (np.full((5, 2), np.nan), "Y must be finite"),
])
def test_bad_labels(net, Y, match):
    with pytest.raises(ValueError, match=match):
        net.loss_and_grad(np.ones((5, 3)), Y)


def test_bad_targets_regression():
    net = pk.MLP([3, 2])
    with pytest.raises(ValueError, match=r"Y must have shape \(5, 2\)"):
        net.loss(np.ones((5, 3)), np.ones(5))
    with pytest.raises(TypeError, match="Y must be"):
        net.loss(np.ones((5, 3)), np.ones((5, 2), dtype=np.float16))


@pytest.mark.parametrize("theta,exc,match", [
    (np.ones(5), ValueError, r"theta must have 26 entries"),
    (np.ones((26, 1)), ValueError, "theta must be 1-D"),
    (np.full(26, np.inf), ValueError, "theta must be finite"),
    (np.ones(26, dtype=np.int8), TypeError, "theta must be"),
])
def test_bad_theta(net, theta, exc, match):
    with pytest.raises(exc, match=match):
        net.loss(np.ones((2, 3)), [0, 1], theta=theta)
    with pytest.raises(exc, match=match):
        net.theta = theta


def test_theta_setter_keeps_layer_views(net):
    new = np.arange(net.size, dtype=float)
    net.theta = new
    W, b = net.layers[0]
    np.testing.assert_array_equal(W.ravel(), new[:12])
    np.testing.assert_array_equal(b, new[12:16])
