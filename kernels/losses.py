"""Losses of the network output, fused with the output activation.

``z`` is the output layer's pre-activation and ``a = G_out(z)``.  A kernel returns

    scale * sum_i sw_i * l_i

with ``sw`` the per-sample weights (an empty array: every weight is 1) and ``l_i`` the
loss of row i: for the elementwise losses the SUM over the row's outputs of

* mse:     (a - y)^2
* l1:      |a - y|
* huber:   r^2 / 2 if |r| <= 1 else |r| - 1/2, with r = a - y
* binary cross-entropy (sigmoid output): max(z, 0) - z y + log1p(exp(-|z|))
* poisson (exp output, half the Poisson deviance): y log(y / a) - y + a, with
  log(y / a) = log y - z and y log y = 0 at y = 0

and for categorical cross-entropy (softmax output) logsumexp(z) sum_k y_k - sum_k y_k z_k
(y one-hot or class probabilities).  The caller picks ``scale``: 1 / (sum(sw) n_out)
(elementwise) or 1 / sum(sw) (softmax) gives the weighted means of
``torch.nn.functional`` with ``reduction="mean"``; ``scale = 1`` the plain weighted sum.

Cross-entropy and Poisson are computed from the logits z, never from log(a), and their
gradients are fused: dl/dz = a sum_k y_k - y (softmax), a - y (sigmoid, exp).  Every
row's gradient is multiplied by sw_i * scale once, here.
"""

import math

import numpy as np

from . import _math
from ._jit import jit
from .activations import SOFTMAX, activation_backward, activation_row

MSE = 0
L1 = 1
HUBER = 2
CROSS_ENTROPY = 3
POISSON = 4


@jit
def output_loss(z, y, sw, scale, out_code, loss_code, a, delta):
    """Loss of a = G_out(z) against y; fills ``a`` and ``delta`` = dL/dz.

    Shapes: z, y, a, delta (batch, n_out); sw (batch,) or (0,).  Returns
    scale * sum_i sw_i l_i (float64).
    """
    batch, n_out = z.shape
    weighted = sw.size != 0
    for i in range(batch):
        activation_row(z[i], a[i], out_code)
    total = 0.0
    if loss_code == CROSS_ENTROPY and out_code == SOFTMAX:
        for i in range(batch):
            zi, yi, ai, di = z[i], y[i], a[i], delta[i]
            w = sw[i] if weighted else 1.0
            s = w * scale
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
            total += w * (ysum * (zmax + math.log(sum_exp)) - yz)
            for j in range(n_out):
                di[j] = (ai[j] * ysum - yi[j]) * s
        return total * scale
    for i in range(batch):
        zi, yi, ai, di = z[i], y[i], a[i], delta[i]
        w = sw[i] if weighted else 1.0
        s = w * scale
        row = 0.0
        if loss_code == CROSS_ENTROPY:  # binary, on a sigmoid output
            for j in range(n_out):
                row += (max(zi[j], 0.0) - zi[j] * yi[j]
                        + math.log1p(_math.exp(-abs(zi[j]))))
                di[j] = (ai[j] - yi[j]) * s
        elif loss_code == POISSON:  # on an exp output
            for j in range(n_out):
                yj = np.float64(yi[j])
                if yj > 0.0:
                    row += yj * (math.log(yj) - zi[j])
                row += ai[j] - yj
                di[j] = (ai[j] - yi[j]) * s
        else:
            for j in range(n_out):
                r = ai[j] - yi[j]
                if loss_code == MSE:
                    row += r * r
                    di[j] = 2.0 * r * s
                elif loss_code == L1:
                    row += abs(r)
                    di[j] = (1.0 if r > 0.0 else (-1.0 if r < 0.0 else 0.0)) * s
                else:
                    ar = abs(r)
                    row += 0.5 * r * r if ar <= 1.0 else ar - 0.5
                    di[j] = min(max(r, -1.0), 1.0) * s
        total += w * row
    if loss_code != CROSS_ENTROPY and loss_code != POISSON:
        activation_backward(a, delta, out_code)
    return total * scale
