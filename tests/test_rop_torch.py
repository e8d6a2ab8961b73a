"""PyTorch's autograd as an independent oracle for net.hvp (skipped without torch)."""

import numpy as np
import pytest

import pykernels as pk

torch = pytest.importorskip("torch")
from test_torch_oracle import CASES, HIDDEN  # noqa: E402  (needs torch)

F = torch.nn.functional


def torch_loss(net, X, Y):
    """theta (a flat torch vector) -> the network's mean loss, written with torch."""
    x, y = torch.tensor(X), torch.tensor(Y)

    def loss(theta):
        a, t = x, 0
        for k in range(len(net.sizes) - 1):
            n_in, n_out = int(net.sizes[k]), int(net.sizes[k + 1])
            W = theta[t:t + n_out * n_in].reshape(n_out, n_in)
            b = theta[t + n_out * n_in:t + n_out * (n_in + 1)]
            t += n_out * (n_in + 1)
            z = a @ W.T + b
            a = HIDDEN[net.activation](z) if k < len(net.sizes) - 2 else z
        if net.loss_name == "cross_entropy":
            return (F.cross_entropy(a, y) if net.output == "softmax"
                    else F.binary_cross_entropy_with_logits(a, y))
        out = {"identity": a, "tanh": torch.tanh(a), "sigmoid": torch.sigmoid(a),
               "softmax": torch.softmax(a, dim=1)}[net.output]
        return {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}[net.loss_name](out, y)

    return loss


@pytest.mark.parametrize("activation,output,loss", CASES)
def test_hvp_matches_torch(activation, output, loss):
    net = pk.MLP([4, 7, 5, 3], activation=activation, output=output, loss=loss, seed=3)
    rng = np.random.default_rng(11)
    net.theta += rng.normal(0, 0.1, net.size)
    X = rng.standard_normal((10, 4))
    if loss == "cross_entropy" and output == "softmax":
        Y = np.eye(3)[rng.integers(0, 3, 10)]
    elif loss == "cross_entropy":
        Y = rng.uniform(0, 1, (10, 3))
    else:
        Y = 2 * rng.standard_normal((10, 3))
    v = rng.standard_normal(net.size)
    _, expected = torch.autograd.functional.hvp(torch_loss(net, X, Y), torch.tensor(net.theta),
                                                torch.tensor(v))
    expected = expected.numpy()
    np.testing.assert_allclose(net.hvp(X, Y, v), expected, rtol=1e-9,
                               atol=1e-12 * np.abs(expected).max())
