/* fd.c -- twin of the real-step drivers of kernels/fd.py: finite differences of a
 * user function given as a C function pointer, serial (the Numba drivers' chunks
 * write disjoint outputs, so one chunk gives the same numbers).
 *
 * Stencils (per column j, h the signed step, f0 = f(x)); each divisor is built from
 * the points actually evaluated, e.g. (x + h) - x, so rounding does not bias it:
 *   central   (f(x + h e_j) - f(x - h e_j)) / (2h)
 *   forward   (f(x + h e_j) - f0) / h          (backward: h < 0)
 *   onesided  (-3 f0 + 4 f(x + h e_j) - f(x + 2h e_j)) / (2h), next to a bound */
#include <math.h>

#include "pk_internal.h"

/* Length scale of x_j: max(1, |x_j|), capped by the distance to the nearer bound
 * (on a bound, to the farther one). */
static double pk_fd_scale(double xi, double lo, double hi)
{
    double s = pk_max(1.0, pk_abs(xi));
    double dlo = xi - lo, dhi = hi - xi;
    double near = pk_min(dlo, dhi), far = pk_max(dlo, dhi);
    return near > 0.0 ? pk_min(s, near) : pk_min(s, far);
}

int pk_fd_steps_f64(const double *x, int64_t n, const double *hs, int relative,
                    const double *lo, const double *hi, int method, double *h,
                    int8_t *stencil, int *need_f0)
{
    if (n < 0)
        return PK_ERR_SIZE;
    if (method < PK_FD_FORWARD || method > PK_FD_CENTRAL)
        return PK_ERR_CODE;
    *need_f0 = 0;
    for (int64_t j = 0; j < n; j++) {
        double xj = x[j], a = lo[j], b = hi[j];
        double hj = relative ? hs[j] * pk_fd_scale(xj, a, b) : hs[j];
        double dlo = xj - a, dhi = b - xj;
        if (method == PK_FD_CENTRAL) {
            if (hj <= dlo && hj <= dhi) {
                h[j] = hj;
                stencil[j] = PK_S_CENTRAL;
            } else {
                hj = pk_min(hj, 0.5 * pk_max(dlo, dhi));
                h[j] = dhi >= dlo ? hj : -hj;
                stencil[j] = PK_S_ONESIDED;
                *need_f0 = 1;
            }
        } else {
            double ahead = method == PK_FD_FORWARD ? dhi : dlo;
            double behind = method == PK_FD_FORWARD ? dlo : dhi;
            double sign = method == PK_FD_FORWARD ? 1.0 : -1.0;
            if (hj > ahead && (hj <= behind || behind > ahead)) {
                sign = -sign;
                ahead = behind;
            }
            h[j] = sign * pk_min(hj, ahead);
            stencil[j] = PK_S_FORWARD;
            *need_f0 = 1;
        }
    }
    return PK_OK;
}

static int64_t pk_first_nonfinite(const double *a, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return i;
    return -1;
}

/* The second evaluation point of a column: x - h (central) or x + 2h (one-sided). */
static double pk_second_point(double xj, double hj, int stencil)
{
    return stencil == PK_S_CENTRAL ? xj - hj : xj + 2.0 * hj;
}

/* Derivative estimate from f(x) (f0), f at x + h (fp) and at the second point (fm). */
static double pk_combine(double f0, double fp, double fm, double xj, double hj, int stencil)
{
    double a = (xj + hj) - xj;
    if (stencil == PK_S_FORWARD)
        return (fp - f0) / a;
    double b = pk_second_point(xj, hj, stencil) - xj;
    if (stencil == PK_S_CENTRAL)
        return (fp - fm) / (a - b);
    /* one-sided 3-point on nodes 0, a, b (b ~ 2a), exact for quadratics */
    return (-(a + b) / (a * b)) * f0 + (b / (a * (b - a))) * fp - (a / (b * (b - a))) * fm;
}

int pk_fd_gradient_f64(pk_scalar_fn f, const double *x, int64_t n, const double *h,
                       const int8_t *stencil, double f0, double *work, double *out,
                       int64_t *first_bad)
{
    if (n < 0)
        return PK_ERR_SIZE;
    double *xp = work;
    memcpy(xp, x, n * sizeof *xp);
    for (int64_t j = 0; j < n; j++) {
        xp[j] = x[j] + h[j];
        double fp = f(xp, n), fm = fp;
        if (stencil[j] != PK_S_FORWARD) {
            xp[j] = pk_second_point(x[j], h[j], stencil[j]);
            fm = f(xp, n);
        }
        xp[j] = x[j];
        out[j] = pk_combine(f0, fp, fm, x[j], h[j], stencil[j]);
    }
    *first_bad = pk_first_nonfinite(out, n);
    return PK_OK;
}

int pk_fd_jacobian_f64(pk_vector_fn f, const double *x, int64_t n, const double *h,
                       const int8_t *stencil, const double *f0, int64_t m, double *work,
                       double *out_t, int8_t *status)
{
    if (n < 0 || m < 0)
        return PK_ERR_SIZE;
    double *xp = work, *fp = work + n, *fm = work + n + m;
    memcpy(xp, x, n * sizeof *xp);
    for (int64_t j = 0; j < n; j++) {
        xp[j] = x[j] + h[j];
        f(xp, n, fp, m);
        const double *second = fp;
        if (stencil[j] != PK_S_FORWARD) {
            xp[j] = pk_second_point(x[j], h[j], stencil[j]);
            f(xp, n, fm, m);
            second = fm;
        }
        xp[j] = x[j];
        double *col = out_t + j * m;
        if (stencil[j] == PK_S_CENTRAL) { /* the common stencils get their own SIMD loops */
            double width = ((x[j] + h[j]) - x[j]) - ((x[j] - h[j]) - x[j]);
            for (int64_t i = 0; i < m; i++)
                col[i] = (fp[i] - second[i]) / width;
        } else if (stencil[j] == PK_S_FORWARD) {
            double width = (x[j] + h[j]) - x[j];
            for (int64_t i = 0; i < m; i++)
                col[i] = (fp[i] - f0[i]) / width;
        } else {
            for (int64_t i = 0; i < m; i++)
                col[i] = pk_combine(f0[i], fp[i], second[i], x[j], h[j], stencil[j]);
        }
        status[j] = pk_first_nonfinite(col, m) < 0 ? PK_FD_OK : PK_FD_BAD_VALUE;
    }
    return PK_OK;
}

int pk_fd_jacobian_grouped_f64(pk_vector_fn f, const double *x, int64_t n, const double *h,
                               const int8_t *stencil, const double *f0, int64_t m,
                               const int64_t *order, const int64_t *gptr, int64_t ngroups,
                               const int64_t *colptr, const int64_t *rows,
                               const int64_t *dest, double *work, double *data,
                               int8_t *status)
{
    if (n < 0 || m < 0 || ngroups < 0)
        return PK_ERR_SIZE;
    double *xp = work, *fp = work + n, *fm = work + n + m;
    memcpy(xp, x, n * sizeof *xp);
    for (int64_t g = 0; g < ngroups; g++) {
        int two = 0;
        for (int64_t k = gptr[g]; k < gptr[g + 1]; k++) {
            int64_t j = order[k];
            xp[j] = x[j] + h[j];
            two = two || stencil[j] != PK_S_FORWARD;
        }
        f(xp, n, fp, m);
        const double *second = fp;
        if (two) {
            for (int64_t k = gptr[g]; k < gptr[g + 1]; k++) {
                int64_t j = order[k];
                xp[j] = pk_second_point(x[j], h[j], stencil[j]);
            }
            f(xp, n, fm, m);
            second = fm;
        }
        for (int64_t k = gptr[g]; k < gptr[g + 1]; k++)
            xp[order[k]] = x[order[k]];
        for (int64_t k = gptr[g]; k < gptr[g + 1]; k++) {
            int64_t j = order[k];
            for (int64_t q = colptr[j]; q < colptr[j + 1]; q++) {
                int64_t i = rows[q];
                double v = pk_combine(f0[i], fp[i], second[i], x[j], h[j], stencil[j]);
                data[dest[q]] = v;
                if (!isfinite(v))
                    status[g] = PK_FD_BAD_VALUE;
            }
        }
    }
    return PK_OK;
}

/* f at x + si h_i e_i + sj h_j e_j (i == j allowed); xp is restored to x after. */
static double pk_at_pair(pk_scalar_fn f, double *xp, const double *x, int64_t n, int64_t i,
                         int64_t j, double si, double sj, const double *h)
{
    xp[i] = x[i] + si * h[i];
    xp[j] = xp[j] + sj * h[j];
    double v = f(xp, n);
    xp[i] = x[i];
    xp[j] = x[j];
    return v;
}

int pk_fd_hessian_f64(pk_scalar_fn f, const double *x, int64_t n, const double *h,
                      int forward, double f0, double *work, double *out)
{
    if (n < 0)
        return PK_ERR_SIZE;
    double *xp = work, *fi = work + n;
    memcpy(xp, x, n * sizeof *xp);
    if (forward)
        for (int64_t i = 0; i < n; i++) {
            xp[i] = x[i] + h[i];
            fi[i] = f(xp, n);
            xp[i] = x[i];
        }
    for (int64_t i = 0; i < n; i++) {
        double ai = (x[i] + h[i]) - x[i];
        for (int64_t j = i; j < n; j++) {
            double aj = (x[j] + h[j]) - x[j];
            double fpp = pk_at_pair(f, xp, x, n, i, j, 1.0, 1.0, h), v;
            if (forward)
                v = (fpp - fi[i] - fi[j] + f0) / (ai * aj);
            else
                v = (fpp - pk_at_pair(f, xp, x, n, i, j, 1.0, -1.0, h)
                     - pk_at_pair(f, xp, x, n, i, j, -1.0, 1.0, h)
                     + pk_at_pair(f, xp, x, n, i, j, -1.0, -1.0, h)) / (4.0 * ai * aj);
            out[i * n + j] = v;
            out[j * n + i] = v;
        }
    }
    return PK_OK;
}
