"""Second-order products of an MLP loss by the R-operator, and per-sample Jacobians.

For a direction v of theta (V_l, c_l laid out like W_l, b_l), R{x} = d/de x(theta + e v)
at e = 0 (Pearlmutter 1994).  One extra forward sweep carries the directional
derivatives of the activations::

    R{z_{l+1}} = R{a_l} W_l^T + a_l V_l^T + c_l,     R{a_0} = 0
    R{a_{l+1}} = G'(z_{l+1}) * R{z_{l+1}}

and one extra backward sweep differentiates backpropagation (g_l = delta_{l+1} W_l)::

    R{dW_l}    = R{delta_{l+1}}^T a_l + delta_{l+1}^T R{a_l}
    R{db_l}    = sum over rows of R{delta_{l+1}}
    R{delta_l} = (R{delta_{l+1}} W_l + delta_{l+1} V_l) * G'(z_l) + g_l * G''(z_l) R{z_l}

with R{delta_L} = H_z R{z_L}, H_z the Hessian of the loss w.r.t. the output
pre-activation (each row's part times sw_i scale, as delta_L in :mod:`.losses`).  The
Gauss-Newton product drops every term with a second derivative of a layer: it is
J^T H J v with H the loss's Hessian w.r.t. the logits z_L for cross-entropy and Poisson
(convex in z) and w.r.t. the output a_L for the elementwise losses (convex in a), hence
positive semi-definite.  The L2 penalty adds l2 v on the weight entries to both.

``work`` holds :func:`rop_workspace_size` entries: a header and a copy of the (theta,
X, Y, sw) it was last used at (the header keeps scale and l2), then for every layer a
(2 batch, n_l) block ``[a_l; R a_l]`` (``[z_L; R z_L]`` for the last; each written by its
GEMMs, then activated in place), the output a_L, for every layer a block
``[R delta_l; delta_l]``, a block g_l, and room for the header a call would write
(compared with the kept one).  Stacking a value over its R-derivative lets one GEMM
give the weights' product R delta^T a + delta^T R a; the second term of a sum is
accumulated by the GEMM itself (beta = 1).

The activation steps (R a = G'(z) (R z + c), R delta G'(z), g G'(z)) go through
:func:`.activations.activation_backward`, as backpropagation does: a dead relu unit
passes exactly 0 (also for an infinite R z or R delta, where a product with the slope
0 would give NaN), and in float32 R delta G'(z) is rounded before the G'' term of
:func:`_add_bend` is added.

Products at the point of the previous call -- the same bits of theta, X, Y, sw, scale
and l2, the usual case in Lanczos or conjugate gradients -- reuse the a_l, delta_l and g_l kept in
``work`` and skip every GEMM that does not involve v (z = a W^T, g = delta W): on the
benchmark networks H v then costs about 1.7 gradients instead of 2.1.  The GEMMs both
passes run have the same operands and shapes (a value and its R-derivative are never
stacked into one product that the kept pass would compute half of: BLAS may round a
row differently in another shape), so a kept pass gives the bits of a fresh one and a
result never depends on what was called before.  (The small products of
:func:`._blas.gemm` -- the register tile on AVX-512 CPUs -- round each entry alike in
any shape; the rule is for BLAS.)  ``work`` must be zero-filled before its first use
(the header then says it holds nothing).
"""

import numpy as np

from . import _math
from ._blas import gemm
from ._jit import jit_callee, jit_inline, jit_noalloc, optimize_for_size
from ._views import entries, lower, matrix, segment, upper
from .activations import (EXP, IDENTITY, SIGMOID, SOFTMAX, TANH, activation_backward,
                          activation_row, bias_activation_forward)
from .losses import CROSS_ENTROPY, POISSON, loss_curvature, loss_slope, output_loss
from .mlp import _buffers, mlp_forward, weight_penalty, workspace_size


def rop_workspace_size(sizes, batch):
    """Entries of the ``work`` buffer of :func:`mlp_hvp` / :func:`mlp_gnvp` / Jacobians."""
    sizes = [int(n) for n in sizes]
    widths = sizes[1:]
    n_theta = sum(o * (i + 1) for i, o in zip(sizes[:-1], widths))
    head = _HEAD + len(sizes)
    rop = (2 * head + n_theta + batch * (sizes[0] + widths[-1] + 1)
           + batch * (5 * sum(widths) + widths[-1]))
    jacobian = head + workspace_size(sizes, batch) + 2 * batch * max(sizes)
    return max(rop, jacobian)


@jit_inline
def _bend(a, ra, code):
    """G''(z) R{z} written through a = G(z) and R{a} = G'(z) R{z} (0 for relu, identity;
    exp's is R{a})."""
    if code == TANH:
        return -2.0 * a * ra
    if code == SIGMOID:
        return (1.0 - 2.0 * a) * ra
    if code == EXP:
        return ra
    return 0.0


@jit_callee
def _add_bend(S, G, R, code):
    """R (batch, n) += G * G''(z) R{z} for a curved activation (tanh, sigmoid), with
    S = [a; R a] (2 batch, n): the second-derivative term of R{delta}.  The formulas of
    :func:`_bend`, written out per activation: one loop compiled for each."""
    batch = G.shape[0]
    for i in range(batch):
        a, ra, g, r = S[i], S[batch + i], G[i], R[i]
        if code == TANH:
            for j in range(a.size):
                r[j] += g[j] * (-2.0 * a[j] * ra[j])
        elif code == SIGMOID:
            for j in range(a.size):
                r[j] += g[j] * ((1.0 - 2.0 * a[j]) * ra[j])


# the header of ``work``: [state, hidden, output, loss, batch, n_sizes, n_sw, key,
# sizes...], the key (8 entries from _KEY on) holding the bits of the float64 pair
# (scale, l2) 16 at a time (integers, exact in float32 too); state says what the rest
# holds for the (theta, X, Y, sw) copied after it.  The header a call would write is
# made first in a room as long at the end of ``work`` and compared with it.
_KEY = 7
_HEAD = 15
_EMPTY = 0.0  # nothing (zero-filled work)
_FORWARD = 1.0  # the forward pass: a_l, z_L (enough for G v)
_CURVATURE = 2.0  # and the backward deltas delta_l, g_l (enough for H v)


@jit_inline
def _rop_buffers(sizes, batch, n_theta, work):
    """Views of ``work``: header, copy of (theta, X, Y, sw), the [a_l; R a_l] blocks,
    a_L, the [R delta_l; delta_l] blocks, the g_l blocks (laid out like the a_l) and
    the room for a candidate header."""
    head = _HEAD + sizes.size
    copy = n_theta + batch * (sizes[0] + sizes[-1] + 1)
    total = 0
    for layer in range(1, sizes.size):
        total += batch * sizes[layer]
    n_out = sizes[-1]
    w = head + copy
    stack = segment(work, w, 2 * total)
    w += 2 * total
    a = matrix(work, w, batch, n_out)
    w += batch * n_out
    return (segment(work, 0, head), segment(work, head, copy), stack, a,
            segment(work, w, 2 * total), segment(work, w + 2 * total, total),
            segment(work, w + 3 * total, head))


@jit_callee
def _same_bits(a, b):
    """True when the float arrays a and b (1-D, contiguous, one size) hold the same bits
    (-0.0 is not 0.0, NaNs match only with their payload; one pass, no early exit: the
    loop vectorises)."""
    diff = 0
    for i in range(a.size):
        diff |= _math.bits(a[i]) ^ _math.bits(b[i])
    return diff == 0


@jit_callee
def _copy(dst, src):
    """dst <- src (1-D, contiguous, one size)."""
    for i in range(dst.size):
        dst[i] = src[i]


@jit_inline
def _describe(cand, sizes, hidden, output, loss, batch, n_sw, scale, l2):
    """cand[1:] <- the header of a call with these arguments; returns whether cand holds
    them exactly (a float32 header rounds integers beyond 2**24)."""
    cand[1], cand[2], cand[3], cand[4], cand[5], cand[6] = (
        hidden, output, loss, batch, sizes.size, n_sw)
    exact = cand[4] == batch and cand[6] == n_sw
    key_scale, key_l2 = _math.bits(np.float64(scale)), _math.bits(np.float64(l2))
    for j in range(4):
        cand[_KEY + j] = (key_scale >> (16 * j)) & 0xFFFF
        cand[_KEY + 4 + j] = (key_l2 >> (16 * j)) & 0xFFFF
    for k in range(sizes.size):
        cand[_HEAD + k] = sizes[k]
        exact = exact and cand[_HEAD + k] == sizes[k]
    return exact


@jit_inline
def _keep(head, cand, copy, sizes, hidden, output, loss, theta, X, Y, sw, scale, l2):
    """Return (theta, X, Y, sw) read back from their copy in ``work``, whether ``work``
    already holds a pass of this network there (``head[0]`` says which), and whether
    the header holds these arguments exactly (a pass may then be marked as kept).

    On a miss the copy is written first and the state cleared, so that the pass about
    to be computed -- from the copy, not from the caller's arrays, which another thread
    may change meanwhile -- always matches the copy it is kept with.  Integers that a
    float32 header rounds (beyond 2**24) never read back exactly, so such a pass is
    never marked as kept.
    """
    n, m = theta.size, X.size
    y = n + m + Y.size
    words = head.size - 1
    exact = _describe(cand, sizes, hidden, output, loss, X.shape[0], sw.size, scale, l2)
    hit = (exact and head[0] != _EMPTY  # a rounded header may match another call's
           and _same_bits(segment(head, 1, words), segment(cand, 1, words))
           and _same_bits(segment(copy, 0, n), theta)
           and _same_bits(segment(copy, n, m), entries(X))
           and _same_bits(segment(copy, n + m, Y.size), entries(Y))
           and _same_bits(segment(copy, y, sw.size), sw))
    if not hit:
        head[0] = _EMPTY
        _copy(segment(head, 1, words), segment(cand, 1, words))
        _copy(segment(copy, 0, n), theta)
        _copy(segment(copy, n, m), entries(X))
        _copy(segment(copy, n + m, Y.size), entries(Y))
        _copy(segment(copy, y, sw.size), sw)
    return (segment(copy, 0, n), matrix(copy, n, X.shape[0], X.shape[1]),
            matrix(copy, n + m, Y.shape[0], Y.shape[1]),
            segment(copy, y, sw.size), hit, exact)


@jit_inline
def _rop_forward(theta, sizes, hidden, X, v, stack, scratch, cached):
    """Forward sweep and its R-operator: each layer's (2 batch, n) block of ``stack`` is
    [a_l; R a_l] (hidden layers) or [z_L; R z_L] (the last); with ``cached`` the a_l
    (z_L) are there already and only the R-derivatives are computed -- by the very GEMMs
    of a fresh pass, so that both round alike.  Otherwise the pre-activations go through
    ``scratch`` (as long as ``stack``, overwritten).  Returns the last block."""
    batch = X.shape[0]
    n_layers = sizes.size - 1
    t = 0
    w = 0
    prev = matrix(stack, 0, 0, 0)
    for layer in range(n_layers):
        n_in, n_out = sizes[layer], sizes[layer + 1]
        W = matrix(theta, t, n_out, n_in)
        V = matrix(v, t, n_out, n_in)
        t += n_out * n_in
        b = segment(theta, t, n_out)
        c = segment(v, t, n_out)
        t += n_out
        block = matrix(stack, w, 2 * batch, n_out)
        w += 2 * batch * n_out
        a = X if layer == 0 else upper(prev)
        if not cached:  # a = G(z + b), z = a W^T
            z = matrix(scratch, 0, batch, n_out)
            gemm(1.0, a, False, W, True, 0.0, z)
            bias_activation_forward(z, b, upper(block),
                                    IDENTITY if layer == n_layers - 1 else hidden)
        if layer == 0:  # R{a_0} = 0: R z = a V^T
            gemm(1.0, a, False, V, True, 0.0, lower(block))
        else:  # R z = R a W^T + a V^T
            gemm(1.0, lower(prev), False, W, True, 0.0, lower(block))
            gemm(1.0, a, False, V, True, 1.0, lower(block))
        for i in range(batch):  # R a = G'(z + b) (R z + c)
            rz = block[batch + i]
            for j in range(n_out):
                rz[j] += c[j]
        if layer < n_layers - 1:
            activation_backward(upper(block), lower(block), hidden)
        prev = block
    return prev


@jit_callee
def _output_rop(z, y, sw, scale, out_code, loss_code, a, rz, rdelta, gauss_newton):
    """rdelta <- H_z rz, H_z the loss's Hessian w.r.t. the logits (its Gauss-Newton part),
    row i's part times sw_i scale.

    ``rz`` is overwritten with R{a} = J rz (J the output activation's Jacobian).
    """
    optimize_for_size()
    batch, n_out = z.shape
    weighted = sw.size != 0
    # fused: H_z = ysum (diag(a) - a a^T) (softmax cross-entropy), a (1 - a) (sigmoid
    # cross-entropy), a (Poisson on exp) -- each the output activation's Jacobian
    if loss_code == CROSS_ENTROPY or loss_code == POISSON:
        for i in range(batch):
            s = (sw[i] if weighted else 1.0) * scale
            if out_code == SOFTMAX:
                ysum = 0.0
                for j in range(n_out):
                    ysum += y[i, j]
                s *= ysum
            for j in range(n_out):
                rdelta[i, j] = rz[i, j] * s
        activation_backward(a, rdelta, out_code)
        return
    activation_backward(a, rz, out_code)  # R{a} = J R{z}; J is symmetric for softmax
    for i in range(batch):
        s = (sw[i] if weighted else 1.0) * scale
        for j in range(n_out):
            rdelta[i, j] = loss_curvature(a[i, j] - y[i, j], loss_code) * rz[i, j] * s
    activation_backward(a, rdelta, out_code)  # J^T R{dL/da}
    if gauss_newton or out_code == IDENTITY:
        return
    for i in range(batch):  # + R{J}^T dL/da
        ai, rai, di = a[i], rz[i], rdelta[i]
        s = (sw[i] if weighted else 1.0) * scale
        if out_code == SOFTMAX:  # R{a * (g - a.g)} at fixed g = Ra (g - a.g) - a (Ra.g)
            dot_ag = 0.0
            dot_rg = 0.0
            for j in range(n_out):
                g = loss_slope(ai[j] - y[i, j], loss_code) * s
                dot_ag += ai[j] * g
                dot_rg += rai[j] * g
            for j in range(n_out):
                g = loss_slope(ai[j] - y[i, j], loss_code) * s
                di[j] += rai[j] * (g - dot_ag) - ai[j] * dot_rg
        else:
            for j in range(n_out):
                di[j] += loss_slope(ai[j] - y[i, j], loss_code) * s * _bend(
                    ai[j], rai[j], out_code)


_PLAIN = 0  # R delta_l = D_r G'(z_l): no G'' term (relu, identity, Gauss-Newton)
_DELTA = 1  # and the lower half of D holds g_l: delta_l = g_l G'(z_l)
_KEEP_G = 2  # as _DELTA, add g_l's G'' term (tanh, sigmoid) and keep g_l in G
_CACHED_G = 3  # add the G'' term of the g_l kept in G (the kept pass of _KEEP_G)


@jit_inline
def _tangent_backward(S, D, G, mode, code):
    """D = [R delta W + delta V; g] -> [R delta_l; delta_l] through the layer's activation,
    S = [a; R a], G (batch, n) the kept g_l (see ``mode``).  A kept pass (_PLAIN after
    _DELTA, _CACHED_G after _KEEP_G) computes R delta_l by the same expression."""
    a, rdelta, g = upper(S), upper(D), lower(D)
    if mode == _KEEP_G:
        _copy(entries(G), entries(g))
    activation_backward(a, rdelta, code)  # R delta G'(z)
    if mode == _KEEP_G or mode == _CACHED_G:  # + g G''(z) R{z}
        _add_bend(S, G, rdelta, code)
    if mode == _DELTA or mode == _KEEP_G:
        activation_backward(a, g, code)


@jit_noalloc
def mlp_rop(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, work, out,
            gauss_newton):
    """out (theta.size,) <- H v, or G v with ``gauss_newton``; returns the loss (as
    :func:`.mlp.mlp_loss`).

    The compiled kernel behind :func:`mlp_hvp` and :func:`mlp_gnvp` (call it from
    ``@njit`` code); see the module docstring."""
    optimize_for_size()
    batch = X.shape[0]
    head, copy, stack, a, deltas, gs, cand = _rop_buffers(sizes, batch, theta.size, work)
    state = _FORWARD if gauss_newton else _CURVATURE
    theta, X, Y, sw, hit, exact = _keep(head, cand, copy, sizes, hidden, output, loss, theta,
                                        X, Y, sw, scale, l2)
    cached = hit and head[0] >= state
    # the deltas are all written anew in a pass that is not kept: their room serves
    # the forward sweep as scratch
    last = _rop_forward(theta, sizes, hidden, X, v, stack, deltas, cached)
    z, rz = upper(last), lower(last)
    w = stack.size - last.size
    D = matrix(deltas, w, 2 * batch, z.shape[1])  # [R delta; delta]
    value = output_loss(z, Y, sw, scale, output, loss, a, lower(D))
    _output_rop(z, Y, sw, scale, output, loss, a, rz, upper(D), gauss_newton)
    curved = hidden == TANH or hidden == SIGMOID
    t = theta.size
    for layer in range(sizes.size - 2, -1, -1):
        n_in, n_out = sizes[layer], sizes[layer + 1]
        t -= n_out
        rdb = segment(out, t, n_out)
        t -= n_out * n_in
        rdW = matrix(out, t, n_out, n_in)
        rdelta, delta = upper(D), lower(D)
        if layer == 0:
            S = X
        else:
            w -= 2 * batch * n_in
            S = matrix(stack, w, 2 * batch, n_in)  # [a; R a]
        if layer == 0 or gauss_newton:
            gemm(1.0, rdelta, True, S[:batch], False, 0.0, rdW)  # S = X at layer 0
        else:
            gemm(1.0, D, True, S, False, 0.0, rdW)  # R delta^T a + delta^T R a in one GEMM
        for j in range(n_out):
            rdb[j] = 0.0
        for i in range(batch):
            for j in range(n_out):
                rdb[j] += rdelta[i, j]
        if layer == 0:
            break
        W = matrix(theta, t, n_out, n_in)
        D_prev = matrix(deltas, w, 2 * batch, n_in)
        G = matrix(gs, w // 2, batch, n_in)
        # g = delta W feeds the G'' term and the delta of the layer below, which the
        # first hidden layer's R{dW} does not need (R{a_0} = 0): skip it there for
        # activations with G'' = 0 -- one GEMM of the largest layer fewer; cached, the
        # deltas (and the g of curved activations) are in ``work`` already
        need_g = not gauss_newton and not cached and (layer > 1 or curved)
        gemm(1.0, rdelta, False, W, False, 0.0, upper(D_prev))  # R delta W
        if need_g:
            gemm(1.0, delta, False, W, False, 0.0, lower(D_prev))  # g = delta W
        if not gauss_newton:  # + delta V
            V = matrix(v, t, n_out, n_in)
            gemm(1.0, delta, False, V, False, 1.0, upper(D_prev))
        if need_g:
            mode = _KEEP_G if curved else _DELTA
        elif cached and curved and not gauss_newton:
            mode = _CACHED_G
        else:
            mode = _PLAIN
        _tangent_backward(S, D_prev, G, mode, hidden)
        D = D_prev
    if l2 != 0.0:
        value += weight_penalty(theta, sizes, l2, v, out)
    if not cached and exact:
        head[0] = state
    return value


def mlp_hvp(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, work, out):
    """out (theta.size,) <- H v, H the Hessian of the loss (as :func:`.mlp.mlp_loss`)
    w.r.t. theta; returns the loss.

    ``work`` (zero-filled before its first use) keeps the forward and backward pass of
    (theta, X, Y, sw, scale, l2) for the next call at the same point.  A Python alias of the
    compiled :func:`mlp_rop` (call that one from ``@njit`` code, with C-contiguous X and
    Y; this alias takes any layout): each compiled entry point re-optimises its whole
    call tree when compiled, so the two products share one.
    """
    return mlp_rop(theta, sizes, hidden, output, loss, np.ascontiguousarray(X),
                   np.ascontiguousarray(Y), sw, scale, l2, v, work, out, False)


def mlp_gnvp(theta, sizes, hidden, output, loss, X, Y, sw, scale, l2, v, work, out):
    """out (theta.size,) <- G v, G the (PSD) Gauss-Newton matrix of the loss; returns the loss.

    Reuses (and keeps) a point's forward pass in ``work`` as :func:`mlp_hvp` does."""
    return mlp_rop(theta, sizes, hidden, output, loss, np.ascontiguousarray(X),
                   np.ascontiguousarray(Y), sw, scale, l2, v, work, out, True)


@jit_noalloc
def mlp_jacobian(theta, sizes, hidden, output, X, work, out, wrt_params):
    """Per-sample Jacobians of the outputs a_L, one backward sweep per output k.

    out is (batch, n_out, n_in) for the input, (batch, n_out, theta.size) for theta
    (``wrt_params``).  The sweep for output k starts from delta_i = J_i^T e_k (J_i the
    output activation's Jacobian at row i); a layer's block of row i is then the
    outer product delta_i a_i^T (weights) and delta_i (bias).
    """
    work[0] = _EMPTY  # overwrites what the R-operator kept in work
    work = work[_HEAD + sizes.size:]
    batch = X.shape[0]
    rows = 0  # batch * (n_1 + ... + n_L)
    widest = 0
    for layer in range(1, sizes.size):
        rows += batch * sizes[layer]
        widest = _math.max2(widest, sizes[layer])
    hidden_rows = rows - batch * sizes[-1]
    base = rows + batch * (sizes[-1] + 2 * widest)  # mlp.workspace_size
    span = batch * _math.max2(widest, sizes[0])  # the input layer's d_prev is (batch, n_in)
    fwork, buf, spare = (segment(work, 0, base), segment(work, base, span),
                         segment(work, base + span, span))
    z = mlp_forward(theta, sizes, hidden, X, fwork)
    a, _, _ = _buffers(sizes, batch, fwork)
    for i in range(batch):
        activation_row(z[i], a[i], output)
    for k in range(sizes[-1]):
        delta = matrix(buf, 0, z.shape[0], z.shape[1])
        for i in range(batch):
            for j in range(delta.shape[1]):
                delta[i, j] = 0.0
            delta[i, k] = 1.0
        activation_backward(a, delta, output)
        bufs = (buf, spare)
        t = theta.size
        w = hidden_rows
        for layer in range(sizes.size - 2, -1, -1):
            n_in, n_out = sizes[layer], sizes[layer + 1]
            t -= n_out * (n_in + 1)
            if layer == 0:
                prev = X
            else:
                w -= batch * n_in
                prev = matrix(fwork, w, batch, n_in)
            if wrt_params:
                for i in range(batch):
                    row = out[i, k]
                    for j in range(n_out):
                        row[t + n_out * n_in + j] = delta[i, j]
                        block = row[t + j * n_in:t + (j + 1) * n_in]
                        for m in range(n_in):
                            block[m] = delta[i, j] * prev[i, m]
                if layer == 0:
                    break
            W = matrix(theta, t, n_out, n_in)
            bufs = (bufs[1], bufs[0])
            d_prev = matrix(bufs[0], 0, batch, n_in)
            gemm(1.0, delta, False, W, False, 0.0, d_prev)
            if layer == 0:
                for i in range(batch):
                    for m in range(n_in):
                        out[i, k, m] = d_prev[i, m]
                break
            activation_backward(prev, d_prev, hidden)
            delta = d_prev
