/* checks.c -- twin of kernels/checks.py: the input checks that run on every call.
 *
 * A double or float is NaN or +-Inf exactly when all of its exponent bits are set, that
 * is when m = ~bits & exponent is 0; m - 1 then wraps around to all ones, while for
 * every finite value m - 1 < the sign bit.  OR-reducing m - 1 and testing the sign bit
 * takes only and-not, subtract and or: integer operations that vectorise with plain
 * SSE2 (a 64-bit compare would need SSE4.1) and, with the target clones, AVX2/AVX-512. */
#include <stdint.h>
#include <string.h>

#include "pk_internal.h"

PK_SIMD_CLONES
int pk_all_finite_f64(const double *x, int64_t n)
{
    const uint64_t exponent = 0x7ff0000000000000u;
    uint64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        bad |= (~bits & exponent) - 1u;
    }
    return (bad >> 63) == 0;
}

PK_SIMD_CLONES
int pk_all_finite_f32(const float *x, int64_t n)
{
    const uint32_t exponent = 0x7f800000u;
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        bad |= (~bits & exponent) - 1u;
    }
    return (bad >> 31) == 0;
}
