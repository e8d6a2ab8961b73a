"""Activation functions G of a layer y = G(W x + b), forward and derivative.

Codes (``IDENTITY`` ...) are plain ints so one compiled kernel serves every
network.  Derivatives are expressed through the layer *output* a = G(z), so the
forward pass keeps only a:  tanh' = 1 - a^2,  sigmoid' = a (1 - a),  relu' = [a > 0],
exp' = a.  Softmax (on whole rows) and exp (the mean of a Poisson regression) are only
output activations.
"""

from . import _math
from ._jit import jit_inline, jit_noalloc

IDENTITY = 0
TANH = 1
RELU = 2
SIGMOID = 3
SOFTMAX = 4
EXP = 5


@jit_noalloc
def activation_row(z, a, code):
    """a <- G(z) for one row.

    ``a`` must not overlap ``z``: LLVM vectorises these loops only when it can
    prove that, and an in-place tanh runs ~6x slower.
    """
    n = z.size
    if code == TANH:
        for j in range(n):
            a[j] = _math.tanh(z[j])
    elif code == RELU:
        for j in range(n):
            a[j] = _math.max2(z[j], 0.0)
    elif code == SIGMOID:
        for j in range(n):
            a[j] = _math.sigmoid(z[j])
    elif code == SOFTMAX or code == EXP:  # one loop: one inlined exp to compile
        shift = z[0] if code == SOFTMAX else 0.0  # softmax: exp(z - max z), normalised
        for j in range(1, n if code == SOFTMAX else 0):
            shift = _math.max2(shift, z[j])
        total = 0.0
        for j in range(n):
            a[j] = _math.exp(z[j] - shift)
            total += a[j]
        if code == SOFTMAX:
            scale = 1.0 / total
            for j in range(n):
                a[j] *= scale
    else:
        for j in range(n):
            a[j] = z[j]


@jit_inline
def bias_activation_forward(z, b, a, code):
    """a (batch, n) <- G(z + b); z is overwritten with z + b."""
    for i in range(z.shape[0]):
        row = z[i]
        for j in range(row.size):
            row[j] += b[j]
        activation_row(row, a[i], code)


@jit_noalloc
def activation_backward(a, d, code):
    """In place on d (batch, n): d <- d * G'(z), with G' written through a = G(z).

    For softmax d becomes the Jacobian-vector product a * (d - sum(a * d)).
    """
    for i in range(a.shape[0]):
        ai = a[i]
        di = d[i]
        n = ai.size
        if code == TANH:
            for j in range(n):
                di[j] *= 1.0 - ai[j] * ai[j]
        elif code == RELU:
            for j in range(n):
                di[j] = di[j] if ai[j] > 0.0 else 0.0
        elif code == SIGMOID:
            for j in range(n):
                di[j] *= ai[j] * (1.0 - ai[j])
        elif code == SOFTMAX:
            dot = 0.0
            for j in range(n):
                dot += ai[j] * di[j]
            for j in range(n):
                di[j] = ai[j] * (di[j] - dot)
        elif code == EXP:
            for j in range(n):
                di[j] *= ai[j]
