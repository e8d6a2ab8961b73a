/* fd.c -- twin of the drivers of kernels/fd.py: finite differences of a user
 * function given as a C function pointer with its extra arguments (pk_fd_function),
 * serial (the Numba drivers' chunks write disjoint outputs, so one chunk gives the
 * same numbers).  The complex-step loops take f over double _Complex.
 *
 * Stencils (per column j, h the signed step, f0 = f(x)); each divisor is built from
 * the points actually evaluated, e.g. (x + h) - x, so rounding does not bias it:
 *   central   (f(x + h e_j) - f(x - h e_j)) / (2h)
 *   forward   (f(x + h e_j) - f0) / h          (backward: h < 0)
 *   onesided  (-3 f0 + 4 f(x + h e_j) - f(x + 2h e_j)) / (2h), next to a bound */
#include <complex.h>
#include <math.h>

#include "pk_internal.h"

typedef double _Complex pk_complex;

/* ---- calling the user's function with its extra arguments ----------------------
 * fn is cast back to its exact type: one case per signature, the code being
 * 16 nargs + (bit k set when argument k is an array), listed once below. */
#define PK_UNPACK(...) __VA_ARGS__
#define PK_D(k) f->args[k].d
#define PK_P(k) f->args[k].p
#define PK_FD_SIGNATURES(CASE)                                                       \
    CASE(0x10, (double), (PK_D(0)))                                                  \
    CASE(0x11, (const double *), (PK_P(0)))                                          \
    CASE(0x20, (double, double), (PK_D(0), PK_D(1)))                                 \
    CASE(0x21, (const double *, double), (PK_P(0), PK_D(1)))                         \
    CASE(0x22, (double, const double *), (PK_D(0), PK_P(1)))                         \
    CASE(0x23, (const double *, const double *), (PK_P(0), PK_P(1)))                 \
    CASE(0x30, (double, double, double), (PK_D(0), PK_D(1), PK_D(2)))                \
    CASE(0x31, (const double *, double, double), (PK_P(0), PK_D(1), PK_D(2)))        \
    CASE(0x32, (double, const double *, double), (PK_D(0), PK_P(1), PK_D(2)))        \
    CASE(0x33, (const double *, const double *, double), (PK_P(0), PK_P(1), PK_D(2))) \
    CASE(0x34, (double, double, const double *), (PK_D(0), PK_D(1), PK_P(2)))        \
    CASE(0x35, (const double *, double, const double *), (PK_P(0), PK_D(1), PK_P(2))) \
    CASE(0x36, (double, const double *, const double *), (PK_D(0), PK_P(1), PK_P(2))) \
    CASE(0x37, (const double *, const double *, const double *),                     \
         (PK_P(0), PK_P(1), PK_P(2)))

static int pk_fd_signature(const pk_fd_function *f)
{
    int code = 16 * f->nargs;
    for (int k = 0; k < f->nargs; k++)
        code |= (f->kinds[k] == PK_ARG_ARRAY) << k;
    return code;
}

/* PK_OK when f is a function of this kind with valid extra arguments. */
static int pk_fd_check(const pk_fd_function *f, int vector, int complex_step)
{
    if (f == NULL || f->fn == NULL || f->vector != vector || f->complex_step != complex_step
        || f->nargs < 0 || f->nargs > PK_FD_MAX_ARGS)
        return PK_ERR_FUNCTION;
    for (int k = 0; k < f->nargs; k++)
        if ((f->kinds[k] != PK_ARG_DOUBLE && f->kinds[k] != PK_ARG_ARRAY)
            || (f->kinds[k] == PK_ARG_ARRAY && f->args[k].p == NULL))
            return PK_ERR_FUNCTION;
    return PK_OK;
}

static double pk_fd_call(const pk_fd_function *f, const double *x, int64_t n)
{
#define PK_CASE(code, types, values)                                                  \
    case code:                                                                        \
        return ((double (*)(const double *, int64_t, PK_UNPACK types))f->fn)(         \
            x, n, PK_UNPACK values);
    switch (pk_fd_signature(f)) {
        PK_FD_SIGNATURES(PK_CASE)
    default:
        return ((double (*)(const double *, int64_t))f->fn)(x, n);
    }
#undef PK_CASE
}

static void pk_fd_call_vector(const pk_fd_function *f, const double *x, int64_t n,
                              double *out, int64_t m)
{
#define PK_CASE(code, types, values)                                                  \
    case code:                                                                        \
        ((void (*)(const double *, int64_t, double *, int64_t, PK_UNPACK types))f->fn)( \
            x, n, out, m, PK_UNPACK values);                                          \
        return;
    switch (pk_fd_signature(f)) {
        PK_FD_SIGNATURES(PK_CASE)
    default:
        ((void (*)(const double *, int64_t, double *, int64_t))f->fn)(x, n, out, m);
    }
#undef PK_CASE
}

static pk_complex pk_fd_call_complex(const pk_fd_function *f, const pk_complex *x, int64_t n)
{
#define PK_CASE(code, types, values)                                                  \
    case code:                                                                        \
        return ((pk_complex (*)(const pk_complex *, int64_t, PK_UNPACK types))f->fn)( \
            x, n, PK_UNPACK values);
    switch (pk_fd_signature(f)) {
        PK_FD_SIGNATURES(PK_CASE)
    default:
        return ((pk_complex (*)(const pk_complex *, int64_t))f->fn)(x, n);
    }
#undef PK_CASE
}

static void pk_fd_call_vector_complex(const pk_fd_function *f, const pk_complex *x,
                                      int64_t n, pk_complex *out, int64_t m)
{
#define PK_CASE(code, types, values)                                                  \
    case code:                                                                        \
        ((void (*)(const pk_complex *, int64_t, pk_complex *, int64_t,                \
                   PK_UNPACK types))f->fn)(x, n, out, m, PK_UNPACK values);           \
        return;
    switch (pk_fd_signature(f)) {
        PK_FD_SIGNATURES(PK_CASE)
    default:
        ((void (*)(const pk_complex *, int64_t, pk_complex *, int64_t))f->fn)(x, n, out, m);
    }
#undef PK_CASE
}

/* r times the length scale of x_j: max(1, |x_j|), capped by the distance to the nearer
 * bound when that is positive, unless the capped step would drown in rounding x_j + h
 * (below 2^-36 |x_j|): such a point is treated as on its bound (kernels/fd.py). */
static double pk_fd_relative_step(double xi, double lo, double hi, double r)
{
    double s = pk_max(1.0, pk_abs(xi));
    double near = pk_min(xi - lo, hi - xi);
    if (near > 0.0 && r * near >= 0x1p-36 * pk_abs(xi))
        return r * pk_min(s, near);
    return r * s;
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
        double hj = relative ? pk_fd_relative_step(xj, a, b, hs[j]) : hs[j];
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

int pk_fd_gradient_f64(const pk_fd_function *f, const double *x, int64_t n, const double *h,
                       const int8_t *stencil, double f0, double *work, double *out,
                       int64_t *first_bad)
{
    if (n < 0)
        return PK_ERR_SIZE;
    if (pk_fd_check(f, 0, 0) != PK_OK)
        return PK_ERR_FUNCTION;
    double *xp = work;
    memcpy(xp, x, n * sizeof *xp);
    for (int64_t j = 0; j < n; j++) {
        xp[j] = x[j] + h[j];
        double fp = pk_fd_call(f, xp, n), fm = fp;
        if (stencil[j] != PK_S_FORWARD) {
            xp[j] = pk_second_point(x[j], h[j], stencil[j]);
            fm = pk_fd_call(f, xp, n);
        }
        xp[j] = x[j];
        out[j] = pk_combine(f0, fp, fm, x[j], h[j], stencil[j]);
    }
    *first_bad = pk_first_nonfinite(out, n);
    return PK_OK;
}

int pk_fd_gradient_complex_f64(const pk_fd_function *f, const double *x, int64_t n,
                               const double *h, double *work, double *out,
                               int64_t *first_bad)
{
    if (n < 0)
        return PK_ERR_SIZE;
    if (pk_fd_check(f, 0, 1) != PK_OK)
        return PK_ERR_FUNCTION;
    pk_complex *xp = (pk_complex *)work;
    for (int64_t k = 0; k < n; k++)
        xp[k] = x[k];
    for (int64_t j = 0; j < n; j++) {
        xp[j] = x[j] + h[j] * I;
        out[j] = cimag(pk_fd_call_complex(f, xp, n)) / h[j];
        xp[j] = x[j];
    }
    *first_bad = pk_first_nonfinite(out, n);
    return PK_OK;
}

int pk_fd_jacobian_f64(const pk_fd_function *f, const double *x, int64_t n, const double *h,
                       const int8_t *stencil, const double *f0, int64_t m, double *work,
                       double *out_t, int8_t *status)
{
    if (n < 0 || m < 0)
        return PK_ERR_SIZE;
    if (pk_fd_check(f, 1, 0) != PK_OK)
        return PK_ERR_FUNCTION;
    double *xp = work, *fp = work + n, *fm = work + n + m;
    memcpy(xp, x, n * sizeof *xp);
    for (int64_t j = 0; j < n; j++) {
        xp[j] = x[j] + h[j];
        pk_fd_call_vector(f, xp, n, fp, m);
        const double *second = fp;
        if (stencil[j] != PK_S_FORWARD) {
            xp[j] = pk_second_point(x[j], h[j], stencil[j]);
            pk_fd_call_vector(f, xp, n, fm, m);
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

int pk_fd_jacobian_complex_f64(const pk_fd_function *f, const double *x, int64_t n,
                               const double *h, int64_t m, double *work, double *out_t,
                               int8_t *status)
{
    if (n < 0 || m < 0)
        return PK_ERR_SIZE;
    if (pk_fd_check(f, 1, 1) != PK_OK)
        return PK_ERR_FUNCTION;
    pk_complex *xp = (pk_complex *)work, *fv = xp + n;
    for (int64_t k = 0; k < n; k++)
        xp[k] = x[k];
    for (int64_t j = 0; j < n; j++) {
        xp[j] = x[j] + h[j] * I;
        pk_fd_call_vector_complex(f, xp, n, fv, m);
        xp[j] = x[j];
        double *col = out_t + j * m;
        for (int64_t i = 0; i < m; i++)
            col[i] = cimag(fv[i]) / h[j];
        status[j] = pk_first_nonfinite(col, m) < 0 ? PK_FD_OK : PK_FD_BAD_VALUE;
    }
    return PK_OK;
}

int pk_fd_jacobian_grouped_f64(const pk_fd_function *f, const double *x, int64_t n,
                               const double *h, const int8_t *stencil, const double *f0,
                               int64_t m, const int64_t *order, const int64_t *gptr,
                               int64_t ngroups, const int64_t *colptr, const int64_t *rows,
                               const int64_t *dest, double *work, double *data,
                               int8_t *status)
{
    if (n < 0 || m < 0 || ngroups < 0)
        return PK_ERR_SIZE;
    if (pk_fd_check(f, 1, 0) != PK_OK)
        return PK_ERR_FUNCTION;
    double *xp = work, *fp = work + n, *fm = work + n + m;
    memcpy(xp, x, n * sizeof *xp);
    for (int64_t g = 0; g < ngroups; g++) {
        int two = 0;
        for (int64_t k = gptr[g]; k < gptr[g + 1]; k++) {
            int64_t j = order[k];
            xp[j] = x[j] + h[j];
            two = two || stencil[j] != PK_S_FORWARD;
        }
        pk_fd_call_vector(f, xp, n, fp, m);
        const double *second = fp;
        if (two) {
            for (int64_t k = gptr[g]; k < gptr[g + 1]; k++) {
                int64_t j = order[k];
                xp[j] = pk_second_point(x[j], h[j], stencil[j]);
            }
            pk_fd_call_vector(f, xp, n, fm, m);
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

int pk_fd_jacobian_grouped_complex_f64(const pk_fd_function *f, const double *x, int64_t n,
                                       const double *h, int64_t m, const int64_t *order,
                                       const int64_t *gptr, int64_t ngroups,
                                       const int64_t *colptr, const int64_t *rows,
                                       const int64_t *dest, double *work, double *data,
                                       int8_t *status)
{
    if (n < 0 || m < 0 || ngroups < 0)
        return PK_ERR_SIZE;
    if (pk_fd_check(f, 1, 1) != PK_OK)
        return PK_ERR_FUNCTION;
    pk_complex *xp = (pk_complex *)work, *fv = xp + n;
    for (int64_t k = 0; k < n; k++)
        xp[k] = x[k];
    for (int64_t g = 0; g < ngroups; g++) {
        for (int64_t k = gptr[g]; k < gptr[g + 1]; k++)
            xp[order[k]] = x[order[k]] + h[order[k]] * I;
        pk_fd_call_vector_complex(f, xp, n, fv, m);
        for (int64_t k = gptr[g]; k < gptr[g + 1]; k++)
            xp[order[k]] = x[order[k]];
        for (int64_t k = gptr[g]; k < gptr[g + 1]; k++) {
            int64_t j = order[k];
            for (int64_t q = colptr[j]; q < colptr[j + 1]; q++) {
                double v = cimag(fv[rows[q]]) / h[j];
                data[dest[q]] = v;
                if (!isfinite(v))
                    status[g] = PK_FD_BAD_VALUE;
            }
        }
    }
    return PK_OK;
}

/* f at x + si h_i e_i + sj h_j e_j (i == j allowed); xp is restored to x after. */
static double pk_at_pair(const pk_fd_function *f, double *xp, const double *x, int64_t n,
                         int64_t i, int64_t j, double si, double sj, const double *h)
{
    xp[i] = x[i] + si * h[i];
    xp[j] = xp[j] + sj * h[j];
    double v = pk_fd_call(f, xp, n);
    xp[i] = x[i];
    xp[j] = x[j];
    return v;
}

int pk_fd_hessian_f64(const pk_fd_function *f, const double *x, int64_t n, const double *h,
                      int forward, double f0, double *work, double *out)
{
    if (n < 0)
        return PK_ERR_SIZE;
    if (pk_fd_check(f, 0, 0) != PK_OK)
        return PK_ERR_FUNCTION;
    double *xp = work, *fi = work + n;
    memcpy(xp, x, n * sizeof *xp);
    if (forward)
        for (int64_t i = 0; i < n; i++) {
            xp[i] = x[i] + h[i];
            fi[i] = pk_fd_call(f, xp, n);
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

int pk_fd_hessian_complex_f64(const pk_fd_function *f, const double *x, int64_t n,
                              const double *hc, const double *h, double *work, double *out)
{
    if (n < 0)
        return PK_ERR_SIZE;
    if (pk_fd_check(f, 0, 1) != PK_OK)
        return PK_ERR_FUNCTION;
    pk_complex *xp = (pk_complex *)work;
    for (int64_t k = 0; k < n; k++)
        xp[k] = x[k];
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i; j < n; j++) {
            double a = (x[j] + h[j]) - (x[j] - h[j]);
            xp[i] = x[i] + hc[i] * I;
            xp[j] = (x[j] + h[j]) + cimag(xp[j]) * I;
            double fp = cimag(pk_fd_call_complex(f, xp, n));
            xp[j] = (x[j] - h[j]) + cimag(xp[j]) * I;
            double fm = cimag(pk_fd_call_complex(f, xp, n));
            xp[i] = x[i];
            xp[j] = x[j];
            double v = (fp - fm) / (hc[i] * a);
            out[i * n + j] = v;
            out[j * n + i] = v;
        }
    return PK_OK;
}
