"""PyTorch as an independent oracle for the network's loss and gradient (skipped without torch)."""

import itertools

import numpy as np
import pytest

import pykernels as pk

torch = pytest.importorskip("torch")
F = torch.nn.functional

HIDDEN = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
          "identity": lambda z: z}


def torch_loss(net, X, Y):
    """The same network written with torch; returns (loss, gradient as one flat vector)."""
    params = [torch.tensor(p, requires_grad=True) for W, b in net.layers for p in (W, b)]
    a = torch.tensor(X)
    for k in range(0, len(params), 2):
        z = a @ params[k].T + params[k + 1]
        a = HIDDEN[net.activation](z) if k < len(params) - 2 else z
    y = torch.tensor(Y)
    if net.loss_name == "cross_entropy":
        value = (F.cross_entropy(a, y) if net.output == "softmax"
                 else F.binary_cross_entropy_with_logits(a, y))
    else:
        out = {"identity": a, "tanh": torch.tanh(a), "sigmoid": torch.sigmoid(a),
               "softmax": torch.softmax(a, dim=1)}[net.output]
        value = {"mse": F.mse_loss, "l1": F.l1_loss,
                 "huber": F.huber_loss}[net.loss_name](out, y)
    value.backward()
    return value.item(), torch.cat([p.grad.ravel() for p in params]).numpy()


CASES = [c for c in itertools.product(["tanh", "relu", "sigmoid", "identity"],
                                      ["identity", "tanh", "sigmoid", "softmax"],
                                      ["mse", "l1", "huber", "cross_entropy"])
         if c[2] != "cross_entropy" or c[1] in ("softmax", "sigmoid")]


@pytest.mark.parametrize("activation,output,loss", CASES)
def test_matches_torch(activation, output, loss):
    net = pk.MLP([4, 7, 5, 3], activation=activation, output=output, loss=loss, seed=3)
    rng = np.random.default_rng(5)
    net.theta += rng.normal(0, 0.1, net.size)
    X = rng.standard_normal((11, 4))
    if loss == "cross_entropy" and output == "softmax":
        Y = rng.integers(0, 3, 11)
    elif loss == "cross_entropy":
        Y = rng.uniform(0, 1, (11, 3))
    else:
        Y = 2 * rng.standard_normal((11, 3))
    expected_value, expected_grad = torch_loss(net, X, Y)
    value, grad = net.loss_and_grad(X, Y)
    assert value == pytest.approx(expected_value, rel=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-13)
