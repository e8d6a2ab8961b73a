/* pk_internal.h -- private helpers of the C kernels: the BLAS prototypes, the
 * elementwise math of kernels/_math.py and the float/double template macros.
 * Not installed, not part of the API (pykernels.h is). */
#ifndef PK_INTERNAL_H
#define PK_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "pykernels.h"

/* ---- BLAS ------------------------------------------------------------------- *
 * Declared here rather than through <cblas.h> so that any CBLAS links: the
 * OpenBLAS of the scipy-openblas32 wheel prefixes its symbols (build with
 * -DPK_BLAS_PREFIX=scipy_), a system libopenblas/libcblas does not.  The enum
 * values are the CBLAS standard's; blasint is 32-bit (LP64 BLAS) unless
 * PK_BLAS_INT says otherwise. */
#ifndef PK_BLAS_INT
#define PK_BLAS_INT int
#endif
#ifndef PK_BLAS_PREFIX
#define PK_BLAS_PREFIX
#endif
#define PK_CAT_(a, b) a##b
#define PK_CAT(a, b) PK_CAT_(a, b)
#define PK_CBLAS(name) PK_CAT(PK_BLAS_PREFIX, PK_CAT(cblas_, name))

typedef PK_BLAS_INT pk_blasint;
enum { PK_ROW_MAJOR = 101, PK_NO_TRANS = 111, PK_TRANS = 112 };

void PK_CBLAS(dgemm)(int order, int trans_a, int trans_b, pk_blasint m, pk_blasint n,
                     pk_blasint k, double alpha, const double *A, pk_blasint lda,
                     const double *B, pk_blasint ldb, double beta, double *C, pk_blasint ldc);
void PK_CBLAS(sgemm)(int order, int trans_a, int trans_b, pk_blasint m, pk_blasint n,
                     pk_blasint k, float alpha, const float *A, pk_blasint lda,
                     const float *B, pk_blasint ldb, float beta, float *C, pk_blasint ldc);

/* ---- elementwise math (kernels/_math.py) ------------------------------------ *
 * The Cephes forms of kernels/_math.py, written branch-free so that gcc -O3
 * vectorises the loops calling them with plain SSE2 (libm's exp/tanh stay scalar
 * calls).  One change: n = round(x log2 e) is taken with the 1.5 * 2**52 shifter
 * (ties to even) instead of floor(. + 0.5); both leave |g| <= ln2 / 2, and the
 * bits of the shifted value give 2**n without a float-to-int conversion. */
#define PK_LOG2E 1.4426950408889634
#define PK_LN2_HI 6.93145751953125e-1
#define PK_LN2_LO 1.42860682030941723212e-6
#define PK_SHIFTER 6755399441055744.0 /* 1.5 * 2**52 */
#define PK_EXP_MAX 710.0
#define PK_EXP_MIN -745.2

static inline uint64_t pk_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double pk_from_bits(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
static inline double pk_min(double a, double b) { return b < a ? b : a; }
static inline double pk_max(double a, double b) { return b > a ? b : a; }
static inline double pk_abs(double x) { return x < 0.0 ? -x : x; }

static inline double pk_exp(double x)
{
    double xc = pk_min(pk_max(x, PK_EXP_MIN), PK_EXP_MAX);
    double t = PK_LOG2E * xc + PK_SHIFTER;
    double n = t - PK_SHIFTER;
    double g = xc - n * PK_LN2_HI;
    g = g - n * PK_LN2_LO;
    double gg = g * g;
    double p = g * ((1.26177193074810590878e-4 * gg + 3.02994407707441961300e-2) * gg
                    + 9.99999999999999999910e-1);
    double q = ((3.00198505138664455042e-6 * gg + 2.52448340349684104192e-3) * gg
                + 2.27265548208155028766e-1) * gg + 2.00000000000000000009e0;
    double e = 1.0 + 2.0 * (p / (q - p));
    /* 2**n in two factors 2**h * 2**(n-h), h = floor(n/2): n reaches -1075 and 1024.
     * u = n + 2046 >= 0, so the halving is a logical shift. */
    uint64_t u = pk_bits(t) - pk_bits(PK_SHIFTER) + 2046u;
    uint64_t e1 = u >> 1;
    double r = e * pk_from_bits(e1 << 52) * pk_from_bits((u - e1) << 52);
    return x == x ? r : x;
}

static inline double pk_tanh(double x)
{
    double ax = pk_abs(x);
    double z = x * x;
    double small = x + x * z * (((-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
                                 - 1.61468768441708447952e3)
                                / (((z + 1.12811678491632931402e2) * z
                                    + 2.23548839060100448583e3) * z
                                   + 4.84406305325125486048e3));
    double big = 1.0 - 2.0 / (pk_exp(pk_min(2.0 * ax, 40.0)) + 1.0);
    big = x >= 0.0 ? big : -big;
    return ax < 0.625 ? small : big;
}

static inline double pk_sigmoid(double x)
{
    double e = pk_exp(-pk_abs(x));
    double r = 1.0 / (1.0 + e);
    return x >= 0.0 ? r : e * r;
}

/* The elementwise loops are compiled for AVX-512, AVX2 and baseline x86-64, the
 * best picked at load time (gcc's ifunc dispatch): 2 doubles per instruction are
 * ~3x slower than Numba's host-tuned code on tanh/sigmoid layers. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define PK_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PK_SIMD_CLONES
#endif

/* ---- shared by mlp.c and rop.c ---------------------------------------------- */

/* C (m, n) <- op(A) op(B) + beta C, row-major, op = PK_NO_TRANS or PK_TRANS, beta 0 or 1:
 * a compiled AVX-512 loop for small products where the CPU has AVX-512, else CBLAS
 * (gemm.c).  C must not overlap A or B. */
void pk_gemm_f64(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const double *A,
                 int64_t lda, const double *B, int64_t ldb, int beta, double *C, int64_t ldc);
void pk_gemm_f32(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *A,
                 int64_t lda, const float *B, int64_t ldb, int beta, float *C, int64_t ldc);

/* PK_OK when sizes/batch describe a network BLAS can run, else PK_ERR_SIZE. */
int pk_mlp_check(const int64_t *sizes, int64_t n_sizes, int64_t batch);

/* PK_OK when n_sw (the number of sample weights) is 0 or batch, else PK_ERR_SIZE. */
static inline int pk_valid_weights(int64_t n_sw, int64_t batch)
{
    return n_sw == 0 || n_sw == batch ? PK_OK : PK_ERR_SIZE;
}

/* The forward pass of kernels/mlp.py: fills work's activations, returns z_L. */
double *pk_mlp_forward_f64(const double *theta, const int64_t *sizes, int64_t n_sizes,
                           int hidden, const double *X, int64_t batch, double *work);
float *pk_mlp_forward_f32(const float *theta, const int64_t *sizes, int64_t n_sizes,
                          int hidden, const float *X, int64_t batch, float *work);

static inline int pk_valid_activation(int code)
{
    return code >= PK_IDENTITY && code <= PK_EXP;
}

/* (l2 / 2) * the sum of theta's squared weight entries (biases excluded); when out is not
 * NULL, out <- out + l2 * v on the weight entries (kernels/mlp.py: weight_penalty). */
double pk_weight_penalty_f64(const double *theta, const int64_t *sizes, int64_t n_sizes,
                             double l2, const double *v, double *out);
double pk_weight_penalty_f32(const float *theta, const int64_t *sizes, int64_t n_sizes,
                             double l2, const float *v, float *out);

#endif
