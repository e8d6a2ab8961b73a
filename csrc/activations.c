/* activations.c -- twin of kernels/activations.py: activation functions G of a
 * layer y = G(W x + b), forward and derivative (written through a = G(z)).
 *
 * The file is written once over a type `real` and compiled twice, for double
 * (_f64) and float (_f32): it includes itself with PK_REAL defined.  Elementwise
 * math runs in double in both, as it does in the Numba kernels. */
#ifndef PK_REAL

#include "pk_internal.h"

#define PK_REAL double
#define PK_NAME(op) pk_##op##_f64
#include "activations.c"
#undef PK_REAL
#undef PK_NAME

#define PK_REAL float
#define PK_NAME(op) pk_##op##_f32
#include "activations.c"
#undef PK_REAL
#undef PK_NAME

#else /* the template */

#define real PK_REAL

PK_SIMD_CLONES
int PK_NAME(activation_row)(const real *restrict z, int64_t n, real *restrict a, int code)
{
    if (!pk_valid_activation(code))
        return PK_ERR_CODE;
    if (code == PK_TANH) {
        for (int64_t j = 0; j < n; j++)
            a[j] = (real)pk_tanh(z[j]);
    } else if (code == PK_RELU) {
        for (int64_t j = 0; j < n; j++)
            a[j] = (real)pk_max(z[j], 0.0);
    } else if (code == PK_SIGMOID) {
        for (int64_t j = 0; j < n; j++)
            a[j] = (real)pk_sigmoid(z[j]);
    } else if (code == PK_SOFTMAX) {
        real zmax = z[0];
        for (int64_t j = 1; j < n; j++)
            zmax = z[j] > zmax ? z[j] : zmax;
        double total = 0.0;
        for (int64_t j = 0; j < n; j++) {
            a[j] = (real)pk_exp((real)(z[j] - zmax));
            total += a[j];
        }
        double scale = 1.0 / total;
        for (int64_t j = 0; j < n; j++)
            a[j] = (real)(a[j] * scale);
    } else if (code == PK_EXP) {
        for (int64_t j = 0; j < n; j++)
            a[j] = (real)pk_exp(z[j]);
    } else {
        for (int64_t j = 0; j < n; j++)
            a[j] = z[j];
    }
    return PK_OK;
}

PK_SIMD_CLONES
int PK_NAME(bias_activation_forward)(real *restrict z, int64_t batch, int64_t n,
                                     const real *restrict b, real *restrict a, int code)
{
    if (!pk_valid_activation(code))
        return PK_ERR_CODE;
    for (int64_t i = 0; i < batch; i++) {
        real *row = z + i * n;
        for (int64_t j = 0; j < n; j++)
            row[j] += b[j];
        PK_NAME(activation_row)(row, n, a + i * n, code);
    }
    return PK_OK;
}

PK_SIMD_CLONES
int PK_NAME(activation_backward)(const real *restrict a, int64_t batch, int64_t n,
                                 real *restrict d, int code)
{
    if (!pk_valid_activation(code))
        return PK_ERR_CODE;
    for (int64_t i = 0; i < batch; i++) {
        const real *ai = a + i * n;
        real *di = d + i * n;
        if (code == PK_TANH) {
            for (int64_t j = 0; j < n; j++)
                di[j] = (real)(di[j] * (1.0 - (real)(ai[j] * ai[j])));
        } else if (code == PK_RELU) {
            for (int64_t j = 0; j < n; j++)
                di[j] = ai[j] > 0 ? di[j] : 0;
        } else if (code == PK_SIGMOID) {
            for (int64_t j = 0; j < n; j++)
                di[j] = (real)(di[j] * (ai[j] * (1.0 - ai[j])));
        } else if (code == PK_SOFTMAX) {
            double dot = 0.0;
            for (int64_t j = 0; j < n; j++)
                dot += (real)(ai[j] * di[j]);
            for (int64_t j = 0; j < n; j++)
                di[j] = (real)(ai[j] * (di[j] - dot));
        } else if (code == PK_EXP) {
            for (int64_t j = 0; j < n; j++)
                di[j] = (real)(di[j] * ai[j]);
        }
    }
    return PK_OK;
}

#undef real

#endif
