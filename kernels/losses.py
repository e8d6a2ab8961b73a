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
(y one-hot or class probabilities), computed as

    sum_k y_k (z_max - z_k) + sum_k y_k log1p(sum_{k != m} exp(z_k - z_max))

with m the first largest logit: a sum of terms >= 0, so nothing cancels -- near zero
loss (z_m the label's logit far above the others) the log1p keeps the full relative
accuracy that log(1 + rest) would lose, and huge logits never give a negative loss.
The rounding error of each z_k - z_max (far from 0 there) is added back, so the loss
stays within a few ulps of its exact value at any gap.  A class with y_k = 0 adds
nothing, even at z_k = -inf.

The caller picks ``scale``: 1 / (sum(sw) n_out) (elementwise) or 1 / sum(sw) (softmax)
gives the weighted means of ``torch.nn.functional`` with ``reduction="mean"``;
``scale = 1`` the plain weighted sum.

Cross-entropy and Poisson are computed from the logits z, never from log(a), and their
gradients are fused: dl/dz = a sum_k y_k - y (softmax), a - y (sigmoid, exp).  Every
row's gradient is multiplied by sw_i * scale once, here.
"""

import math

import numpy as np

from . import _math
from ._jit import jit_inline
from .activations import SOFTMAX, activation_backward, activation_row

MSE = 0
L1 = 1
HUBER = 2
CROSS_ENTROPY = 3
POISSON = 4


@jit_inline
def loss_value(r, code):
    """The loss of one entry of an elementwise loss (mse, l1, huber) at the residual
    r = a - y.

    Every candidate is computed and one is picked (no branch on ``code``): LLVM then
    compiles a loop calling this once, not once per loss -- the output layer's few
    entries do not need a loop of their own for each."""
    ar = abs(r)
    return _math.pick(code == MSE, r * r,
                      _math.pick(code == L1, ar, _math.pick(ar <= 1.0, 0.5 * r * r, ar - 0.5)))


@jit_inline
def loss_slope(r, code):
    """d loss / d a of an elementwise loss at the residual r (no branch on ``code``, as
    :func:`loss_value`)."""
    sign = _math.pick(r > 0.0, 1.0, _math.pick(r < 0.0, -1.0, 0.0))
    clipped = _math.min2(_math.max2(r, -1.0), 1.0)
    return _math.pick(code == MSE, 2.0 * r, _math.pick(code == L1, sign, clipped))


@jit_inline
def loss_curvature(r, code):
    """d^2 loss / d a^2 of an elementwise loss at the residual r (no branch on ``code``,
    as :func:`loss_value`)."""
    return _math.pick(code == MSE, 2.0,
                      _math.pick(code == HUBER, _math.pick(abs(r) <= 1.0, 1.0, 0.0), 0.0))


@jit_inline
def output_loss(z, y, sw, scale, out_code, loss_code, a, delta):
    """Loss of a = G_out(z) against y; fills ``a`` and ``delta`` = dL/dz.

    Shapes: z, y, a, delta (batch, n_out); sw (batch,) or (0,).  Returns
    scale * sum_i sw_i l_i (float64).
    """
    batch, n_out = z.shape
    weighted = sw.size != 0
    total = 0.0
    if loss_code == CROSS_ENTROPY and out_code == SOFTMAX:
        # the softmax made here, from the loss's own exp(z_k - zmax): one exp an entry
        for i in range(batch):
            zi, yi, ai, di = z[i], y[i], a[i], delta[i]
            w = sw[i] if weighted else 1.0
            s = w * scale
            top = 0  # the first largest logit
            for j in range(1, n_out):
                if zi[j] > zi[top]:
                    top = j
            zmax = zi[top]
            rest = 0.0  # sum of exp(z_k - zmax) over the other classes
            ysum = 0.0
            gap = 0.0  # sum_k y_k (zmax - z_k) >= 0
            norm = 0.0
            for j in range(n_out):
                d = zi[j] - zmax
                back = d - zi[j]  # d's rounding error, exactly (TwoSum): low
                low = (zi[j] - (d - back)) - (zmax + back)
                e = _math.exp(d)
                ai[j] = e  # as activation_row makes it, bit for bit
                norm += ai[j]
                if j != top and e != 0.0:  # exp(z_j - zmax) = exp(d) (1 + low)
                    rest += e + e * low
                ysum += yi[j]
                gap += yi[j] * (zmax - zi[j]) if yi[j] != 0.0 else 0.0
            norm = 1.0 / norm
            for j in range(n_out):
                ai[j] *= norm
            total += w * (gap + ysum * math.log1p(rest))
            for j in range(n_out):
                di[j] = (ai[j] * ysum - yi[j]) * s
        return total * scale
    for i in range(batch):
        activation_row(z[i], a[i], out_code)
    for i in range(batch):  # rows indexed in 2-D: no row views in these short loops
        w = sw[i] if weighted else 1.0
        s = w * scale
        row = 0.0
        if loss_code == CROSS_ENTROPY:  # binary, on a sigmoid output
            for j in range(n_out):
                zij, yij = z[i, j], y[i, j]
                row += _math.max2(zij, 0.0) - zij * yij + math.log1p(_math.exp(-abs(zij)))
                delta[i, j] = (a[i, j] - yij) * s
        elif loss_code == POISSON:  # on an exp output
            for j in range(n_out):
                yij = np.float64(y[i, j])
                if yij > 0.0:
                    row += yij * (math.log(yij) - z[i, j])
                row += a[i, j] - yij
                delta[i, j] = (a[i, j] - y[i, j]) * s
        else:
            for j in range(n_out):
                r = a[i, j] - y[i, j]
                row += loss_value(r, loss_code)
                delta[i, j] = loss_slope(r, loss_code) * s
        total += w * row
    if loss_code != CROSS_ENTROPY and loss_code != POISSON:
        activation_backward(a, delta, out_code)
    return total * scale
