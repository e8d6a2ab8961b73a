/* checks.c -- twin of kernels/checks.py: the input checks that run on every call.
 *
 * A double or float is NaN or +-Inf exactly when all of its exponent bits are set;
 * testing the bits (integer operations, OR-reduced) lets gcc vectorise the loop
 * without reassociating floating-point sums. */
#include <stdint.h>
#include <string.h>

#include "pykernels.h"

int pk_all_finite_f64(const double *x, int64_t n)
{
    const uint64_t exponent = 0x7ff0000000000000u;
    uint64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        bad |= (uint64_t)((bits & exponent) == exponent);
    }
    return bad == 0;
}

int pk_all_finite_f32(const float *x, int64_t n)
{
    const uint32_t exponent = 0x7f800000u;
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        bad |= (uint32_t)((bits & exponent) == exponent);
    }
    return bad == 0;
}
