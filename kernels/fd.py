"""Finite-difference kernels, compiled once per user function.

A user's ``@njit`` function ``f`` is called from inside the difference loops without
returning to Python.  Passing ``f`` as an argument would cost ≈ 4 µs per call (Numba
types the dispatcher on every call), and a first-class function type keeps it from
being inlined (~1.35x slower loops on a cheap ``f``), so :func:`fd_drivers` compiles,
once per ``f``, copies of the drivers that hold it as a global: ``f`` is inlined, and
the copies are cached on disk under a key naming ``f``'s code, so that a later process
loads them instead of compiling (:func:`_drivers`).  The result is kept in a weak
dictionary keyed by ``f``.  cffi function pointers are first wrapped into such an
``@njit`` function (:func:`fd_from_cffi`; not cached: the pointer is a run-time value).

Stencils (per column ``j``, ``e_j`` the unit vector, ``h`` the signed step, ``f0 = f(x)``);
the divisor is always built from the points actually evaluated, e.g. ``(x+h) - (x-h)``:

* ``CENTRAL``  ``(f(x + h e_j) - f(x - h e_j)) / (2h)``
* ``FORWARD``  ``(f(x + h e_j) - f0) / h`` (backward: ``h < 0``)
* ``ONESIDED`` ``(-3 f0 + 4 f(x + h e_j) - f(x + 2h e_j)) / (2h)``, second order, used by
  ``central`` next to a bound
* complex step ``Im f(x + i h e_j) / h`` (separate kernels: ``x`` is complex there)

Columns of one colour group are perturbed together (sparse Jacobians); a dense
Jacobian is the case of one column per group.  ``nchunks > 1`` splits the groups over
threads (``prange``, compiled on demand); every chunk owns its copy of ``x`` and every
output column is written by exactly one thread, so results do not depend on threading.
"""

import hashlib
import inspect
import pickle
import types
import weakref

import numba
import numpy as np
from numba.extending import overload

from ._jit import _POLICY, jit, jit_inline, jit_parallel

prange = numba.prange

# method codes
FORWARD, BACKWARD, CENTRAL, COMPLEX = 0, 1, 2, 3
# per-column stencils chosen by fd_steps
S_CENTRAL, S_FORWARD, S_ONESIDED, S_COMPLEX = 0, 1, 2, 3
# per-column (or per-group) status written by the Jacobian drivers
OK, BAD_VALUE, BAD_SHAPE = 0, 2, 3


#: a step below this fraction of |x_j| -- 2**16 of its ulps -- would be lost in rounding
#: x_j + h: x_j is then as good as on its bound
_NEAR_BOUND = 2.0 ** -36


@jit_inline
def _relative_step(xi, lo, hi, r):
    """``r`` times the length scale of ``xi``: max(1, |xi|), capped by the distance to the
    nearer bound when that is positive -- functions are often singular just outside their
    box (log, sqrt, 1/x), so the step must shrink with that distance -- unless the capped
    step would drown in rounding: a point that close to its bound is treated as on it,
    where the stencil turns one-sided instead (see :func:`fd_steps`)."""
    s = max(1.0, abs(xi))
    near = min(xi - lo, hi - xi)
    if near > 0.0 and r * near >= _NEAR_BOUND * abs(xi):
        return r * min(s, near)
    return r * s


@jit
def fd_steps(x, hs, relative, lo, hi, method, h, stencil):
    """Fill the signed steps ``h`` and the stencil codes ``stencil`` of every component.

    ``h_j = hs_j * scale_j`` when ``relative`` (see :func:`_relative_step`) else ``hs_j``;
    ``central`` falls back to the one-sided second-order stencil on the roomier side
    when ``x_j ± h_j`` leaves ``[lo_j, hi_j]``; ``forward``/``backward`` flip side, and
    shrink the step to the room left, when needed.  Returns True when some stencil
    needs ``f(x)``.
    """
    need_f0 = False
    for j in range(x.size):
        xj, a, b = x[j], lo[j], hi[j]
        hj = _relative_step(xj, a, b, hs[j]) if relative else hs[j]
        dlo, dhi = xj - a, b - xj
        if method == COMPLEX:
            h[j], stencil[j] = hj, S_COMPLEX
        elif method == CENTRAL:
            if hj <= dlo and hj <= dhi:
                h[j], stencil[j] = hj, S_CENTRAL
            else:
                room = max(dlo, dhi)
                hj = min(hj, 0.5 * room)
                h[j], stencil[j] = (hj if dhi >= dlo else -hj), S_ONESIDED
                need_f0 = True
        else:
            ahead, behind = (dhi, dlo) if method == FORWARD else (dlo, dhi)
            sign = 1.0 if method == FORWARD else -1.0
            if hj > ahead and (hj <= behind or behind > ahead):
                sign, ahead = -sign, behind
            h[j], stencil[j] = sign * min(hj, ahead), S_FORWARD
            need_f0 = True
    return need_f0


@jit
def first_nonfinite(a):
    """Index of the first non-finite entry of 1-D ``a``, or -1."""
    for i in range(a.size):
        if not np.isfinite(a[i]):
            return i
    return -1


@jit_inline
def _finite_status(a):
    """OK when every entry of ``a`` is finite, else BAD_VALUE."""
    return OK if first_nonfinite(a) < 0 else BAD_VALUE


@jit_inline
def _second_point(xj, hj, stencil):
    """The second evaluation point of a column: x - h (central) or x + 2h (one-sided)."""
    return xj - hj if stencil == S_CENTRAL else xj + 2.0 * hj


@jit_inline
def _fill_column(out, f0, fp, fm, xj, hj, stencil):
    """``out[i] = _combine(f0[i], fp[i], fm[i], ...)`` for a whole column; the stencil
    branch is hoisted so the common loops vectorise.  Returns the column's status."""
    a = (xj + hj) - xj
    bad = False
    if stencil == S_CENTRAL:
        den = a - (_second_point(xj, hj, stencil) - xj)
        for i in range(out.size):
            out[i] = (fp[i] - fm[i]) / den
            bad |= not np.isfinite(out[i])
    elif stencil == S_FORWARD:
        for i in range(out.size):
            out[i] = (fp[i] - f0[i]) / a
            bad |= not np.isfinite(out[i])
    else:
        for i in range(out.size):
            out[i] = _combine(f0[i], fp[i], fm[i], xj, hj, stencil)
            bad |= not np.isfinite(out[i])
    return BAD_VALUE if bad else OK


@jit_inline
def _combine(f0, fp, fm, xj, hj, stencil):
    """Derivative estimate from f(x) (f0), f at x+h (fp) and at the second point (fm)."""
    a = (xj + hj) - xj
    if stencil == S_FORWARD:
        return (fp - f0) / a
    b = _second_point(xj, hj, stencil) - xj
    if stencil == S_CENTRAL:
        return (fp - fm) / (a - b)
    # one-sided 3-point on nodes 0, a, b (b ≈ 2a), exact for quadratics
    return (-(a + b) / (a * b)) * f0 + (b / (a * (b - a))) * fp - (a / (b * (b - a))) * fm


def call(f, x, args):
    """``f(x, *args)``.  Compiled, the overload below passes ``args`` one by one: a star
    call packs a tuple (and counts references) at every call, ~0.7 us more per 200
    calls of a cheap ``f``."""
    return f(x, *args)


@overload(call, jit_options=_POLICY)
def _call(f, x, args):
    count = len(args)
    if count == 0:
        return lambda f, x, args: f(x)
    if count == 1:
        return lambda f, x, args: f(x, args[0])
    if count == 2:
        return lambda f, x, args: f(x, args[0], args[1])
    if count == 3:
        return lambda f, x, args: f(x, args[0], args[1], args[2])
    return lambda f, x, args: f(x, *args)


def _templates(key):
    """The drivers as plain functions.  The user's function ``f``, the helpers that call
    it (``at_pair``, ``at_group``) and ``gradient_loop`` are *globals* of each copy made
    by :func:`_drivers`; ``key`` (a string naming ``f``'s code, see :func:`_fingerprint`)
    is the one closure cell, so Numba's on-disk cache, keyed on bytecode and closure
    cells, tells the drivers of different functions apart and finds them again in the
    next process."""
    def _at_pair(xp, x, i, j, si, sj, h, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # f at x + si h_i e_i + sj h_j e_j (i == j allowed), xp restored to x after
        xp[i] = x[i] + si * h[i]
        xp[j] = xp[j] + sj * h[j]
        v = call(f, xp, args)
        xp[i] = x[i]
        xp[j] = x[j]
        return v

    def gradient(x, h, stencil, f0, nchunks, out, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # scalar f; out[j] = df/dx_j
        n = x.size
        for c in prange(nchunks):
            xp = x.copy()
            for j in range(c, n, nchunks):
                xj, hj = x[j], h[j]
                xp[j] = xj + hj
                fp = call(f, xp, args)
                if stencil[j] == S_CENTRAL:  # the common case, straight-line
                    xp[j] = xj - hj
                    value = (fp - call(f, xp, args)) / (((xj + hj) - xj) - ((xj - hj) - xj))
                else:
                    fm = fp
                    if stencil[j] != S_FORWARD:
                        xp[j] = _second_point(xj, hj, stencil[j])
                        fm = call(f, xp, args)
                    value = _combine(f0, fp, fm, xj, hj, stencil[j])
                xp[j] = xj
                out[j] = value
        return first_nonfinite(out)

    def gradient_complex(x, h, nchunks, out, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        n = x.size
        for c in prange(nchunks):
            xp = x.astype(np.complex128)
            for j in range(c, n, nchunks):
                xp[j] = complex(x[j], h[j])
                out[j] = call(f, xp, args).imag / h[j]
                xp[j] = x[j]
        return first_nonfinite(out)

    def jacobian(x, h, stencil, f0, nchunks, out_t, status, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # vector f; out_t[j] = column j of the Jacobian (out_t is its transpose)
        n, m = x.size, f0.size
        for c in prange(nchunks):
            xp = x.copy()
            for j in range(c, n, nchunks):
                xp[j] = x[j] + h[j]
                fp = call(f, xp, args)
                fm = fp
                if stencil[j] != S_FORWARD:
                    xp[j] = _second_point(x[j], h[j], stencil[j])
                    fm = call(f, xp, args)
                xp[j] = x[j]
                if fp.size != m or fm.size != m:
                    status[j] = BAD_SHAPE
                    continue
                status[j] = _fill_column(out_t[j], f0, fp, fm, x[j], h[j], stencil[j])

    def jacobian_complex(x, h, m, nchunks, out_t, status, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        n = x.size
        for c in prange(nchunks):
            xp = x.astype(np.complex128)
            for j in range(c, n, nchunks):
                xp[j] = complex(x[j], h[j])
                fv = call(f, xp, args)
                xp[j] = x[j]
                if fv.size != m:
                    status[j] = BAD_SHAPE
                    continue
                for i in range(m):
                    out_t[j, i] = fv[i].imag / h[j]
                status[j] = _finite_status(out_t[j])

    def jacobian_grouped(x, h, stencil, f0, order, gptr, colptr, rows, dest, nchunks,
                         data, status, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # columns order[gptr[g]:gptr[g+1]] share one perturbation (one colour group);
        # the nonzeros of column j are rows[colptr[j]:colptr[j+1]], stored at data[dest[k]]
        m = f0.size
        ngroups = gptr.size - 1
        for c in prange(nchunks):
            xp = x.copy()
            for g in range(c, ngroups, nchunks):
                group = order[gptr[g]:gptr[g + 1]]
                two = False
                for j in group:
                    xp[j] = x[j] + h[j]
                    two = two or stencil[j] != S_FORWARD
                fp = call(f, xp, args)
                fm = fp
                if two:
                    for j in group:
                        xp[j] = _second_point(x[j], h[j], stencil[j])
                    fm = call(f, xp, args)
                for j in group:
                    xp[j] = x[j]
                if fp.size != m or fm.size != m:
                    status[g] = BAD_SHAPE
                    continue
                for j in group:
                    for k in range(colptr[j], colptr[j + 1]):
                        i = rows[k]
                        v = _combine(f0[i], fp[i], fm[i], x[j], h[j], stencil[j])
                        data[dest[k]] = v
                        if not np.isfinite(v):
                            status[g] = BAD_VALUE

    def jacobian_grouped_complex(x, h, m, order, gptr, colptr, rows, dest, nchunks, data,
                                 status, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        ngroups = gptr.size - 1
        for c in prange(nchunks):
            xp = x.astype(np.complex128)
            for g in range(c, ngroups, nchunks):
                group = order[gptr[g]:gptr[g + 1]]
                for j in group:
                    xp[j] = complex(x[j], h[j])
                fv = call(f, xp, args)
                for j in group:
                    xp[j] = x[j]
                if fv.size != m:
                    status[g] = BAD_SHAPE
                    continue
                for j in group:
                    for k in range(colptr[j], colptr[j + 1]):
                        v = fv[rows[k]].imag / h[j]
                        data[dest[k]] = v
                        if not np.isfinite(v):
                            status[g] = BAD_VALUE

    def hessian(x, h, forward, f0, nchunks, out, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # upper triangle of second differences, mirrored: symmetric by construction.
        # forward: (f(x+hi+hj) - f(x+hi) - f(x+hj) + f0) / (hi hj);
        # central: (f(x+hi+hj) - f(x+hi-hj) - f(x-hi+hj) + f(x-hi-hj)) / (4 hi hj)
        n = x.size
        fi = np.empty(n)
        if forward:
            xq = x.copy()
            for i in range(n):
                xq[i] = x[i] + h[i]
                fi[i] = f(xq, *args)
                xq[i] = x[i]
        for c in prange(nchunks):
            xp = x.copy()
            for i in range(c, n, nchunks):
                ai = (x[i] + h[i]) - x[i]
                for j in range(i, n):
                    aj = (x[j] + h[j]) - x[j]
                    fpp = at_pair(xp, x, i, j, 1.0, 1.0, h, args)
                    if forward:
                        v = (fpp - fi[i] - fi[j] + f0) / (ai * aj)
                    else:
                        v = (fpp - at_pair(xp, x, i, j, 1.0, -1.0, h, args)
                             - at_pair(xp, x, i, j, -1.0, 1.0, h, args)
                             + at_pair(xp, x, i, j, -1.0, -1.0, h, args)) / (4.0 * ai * aj)
                    out[i, j] = v
                    out[j, i] = v

    def hessian_complex(x, hc, h, nchunks, out, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # H_ij = Im[f(x + i hc_i e_i + h_j e_j) - f(x + i hc_i e_i - h_j e_j)] / (2 hc_i h_j),
        # a central difference of the complex-step derivative; upper triangle mirrored
        n = x.size
        for c in prange(nchunks):
            xp = x.astype(np.complex128)
            for i in range(c, n, nchunks):
                for j in range(i, n):
                    a = (x[j] + h[j]) - (x[j] - h[j])
                    xp[i] = complex(x[i], hc[i])
                    xp[j] = complex(x[j] + h[j], xp[j].imag)
                    fp = call(f, xp, args).imag
                    xp[j] = complex(x[j] - h[j], xp[j].imag)
                    fm = call(f, xp, args).imag
                    xp[i] = x[i]
                    xp[j] = x[j]
                    v = (fp - fm) / (hc[i] * a)
                    out[i, j] = v
                    out[j, i] = v

    def _at_group(xp, x, h, order, start, stop, i, sign, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # f at x + sign (sum of h_k e_k over order[start:stop] and, if i >= 0, h_i e_i)
        for q in range(start, stop):
            k = order[q]
            xp[k] = x[k] + sign * h[k]
        if i >= 0:
            xp[i] = xp[i] + sign * h[i]
        v = call(f, xp, args)
        for q in range(start, stop):
            xp[order[q]] = x[order[q]]
        if i >= 0:
            xp[i] = x[i]
        return v

    def hessian_grouped(x, h, forward, f0, order, gptr, pair_i, pair_b, pair_j, nchunks, out,
                        args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # value p = H[i, j], i = pair_i[p], j = pair_j[p] the only neighbour of i in colour
        # group b = pair_b[p]; u = h_i e_i, v = sum of h_k e_k over group b, so that
        # u^T H v = h_i h_j H_ij.  forward: (f(x+u+v) - f(x+u) - f(x+v) + f0) / (hi hj);
        # central: (f(x+u+v) + f(x-u-v) - f(x+u) - f(x-u) - f(x+v) - f(x-v) + 2 f0)
        # / (2 hi hj), the diagonal (f(x+u) - 2 f0 + f(x-u)) / hi^2
        n, ngroups = x.size, gptr.size - 1
        sides = 1 if forward else 2
        fu = np.empty((sides, n))
        fv = np.empty((sides, ngroups))
        xq = x.copy()
        for s in range(sides):
            sign = 1.0 - 2.0 * s
            for i in range(n):
                fu[s, i] = at_group(xq, x, h, order, 0, 0, i, sign, args)
            for b in range(ngroups):
                fv[s, b] = at_group(xq, x, h, order, gptr[b], gptr[b + 1], -1, sign, args)
        for c in prange(nchunks):
            xp = x.copy()
            for p in range(c, pair_i.size, nchunks):
                i, b, j = pair_i[p], pair_b[p], pair_j[p]
                ai = (x[i] + h[i]) - x[i]
                aj = (x[j] + h[j]) - x[j]
                if forward:
                    fpp = at_group(xp, x, h, order, gptr[b], gptr[b + 1], i, 1.0, args)
                    out[p] = (fpp - fu[0, i] - fv[0, b] + f0) / (ai * aj)
                elif i == j:
                    out[p] = (fu[0, i] - 2.0 * f0 + fu[1, i]) / (ai * ai)
                else:
                    fpp = at_group(xp, x, h, order, gptr[b], gptr[b + 1], i, 1.0, args)
                    fmm = at_group(xp, x, h, order, gptr[b], gptr[b + 1], i, -1.0, args)
                    out[p] = (fpp + fmm - fu[0, i] - fu[1, i] - fv[0, b] - fv[1, b]
                              + 2.0 * f0) / (2.0 * ai * aj)

    def hessian_grouped_complex(x, hc, h, order, gptr, pair_i, pair_b, pair_j, nchunks, out,
                                args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # value p = Im[f(x + i hc_i e_i + v) - f(x + i hc_i e_i - v)] / (hc_i a_j), v the
        # real step of group pair_b[p], a_j = (x_j + h_j) - (x_j - h_j)
        for c in prange(nchunks):
            xp = x.astype(np.complex128)
            for p in range(c, pair_i.size, nchunks):
                i, b, j = pair_i[p], pair_b[p], pair_j[p]
                diff = 0.0  # the value at +v minus the value at -v, exactly as subtracted
                for s in range(2):
                    sign = 1.0 - 2.0 * s
                    for q in range(gptr[b], gptr[b + 1]):
                        k = order[q]
                        xp[k] = x[k] + sign * h[k]
                    xp[i] = complex(xp[i].real, hc[i])
                    diff += sign * call(f, xp, args).imag
                    for q in range(gptr[b], gptr[b + 1]):
                        xp[order[q]] = x[order[q]]
                    xp[i] = x[i]
                out[p] = diff / (hc[i] * ((x[j] + h[j]) - (x[j] - h[j])))

    def _gradient_auto(x, hs, relative, lo, hi, method, nchunks, out, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # the whole real-step gradient in one call (plans): checks x, picks the steps,
        # evaluates f(x) when a stencil needs it.  Returns -1 (ok), j >= 0 (column j
        # non-finite), -2 (f(x) non-finite) or -3 - j (x[j] non-finite).
        n = x.size
        for j in range(n):
            if not np.isfinite(x[j]):
                return -3 - j
        h = np.empty(n)
        stencil = np.empty(n, np.int8)
        f0 = 0.0
        if fd_steps(x, hs, relative, lo, hi, method, h, stencil):
            f0 = call(f, x, args)
            if not np.isfinite(f0):
                return -2
        return gradient_loop(x, h, stencil, f0, nchunks, out, args)

    def _gradient_central(x, hs, out):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # the unbounded central gradient with relative steps h_j = hs_j max(1, |x_j|)
        # and no extra arguments: what fd_steps + gradient give without a box, in one
        # loop calling f directly (repeated calls of plans; through ``call`` the loop
        # measured 12 % slower on a 30 ns f).  Returns -1, or the first column whose
        # value is not finite (x[j] non-finite included: the general path says which).
        xp = x.copy()
        bad = -1
        for j in range(x.size):
            xj = x[j]
            hj = hs[j] * max(1.0, abs(xj))
            xp[j] = xj + hj
            fp = f(xp)
            xp[j] = xj - hj
            fm = f(xp)
            xp[j] = xj
            out[j] = (fp - fm) / (((xj + hj) - xj) - ((xj - hj) - xj))
            if bad < 0 and not np.isfinite(out[j]):
                bad = j
        return bad

    def _jacobian_auto(x, hs, relative, lo, hi, method, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # the whole dense real-step Jacobian in one call (repeated calls): checks x,
        # evaluates f(x), picks the steps.  Returns (out_t, status, code): code -1 ok,
        # j >= 0 (column j bad), -2 (f(x) non-finite) or -3 (x non-finite)
        n = x.size
        for j in range(n):
            if not np.isfinite(x[j]):
                return np.empty((0, 0)), np.zeros(0, np.int8), -3
        f0 = call(f, x, args)
        out_t = np.empty((n, f0.size))
        status = np.zeros(n, np.int8)
        if first_nonfinite(f0) >= 0:
            return out_t, status, -2
        h = np.empty(n)
        stencil = np.empty(n, np.int8)
        fd_steps(x, hs, relative, lo, hi, method, h, stencil)
        jacobian_loop(x, h, stencil, f0, 1, out_t, status, args)
        for j in range(n):
            if status[j] != OK:
                return out_t, status, j
        return out_t, status, -1

    def _hvp_auto(x, v, hs, r, lo, hi, out, args):
        key  # noqa: B018 -- the cell that keys the on-disk cache
        # central HVP of f from two central gradients, the arithmetic of the Python
        # path of pk.hvp: t = r max(1, |x|_inf), u = v / |v|_inf,
        # out = (g(x + t u) - g(x - t u)) / (2t) |v|_inf.  Returns -1 (ok), -2 (x or v
        # non-finite) or -3 (a gradient failed: the Python path says why)
        n = x.size
        xmax, vmax = 0.0, 0.0
        for j in range(n):
            if not (np.isfinite(x[j]) and np.isfinite(v[j])):
                return -2
            xmax = max(xmax, abs(x[j]))
            vmax = max(vmax, abs(v[j]))
        if vmax == 0.0:
            for j in range(n):
                out[j] = 0.0
            return -1
        t = r * max(1.0, xmax)
        y = np.empty(n)
        g_plus = np.empty(n)
        g_minus = np.empty(n)
        for j in range(n):
            y[j] = x[j] + t * (v[j] / vmax)
        if gradient_auto_loop(y, hs, True, lo, hi, CENTRAL, 1, g_plus, args) != -1:
            return -3
        for j in range(n):
            y[j] = x[j] - t * (v[j] / vmax)
        if gradient_auto_loop(y, hs, True, lo, hi, CENTRAL, 1, g_minus, args) != -1:
            return -3
        for j in range(n):
            out[j] = (g_plus[j] - g_minus[j]) / (2.0 * t) * vmax
        return -1

    return {"at_pair": _at_pair, "at_group": _at_group, "gradient_auto": _gradient_auto,
            "gradient_central": _gradient_central, "jacobian_auto": _jacobian_auto,
            "hvp_auto": _hvp_auto,
            **{name: fun for name, fun in locals().items() if name in DRIVERS}}


DRIVERS = ("gradient", "gradient_complex", "jacobian", "jacobian_complex", "jacobian_grouped",
           "jacobian_grouped_complex", "hessian", "hessian_complex", "hessian_grouped",
           "hessian_grouped_complex")


def _fingerprint(f):
    """A string naming the code of the user's ``@njit`` ``f`` in any process: module,
    name, SHA-256 of its source file, of its code (:func:`_code_digest`: two functions
    of one name in one file -- lambdas, a redefinition -- differ there), compile options
    and closure cells; None when there is none (no source file, or cells that do not
    pickle: a cffi wrapper), and then the drivers are not cached on disk."""
    py_func = getattr(f, "py_func", None)
    try:
        with open(inspect.getsourcefile(py_func), "rb") as source:
            digest = hashlib.sha256(source.read())
        _code_digest(py_func, digest, set())
        cells = [c.cell_contents for c in py_func.__closure__ or ()]
        digest.update(pickle.dumps(cells))
    except (TypeError, OSError, pickle.PicklingError, AttributeError, ValueError):
        return None
    options = sorted((k, repr(v)) for k, v in getattr(f, "targetoptions", {}).items())
    return f"{py_func.__module__}.{py_func.__qualname__}|{digest.hexdigest()}|{options}"


def _code_digest(py_func, digest, seen):
    """Feed to ``digest`` what Numba compiles of ``py_func``: its bytecode, constants,
    names and line (nested code objects too), the values of the globals it reads
    (Numba freezes numbers, strings, tuples and arrays as constants), and the same
    for the ``@njit`` functions it calls."""
    if py_func in seen:
        return
    seen.add(py_func)
    stack = [py_func.__code__]
    while stack:
        code = stack.pop()
        digest.update(code.co_code)
        digest.update(repr((code.co_firstlineno, code.co_names, code.co_varnames)).encode())
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                stack.append(const)
            elif isinstance(const, frozenset):  # its repr's order varies between runs
                digest.update(repr(sorted(map(repr, const))).encode())
            else:
                digest.update(repr(const).encode())
        for name in code.co_names:
            value = py_func.__globals__.get(name)
            callee = getattr(value, "py_func", None)
            if callee is not None:
                _code_digest(callee, digest, seen)
            elif isinstance(value, (int, float, complex, str, bytes, tuple, np.ndarray,
                                    np.generic)):
                digest.update(name.encode() + pickle.dumps(value))


def _drivers(f, parallel):
    """Compile the difference drivers for the user's function ``f``.

    Each template of :func:`_templates` is copied with a globals dictionary holding
    ``f``; Numba then inlines ``f`` into the loops, and, when ``f`` has a
    :func:`_fingerprint`, caches them on disk (serial ones only, per the jit policy).
    """
    key = _fingerprint(f)
    templates = _templates(key or "")
    scope = dict(globals(), f=f)

    def build(name, parallel_loop=False):
        template = templates[name]
        fun = types.FunctionType(template.__code__, scope, template.__name__,
                                 template.__defaults__, template.__closure__)
        fun.__qualname__ = template.__qualname__
        if parallel_loop:
            return jit_parallel(fun)
        return numba.njit(cache=key is not None, **_POLICY)(fun)

    scope["at_pair"] = build("at_pair")
    scope["at_group"] = build("at_group")
    out = {name: build(name, parallel) for name in DRIVERS}
    scope["gradient_loop"] = out["gradient"]
    out["gradient_auto"] = build("gradient_auto")
    if not parallel:  # one call per repeated jacobian / hvp (serial drivers)
        scope["jacobian_loop"] = out["jacobian"]
        scope["gradient_auto_loop"] = out["gradient_auto"]
        out["jacobian_auto"] = build("jacobian_auto")
        out["hvp_auto"] = build("hvp_auto")
        out["gradient_central"] = build("gradient_central")
    return out


_SPECIALISED = weakref.WeakKeyDictionary()


def fd_drivers(f, parallel=False):
    """The drivers of ``f`` (a dict of compiled functions), compiled once per ``f``.

    Each driver compiles lazily on its first call; ``parallel=True`` gives the
    ``prange`` versions (not cached on disk, per the jit policy).
    """
    entry = _SPECIALISED.get(f)
    if entry is None:
        entry = _SPECIALISED[f] = {}
    if parallel not in entry:
        entry[parallel] = _drivers(f, parallel)
    return entry[parallel]


def fd_from_cffi(fp, vector, m=0):
    """An ``@njit`` function calling the cffi function pointer ``fp``.

    Scalar: ``double fp(const double *x, int64_t n, ...)``; vector:
    ``void fp(const double *x, int64_t n, double *out, int64_t m, ...)``.  Extra C
    parameters receive ``args``.
    """
    import cffi  # here: building an FFI costs ~10 ms of import time

    ffi = cffi.FFI()
    if vector:
        def wrapped(x, *args):
            out = np.empty(m)
            fp(ffi.from_buffer(x), x.size, ffi.from_buffer(out), m, *args)
            return out
    else:
        def wrapped(x, *args):
            return fp(ffi.from_buffer(x), x.size, *args)
    return numba.njit(**_POLICY)(wrapped)
