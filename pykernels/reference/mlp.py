"""NumPy reference of the MLP kernels (see ``kernels/mlp.py`` for the contract).

Every loss kernel returns scale * sum_i sw_i l_i + (l2 / 2) * sum of the squared weight
entries, l_i the loss of row i (see ``kernels/losses.py``), ``sw`` empty meaning all 1.
"""

import numpy as np

# Codes shared with the compiled kernels (kernels/activations.py, kernels/losses.py).
IDENTITY, TANH, RELU, SIGMOID, SOFTMAX, EXP = range(6)
MSE, L1, HUBER, CROSS_ENTROPY, POISSON = range(5)


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
    if code == EXP:
        return np.exp(z)
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
    if code == EXP:
        return d * a
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


def row_weights(sw, scale, batch):
    """sw_i * scale as a (batch, 1) column (sw empty: every weight is 1)."""
    return (np.ones(batch) if sw.size == 0 else sw.astype(np.float64))[:, None] * scale


def row_losses(z, Y, output, loss):
    """The loss l_i of each row of G_out(z) against Y, (batch, 1), and dl_i/dz."""
    a = activate(z, output)
    if loss == CROSS_ENTROPY and output == SOFTMAX:
        # sum_k y_k (lse - z_k) = sum_k y_k (zmax - z_k) + ysum log1p(the other classes'
        # exp(z_k - zmax)): terms >= 0, no cancellation near zero loss or at huge z; the
        # rounding error `low` of d = z - zmax is added back (exp(d) (1 + low))
        rows = np.arange(len(z))
        top = np.argmax(z, axis=1)
        zmax = z[rows, top][:, None]
        d = z - zmax
        back = d - z
        low = (z - (d - back)) - (zmax + back)
        others = np.exp(d)
        others = np.where(others != 0, others + others * low, 0.0)
        others[rows, top] = 0.0
        ysum = Y.sum(axis=1, keepdims=True)
        gap = np.sum(np.where(Y != 0, Y * (zmax - z), 0.0), axis=1, keepdims=True)
        return gap + ysum * np.log1p(others.sum(axis=1, keepdims=True)), a * ysum - Y
    if loss == CROSS_ENTROPY:
        terms, dz = np.maximum(z, 0) - z * Y + np.log1p(np.exp(-np.abs(z))), a - Y
    elif loss == POISSON:  # y log(y / a) - y + a with log a = z; y log y = 0 at y = 0
        ylogy = Y * np.log(np.where(Y > 0, Y, 1))
        terms, dz = ylogy - Y * z - Y + a, a - Y
    else:
        r = a - Y
        if loss == MSE:
            terms, dA = r * r, 2 * r
        elif loss == L1:
            terms, dA = np.abs(r), np.sign(r)
        else:
            terms = np.where(np.abs(r) <= 1, 0.5 * r * r, np.abs(r) - 0.5)
            dA = np.clip(r, -1, 1)
        dz = activation_vjp(a, dA, output)
    return terms.sum(axis=1, keepdims=True), dz


def loss_and_delta(z, Y, sw, scale, output, loss):
    """scale * sum_i sw_i l_i for G_out(z) against Y and its gradient with respect to z."""
    rows, dz = row_losses(z, Y, output, loss)
    s = row_weights(sw, scale, len(z))
    return float(np.sum(s * rows)), (s * dz).astype(z.dtype)


def weight_penalty(theta, sizes, l2):
    """(l2 / 2) * sum of the squared weight entries (biases excluded), and its gradient.

    Exactly (0, zeros) without a penalty, as in the kernels: 0 * inf would be NaN for
    weights whose squares overflow."""
    grad = np.zeros_like(theta)
    total = 0.0
    if l2 == 0.0:
        return total, grad
    for (W, _), (dW, _) in zip(_layers(theta, sizes), _layers(grad, sizes)):
        total += np.sum(W.astype(np.float64) ** 2)
        dW[...] = l2 * W
    return 0.5 * l2 * total, grad


def mlp_predict(theta, sizes, hidden, output, X, work, out):
    """out <- the network's output for the rows of X."""
    out[...] = activate(_forward(theta, sizes, hidden, X)[1], output)


def mlp_loss(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, work):
    """The (weighted, scaled, penalised) loss of the network on (X, Y)."""
    value = loss_and_delta(_forward(theta, sizes, hidden, X)[1], Y, sw, scale, output, loss)[0]
    return value + weight_penalty(theta, sizes, l2)[0]


def mlp_loss_and_grad(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, work, grad):
    """The loss on (X, Y) as :func:`mlp_loss`; grad <- its gradient by backpropagation."""
    acts, z = _forward(theta, sizes, hidden, X)
    value, delta = loss_and_delta(z, Y, sw, scale, output, loss)
    layers = list(_layers(theta, sizes))
    grads = []
    for layer in range(len(layers) - 1, -1, -1):
        W, _ = layers[layer]
        grads.append(delta.sum(axis=0))
        grads.append((delta.T @ acts[layer]).ravel())
        if layer > 0:
            delta = activation_vjp(acts[layer], delta @ W, hidden)
    penalty, penalty_grad = weight_penalty(theta, sizes, l2)
    grad[:] = np.concatenate(grads[::-1]) + penalty_grad
    return float(value + penalty)
