"""NumPy reference of the R-operator kernels (see ``kernels/rop.py`` for the formulas)."""

import numpy as np

from .mlp import (CROSS_ENTROPY, EXP, HUBER, L1, MSE, POISSON, RELU, SIGMOID, SOFTMAX, TANH,
                  _forward, _layers, activate, activation_vjp, loss_and_delta, row_weights,
                  weight_penalty)


def rop_workspace_size(sizes, batch):
    """The reference allocates as it goes; it needs no workspace."""
    return 0


def _slope(a, code):
    """G'(z) through a = G(z) for the elementwise activations."""
    return {TANH: 1 - a * a, RELU: (a > 0) * 1.0, SIGMOID: a * (1 - a)}.get(code, np.ones_like(a))


def _bend(a, ra, code):
    """G''(z) R{z} through a and R{a}."""
    return {TANH: -2 * a * ra, SIGMOID: (1 - 2 * a) * ra}.get(code, np.zeros_like(a))


def _output_rop(z, Y, s, output, loss, rz, gauss_newton):
    """R{dL/dz} = H_z R{z} (or its Gauss-Newton part) for the fused output loss; s (batch,
    1) holds each row's sw_i * scale."""
    a = activate(z, output)
    if loss in (CROSS_ENTROPY, POISSON):  # H_z: the output activation's Jacobian
        if output == SOFTMAX:
            return activation_vjp(a, rz * s * Y.sum(axis=1, keepdims=True), output)
        return activation_vjp(a, rz * s, output)
    ra = activation_vjp(a, rz, output)  # J R{z}; J is symmetric for softmax
    r = a - Y
    curvature = {MSE: 2.0 * np.ones_like(r), HUBER: (np.abs(r) <= 1) * 1.0}.get(
        loss, np.zeros_like(r))
    out = activation_vjp(a, curvature * ra * s, output)
    if gauss_newton:
        return out
    g = {MSE: 2 * r, L1: np.sign(r), HUBER: np.clip(r, -1, 1)}[loss] * s
    if output == SOFTMAX:
        return (out + ra * (g - np.sum(a * g, axis=1, keepdims=True))
                - a * np.sum(ra * g, axis=1, keepdims=True))
    if output == EXP:  # G''(z) R{z} = exp(z) R{z} = R{a}
        return out + g * ra
    return out + g * _bend(a, ra, output)


def _rop(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, out, gauss_newton):
    acts, z = _forward(theta, sizes, hidden, X)
    value, delta = loss_and_delta(z, Y, sw, scale, output, loss)
    layers = list(_layers(theta, sizes))
    directions = list(_layers(v, sizes))
    racts = [np.zeros_like(X)]
    for k, ((W, _), (V, c)) in enumerate(zip(layers, directions)):
        rz = racts[-1] @ W.T + acts[k] @ V.T + c
        racts.append(rz * _slope(acts[k + 1], hidden) if k + 1 < len(layers) else rz)
    rdelta = _output_rop(z, Y, row_weights(sw, scale, len(z)), output, loss, racts.pop(),
                         gauss_newton)
    parts = []
    for k in range(len(layers) - 1, -1, -1):
        (W, _), (V, _) = layers[k], directions[k]
        rdW = rdelta.T @ acts[k]
        if not gauss_newton:
            rdW = rdW + delta.T @ racts[k]
        parts += [rdelta.sum(axis=0), rdW.ravel()]
        if k > 0:
            a = acts[k]
            if gauss_newton:
                rdelta = (rdelta @ W) * _slope(a, hidden)
            else:
                g = delta @ W
                rdelta = ((rdelta @ W + delta @ V) * _slope(a, hidden)
                          + g * _bend(a, racts[k], hidden))
                delta = activation_vjp(a, g, hidden)
    penalty = weight_penalty(theta, sizes, l2)[0]
    out[:] = np.concatenate(parts[::-1]) + weight_penalty(v, sizes, l2)[1]  # + l2 V on weights
    return float(value + penalty)


def mlp_hvp(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, work, out):
    """out <- H v, the Hessian of the loss (as ``mlp_loss``) w.r.t. theta times v;
    returns the loss."""
    return _rop(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, out, False)


def mlp_gnvp(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, work, out):
    """out <- G v, G the Gauss-Newton matrix of the loss; returns the loss."""
    return _rop(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, out, True)


def mlp_jacobian(theta, sizes, hidden, output, X, work, out, wrt_params):
    """Per-sample Jacobians of the outputs w.r.t. theta (``wrt_params``) or the input."""
    acts, z = _forward(theta, sizes, hidden, X)
    a = activate(z, output)
    layers = list(_layers(theta, sizes))
    for k in range(a.shape[1]):
        seed = np.zeros_like(a)
        seed[:, k] = 1
        delta = activation_vjp(a, seed, output)
        parts = []
        for m in range(len(layers) - 1, -1, -1):
            parts += [delta, np.einsum("ij,ik->ijk", delta, acts[m]).reshape(len(X), -1)]
            g = delta @ layers[m][0]
            delta = activation_vjp(acts[m], g, hidden) if m > 0 else g
        out[:, k] = np.concatenate(parts[::-1], axis=1) if wrt_params else delta

