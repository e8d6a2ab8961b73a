/* losses.c -- twin of kernels/losses.py: losses of the network output, fused with
 * the output activation; scale * the sum of the rows' weighted losses (conventions in
 * kernels/losses.py).
 * Compiled for double and float like activations.c. */
#ifndef PK_REAL

#include <math.h>

#include "pk_internal.h"

#define PK_REAL double
#define PK_NAME(op) pk_##op##_f64
#include "losses.c"
#undef PK_REAL
#undef PK_NAME

#define PK_REAL float
#define PK_NAME(op) pk_##op##_f32
#include "losses.c"
#undef PK_REAL
#undef PK_NAME

#else /* the template */

#define real PK_REAL

PK_SIMD_CLONES
int PK_NAME(output_loss)(const real *restrict z, int64_t batch, int64_t n_out,
                         const real *restrict y, const real *restrict sw, int64_t n_sw,
                         double scale, int out_code, int loss_code, real *restrict a,
                         real *restrict delta, double *value)
{
    if (!pk_valid_activation(out_code) || loss_code < PK_MSE || loss_code > PK_POISSON
        || (loss_code == PK_CROSS_ENTROPY && out_code != PK_SOFTMAX && out_code != PK_SIGMOID)
        || (loss_code == PK_POISSON && out_code != PK_EXP))
        return PK_ERR_CODE;
    if (batch < 1 || n_out < 1 || pk_valid_weights(n_sw, batch) != PK_OK)
        return PK_ERR_SIZE;
    double total = 0.0;
    if (loss_code == PK_CROSS_ENTROPY && out_code == PK_SOFTMAX) {
        /* the softmax made here, from the loss's own exp(z_k - zmax): one exp an entry */
        for (int64_t i = 0; i < batch; i++) {
            const real *zi = z + i * n_out, *yi = y + i * n_out;
            real *ai = a + i * n_out, *di = delta + i * n_out;
            double w = n_sw ? sw[i] : 1.0, s = w * scale;
            int64_t top = 0; /* the first largest logit */
            for (int64_t j = 1; j < n_out; j++)
                top = zi[j] > zi[top] ? j : top;
            real zmax = zi[top];
            /* rest: the other classes' exp(z_k - zmax); gap: sum_k y_k (zmax - z_k) >= 0 */
            double rest = 0.0, ysum = 0.0, gap = 0.0, norm = 0.0;
            for (int64_t j = 0; j < n_out; j++) {
                real d = zi[j] - zmax, back = d - zi[j]; /* d's rounding error: low */
                real low = (zi[j] - (d - back)) - (zmax + back);
                double e = pk_exp(d);
                ai[j] = (real)e; /* as activation_row makes it, bit for bit */
                norm += ai[j];
                if (j != top && e != 0.0) /* exp(z_j - zmax) = exp(d) (1 + low) */
                    rest += e + e * low;
                ysum += yi[j];
                gap += yi[j] != 0 ? (real)(yi[j] * (real)(zmax - zi[j])) : 0.0;
            }
            norm = 1.0 / norm;
            for (int64_t j = 0; j < n_out; j++)
                ai[j] = (real)(ai[j] * norm);
            total += w * (gap + ysum * log1p(rest));
            for (int64_t j = 0; j < n_out; j++)
                di[j] = (real)((ai[j] * ysum - yi[j]) * s);
        }
        *value = total * scale;
        return PK_OK;
    }
    for (int64_t i = 0; i < batch; i++)
        PK_NAME(activation_row)(z + i * n_out, n_out, a + i * n_out, out_code);
    for (int64_t i = 0; i < batch; i++) {
        const real *zi = z + i * n_out, *yi = y + i * n_out, *ai = a + i * n_out;
        real *di = delta + i * n_out;
        double w = n_sw ? sw[i] : 1.0, s = w * scale, row = 0.0;
        if (loss_code == PK_CROSS_ENTROPY) { /* binary, on a sigmoid output */
            for (int64_t j = 0; j < n_out; j++) {
                row += (pk_max(zi[j], 0.0) - (real)(zi[j] * yi[j])
                        + log1p(pk_exp(-pk_abs(zi[j]))));
                di[j] = (real)((real)(ai[j] - yi[j]) * s);
            }
        } else if (loss_code == PK_POISSON) { /* on an exp output */
            for (int64_t j = 0; j < n_out; j++) {
                double yj = yi[j];
                if (yj > 0.0)
                    row += yj * (log(yj) - zi[j]);
                row += ai[j] - yj;
                di[j] = (real)((real)(ai[j] - yi[j]) * s);
            }
        } else {
            for (int64_t j = 0; j < n_out; j++) {
                real r = ai[j] - yi[j];
                if (loss_code == PK_MSE) {
                    row += (real)(r * r);
                    di[j] = (real)(2.0 * r * s);
                } else if (loss_code == PK_L1) {
                    row += pk_abs(r);
                    di[j] = (real)((r > 0 ? 1.0 : (r < 0 ? -1.0 : 0.0)) * s);
                } else {
                    double ar = pk_abs(r);
                    row += ar <= 1.0 ? 0.5 * r * r : ar - 0.5;
                    di[j] = (real)(pk_min(pk_max(r, -1.0), 1.0) * s);
                }
            }
        }
        total += w * row;
    }
    if (loss_code != PK_CROSS_ENTROPY && loss_code != PK_POISSON)
        PK_NAME(activation_backward)(a, batch, n_out, delta, out_code);
    *value = total * scale;
    return PK_OK;
}

#undef real

#endif
