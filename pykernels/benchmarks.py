"""Benchmark cases shared by ``bench/`` (pytest-benchmark) and ``pykernels bench``.

Each ``*_step`` factory returns a zero-argument callable doing one unit of work,
so both drivers time exactly the same code.
"""

import numpy as np

from .network import MLP

#: name -> (layer sizes, hidden activation, output, loss, batch)
MLP_CASES = {
    "tiny": ([2, 32, 32, 1], "tanh", "identity", "mse", 32),
    "small": ([64, 128, 128, 10], "relu", "softmax", "cross_entropy", 64),
    "large": ([1024, 1024, 1024, 10], "relu", "softmax", "cross_entropy", 512),
}
LEARNING_RATE = 1e-3


def mlp_problem(case, dtype=np.float64, seed=0):
    """The network and one batch (X, Y) of benchmark case ``case``."""
    sizes, activation, output, loss, batch = MLP_CASES[case]
    net = MLP(sizes, activation=activation, output=output, loss=loss, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    if loss == "cross_entropy":
        Y = rng.integers(0, sizes[-1], batch)
    else:
        Y = rng.standard_normal((batch, sizes[-1])).astype(dtype)
    return net, X, Y


def mlp_step(case, backend, dtype=np.float64):
    """One SGD training step (loss_and_grad + update) of ``case`` on ``backend``."""
    net, X, Y = mlp_problem(case, dtype)
    theta = net.theta
    lr = dtype(LEARNING_RATE)

    def step():
        value, grad = net.loss_and_grad(X, Y, backend=backend)
        grad *= lr
        np.subtract(theta, grad, out=theta)
        return value

    return step


def torch_mlp_step(case, dtype=np.float64):
    """The same step in PyTorch eager mode (raises ImportError without torch)."""
    import torch

    net, X, Y = mlp_problem(case, dtype)
    params = [torch.tensor(p.copy(), requires_grad=True) for W, b in net.layers for p in (W, b)]
    act = {"tanh": torch.tanh, "relu": torch.relu}[net.activation]
    F = torch.nn.functional
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(np.asarray(Y))
    loss = F.cross_entropy if net.loss_name == "cross_entropy" else F.mse_loss
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE)

    def step():
        optimizer.zero_grad()
        a = Xt
        for k in range(0, len(params) - 2, 2):
            a = act(a @ params[k].T + params[k + 1])
        value = loss(a @ params[-2].T + params[-1], Yt)
        value.backward()
        optimizer.step()
        return value.item()

    return step


def gemm_floor_step(case, dtype=np.float64):
    """Only the matrix products of one step, by ``np.dot`` into preallocated outputs.

    A lower bound for any implementation that calls BLAS: forward ``a W^T`` per
    layer, backward ``delta^T a`` and ``delta W``.
    """
    net, X, _ = mlp_problem(case, dtype)
    batch = len(X)
    acts = [X] + [np.ones((batch, W.shape[0]), dtype) for W, _ in net.layers]
    grads = [np.empty_like(W) for W, _ in net.layers]

    def step():
        for k, (W, _) in enumerate(net.layers):
            np.dot(acts[k], W.T, out=acts[k + 1])
        for k in range(len(net.layers) - 1, -1, -1):
            W = net.layers[k][0]
            np.dot(acts[k + 1].T, acts[k], out=grads[k])
            if k > 0:
                np.dot(acts[k + 1], W, out=acts[k])
        return 0.0

    return step


def mlp_flops(case):
    """Floating-point operations of one step: 2 per multiply-add, forward + 2x backward."""
    sizes, *_, batch = MLP_CASES[case]
    return 6 * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
