"""NumPy reference of the finite-difference drivers (contract: ``kernels/fd.py``).

``f`` is any Python callable.  Each driver builds the points it needs as the rows of
a matrix, has them evaluated -- one by one through ``mapper`` (the builtin ``map``, or
an executor's ``map``: points are independent), or, for a vectorized ``f``, as the
columns of one array per call -- then combines the values with the same stencils and
the same arithmetic as the compiled drivers, so all give identical results.
"""

import functools

import numpy as np

FORWARD, BACKWARD, CENTRAL, COMPLEX = 0, 1, 2, 3
S_CENTRAL, S_FORWARD, S_ONESIDED, S_COMPLEX = 0, 1, 2, 3
OK, BAD_VALUE, BAD_SHAPE = 0, 2, 3
#: A vectorized f gets about this many entries (points x n) per call (at least 16
#: points).  NumPy temporaries of that size (80 KB) stay below glibc's mmap threshold
#: (128 KiB) and are recycled from the heap; larger ones are fresh mappings paid in
#: page faults: 200 points of Rosenbrock at n = 100 took 106 us in one call, 26 us in
#: two (2 cores under KVM).
BLOCK_ENTRIES = 10_000


def first_nonfinite(a):
    """Index of the first non-finite entry of 1-D ``a``, or -1."""
    bad = np.flatnonzero(~np.isfinite(a))
    return int(bad[0]) if bad.size else -1


def fd_steps(x, hs, relative, lo, hi, method, h, stencil):
    """Steps and stencils of every component; see ``kernels.fd.fd_steps``."""
    dlo, dhi = x - lo, hi - x
    near = np.minimum(dlo, dhi)
    s = np.maximum(1.0, np.abs(x))
    capped = (near > 0.0) & (hs * near >= 2.0 ** -36 * np.abs(x))  # else as on the bound
    hj = hs * np.where(capped, np.minimum(s, near), s) if relative else np.array(hs, float)
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


def _second_point(xj, hj, stencil):
    return np.where(stencil == S_CENTRAL, xj - hj, xj + 2.0 * hj)


def _combine(f0, fp, fm, xj, hj, stencil):
    """Derivative estimates of columns ``j`` (arrays; values on the last axis of ``fp``,
    ``fm`` for a vector f), the arithmetic of ``kernels.fd._combine`` entry by entry."""
    fp, fm = np.asarray(fp, dtype=float), np.asarray(fm, dtype=float)
    extra = (slice(None),) + (None,) * (fp.ndim - 1)
    a = ((xj + hj) - xj)[extra]
    b = (_second_point(xj, hj, stencil) - xj)[extra]
    if np.all(stencil == S_CENTRAL):  # the common case, without masks
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return (fp - fm) / (a - b)
    kind = np.broadcast_to(stencil[extra], fp.shape)
    out = np.empty(fp.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        forward = kind == S_FORWARD
        out[forward] = ((fp - f0) / a)[forward]
        central = kind == S_CENTRAL
        out[central] = ((fp - fm) / (a - b))[central]
        onesided = kind == S_ONESIDED
        if onesided.any():
            value = ((-(a + b) / (a * b)) * f0 + (b / (a * (b - a))) * fp
                     - (a / (b * (b - a))) * fm)
            out[onesided] = value[onesided]
    return out


def _group_rows(x, h, order, gptr, shift):
    """Row g: x with the columns of group g moved by ``shift * h``."""
    rows = np.tile(x, (gptr.size - 1, 1))
    group = np.repeat(np.arange(gptr.size - 1), np.diff(gptr))
    rows[group, order] = x[order] + shift * h[order]
    return rows


def _call(f, args, point):
    return f(point, *args)


class _Drivers:
    """The drivers of one Python callable ``f``; same signatures as the compiled ones."""

    def __init__(self, f, mapper=map):
        self.f, self.mapper = f, mapper

    def _values(self, rows, args):
        """``f`` at every row of ``rows``: a list of values, in order."""
        return list(self.mapper(functools.partial(_call, self.f, args), list(rows)))

    def _scalars(self, rows, args, what, complex_ok=False):
        """``f`` at every row as a (k,) float (complex) array; anything but a real (or
        complex) number raises, naming the point."""
        values = self._values(rows, args)
        for j, v in enumerate(values):
            _check_scalar(v, j, what, complex_ok)
        return np.array(values, dtype=complex if complex_ok else float).reshape(len(values))

    def _vectors(self, rows, args, m, complex_ok=False):
        """``f`` at every row as a (k, m) array and a (k,) mask of the rows whose value
        was not a real (complex) vector of size m (their row is NaN)."""
        values = self._values(rows, args)
        kinds = "biufc" if complex_ok else "biuf"
        out = np.full((len(values), m), np.nan, dtype=complex if complex_ok else float)
        bad = np.zeros(len(values), bool)
        for g, v in enumerate(values):
            v = np.asarray(v)
            if v.shape != (m,) or v.dtype.kind not in kinds:
                bad[g] = True
            else:
                out[g] = v
        return out, bad

    def _first_second(self, values, needed):
        """Split values at the first points and at the second points where ``needed``."""
        k = needed.size
        first, second = values[:k], values[:k].copy()
        second[needed] = values[k:]
        return first, second

    def gradient(self, x, h, stencil, f0, nchunks, out, args):
        n = x.size
        plus, minus = np.tile(x, (n, 1)), np.tile(x, (n, 1))
        diag = np.arange(n)
        plus[diag, diag] = x + h
        minus[diag, diag] = _second_point(x, h, stencil)
        needed = stencil != S_FORWARD
        values = self._scalars(np.concatenate([plus, minus[needed]]), args,
                               "component")
        fp, fm = self._first_second(values, needed)
        out[:] = _combine(f0, fp, fm, x, h, stencil)
        return first_nonfinite(out)

    def _complex_rows(self, x, order, gptr, h):
        rows = np.tile(x.astype(complex), (gptr.size - 1, 1))
        group = np.repeat(np.arange(gptr.size - 1), np.diff(gptr))
        rows[group, order] += 1j * h[order]
        return rows

    def gradient_complex(self, x, h, nchunks, out, args):
        diag = np.arange(x.size, dtype=np.int64)
        values = self._scalars(self._complex_rows(x, diag, np.arange(x.size + 1), h), args,
                               "component", complex_ok=True)
        out[:] = np.imag(values) / h
        return first_nonfinite(out)

    def jacobian(self, x, h, stencil, f0, nchunks, out_t, status, args):
        self.jacobian_grouped(x, h, stencil, f0, np.arange(x.size), np.arange(x.size + 1),
                              np.arange(x.size + 1) * f0.size,
                              np.tile(np.arange(f0.size), x.size),
                              np.arange(x.size * f0.size), nchunks, out_t.reshape(-1),
                              status, args)

    def jacobian_complex(self, x, h, m, nchunks, out_t, status, args):
        self.jacobian_grouped_complex(x, h, m, np.arange(x.size), np.arange(x.size + 1),
                                      np.arange(x.size + 1) * m, np.tile(np.arange(m), x.size),
                                      np.arange(x.size * m), nchunks, out_t.reshape(-1),
                                      status, args)

    def jacobian_grouped(self, x, h, stencil, f0, order, gptr, colptr, rows, dest, nchunks,
                         data, status, args):
        ngroups = gptr.size - 1
        member = np.repeat(np.arange(ngroups), np.diff(gptr))
        needed = np.zeros(ngroups, bool)
        needed[member[stencil[order] != S_FORWARD]] = True
        plus = _group_rows(x, h, order, gptr, 1.0)
        minus = plus.copy()
        minus[member, order] = _second_point(x[order], h[order], stencil[order])
        values, bad = self._vectors(np.concatenate([plus, minus[needed]]), args, f0.size)
        FP, FM = self._first_second(values, needed)
        bad_plus, bad_minus = self._first_second(bad, needed)
        status[bad_plus | bad_minus] = BAD_SHAPE
        self._scatter(order, gptr, colptr, rows, dest, data, status,
                      lambda g, i, cols: _combine(f0[i], FP[g, i], FM[g, i], x[cols],
                                                  h[cols], stencil[cols]))

    def jacobian_grouped_complex(self, x, h, m, order, gptr, colptr, rows, dest, nchunks,
                                 data, status, args):
        V, bad = self._vectors(self._complex_rows(x, order, gptr, h), args, m, complex_ok=True)
        status[bad] = BAD_SHAPE
        self._scatter(order, gptr, colptr, rows, dest, data, status,
                      lambda g, i, cols: np.imag(V[g, i]) / h[cols])

    @staticmethod
    def _scatter(order, gptr, colptr, rows, dest, data, status, value):
        """data[dest[k]] <- value(group, rows, columns) of every nonzero of each group."""
        for g in range(gptr.size - 1):
            if status[g] == BAD_SHAPE:
                continue
            cols = order[gptr[g]:gptr[g + 1]]
            counts = colptr[cols + 1] - colptr[cols]
            # the CSC positions colptr[j]:colptr[j+1] of every column j of the group
            k = np.arange(counts.sum()) + np.repeat(colptr[cols] - (np.cumsum(counts) - counts),
                                                    counts)
            if not k.size:
                continue
            v = value(g, rows[k], np.repeat(cols, counts))
            data[dest[k]] = v
            status[g] = OK if np.all(np.isfinite(v)) else BAD_VALUE

    def hessian(self, x, h, forward, f0, nchunks, out, args):
        n = x.size
        I, J = np.triu_indices(n)
        signs = [(1.0, 1.0)] if forward else [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)]
        blocks = []
        for si, sj in signs:
            rows = np.tile(x, (I.size, 1))
            p = np.arange(I.size)
            rows[p, I] = x[I] + si * h[I]
            rows[p, J] = rows[p, J] + sj * h[J]
            blocks.append(rows)
        if forward:
            single = np.tile(x, (n, 1))
            single[np.arange(n), np.arange(n)] = x + h
            blocks.append(single)
        values = self._scalars(np.concatenate(blocks), args, "Hessian entry")
        a = (x + h) - x
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if forward:
                fi = values[I.size:]
                v = (values[:I.size] - fi[I] - fi[J] + f0) / (a[I] * a[J])
            else:
                fpp, fpm, fmp, fmm = values.reshape(4, I.size)
                v = (fpp - fpm - fmp + fmm) / (4.0 * a[I] * a[J])
        out[I, J] = v
        out[J, I] = v

    def hessian_complex(self, x, hc, h, nchunks, out, args):
        n = x.size
        I, J = np.triu_indices(n)
        blocks = []
        for sj in (1.0, -1.0):
            rows = np.tile(x.astype(complex), (I.size, 1))
            p = np.arange(I.size)
            rows[p, I] = x[I] + 1j * hc[I]
            rows[p, J] = (x[J] + sj * h[J]) + 1j * rows[p, J].imag
            blocks.append(rows)
        values = np.imag(self._scalars(np.concatenate(blocks), args, "Hessian entry",
                                       complex_ok=True))
        a = (x[J] + h[J]) - (x[J] - h[J])
        v = (values[:I.size] - values[I.size:]) / (hc[I] * a)
        out[I, J] = v
        out[J, I] = v

    def _group_pair_rows(self, x, h, order, gptr, pair_i, pair_b, sign):
        """Row p: x with group pair_b[p] moved by ``sign * h``, then x[pair_i[p]] too."""
        rows = _group_rows(x, h, order, gptr, sign)[pair_b]
        p = np.arange(pair_i.size)
        rows[p, pair_i] = rows[p, pair_i] + sign * h[pair_i]
        return rows

    def hessian_grouped(self, x, h, forward, f0, order, gptr, pair_i, pair_b, pair_j,
                        nchunks, out, args):
        n, ngroups = x.size, gptr.size - 1
        diag = np.arange(n)
        sides = (1.0,) if forward else (1.0, -1.0)
        blocks = []
        for sign in sides:
            single = np.tile(x, (n, 1))
            single[diag, diag] = x + sign * h
            blocks += [single, _group_rows(x, h, order, gptr, sign)]
        evaluated = pair_i != pair_j if not forward else np.ones(pair_i.size, bool)
        for sign in sides:
            blocks.append(self._group_pair_rows(x, h, order, gptr, pair_i[evaluated],
                                                pair_b[evaluated], sign))
        values = self._scalars(np.concatenate(blocks), args, "Hessian entry")
        k = n + ngroups
        fu = [values[s * k:s * k + n] for s in range(len(sides))]
        fv = [values[s * k + n:(s + 1) * k] for s in range(len(sides))]
        npair = int(evaluated.sum())
        start = len(sides) * k
        i, b, j = pair_i, pair_b, pair_j
        a = (x + h) - x
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if forward:
                fpp = values[start:start + npair]
                out[:] = (fpp - fu[0][i] - fv[0][b] + f0) / (a[i] * a[j])
                return
            fpp = np.zeros(i.size)
            fmm = np.zeros(i.size)
            fpp[evaluated] = values[start:start + npair]
            fmm[evaluated] = values[start + npair:start + 2 * npair]
            off = (fpp + fmm - fu[0][i] - fu[1][i] - fv[0][b] - fv[1][b] + 2.0 * f0) \
                / (2.0 * a[i] * a[j])
            on = (fu[0][i] - 2.0 * f0 + fu[1][i]) / (a[i] * a[i])
        out[:] = np.where(evaluated, off, on)

    def hessian_grouped_complex(self, x, hc, h, order, gptr, pair_i, pair_b, pair_j,
                                nchunks, out, args):
        blocks = []
        p = np.arange(pair_i.size)
        for sign in (1.0, -1.0):
            rows = _group_rows(x, h, order, gptr, sign)[pair_b].astype(complex)
            rows[p, pair_i] = rows[p, pair_i] + 1j * hc[pair_i]
            blocks.append(rows)
        values = np.imag(self._scalars(np.concatenate(blocks), args, "Hessian entry",
                                       complex_ok=True))
        j = pair_j
        a = (x[j] + h[j]) - (x[j] - h[j])
        out[:] = (values[:p.size] - values[p.size:]) / (hc[pair_i] * a)


class _VectorizedDrivers(_Drivers):
    """The drivers of a vectorized ``f``: ``f(X, *args)`` with the points as the
    columns of ``X`` (n, k) returns their values, shape (k,) or (m, k)."""

    def _values(self, rows, args):
        """``f`` at every row, as an array (k,) or (k, m), in blocks of columns."""
        k, n = rows.shape
        step = max(16, BLOCK_ENTRIES // n)
        # the transposed view: the points are the columns, nothing copied
        blocks = [vectorized_values(self.f, rows[s:s + step].T, args)
                  for s in range(0, k, step)]
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def _scalars(self, rows, args, what, complex_ok=False):
        values = self._values(rows, args)
        if values.ndim != 1 or values.dtype.kind not in ("biufc" if complex_ok else "biuf"):
            raise ValueError(f"f must return one real{' or complex' if complex_ok else ''} "
                             f"value per point (shape ({len(rows)},) for x of shape "
                             f"({rows.shape[1]}, {len(rows)})), got shape "
                             f"{values.shape[::-1]} and dtype {values.dtype}")
        return values.astype(complex if complex_ok else float, copy=False)

    def _vectors(self, rows, args, m, complex_ok=False):
        values = self._values(rows, args)
        if values.ndim != 2 or values.shape[1] != m or values.dtype.kind not in (
                "biufc" if complex_ok else "biuf"):
            raise ValueError(f"f must return an array of shape ({m}, {len(rows)}) for x of "
                             f"shape ({rows.shape[1]}, {len(rows)}), got shape "
                             f"{values.shape[::-1]} and dtype {values.dtype}")
        return values.astype(complex if complex_ok else float, copy=False), \
            np.zeros(len(rows), bool)


def vectorized_values(f, X, args):
    """``f(X, *args)`` for the k columns of ``X``: values as an array (k,) or (k, m)."""
    k = X.shape[1]
    Y = np.asarray(f(X, *args))
    if Y.ndim not in (1, 2) or Y.shape[-1] != k:
        raise ValueError(f"f is vectorized: called with x of shape {X.shape} (the points as "
                         f"columns) it must return an array of shape ({k},) or (m, {k}), "
                         f"got shape {Y.shape}")
    return Y if Y.ndim == 1 else Y.T


def _describe(v):
    if isinstance(v, np.ndarray) and v.ndim:
        return f"an array of shape {v.shape}"
    return f"{type(v).__name__} {v!r:.40}"


def _check_scalar(v, j, what="component", complex_ok=False):
    """``v`` must be a real (or complex) number: Python, NumPy scalar or 0-d array."""
    kinds = "iufc" if complex_ok else "iuf"
    if isinstance(v, (bool, np.bool_)) or np.ndim(v) != 0 or \
            np.asarray(v).dtype.kind not in kinds:
        want = "a real or complex" if complex_ok else "a real"
        raise ValueError(f"f must return {want} scalar, got {_describe(v)} when {what} "
                         f"{j} was perturbed")


def fd_drivers(f, parallel=False, mapper=map, vectorized=False):
    """The drivers of Python callable ``f``, points evaluated through ``mapper`` (or,
    ``vectorized``, as the columns of one array per call)."""
    d = _VectorizedDrivers(f) if vectorized else _Drivers(f, mapper)
    return {name: getattr(d, name) for name in (
        "gradient", "gradient_complex", "jacobian", "jacobian_complex", "jacobian_grouped",
        "jacobian_grouped_complex", "hessian", "hessian_complex", "hessian_grouped",
        "hessian_grouped_complex")}
