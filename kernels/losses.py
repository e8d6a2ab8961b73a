"""Losses of the network output, fused with the output activation.

``z`` is the output layer's pre-activation and ``a = G_out(z)``.  Every loss is a
mean: the elementwise losses (mse, l1, huber, binary cross-entropy) over all
``batch * n_out`` entries, categorical cross-entropy over the batch -- the
conventions of ``torch.nn.functional`` with ``reduction="mean"``:

* mse:   (a - y)^2
* l1:    |a - y|
* huber: r^2 / 2 if |r| <= 1 else |r| - 1/2, with r = a - y
* cross-entropy, softmax output: logsumexp(z) - sum_k y_k z_k per row (y one-hot or
  class probabilities); sigmoid output: max(z, 0) - z y + log1p(exp(-|z|)).

Cross-entropy is computed from the logits z, never from log(a), so logits of any
size give a finite loss; its gradient is fused: dL/dz = (a sum_k y_k - y) / count.
"""

import math

from . import _math
from ._jit import jit
from .activations import SOFTMAX, activation_backward, activation_row

MSE = 0
L1 = 1
HUBER = 2
CROSS_ENTROPY = 3


@jit
def output_loss(z, y, out_code, loss_code, a, delta):
    """Loss of a = G_out(z) against y; fills ``a`` and ``delta`` = dL/dz.

    Shapes: z, y, a, delta (batch, n_out).  Returns the mean loss (float64).
    """
    batch, n_out = z.shape
    for i in range(batch):
        activation_row(z[i], a[i], out_code)
    total = 0.0
    if loss_code == CROSS_ENTROPY and out_code == SOFTMAX:
        scale = 1.0 / batch
        for i in range(batch):
            zi, yi, ai, di = z[i], y[i], a[i], delta[i]
            zmax = zi[0]
            for j in range(1, n_out):
                zmax = max(zmax, zi[j])
            sum_exp = 0.0
            ysum = 0.0
            yz = 0.0
            for j in range(n_out):
                sum_exp += _math.exp(zi[j] - zmax)
                ysum += yi[j]
                yz += yi[j] * zi[j]
            total += ysum * (zmax + math.log(sum_exp)) - yz
            for j in range(n_out):
                di[j] = (ai[j] * ysum - yi[j]) * scale
        return total * scale
    scale = 1.0 / (batch * n_out)
    if loss_code == CROSS_ENTROPY:  # binary, on a sigmoid output
        for i in range(batch):
            zi, yi, ai, di = z[i], y[i], a[i], delta[i]
            for j in range(n_out):
                total += (max(zi[j], 0.0) - zi[j] * yi[j]
                          + math.log1p(_math.exp(-abs(zi[j]))))
                di[j] = (ai[j] - yi[j]) * scale
        return total * scale
    for i in range(batch):
        yi, ai, di = y[i], a[i], delta[i]
        for j in range(n_out):
            r = ai[j] - yi[j]
            if loss_code == MSE:
                total += r * r
                di[j] = 2.0 * r * scale
            elif loss_code == L1:
                total += abs(r)
                di[j] = (1.0 if r > 0.0 else (-1.0 if r < 0.0 else 0.0)) * scale
            else:
                ar = abs(r)
                total += 0.5 * r * r if ar <= 1.0 else ar - 0.5
                di[j] = min(max(r, -1.0), 1.0) * scale
    activation_backward(a, delta, out_code)
    return total * scale


