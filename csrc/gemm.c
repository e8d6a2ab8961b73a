/* gemm.c -- the matrix products of the network kernels (mlp.c, rop.c):
 *
 *     C (m, n) <- op(A) op(B) + beta C,   row-major, beta 0 or 1,
 *
 * by a compiled AVX-512 loop where the CPU has AVX-512 and the product is small, else
 * by CBLAS.  A network's products are small and skinny (batch x 64 x 128, batch x 100
 * x 10, ...): there a register tile of C -- 12 rows x 2 vectors, 24 accumulators fed
 * by one broadcast of A and two loads of B per step of the inner dimension -- runs at
 * the machine's FMA rate without BLAS's packing and calls, about twice OpenBLAS with
 * its Haswell kernels (what OPENBLAS_CORETYPE=Haswell selects on AVX-512 machines).
 * op(B) = B^T is packed a column panel at a time (k x 2 vectors, on the stack) so
 * that the same tile reads contiguous rows.  Each entry of C is a sum in the order of
 * the inner index, one rounding per fused multiply-add: deterministic, and within
 * rounding of BLAS's.  Compiled for double and float like activations.c. */
#ifndef PK_REAL

#include "pk_internal.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define PK_HAVE_AVX512 1
#define PK_AVX512 __attribute__((target("avx512f")))
#define PK_TILE_ROWS 12
/* The compiled loop serves products whose B (or B^T panel) stays in cache: inner
 * dimension and width bounded; wider, deeper or one-column products go to BLAS. */
#define PK_SMALL_K 256
#define PK_SMALL_N 1024

/* 1 when this CPU runs AVX-512F code (a bit of libgcc's CPU model, set at load time). */
static int pk_avx512(void)
{
    return __builtin_cpu_supports("avx512f") != 0;
}
#else
#define PK_HAVE_AVX512 0
#endif

#define PK_REAL double
#define PK_NAME(op) pk_##op##_f64
#define PK_GEMM PK_CBLAS(dgemm)
#define PK_VEC __m512d
#define PK_MASK __mmask8
#define PK_LANES 8
#define PK_VZERO _mm512_setzero_pd
#define PK_VLOAD _mm512_maskz_loadu_pd
#define PK_VSET1 _mm512_set1_pd
#define PK_VFMA _mm512_fmadd_pd
#define PK_VADD _mm512_add_pd
#define PK_VSTORE _mm512_mask_storeu_pd
#include "gemm.c"
#undef PK_REAL
#undef PK_NAME
#undef PK_GEMM
#undef PK_VEC
#undef PK_MASK
#undef PK_LANES
#undef PK_VZERO
#undef PK_VLOAD
#undef PK_VSET1
#undef PK_VFMA
#undef PK_VADD
#undef PK_VSTORE

#define PK_REAL float
#define PK_NAME(op) pk_##op##_f32
#define PK_GEMM PK_CBLAS(sgemm)
#define PK_VEC __m512
#define PK_MASK __mmask16
#define PK_LANES 16
#define PK_VZERO _mm512_setzero_ps
#define PK_VLOAD _mm512_maskz_loadu_ps
#define PK_VSET1 _mm512_set1_ps
#define PK_VFMA _mm512_fmadd_ps
#define PK_VADD _mm512_add_ps
#define PK_VSTORE _mm512_mask_storeu_ps
#include "gemm.c"

#else /* the template */

#define real PK_REAL

#if PK_HAVE_AVX512

/* The tile C[0:rows, 0:2 PK_LANES] (columns past the masks left alone) <- the sum over
 * p < k of a(r, p) B[p, :] (+ C when beta), a(r, p) = A[r a_rs + p a_cs].  Inlined
 * with rows = PK_TILE_ROWS (the full tile: no test in the loop) and for the last rows. */
PK_AVX512 static inline __attribute__((always_inline)) void
PK_NAME(gemm_tile)(int64_t rows, int64_t k, const real *A, int64_t a_rs, int64_t a_cs,
                   const real *B, int64_t ldb, real *C, int64_t ldc, int beta, PK_MASK m0,
                   PK_MASK m1)
{
    PK_VEC c0[PK_TILE_ROWS], c1[PK_TILE_ROWS];
    for (int r = 0; r < PK_TILE_ROWS; r++) {
        c0[r] = PK_VZERO();
        c1[r] = PK_VZERO();
    }
    for (int64_t p = 0; p < k; p++) {
        PK_VEC b0 = PK_VLOAD(m0, B + p * ldb), b1 = PK_VLOAD(m1, B + p * ldb + PK_LANES);
        const real *a = A + p * a_cs;
#pragma GCC unroll 12
        for (int r = 0; r < PK_TILE_ROWS; r++) {
            if (r < rows) {
                PK_VEC ar = PK_VSET1(a[r * a_rs]);
                c0[r] = PK_VFMA(ar, b0, c0[r]);
                c1[r] = PK_VFMA(ar, b1, c1[r]);
            }
        }
    }
    for (int r = 0; r < rows; r++) {
        real *c = C + r * ldc;
        if (beta) {
            c0[r] = PK_VADD(c0[r], PK_VLOAD(m0, c));
            c1[r] = PK_VADD(c1[r], PK_VLOAD(m1, c + PK_LANES));
        }
        PK_VSTORE(c, m0, c0[r]);
        PK_VSTORE(c + PK_LANES, m1, c1[r]);
    }
}

/* C <- a(., .) B + beta C over all of C's rows, for the columns of one panel B (k rows
 * of 2 PK_LANES, ldb apart; the masks say which are there). */
PK_AVX512 static void PK_NAME(gemm_panel)(int64_t m, int64_t k, const real *A, int64_t a_rs,
                                          int64_t a_cs, const real *B, int64_t ldb, real *C,
                                          int64_t ldc, int beta, PK_MASK m0, PK_MASK m1)
{
    int64_t i = 0;
    for (; i + PK_TILE_ROWS <= m; i += PK_TILE_ROWS)
        PK_NAME(gemm_tile)(PK_TILE_ROWS, k, A + i * a_rs, a_rs, a_cs, B, ldb, C + i * ldc, ldc,
                           beta, m0, m1);
    if (i < m)
        PK_NAME(gemm_tile)(m - i, k, A + i * a_rs, a_rs, a_cs, B, ldb, C + i * ldc, ldc, beta,
                           m0, m1);
}

/* The product by tiles (see the file's comment); returns 0 when it is not small. */
PK_AVX512 static int PK_NAME(gemm_small)(int trans_a, int trans_b, int64_t m, int64_t n,
                                         int64_t k, const real *A, int64_t lda, const real *B,
                                         int64_t ldb, int beta, real *C, int64_t ldc)
{
    /* a column or two wastes most of each vector: a BLAS matrix-vector product is faster */
    if (k > PK_SMALL_K || n > PK_SMALL_N || k < 1 || 2 * n < PK_LANES)
        return 0;
    int64_t a_rs = trans_a == PK_TRANS ? 1 : lda, a_cs = trans_a == PK_TRANS ? lda : 1;
    real panel[PK_SMALL_K * 2 * PK_LANES]; /* B^T[:, j:j + 2 PK_LANES], k rows */
    for (int64_t j = 0; j < n; j += 2 * PK_LANES) {
        int64_t w = n - j < 2 * PK_LANES ? n - j : 2 * PK_LANES;
        PK_MASK m0 = (PK_MASK)(w >= PK_LANES ? ~0u : (1u << w) - 1u);
        PK_MASK m1 = (PK_MASK)(w >= 2 * PK_LANES ? ~0u : w > PK_LANES ? (1u << (w - PK_LANES)) - 1u
                                                                      : 0u);
        if (trans_b == PK_TRANS) { /* panel[p][jj] = B[j + jj, p]: rows of B read in turn */
            for (int64_t jj = 0; jj < w; jj++) {
                const real *row = B + (j + jj) * ldb;
                for (int64_t p = 0; p < k; p++)
                    panel[p * 2 * PK_LANES + jj] = row[p];
            }
            PK_NAME(gemm_panel)(m, k, A, a_rs, a_cs, panel, 2 * PK_LANES, C + j, ldc, beta, m0,
                                m1);
        } else {
            PK_NAME(gemm_panel)(m, k, A, a_rs, a_cs, B + j, ldb, C + j, ldc, beta, m0, m1);
        }
    }
    return 1;
}

#endif

void PK_NAME(gemm)(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const real *A,
                   int64_t lda, const real *B, int64_t ldb, int beta, real *C, int64_t ldc)
{
#if PK_HAVE_AVX512
    if (pk_avx512()
        && PK_NAME(gemm_small)(trans_a, trans_b, m, n, k, A, lda, B, ldb, beta, C, ldc))
        return;
#endif
    PK_GEMM(PK_ROW_MAJOR, trans_a, trans_b, (pk_blasint)m, (pk_blasint)n, (pk_blasint)k, 1, A,
            (pk_blasint)lda, B, (pk_blasint)ldb, beta ? 1 : 0, C, (pk_blasint)ldc);
}

#undef real

#endif
