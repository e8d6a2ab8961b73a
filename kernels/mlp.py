"""Forward pass and backpropagation of a multilayer perceptron on a flat theta.

Layer l maps n_l -> n_{l+1}: a_{l+1} = G(a_l W_l^T + b_l) for a batch of rows.
``theta`` concatenates, layer after layer, W_l (n_{l+1}, n_l) row-major then b_l.
``sizes`` (int64) holds n_0 ... n_L; ``hidden``/``output``/``loss`` are the codes of
:mod:`.activations` and :mod:`.losses`.

The loss kernels take per-sample weights ``sw`` ((batch,), or empty: all 1), a float64
``scale`` and an L2 coefficient ``l2`` and return

    scale * sum_i sw_i l_i  +  (l2 / 2) * sum of the squared weight entries of theta

(:mod:`.losses` defines l_i; the biases are not penalised).

Compile time is spent per compiled function, and again in each of its callers (whose
optimisation and machine code cover the callee's code too): the entry points
(:func:`mlp_predict`, :func:`mlp_loss`, :func:`mlp_loss_and_grad`) inline the forward
pass, the loss, the matrix products (:func:`._blas.gemm`: BLAS, or for a small
network's products the AVX-512 register tile of :mod:`._gemm_tile`) and the penalty,
and share only the compiled elementwise loops of :mod:`.activations`; views of the
flat buffers are intrinsics (:mod:`._views`), not slices to type at each site.  No
kernel allocates (:data:`._jit.jit_noalloc`); X and Y are C-contiguous.

``work`` is one flat buffer of :func:`workspace_size` entries that the caller keeps
between calls (no allocation in the hot path), laid out as
``[a_1 | ... | a_{L-1} | z_L | a_L | scratch | scratch]``: the hidden activations,
the output pre-activation and activation, and two buffers of ``batch * max(n_l)``
entries for pre-activations and backpropagated deltas.
"""

import numpy as np

from . import _math
from ._blas import gemm
from ._jit import jit_inline, jit_noalloc
from ._views import matrix, segment
from .activations import IDENTITY, activation_backward, activation_row, bias_activation_forward
from .losses import output_loss


def workspace_size(sizes, batch):
    """Entries of the ``work`` buffer for layer sizes ``sizes`` and ``batch`` rows."""
    widths = [int(n) for n in sizes[1:]]
    return batch * (sum(widths) + widths[-1] + 2 * max(widths))


@jit_inline
def _buffers(sizes, batch, work):
    """Views of ``work``: a = G_out(z) (batch, n_out) and the two flat scratches."""
    n_out = sizes[-1]
    w = 0
    span = 0
    for layer in range(1, sizes.size):
        w += batch * sizes[layer]
        span = _math.max2(span, batch * sizes[layer])
    a = matrix(work, w, batch, n_out)
    w += batch * n_out
    return a, segment(work, w, span), segment(work, w + span, span)


@jit_inline
def mlp_forward(theta, sizes, hidden, X, work):
    """Fill the activations in ``work``; return the output pre-activation z (a view)."""
    batch = X.shape[0]
    n_layers = sizes.size - 1
    _, scratch, _ = _buffers(sizes, batch, work)
    prev = X
    t = 0
    w = 0
    for layer in range(n_layers):
        n_in, n_out = sizes[layer], sizes[layer + 1]
        W = matrix(theta, t, n_out, n_in)
        t += n_out * n_in
        b = segment(theta, t, n_out)
        t += n_out
        z = matrix(scratch, 0, batch, n_out)
        a = matrix(work, w, batch, n_out)
        w += batch * n_out
        gemm(1.0, prev, False, W, True, 0.0, z)
        bias_activation_forward(z, b, a, hidden if layer < n_layers - 1 else IDENTITY)
        prev = a
    return prev


@jit_inline
def weight_penalty(theta, sizes, l2, v, out):
    """(l2 / 2) * sum of theta's squared weight entries (biases excluded), and, when
    ``out`` is not empty, out <- out + l2 * v on the weight entries (the penalty's
    gradient for v = theta, its Hessian times v)."""
    total = 0.0
    t = 0
    for layer in range(sizes.size - 1):
        end = t + sizes[layer] * sizes[layer + 1]
        for k in range(t, end):
            w = np.float64(theta[k])
            total += w * w
        if out.size != 0:
            for k in range(t, end):
                out[k] += l2 * v[k]
        t = end + sizes[layer + 1]
    return 0.5 * l2 * total


@jit_noalloc
def mlp_predict(theta, sizes, hidden, output, X, work, out):
    """out (batch, n_out) <- the network's output for the rows of X."""
    z = mlp_forward(theta, sizes, hidden, X, work)
    for i in range(z.shape[0]):
        activation_row(z[i], out[i], output)


@jit_noalloc
def mlp_loss(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, work):
    """The (weighted, scaled, penalised) loss of the network on (X, Y)."""
    z = mlp_forward(theta, sizes, hidden, X, work)
    a, scratch, _ = _buffers(sizes, X.shape[0], work)
    delta = matrix(scratch, 0, z.shape[0], z.shape[1])
    value = output_loss(z, Y, sw, scale, output, loss, a, delta)
    if l2 != 0.0:
        value += weight_penalty(theta, sizes, l2, theta, segment(work, 0, 0))
    return value


@jit_noalloc
def mlp_loss_and_grad(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, work, grad):
    """The loss on (X, Y) as :func:`mlp_loss`; grad (theta.size,) <- its gradient by
    backpropagation."""
    batch = X.shape[0]
    z = mlp_forward(theta, sizes, hidden, X, work)
    a, buf, spare = _buffers(sizes, batch, work)
    delta = matrix(buf, 0, z.shape[0], z.shape[1])
    value = output_loss(z, Y, sw, scale, output, loss, a, delta)
    t = theta.size
    w = 0
    for layer in range(1, sizes.size - 1):
        w += batch * sizes[layer]
    for layer in range(sizes.size - 2, -1, -1):
        n_in, n_out = sizes[layer], sizes[layer + 1]
        t -= n_out
        db = segment(grad, t, n_out)
        t -= n_out * n_in
        dW = matrix(grad, t, n_out, n_in)
        if layer == 0:
            prev = X
        else:
            w -= batch * n_in
            prev = matrix(work, w, batch, n_in)
        gemm(1.0, delta, True, prev, False, 0.0, dW)
        for j in range(n_out):
            db[j] = 0.0
        for i in range(batch):
            for j in range(n_out):
                db[j] += delta[i, j]
        if layer > 0:
            W = matrix(theta, t, n_out, n_in)
            d_prev = matrix(spare, 0, batch, n_in)
            gemm(1.0, delta, False, W, False, 0.0, d_prev)
            activation_backward(prev, d_prev, hidden)
            buf, spare = spare, buf
            delta = d_prev
    if l2 != 0.0:
        value += weight_penalty(theta, sizes, l2, theta, grad)
    return value
