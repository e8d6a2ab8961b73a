"""NumPy reference of the finite-difference drivers (contract: ``kernels/fd.py``).

``f`` is any Python callable.  Each driver builds the list of points it needs, has them
evaluated through ``mapper`` (the builtin ``map``, or an executor's ``map``: points are
independent), then combines the values with the same stencils and the same arithmetic
as the compiled drivers, so both give identical results.
"""

import functools

import numpy as np

FORWARD, BACKWARD, CENTRAL, COMPLEX = 0, 1, 2, 3
S_CENTRAL, S_FORWARD, S_ONESIDED, S_COMPLEX = 0, 1, 2, 3
OK, BAD_VALUE, BAD_SHAPE = 0, 2, 3


def first_nonfinite(a):
    """Index of the first non-finite entry of 1-D ``a``, or -1."""
    bad = np.flatnonzero(~np.isfinite(a))
    return int(bad[0]) if bad.size else -1


def fd_steps(x, hs, relative, lo, hi, method, h, stencil):
    """Steps and stencils of every component; see ``kernels.fd.fd_steps``."""
    dlo, dhi = x - lo, hi - x
    near = np.minimum(dlo, dhi)
    s = np.maximum(1.0, np.abs(x))
    scale = np.where(near > 0.0, np.minimum(s, near), s)
    hj = hs * scale if relative else np.array(hs, dtype=float)
    if method == COMPLEX:
        h[:], stencil[:] = hj, S_COMPLEX
        return False
    if method == CENTRAL:
        fits = (hj <= dlo) & (hj <= dhi)
        onesided = np.where(dhi >= dlo, 1.0, -1.0) * np.minimum(hj, 0.5 * np.maximum(dlo, dhi))
        h[:] = np.where(fits, hj, onesided)
        stencil[:] = np.where(fits, S_CENTRAL, S_ONESIDED)
        return bool(not fits.all())
    ahead, behind = (dhi, dlo) if method == FORWARD else (dlo, dhi)
    sign = 1.0 if method == FORWARD else -1.0
    flip = (hj > ahead) & ((hj <= behind) | (behind > ahead))
    h[:] = np.where(flip, -sign, sign) * np.minimum(hj, np.where(flip, behind, ahead))
    stencil[:] = S_FORWARD
    return True


def _finite_status(a):
    return OK if first_nonfinite(a) < 0 else BAD_VALUE


def _second_point(xj, hj, stencil):
    return xj - hj if stencil == S_CENTRAL else xj + 2.0 * hj


def _combine(f0, fp, fm, xj, hj, stencil):
    a = (xj + hj) - xj
    if stencil == S_FORWARD:
        return (fp - f0) / a
    b = _second_point(xj, hj, stencil) - xj
    if stencil == S_CENTRAL:
        return (fp - fm) / (a - b)
    return (-(a + b) / (a * b)) * f0 + (b / (a * (b - a))) * fp - (a / (b * (b - a))) * fm


def _call(f, args, point):
    return f(point, *args)


class _Drivers:
    """The drivers of one Python callable ``f``; same signatures as the compiled ones."""

    def __init__(self, f, mapper=map):
        self.f, self.mapper = f, mapper

    def _values(self, points, args):
        return list(self.mapper(functools.partial(_call, self.f, args), points))

    def _points(self, x, cols, h, stencil, second):
        xp = x.copy()
        for j in cols:
            xp[j] = _second_point(x[j], h[j], stencil[j]) if second else x[j] + h[j]
        return xp

    def _real_pairs(self, x, groups, h, stencil, args):
        """f at the first and (where needed) second point of every group."""
        first = [self._points(x, g, h, stencil, False) for g in groups]
        two = [any(stencil[j] != S_FORWARD for j in g) for g in groups]
        second = [self._points(x, g, h, stencil, True) for g, t in zip(groups, two) if t]
        values = self._values(first + second, args)
        fp, rest = values[:len(groups)], iter(values[len(groups):])
        fm = [next(rest) if t else v for t, v in zip(two, fp)]
        return fp, fm

    def _complex_values(self, x, groups, h, args):
        points = []
        for g in groups:
            xp = x.astype(complex)
            xp[g] += 1j * h[g]
            points.append(xp)
        return self._values(points, args)

    def gradient(self, x, h, stencil, f0, nchunks, out, args):
        fp, fm = self._real_pairs(x, [[j] for j in range(x.size)], h, stencil, args)
        for j in range(x.size):
            _check_scalar(fp[j], j)
            _check_scalar(fm[j], j)
            out[j] = _combine(f0, fp[j], fm[j], x[j], h[j], stencil[j])
        return first_nonfinite(out)

    def gradient_complex(self, x, h, nchunks, out, args):
        values = self._complex_values(x, [[j] for j in range(x.size)], h, args)
        for j, v in enumerate(values):
            _check_scalar(v, j)
            out[j] = np.imag(v) / h[j]
        return first_nonfinite(out)

    def jacobian(self, x, h, stencil, f0, nchunks, out_t, status, args):
        fp, fm = self._real_pairs(x, [[j] for j in range(x.size)], h, stencil, args)
        for j in range(x.size):
            a, b = np.asarray(fp[j]), np.asarray(fm[j])
            if a.shape != f0.shape or b.shape != f0.shape:
                status[j] = BAD_SHAPE
                continue
            out_t[j] = _combine(f0, a, b, x[j], h[j], stencil[j])
            status[j] = _finite_status(out_t[j])

    def jacobian_complex(self, x, h, m, nchunks, out_t, status, args):
        for j, v in enumerate(self._complex_values(x, [[j] for j in range(x.size)], h, args)):
            v = np.asarray(v)
            if v.shape != (m,):
                status[j] = BAD_SHAPE
                continue
            out_t[j] = v.imag / h[j]
            status[j] = _finite_status(out_t[j])

    def jacobian_grouped(self, x, h, stencil, f0, order, gptr, colptr, rows, dest, nchunks,
                         data, status, args):
        groups = [order[gptr[g]:gptr[g + 1]] for g in range(gptr.size - 1)]
        fp, fm = self._real_pairs(x, groups, h, stencil, args)
        for g, cols in enumerate(groups):
            a, b = np.asarray(fp[g]), np.asarray(fm[g])
            if a.shape != f0.shape or b.shape != f0.shape:
                status[g] = BAD_SHAPE
                continue
            for j in cols:
                k = slice(colptr[j], colptr[j + 1])
                i = rows[k]
                data[dest[k]] = _combine(f0[i], a[i], b[i], x[j], h[j], stencil[j])
                status[g] = max(status[g], _finite_status(data[dest[k]]))

    def jacobian_grouped_complex(self, x, h, m, order, gptr, colptr, rows, dest, nchunks,
                                 data, status, args):
        groups = [order[gptr[g]:gptr[g + 1]] for g in range(gptr.size - 1)]
        for g, (cols, v) in enumerate(zip(groups, self._complex_values(x, groups, h, args))):
            v = np.asarray(v)
            if v.shape != (m,):
                status[g] = BAD_SHAPE
                continue
            for j in cols:
                k = slice(colptr[j], colptr[j + 1])
                data[dest[k]] = v[rows[k]].imag / h[j]
                status[g] = max(status[g], _finite_status(data[dest[k]]))

    def hessian(self, x, h, forward, f0, nchunks, out, args):
        n = x.size
        pairs = [(i, j) for i in range(n) for j in range(i, n)]
        signs = [(1.0, 1.0)] if forward else [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)]
        points = []
        for i, j in pairs:
            for si, sj in signs:
                xp = x.copy()
                xp[i] = x[i] + si * h[i]
                xp[j] = xp[j] + sj * h[j]
                points.append(xp)
        if forward:
            points += [self._points(x, [i], h, None, False) for i in range(n)]
        values = np.array(self._values(points, args), dtype=float)
        a = (x + h) - x
        for p, (i, j) in enumerate(pairs):
            if forward:
                v = (values[p] - values[len(pairs) + i] - values[len(pairs) + j] + f0) / (a[i] * a[j])
            else:
                fpp, fpm, fmp, fmm = values[4 * p:4 * p + 4]
                v = (fpp - fpm - fmp + fmm) / (4.0 * a[i] * a[j])
            out[i, j] = out[j, i] = v

    def hessian_complex(self, x, hc, h, nchunks, out, args):
        n = x.size
        pairs = [(i, j) for i in range(n) for j in range(i, n)]
        points = []
        for i, j in pairs:
            for sj in (1.0, -1.0):
                xp = x.astype(complex)
                xp[i] = complex(x[i], hc[i])
                xp[j] = complex(x[j] + sj * h[j], xp[j].imag)
                points.append(xp)
        values = np.imag(np.array(self._values(points, args)))
        for p, (i, j) in enumerate(pairs):
            a = (x[j] + h[j]) - (x[j] - h[j])
            out[i, j] = out[j, i] = (values[2 * p] - values[2 * p + 1]) / (hc[i] * a)


def _check_scalar(v, j):
    if np.ndim(v) != 0:
        raise ValueError(f"f must return a scalar, got shape {np.shape(v)} when component {j} "
                         "was perturbed")


def fd_drivers(f, parallel=False, mapper=map):
    """The drivers of Python callable ``f``, points evaluated through ``mapper``."""
    d = _Drivers(f, mapper)
    return {name: getattr(d, name) for name in (
        "gradient", "gradient_complex", "jacobian", "jacobian_complex", "jacobian_grouped",
        "jacobian_grouped_complex", "hessian", "hessian_complex")}
