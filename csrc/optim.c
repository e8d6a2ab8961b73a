/* optim.c -- twin of the update kernels of kernels/optim.py: one loop over the
 * entries of theta, updating the optimizer's state and theta in place.  Arithmetic
 * in double (the scalars are double), stored in the arrays' type, as in Numba.
 * Compiled for double and float like activations.c; the loops vectorise (sqrt too:
 * -fno-math-errno) in AVX-512/AVX2/baseline clones. */
#ifndef PK_REAL

#include <math.h>

#include "pk_internal.h"

#define PK_REAL double
#define PK_NAME(op) pk_##op##_f64
#include "optim.c"
#undef PK_REAL
#undef PK_NAME

#define PK_REAL float
#define PK_NAME(op) pk_##op##_f32
#include "optim.c"
#undef PK_REAL
#undef PK_NAME

#else /* the template */

#define real PK_REAL

PK_SIMD_CLONES
int PK_NAME(sgd_update)(real *restrict theta, int64_t n, const real *restrict grad, double lr)
{
    if (n < 0)
        return PK_ERR_SIZE;
    for (int64_t i = 0; i < n; i++)
        theta[i] = (real)(theta[i] - lr * grad[i]);
    return PK_OK;
}

PK_SIMD_CLONES
int PK_NAME(momentum_update)(real *restrict theta, int64_t n, const real *restrict grad,
                             real *restrict velocity, double lr, double beta)
{
    if (n < 0)
        return PK_ERR_SIZE;
    for (int64_t i = 0; i < n; i++) {
        velocity[i] = (real)(beta * velocity[i] + grad[i]);
        theta[i] = (real)(theta[i] - lr * velocity[i]);
    }
    return PK_OK;
}

PK_SIMD_CLONES
int PK_NAME(nesterov_update)(real *restrict theta, int64_t n, const real *restrict grad,
                             real *restrict velocity, double lr, double beta)
{
    if (n < 0)
        return PK_ERR_SIZE;
    for (int64_t i = 0; i < n; i++) {
        velocity[i] = (real)(beta * velocity[i] + grad[i]);
        theta[i] = (real)(theta[i] - lr * (grad[i] + beta * velocity[i]));
    }
    return PK_OK;
}

PK_SIMD_CLONES
int PK_NAME(adagrad_update)(real *restrict theta, int64_t n, const real *restrict grad,
                            real *restrict accum, double lr, double eps)
{
    if (n < 0)
        return PK_ERR_SIZE;
    for (int64_t i = 0; i < n; i++) {
        accum[i] += grad[i] * grad[i];
        theta[i] = (real)(theta[i] - lr * grad[i] / (sqrt(accum[i]) + eps));
    }
    return PK_OK;
}

PK_SIMD_CLONES
int PK_NAME(rmsprop_update)(real *restrict theta, int64_t n, const real *restrict grad,
                            real *restrict accum, double lr, double rho, double eps)
{
    if (n < 0)
        return PK_ERR_SIZE;
    for (int64_t i = 0; i < n; i++) {
        accum[i] = (real)(rho * accum[i] + (1.0 - rho) * grad[i] * grad[i]);
        theta[i] = (real)(theta[i] - lr * grad[i] / (sqrt(accum[i]) + eps));
    }
    return PK_OK;
}

/* Bias corrections folded into the step (Kingma & Ba, sec. 2), see kernels/optim.py. */
PK_SIMD_CLONES
int PK_NAME(adam_update)(real *restrict theta, int64_t n, const real *restrict grad,
                         real *restrict m, real *restrict v, double lr, double beta1,
                         double beta2, double eps, int64_t step)
{
    if (n < 0)
        return PK_ERR_SIZE;
    double c1 = 1.0 - pow(beta1, (double)step);
    double root_c2 = sqrt(1.0 - pow(beta2, (double)step));
    double rate = lr * root_c2 / c1;
    double eps_hat = eps * root_c2;
    for (int64_t i = 0; i < n; i++) {
        double gi = grad[i];
        double mi = beta1 * m[i] + (1.0 - beta1) * gi;
        double vi = beta2 * v[i] + (1.0 - beta2) * gi * gi;
        m[i] = (real)mi;
        v[i] = (real)vi;
        theta[i] = (real)(theta[i] - rate * mi / (sqrt(vi) + eps_hat));
    }
    return PK_OK;
}

#undef real

#endif
