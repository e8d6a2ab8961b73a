/* losses.c -- twin of kernels/losses.py: losses of the network output, fused with
 * the output activation; every loss is a mean (conventions in kernels/losses.py).
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
                         const real *restrict y, int out_code, int loss_code,
                         real *restrict a, real *restrict delta, double *value)
{
    if (!pk_valid_activation(out_code) || loss_code < PK_MSE || loss_code > PK_CROSS_ENTROPY
        || (loss_code == PK_CROSS_ENTROPY && out_code != PK_SOFTMAX && out_code != PK_SIGMOID))
        return PK_ERR_CODE;
    if (batch < 1 || n_out < 1)
        return PK_ERR_SIZE;
    for (int64_t i = 0; i < batch; i++)
        PK_NAME(activation_row)(z + i * n_out, n_out, a + i * n_out, out_code);
    double total = 0.0;
    if (loss_code == PK_CROSS_ENTROPY && out_code == PK_SOFTMAX) {
        double scale = 1.0 / (double)batch;
        for (int64_t i = 0; i < batch; i++) {
            const real *zi = z + i * n_out, *yi = y + i * n_out, *ai = a + i * n_out;
            real *di = delta + i * n_out;
            real zmax = zi[0];
            for (int64_t j = 1; j < n_out; j++)
                zmax = zi[j] > zmax ? zi[j] : zmax;
            double sum_exp = 0.0, ysum = 0.0, yz = 0.0;
            for (int64_t j = 0; j < n_out; j++) {
                sum_exp += pk_exp((real)(zi[j] - zmax));
                ysum += yi[j];
                yz += (real)(yi[j] * zi[j]);
            }
            total += ysum * (zmax + log(sum_exp)) - yz;
            for (int64_t j = 0; j < n_out; j++)
                di[j] = (real)((ai[j] * ysum - yi[j]) * scale);
        }
        *value = total * scale;
        return PK_OK;
    }
    double scale = 1.0 / ((double)batch * (double)n_out);
    int64_t count = batch * n_out;
    if (loss_code == PK_CROSS_ENTROPY) { /* binary, on a sigmoid output */
        for (int64_t k = 0; k < count; k++) {
            total += (pk_max(z[k], 0.0) - (real)(z[k] * y[k]) + log1p(pk_exp(-pk_abs(z[k]))));
            delta[k] = (real)((real)(a[k] - y[k]) * scale);
        }
        *value = total * scale;
        return PK_OK;
    }
    for (int64_t k = 0; k < count; k++) {
        real r = a[k] - y[k];
        if (loss_code == PK_MSE) {
            total += (real)(r * r);
            delta[k] = (real)(2.0 * r * scale);
        } else if (loss_code == PK_L1) {
            total += pk_abs(r);
            delta[k] = (real)((r > 0 ? 1.0 : (r < 0 ? -1.0 : 0.0)) * scale);
        } else {
            double ar = pk_abs(r);
            total += ar <= 1.0 ? 0.5 * r * r : ar - 0.5;
            delta[k] = (real)(pk_min(pk_max(r, -1.0), 1.0) * scale);
        }
    }
    PK_NAME(activation_backward)(a, batch, n_out, delta, out_code);
    *value = total * scale;
    return PK_OK;
}

#undef real

#endif
