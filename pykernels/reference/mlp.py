"""NumPy reference of the MLP kernels (see ``kernels/mlp.py`` for the contract)."""

import numpy as np

# Codes shared with the compiled kernels (kernels/activations.py, kernels/losses.py).
IDENTITY, TANH, RELU, SIGMOID, SOFTMAX = range(5)
MSE, L1, HUBER, CROSS_ENTROPY = range(4)


def workspace_size(sizes, batch):
    """The reference allocates as it goes; it needs no workspace."""
    return 0


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def activate(z, code):
    """G(z) applied to the rows of z."""
    if code == TANH:
        return np.tanh(z)
    if code == RELU:
        return np.maximum(z, 0)
    if code == SIGMOID:
        return _sigmoid(z)
    if code == SOFTMAX:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return z.copy()


def activation_vjp(a, d, code):
    """d * G'(z), with G' written through the output a = G(z)."""
    if code == TANH:
        return d * (1 - a * a)
    if code == RELU:
        return np.where(a > 0, d, 0)
    if code == SIGMOID:
        return d * a * (1 - a)
    if code == SOFTMAX:
        return a * (d - np.sum(a * d, axis=1, keepdims=True))
    return d


def _layers(theta, sizes):
    t = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = theta[t:t + n_out * n_in].reshape(n_out, n_in)
        t += n_out * n_in
        yield W, theta[t:t + n_out]
        t += n_out


def _forward(theta, sizes, hidden, X):
    """Activations [X, a_1, ..., a_{L-1}] and the output pre-activation z."""
    acts = [X]
    layers = list(_layers(theta, sizes))
    for W, b in layers[:-1]:
        acts.append(activate(acts[-1] @ W.T + b, hidden))
    W, b = layers[-1]
    return acts, acts[-1] @ W.T + b


def loss_and_delta(z, Y, output, loss):
    """Mean loss of G_out(z) against Y and its gradient with respect to z."""
    a = activate(z, output)
    if loss == CROSS_ENTROPY and output == SOFTMAX:
        zmax = z.max(axis=1, keepdims=True)
        logsumexp = zmax + np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))
        ysum = Y.sum(axis=1, keepdims=True)
        value = np.sum(ysum * logsumexp) - np.sum(Y * z)
        value /= len(z)
        return value, (a * ysum - Y) / len(z)
    count = z.size
    if loss == CROSS_ENTROPY:
        value = np.sum(np.maximum(z, 0) - z * Y + np.log1p(np.exp(-np.abs(z)))) / count
        return value, (a - Y) / count
    r = a - Y
    if loss == MSE:
        value, dA = np.sum(r * r), 2 * r
    elif loss == L1:
        value, dA = np.sum(np.abs(r)), np.sign(r)
    else:
        value = np.sum(np.where(np.abs(r) <= 1, 0.5 * r * r, np.abs(r) - 0.5))
        dA = np.clip(r, -1, 1)
    return value / count, activation_vjp(a, dA / count, output)


def mlp_predict(theta, sizes, hidden, output, X, work, out):
    """out <- the network's output for the rows of X."""
    out[...] = activate(_forward(theta, sizes, hidden, X)[1], output)


def mlp_loss(theta, sizes, hidden, output, loss, X, Y, work):
    """Mean loss of the network on (X, Y)."""
    return float(loss_and_delta(_forward(theta, sizes, hidden, X)[1], Y, output, loss)[0])


def mlp_loss_and_grad(theta, sizes, hidden, output, loss, X, Y, work, grad):
    """Mean loss on (X, Y); grad <- its gradient by backpropagation."""
    acts, z = _forward(theta, sizes, hidden, X)
    value, delta = loss_and_delta(z, Y, output, loss)
    layers = list(_layers(theta, sizes))
    grads = []
    for layer in range(len(layers) - 1, -1, -1):
        W, _ = layers[layer]
        grads.append(delta.sum(axis=0))
        grads.append((delta.T @ acts[layer]).ravel())
        if layer > 0:
            delta = activation_vjp(acts[layer], delta @ W, hidden)
    grad[:] = np.concatenate(grads[::-1])
    return float(value)
