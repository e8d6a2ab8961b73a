/* rop.c -- twin of kernels/rop.py: Hessian- and Gauss-Newton-vector products of the
 * (weighted, scaled, penalised) loss by the R-operator (Pearlmutter 1994), and
 * per-sample Jacobians of the outputs.  Formulas and the work layout are in
 * kernels/rop.py: each layer keeps a (2 batch, n_l) block [a_l; R a_l] ([z_L; R z_L] for
 * the last), so one GEMM gives the weights' product R delta^T a + delta^T R a; a kept
 * pass runs the GEMMs of a fresh one (same bits).  Differences from the Numba twin,
 * which takes its activation steps through activations.py's activation_backward (one
 * compiled copy of the activations, less compile time): here a slope multiplies, so a
 * dead relu unit turns an infinite R z or R delta into NaN where Numba passes 0, and in
 * float R delta G'(z) + g G''(z) R z is rounded once where Numba rounds twice; finite
 * double results are the same.  Compiled for double and float like activations.c. */
#ifndef PK_REAL

#include "pk_internal.h"

#define PK_HALF_SIZE_MAX 1073741823 /* 2 batch rows must fit a 32-bit BLAS dimension */

/* work's header: [state, hidden, output, loss, batch, n_sizes, n_sw, key, sizes...], the
 * key (8 entries from PK_KEY on) holding the bits of the double pair (scale, l2) 16 at a
 * time (integers, exact in float too); state says what the rest holds for the (theta, X,
 * Y, sw) copied after it (kernels/rop.py) */
#define PK_KEY 7
#define PK_HEAD 15
enum { PK_EMPTY = 0, PK_FORWARD = 1, PK_CURVATURE = 2 };

/* How the backward sweep finishes R delta_l and delta_l (kernels/rop.py). */
enum { PK_PLAIN = 0, PK_DELTA = 1, PK_KEEP_G = 2, PK_CACHED_G = 3 };

int64_t pk_mlp_rop_workspace_size(const int64_t *sizes, int64_t n_sizes, int64_t batch)
{
    int64_t base = pk_mlp_workspace_size(sizes, n_sizes, batch);
    if (base < 0)
        return base;
    if (batch > PK_HALF_SIZE_MAX)
        return PK_ERR_SIZE;
    int64_t n_theta = pk_mlp_theta_size(sizes, n_sizes);
    if (n_theta < 0)
        return n_theta;
    int64_t widths = 0, widest = 0;
    for (int64_t l = 1; l < n_sizes; l++) {
        widths += sizes[l]; /* bounded: pk_mlp_workspace_size checked the sum */
        widest = sizes[l] > widest ? sizes[l] : widest;
    }
    int64_t widest_all = sizes[0] > widest ? sizes[0] : widest;
    int64_t head = PK_HEAD + n_sizes;
    if (widths > INT64_MAX / 8 || n_theta > INT64_MAX - 2 * head)
        return PK_ERR_SIZE;
    int64_t rop_rows = sizes[0] + 1 + 5 * widths + 2 * sizes[n_sizes - 1];
    if (rop_rows > (INT64_MAX - 2 * head - n_theta) / batch
        || 2 * widest_all > (INT64_MAX - head - base) / batch)
        return PK_ERR_SIZE;
    /* the size of the Numba twin's buffer, which ends with room for a header it
       compares with the kept one (unused here) */
    int64_t rop = 2 * head + n_theta + batch * rop_rows;
    int64_t jacobian = head + base + 2 * batch * widest_all;
    return rop > jacobian ? rop : jacobian;
}

/* Bits 16 (k % 4) to 16 (k % 4) + 15 of key[0] = scale (k < 4) or key[1] = l2. */
static double pk_key_word(const double *key, int k)
{
    uint64_t bits;
    memcpy(&bits, key + k / 4, sizeof bits);
    return (double)((bits >> (16 * (k % 4))) & 0xFFFF);
}

/* G(z) of an elementwise hidden activation. */
static double pk_activate(double z, int code)
{
    if (code == PK_TANH)
        return pk_tanh(z);
    if (code == PK_RELU)
        return pk_max(z, 0.0);
    if (code == PK_SIGMOID)
        return pk_sigmoid(z);
    return z;
}

/* G'(z) written through a = G(z) (elementwise activations). */
static double pk_slope(double a, int code)
{
    if (code == PK_TANH)
        return 1.0 - a * a;
    if (code == PK_RELU)
        return a > 0.0 ? 1.0 : 0.0;
    if (code == PK_SIGMOID)
        return a * (1.0 - a);
    return 1.0;
}

/* G''(z) R{z} written through a = G(z) and R{a} = G'(z) R{z}. */
static double pk_bend(double a, double ra, int code)
{
    if (code == PK_TANH)
        return -2.0 * a * ra;
    if (code == PK_SIGMOID)
        return (1.0 - 2.0 * a) * ra;
    return 0.0;
}

/* d loss / d a of an elementwise loss at the residual r = a - y. */
static double pk_loss_slope(double r, int code)
{
    if (code == PK_MSE)
        return 2.0 * r;
    if (code == PK_L1)
        return r > 0.0 ? 1.0 : (r < 0.0 ? -1.0 : 0.0);
    return pk_min(pk_max(r, -1.0), 1.0);
}

/* d^2 loss / d a^2 of an elementwise loss at the residual r = a - y. */
static double pk_loss_curvature(double r, int code)
{
    if (code == PK_MSE)
        return 2.0;
    if (code == PK_HUBER)
        return pk_abs(r) <= 1.0 ? 1.0 : 0.0;
    return 0.0;
}

#define PK_REAL double
#define PK_NAME(op) pk_##op##_f64
#include "rop.c"
#undef PK_REAL
#undef PK_NAME

#define PK_REAL float
#define PK_NAME(op) pk_##op##_f32
#include "rop.c"
#undef PK_REAL
#undef PK_NAME

#else /* the template */

#define real PK_REAL

/* One row of tangent_activation; inlined with a constant code, so that its loops carry
 * no branch on it (and vectorise). */
static inline __attribute__((always_inline)) void
PK_NAME(tangent_row)(real *restrict z, real *restrict rz, const real *restrict b,
                     const real *restrict c, int64_t n, int activate, int code)
{
    if (activate)
        for (int64_t j = 0; j < n; j++)
            z[j] = (real)pk_activate((real)(z[j] + b[j]), code);
    for (int64_t j = 0; j < n; j++)
        rz[j] = (real)((real)(rz[j] + c[j]) * pk_slope(z[j], code));
}

/* In place on block = [z; R z] (2 batch, n): [G(z + b); G'(z + b) (R z + c)]; with
 * activate 0 the upper half already holds a = G(z + b) and is kept. */
PK_SIMD_CLONES
static void PK_NAME(tangent_activation)(real *block, int64_t batch, int64_t n, const real *b,
                                        const real *c, int activate, int code)
{
    for (int64_t i = 0; i < batch; i++) {
        real *z = block + i * n, *rz = block + (batch + i) * n;
        if (code == PK_TANH)
            PK_NAME(tangent_row)(z, rz, b, c, n, activate, PK_TANH);
        else if (code == PK_RELU)
            PK_NAME(tangent_row)(z, rz, b, c, n, activate, PK_RELU);
        else if (code == PK_SIGMOID)
            PK_NAME(tangent_row)(z, rz, b, c, n, activate, PK_SIGMOID);
        else
            PK_NAME(tangent_row)(z, rz, b, c, n, activate, PK_IDENTITY);
    }
}

/* 1 when the header's codes, batch, sizes, number of weights and the bits of key (scale,
 * l2) are these, compared exactly (a float header holding a rounded integer never
 * matches). */
static int PK_NAME(header_matches)(const real *head, const int64_t *sizes, int64_t n_sizes,
                                   const int *codes, int64_t batch, int64_t n_sw,
                                   const double *key)
{
    for (int k = 0; k < 3; k++)
        if (head[1 + k] != codes[k])
            return 0;
    if ((double)head[4] != (double)batch || (double)head[5] != (double)n_sizes
        || (double)head[6] != (double)n_sw)
        return 0;
    for (int k = 0; k < 8; k++)
        if ((double)head[PK_KEY + k] != pk_key_word(key, k))
            return 0;
    for (int64_t k = 0; k < n_sizes; k++)
        if ((double)head[PK_HEAD + k] != (double)sizes[k])
            return 0;
    return 1;
}

/* 1 when work holds a pass of this network at (theta, X, Y, sw, key) (head[0] says
 * which).  On a miss the copy is written first and the state cleared: the pass about to
 * be computed -- from the copy, not from the caller's arrays, which another thread may
 * change meanwhile -- then always matches the copy it is kept with. */
static int PK_NAME(rop_keep)(real *head, real *copy, const int64_t *sizes, int64_t n_sizes,
                             const int *codes, const real *theta, int64_t n_theta,
                             const real *X, int64_t batch, const real *Y, const real *sw,
                             int64_t n_sw, const double *key)
{
    size_t m = (size_t)(batch * sizes[0]), n_y = (size_t)(batch * sizes[n_sizes - 1]);
    size_t n = (size_t)n_theta, bytes = sizeof *copy, y = n + m + n_y;
    if (head[0] != PK_EMPTY
        && PK_NAME(header_matches)(head, sizes, n_sizes, codes, batch, n_sw, key)
        && memcmp(copy, theta, n * bytes) == 0 && memcmp(copy + n, X, m * bytes) == 0
        && memcmp(copy + n + m, Y, n_y * bytes) == 0
        && (n_sw == 0 || memcmp(copy + y, sw, (size_t)n_sw * bytes) == 0))
        return 1;
    head[0] = PK_EMPTY;
    memcpy(copy, theta, n * bytes);
    memcpy(copy + n, X, m * bytes);
    memcpy(copy + n + m, Y, n_y * bytes);
    if (n_sw)
        memcpy(copy + y, sw, (size_t)n_sw * bytes);
    for (int k = 0; k < 3; k++)
        head[1 + k] = (real)codes[k];
    head[4] = (real)batch;
    head[5] = (real)n_sizes;
    head[6] = (real)n_sw;
    for (int k = 0; k < 8; k++)
        head[PK_KEY + k] = (real)pk_key_word(key, k);
    for (int64_t k = 0; k < n_sizes; k++)
        head[PK_HEAD + k] = (real)sizes[k];
    return 0;
}

/* Forward sweep and its R-operator; returns the last block [z_L; R z_L].  With cached,
 * the a_l (z_L) are in the blocks already and only the R-derivatives are computed, by the
 * GEMMs of a fresh pass (same operands, same shapes: both round alike). */
static real *PK_NAME(rop_forward)(const real *theta, const int64_t *sizes, int64_t n_sizes,
                                  int hidden, const real *X, int64_t batch, const real *v,
                                  real *stack, int cached)
{
    int64_t t = 0, w = 0;
    real *prev = stack;
    for (int64_t layer = 0; layer + 1 < n_sizes; layer++) {
        int64_t n_in = sizes[layer], n_out = sizes[layer + 1];
        const real *W = theta + t, *V = v + t;
        t += n_out * n_in;
        const real *b = theta + t, *c = v + t;
        t += n_out;
        real *block = stack + w, *rblock = block + batch * n_out;
        w += 2 * batch * n_out;
        const real *a = layer == 0 ? X : prev;
        if (!cached) /* z = a W^T */
            PK_NAME(gemm)(PK_NO_TRANS, PK_TRANS, batch, n_out, n_in, a, n_in, W, n_in, 0, block,
                          n_out);
        if (layer > 0) /* R z = R a W^T + a V^T (R{a_0} = 0) */
            PK_NAME(gemm)(PK_NO_TRANS, PK_TRANS, batch, n_out, n_in, prev + batch * n_in, n_in, W,
                          n_in, 0, rblock, n_out);
        PK_NAME(gemm)(PK_NO_TRANS, PK_TRANS, batch, n_out, n_in, a, n_in, V, n_in,
                      layer > 0 ? 1 : 0, rblock, n_out);
        PK_NAME(tangent_activation)(block, batch, n_out, b, c, !cached,
                                    layer + 2 == n_sizes ? PK_IDENTITY : hidden);
        prev = block;
    }
    return prev;
}

/* One row of tangent_backward, inlined with a constant code like tangent_row. */
static inline __attribute__((always_inline)) void
PK_NAME(tangent_backward_row)(const real *restrict a, const real *restrict ra,
                              real *restrict r, real *restrict g, real *restrict kept,
                              int64_t n, int mode, int code)
{
    if (mode == PK_DELTA) {
        for (int64_t j = 0; j < n; j++) {
            double s = pk_slope(a[j], code);
            r[j] = (real)(r[j] * s);
            g[j] = (real)(g[j] * s);
        }
    } else if (mode == PK_KEEP_G) {
        memcpy(kept, g, (size_t)n * sizeof *g);
        for (int64_t j = 0; j < n; j++) {
            double s = pk_slope(a[j], code);
            r[j] = (real)(r[j] * s + g[j] * pk_bend(a[j], ra[j], code));
            g[j] = (real)(g[j] * s);
        }
    } else if (mode == PK_CACHED_G) {
        for (int64_t j = 0; j < n; j++)
            r[j] = (real)(r[j] * pk_slope(a[j], code) + kept[j] * pk_bend(a[j], ra[j], code));
    } else {
        for (int64_t j = 0; j < n; j++)
            r[j] = (real)(r[j] * pk_slope(a[j], code));
    }
}

/* D = [R delta W + delta V; g] -> [R delta_l; delta_l] through the layer's activation,
 * S = [a; R a], G (batch, n) the kept g_l; mode as in kernels/rop.py. */
PK_SIMD_CLONES
static void PK_NAME(tangent_backward)(const real *S, real *D, real *G, int64_t batch,
                                      int64_t n, int mode, int code)
{
    for (int64_t i = 0; i < batch; i++) {
        const real *a = S + i * n, *ra = S + (batch + i) * n;
        real *r = D + i * n, *g = D + (batch + i) * n, *kept = G + i * n;
        if (code == PK_TANH)
            PK_NAME(tangent_backward_row)(a, ra, r, g, kept, n, mode, PK_TANH);
        else if (code == PK_RELU)
            PK_NAME(tangent_backward_row)(a, ra, r, g, kept, n, mode, PK_RELU);
        else if (code == PK_SIGMOID)
            PK_NAME(tangent_backward_row)(a, ra, r, g, kept, n, mode, PK_SIGMOID);
        else
            PK_NAME(tangent_backward_row)(a, ra, r, g, kept, n, mode, PK_IDENTITY);
    }
}

/* rdelta <- H_z rz, H_z the loss's Hessian w.r.t. the logits (its Gauss-Newton part), row
 * i's part times sw_i scale; rz is overwritten with R{a} = J rz. */
static void PK_NAME(output_rop)(int64_t batch, int64_t n_out, const real *y, const real *sw,
                                int64_t n_sw, double scale, int out_code, int loss_code,
                                const real *a, real *rz, real *rdelta, int gauss_newton)
{
    /* fused: H_z is the output activation's Jacobian (times ysum for softmax) */
    if (loss_code == PK_CROSS_ENTROPY || loss_code == PK_POISSON) {
        for (int64_t i = 0; i < batch; i++) {
            double s = (n_sw ? sw[i] : 1.0) * scale;
            if (out_code == PK_SOFTMAX) {
                double ysum = 0.0;
                for (int64_t j = 0; j < n_out; j++)
                    ysum += y[i * n_out + j];
                s *= ysum;
            }
            for (int64_t j = 0; j < n_out; j++)
                rdelta[i * n_out + j] = (real)(rz[i * n_out + j] * s);
        }
        PK_NAME(activation_backward)(a, batch, n_out, rdelta, out_code);
        return;
    }
    PK_NAME(activation_backward)(a, batch, n_out, rz, out_code); /* J symmetric for softmax */
    for (int64_t i = 0; i < batch; i++) {
        double s = (n_sw ? sw[i] : 1.0) * scale;
        for (int64_t k = i * n_out; k < (i + 1) * n_out; k++)
            rdelta[k] = (real)(pk_loss_curvature((real)(a[k] - y[k]), loss_code) * rz[k] * s);
    }
    PK_NAME(activation_backward)(a, batch, n_out, rdelta, out_code); /* J^T R{dL/da} */
    if (gauss_newton || out_code == PK_IDENTITY)
        return;
    for (int64_t i = 0; i < batch; i++) { /* + R{J}^T dL/da */
        const real *ai = a + i * n_out, *rai = rz + i * n_out, *yi = y + i * n_out;
        real *di = rdelta + i * n_out;
        double s = (n_sw ? sw[i] : 1.0) * scale;
        if (out_code == PK_SOFTMAX) { /* R{a (g - a.g)} at fixed g = Ra (g - a.g) - a (Ra.g) */
            double dot_ag = 0.0, dot_rg = 0.0;
            for (int64_t j = 0; j < n_out; j++) {
                double g = pk_loss_slope((real)(ai[j] - yi[j]), loss_code) * s;
                dot_ag += ai[j] * g;
                dot_rg += rai[j] * g;
            }
            for (int64_t j = 0; j < n_out; j++) {
                double g = pk_loss_slope((real)(ai[j] - yi[j]), loss_code) * s;
                di[j] = (real)(di[j] + (rai[j] * (g - dot_ag) - ai[j] * dot_rg));
            }
        } else if (out_code == PK_EXP) { /* G''(z) R{z} = exp(z) R{z} = R{a} */
            for (int64_t j = 0; j < n_out; j++)
                di[j] = (real)(di[j] + pk_loss_slope((real)(ai[j] - yi[j]), loss_code) * s
                                           * rai[j]);
        } else {
            for (int64_t j = 0; j < n_out; j++)
                di[j] = (real)(di[j] + pk_loss_slope((real)(ai[j] - yi[j]), loss_code) * s
                                           * pk_bend(ai[j], rai[j], out_code));
        }
    }
}

/* out <- H v (or G v when gauss_newton); *value <- the loss. */
static int PK_NAME(rop)(const real *theta, const int64_t *sizes, int64_t n_sizes, int hidden,
                        int output, int loss, const real *X, int64_t batch, const real *Y,
                        const real *sw, int64_t n_sw, double scale, double l2, const real *v,
                        real *work, real *out, double *value, int gauss_newton)
{
    int status = pk_mlp_check(sizes, n_sizes, batch);
    if (status != PK_OK)
        return status;
    if (batch > PK_HALF_SIZE_MAX || pk_valid_weights(n_sw, batch) != PK_OK)
        return PK_ERR_SIZE;
    if (!pk_valid_activation(hidden))
        return PK_ERR_CODE;
    int64_t widths = 0, n_out = sizes[n_sizes - 1], n_theta = pk_mlp_theta_size(sizes, n_sizes);
    for (int64_t l = 1; l < n_sizes; l++)
        widths += sizes[l];
    int64_t total = batch * widths;
    real *head = work, *copy = head + PK_HEAD + n_sizes;
    real *stack = copy + n_theta + batch * (sizes[0] + n_out + 1), *a = stack + 2 * total;
    real *deltas = a + batch * n_out, *gs = deltas + 2 * total;
    const int codes[3] = {hidden, output, loss};
    const double key[2] = {scale, l2};
    int state = gauss_newton ? PK_FORWARD : PK_CURVATURE;
    int hit = PK_NAME(rop_keep)(head, copy, sizes, n_sizes, codes, theta, n_theta, X, batch, Y,
                                sw, n_sw, key);
    int cached = hit && head[0] >= state;
    theta = copy; /* computed from the copy, see rop_keep */
    X = copy + n_theta;
    Y = X + batch * sizes[0];
    sw = Y + batch * n_out;
    real *last = PK_NAME(rop_forward)(theta, sizes, n_sizes, hidden, X, batch, v, stack, cached);
    int64_t w = 2 * (total - batch * n_out);
    real *D = deltas + w; /* (2 batch, n): [R delta; delta] */
    status = PK_NAME(output_loss)(last, batch, n_out, Y, sw, n_sw, scale, output, loss, a,
                                  D + batch * n_out, value);
    if (status != PK_OK)
        return status;
    PK_NAME(output_rop)(batch, n_out, Y, sw, n_sw, scale, output, loss, a, last + batch * n_out,
                        D, gauss_newton);
    int curved = hidden == PK_TANH || hidden == PK_SIGMOID;
    int64_t t = n_theta;
    for (int64_t layer = n_sizes - 2; layer >= 0; layer--) {
        int64_t n_in = sizes[layer], n_o = sizes[layer + 1];
        t -= n_o;
        real *rdb = out + t;
        t -= n_o * n_in;
        real *rdW = out + t, *rdelta = D, *delta = D + batch * n_o;
        const real *S = X;
        if (layer > 0) {
            w -= 2 * batch * n_in;
            S = stack + w; /* [a; R a] */
        }
        if (layer == 0 || gauss_newton)
            PK_NAME(gemm)(PK_TRANS, PK_NO_TRANS, n_o, n_in, batch, rdelta, n_o, S, n_in, 0, rdW,
                          n_in);
        else /* R delta^T a + delta^T R a in one GEMM */
            PK_NAME(gemm)(PK_TRANS, PK_NO_TRANS, n_o, n_in, 2 * batch, D, n_o, S, n_in, 0, rdW,
                          n_in);
        for (int64_t j = 0; j < n_o; j++)
            rdb[j] = 0;
        for (int64_t i = 0; i < batch; i++)
            for (int64_t j = 0; j < n_o; j++)
                rdb[j] += rdelta[i * n_o + j];
        if (layer == 0)
            break;
        const real *W = theta + t;
        real *D_prev = deltas + w, *G = gs + w / 2;
        /* g = delta W feeds the G'' term and the delta of the layer below, which the
         * first hidden layer's R{dW} does not need: skipped there when G'' = 0; cached,
         * the deltas (and the g of curved activations) are in work already */
        int need_g = !gauss_newton && !cached && (layer > 1 || curved);
        PK_NAME(gemm)(PK_NO_TRANS, PK_NO_TRANS, batch, n_in, n_o, rdelta, n_o, W, n_in, 0, D_prev,
                      n_in); /* R delta W */
        if (need_g) /* g = delta W */
            PK_NAME(gemm)(PK_NO_TRANS, PK_NO_TRANS, batch, n_in, n_o, delta, n_o, W, n_in, 0,
                          D_prev + batch * n_in, n_in);
        if (!gauss_newton) /* + delta V */
            PK_NAME(gemm)(PK_NO_TRANS, PK_NO_TRANS, batch, n_in, n_o, delta, n_o, v + t, n_in, 1,
                          D_prev, n_in);
        int mode = need_g ? (curved ? PK_KEEP_G : PK_DELTA)
                          : (cached && curved && !gauss_newton ? PK_CACHED_G : PK_PLAIN);
        PK_NAME(tangent_backward)(S, D_prev, G, batch, n_in, mode, hidden);
        D = D_prev;
    }
    if (l2 != 0.0)
        *value += PK_NAME(weight_penalty)(theta, sizes, n_sizes, l2, v, out);
    if (!cached && PK_NAME(header_matches)(head, sizes, n_sizes, codes, batch, n_sw, key))
        head[0] = (real)state;
    return PK_OK;
}

int PK_NAME(mlp_hvp)(const real *theta, const int64_t *sizes, int64_t n_sizes, int hidden,
                     int output, int loss, const real *X, int64_t batch, const real *Y,
                     const real *sw, int64_t n_sw, double scale, double l2, const real *v,
                     real *work, real *out, double *value)
{
    return PK_NAME(rop)(theta, sizes, n_sizes, hidden, output, loss, X, batch, Y, sw, n_sw,
                        scale, l2, v, work, out, value, 0);
}

int PK_NAME(mlp_gnvp)(const real *theta, const int64_t *sizes, int64_t n_sizes, int hidden,
                      int output, int loss, const real *X, int64_t batch, const real *Y,
                      const real *sw, int64_t n_sw, double scale, double l2, const real *v,
                      real *work, real *out, double *value)
{
    return PK_NAME(rop)(theta, sizes, n_sizes, hidden, output, loss, X, batch, Y, sw, n_sw,
                        scale, l2, v, work, out, value, 1);
}

int PK_NAME(mlp_jacobian)(const real *theta, const int64_t *sizes, int64_t n_sizes,
                          int hidden, int output, const real *X, int64_t batch, real *work,
                          real *out, int wrt_params)
{
    int status = pk_mlp_check(sizes, n_sizes, batch);
    if (status != PK_OK)
        return status;
    if (!pk_valid_activation(hidden) || !pk_valid_activation(output))
        return PK_ERR_CODE;
    int64_t widths = 0, widest_all = sizes[0], n_out = sizes[n_sizes - 1];
    for (int64_t l = 1; l < n_sizes; l++) {
        widths += sizes[l];
        widest_all = sizes[l] > widest_all ? sizes[l] : widest_all;
    }
    int64_t base = pk_mlp_workspace_size(sizes, n_sizes, batch), span = batch * widest_all;
    int64_t n_theta = pk_mlp_theta_size(sizes, n_sizes);
    work[0] = PK_EMPTY; /* overwrites what the R-operator kept in work */
    work += PK_HEAD + n_sizes;
    real *fwork = work, *buf = work + base, *spare = buf + span;
    const real *z = PK_NAME(mlp_forward)(theta, sizes, n_sizes, hidden, X, batch, fwork);
    real *a = fwork + batch * widths;
    for (int64_t i = 0; i < batch; i++)
        PK_NAME(activation_row)(z + i * n_out, n_out, a + i * n_out, output);
    for (int64_t k = 0; k < n_out; k++) {
        real *delta = buf, *cur = buf, *other = spare;
        for (int64_t q = 0; q < batch * n_out; q++)
            delta[q] = 0;
        for (int64_t i = 0; i < batch; i++)
            delta[i * n_out + k] = 1;
        PK_NAME(activation_backward)(a, batch, n_out, delta, output);
        int64_t t = n_theta, w = batch * (widths - n_out);
        for (int64_t layer = n_sizes - 2; layer >= 0; layer--) {
            int64_t n_in = sizes[layer], n_o = sizes[layer + 1];
            t -= n_o * (n_in + 1);
            const real *prev = X;
            if (layer > 0) {
                w -= batch * n_in;
                prev = fwork + w;
            }
            if (wrt_params) {
                for (int64_t i = 0; i < batch; i++) {
                    real *row = out + (i * n_out + k) * n_theta;
                    for (int64_t j = 0; j < n_o; j++) {
                        real dij = delta[i * n_o + j];
                        row[t + n_o * n_in + j] = dij;
                        for (int64_t m = 0; m < n_in; m++)
                            row[t + j * n_in + m] = dij * prev[i * n_in + m];
                    }
                }
                if (layer == 0)
                    break;
            }
            real *swap = cur;
            cur = other;
            other = swap;
            real *d_prev = cur;
            PK_NAME(gemm)(PK_NO_TRANS, PK_NO_TRANS, batch, n_in, n_o, delta, n_o, theta + t, n_in,
                          0, d_prev, n_in);
            if (layer == 0) {
                for (int64_t i = 0; i < batch; i++)
                    memcpy(out + (i * n_out + k) * n_in, d_prev + i * n_in,
                           n_in * sizeof *d_prev);
                break;
            }
            PK_NAME(activation_backward)(prev, batch, n_in, d_prev, hidden);
            delta = d_prev;
        }
    }
    return PK_OK;
}

#undef real

#endif
