/* mlp.c -- twin of kernels/mlp.py: forward pass and backpropagation of a
 * multilayer perceptron on a flat theta, matrix products by gemm.c.
 *
 * Layer l maps n_l -> n_{l+1}: a_{l+1} = G(a_l W_l^T + b_l) for a batch of rows;
 * theta holds, layer after layer, W_l (n_{l+1}, n_l) row-major then b_l.  work
 * (pk_mlp_workspace_size entries, kept by the caller) is laid out as in
 * kernels/mlp.py: [a_1 | ... | a_{L-1} | z_L | a_L | scratch | scratch].  The loss
 * kernels weight, scale and penalise the loss as pykernels.h says.
 * Compiled for double and float like activations.c. */
#ifndef PK_REAL

#include "pk_internal.h"

#define PK_SIZE_MAX 2147483647 /* BLAS dimensions are 32-bit */

/* PK_OK when sizes/batch describe a network BLAS can run (batch 1 is checked
 * as a stand-in when only the sizes matter). */
int pk_mlp_check(const int64_t *sizes, int64_t n_sizes, int64_t batch)
{
    if (n_sizes < 2 || batch < 1 || batch > PK_SIZE_MAX)
        return PK_ERR_SIZE;
    for (int64_t l = 0; l < n_sizes; l++)
        if (sizes[l] < 1 || sizes[l] > PK_SIZE_MAX)
            return PK_ERR_SIZE;
    return PK_OK;
}

int64_t pk_mlp_theta_size(const int64_t *sizes, int64_t n_sizes)
{
    int status = pk_mlp_check(sizes, n_sizes, 1);
    if (status != PK_OK)
        return status;
    int64_t total = 0;
    for (int64_t l = 0; l + 1 < n_sizes; l++) {
        int64_t layer = sizes[l + 1] * (sizes[l] + 1); /* < 2**62 */
        if (layer > INT64_MAX - total)
            return PK_ERR_SIZE;
        total += layer;
    }
    return total;
}

int64_t pk_mlp_workspace_size(const int64_t *sizes, int64_t n_sizes, int64_t batch)
{
    int status = pk_mlp_check(sizes, n_sizes, batch);
    if (status != PK_OK)
        return status;
    int64_t widths = 0, widest = 0; /* batch * (sum(widths) + widths[-1] + 2 max(widths)) */
    for (int64_t l = 1; l < n_sizes; l++) {
        if (widths > INT64_MAX / 4)
            return PK_ERR_SIZE;
        widths += sizes[l];
        widest = sizes[l] > widest ? sizes[l] : widest;
    }
    widths += sizes[n_sizes - 1] + 2 * widest;
    if (widths > INT64_MAX / batch)
        return PK_ERR_SIZE;
    return batch * widths;
}

#define PK_REAL double
#define PK_NAME(op) pk_##op##_f64
#include "mlp.c"
#undef PK_REAL
#undef PK_NAME

#define PK_REAL float
#define PK_NAME(op) pk_##op##_f32
#include "mlp.c"
#undef PK_REAL
#undef PK_NAME

#else /* the template */

#define real PK_REAL

/* Offsets into work of the output activation a_L and of the two scratches. */
static void PK_NAME(mlp_buffers)(const int64_t *sizes, int64_t n_sizes, int64_t batch,
                                 int64_t *a, int64_t *scratch, int64_t *spare)
{
    int64_t w = 0, span = 0;
    for (int64_t l = 1; l < n_sizes; l++) {
        w += sizes[l];
        span = sizes[l] > span ? sizes[l] : span;
    }
    *a = batch * w;
    *scratch = *a + batch * sizes[n_sizes - 1];
    *spare = *scratch + batch * span;
}

/* Fill the activations in work; return the output pre-activation z (in work).
 * Shared with rop.c (declared in pk_internal.h). */
real *PK_NAME(mlp_forward)(const real *theta, const int64_t *sizes, int64_t n_sizes,
                                  int hidden, const real *X, int64_t batch, real *work)
{
    int64_t a_off, scratch_off, spare_off;
    PK_NAME(mlp_buffers)(sizes, n_sizes, batch, &a_off, &scratch_off, &spare_off);
    real *scratch = work + scratch_off;
    const real *prev = X;
    real *a = work;
    int64_t t = 0;
    for (int64_t layer = 0; layer + 1 < n_sizes; layer++) {
        int64_t n_in = sizes[layer], n_out = sizes[layer + 1];
        const real *W = theta + t;
        t += n_out * n_in;
        const real *b = theta + t;
        t += n_out;
        PK_NAME(gemm)(PK_NO_TRANS, PK_TRANS, batch, n_out, n_in, prev, n_in, W, n_in, 0, scratch,
                      n_out);
        PK_NAME(bias_activation_forward)(scratch, batch, n_out, b, a,
                                         layer + 2 < n_sizes ? hidden : PK_IDENTITY);
        prev = a;
        a += batch * n_out;
    }
    return (real *)prev;
}

double PK_NAME(weight_penalty)(const real *theta, const int64_t *sizes, int64_t n_sizes,
                              double l2, const real *v, real *out)
{
    double total = 0.0;
    int64_t t = 0;
    for (int64_t layer = 0; layer + 1 < n_sizes; layer++) {
        int64_t end = t + sizes[layer] * sizes[layer + 1];
        for (int64_t k = t; k < end; k++)
            total += (double)theta[k] * theta[k];
        if (out)
            for (int64_t k = t; k < end; k++)
                out[k] = (real)(out[k] + l2 * v[k]);
        t = end + sizes[layer + 1];
    }
    return 0.5 * l2 * total;
}

int PK_NAME(mlp_predict)(const real *theta, const int64_t *sizes, int64_t n_sizes,
                         int hidden, int output, const real *X, int64_t batch,
                         real *work, real *out)
{
    int status = pk_mlp_check(sizes, n_sizes, batch);
    if (status != PK_OK)
        return status;
    if (!pk_valid_activation(hidden) || !pk_valid_activation(output))
        return PK_ERR_CODE;
    const real *z = PK_NAME(mlp_forward)(theta, sizes, n_sizes, hidden, X, batch, work);
    int64_t n_out = sizes[n_sizes - 1];
    for (int64_t i = 0; i < batch; i++)
        PK_NAME(activation_row)(z + i * n_out, n_out, out + i * n_out, output);
    return PK_OK;
}

/* PK_OK when the arguments every loss kernel shares are valid. */
static int PK_NAME(loss_check)(const int64_t *sizes, int64_t n_sizes, int hidden,
                               int64_t batch, int64_t n_sw)
{
    int status = pk_mlp_check(sizes, n_sizes, batch);
    if (status != PK_OK)
        return status;
    if (!pk_valid_activation(hidden))
        return PK_ERR_CODE;
    return pk_valid_weights(n_sw, batch);
}

int PK_NAME(mlp_loss)(const real *theta, const int64_t *sizes, int64_t n_sizes,
                      int hidden, int output, int loss, const real *X, int64_t batch,
                      const real *Y, const real *sw, int64_t n_sw, double scale, double l2,
                      real *work, double *value)
{
    int status = PK_NAME(loss_check)(sizes, n_sizes, hidden, batch, n_sw);
    if (status != PK_OK)
        return status;
    real *z = PK_NAME(mlp_forward)(theta, sizes, n_sizes, hidden, X, batch, work);
    int64_t a, scratch, spare;
    PK_NAME(mlp_buffers)(sizes, n_sizes, batch, &a, &scratch, &spare);
    status = PK_NAME(output_loss)(z, batch, sizes[n_sizes - 1], Y, sw, n_sw, scale, output,
                                  loss, work + a, work + scratch, value);
    if (status == PK_OK && l2 != 0.0)
        *value += PK_NAME(weight_penalty)(theta, sizes, n_sizes, l2, theta, NULL);
    return status;
}

int PK_NAME(mlp_loss_and_grad)(const real *theta, const int64_t *sizes, int64_t n_sizes,
                               int hidden, int output, int loss, const real *X,
                               int64_t batch, const real *Y, const real *sw, int64_t n_sw,
                               double scale, double l2, real *work, real *grad,
                               double *value)
{
    int status = PK_NAME(loss_check)(sizes, n_sizes, hidden, batch, n_sw);
    if (status != PK_OK)
        return status;
    real *z = PK_NAME(mlp_forward)(theta, sizes, n_sizes, hidden, X, batch, work);
    int64_t a, buf, spare;
    PK_NAME(mlp_buffers)(sizes, n_sizes, batch, &a, &buf, &spare);
    real *delta = work + buf;
    status = PK_NAME(output_loss)(z, batch, sizes[n_sizes - 1], Y, sw, n_sw, scale, output,
                                  loss, work + a, delta, value);
    if (status != PK_OK)
        return status;
    int64_t t = pk_mlp_theta_size(sizes, n_sizes);
    int64_t w = z - work;
    for (int64_t layer = n_sizes - 2; layer >= 0; layer--) {
        int64_t n_in = sizes[layer], n_out = sizes[layer + 1];
        t -= n_out;
        real *db = grad + t;
        t -= n_out * n_in;
        real *dW = grad + t;
        const real *prev = X;
        if (layer > 0) {
            w -= batch * n_in;
            prev = work + w;
        }
        PK_NAME(gemm)(PK_TRANS, PK_NO_TRANS, n_out, n_in, batch, delta, n_out, prev, n_in, 0, dW,
                      n_in);
        for (int64_t j = 0; j < n_out; j++)
            db[j] = 0;
        for (int64_t i = 0; i < batch; i++)
            for (int64_t j = 0; j < n_out; j++)
                db[j] += delta[i * n_out + j];
        if (layer > 0) {
            real *d_prev = work + spare;
            PK_NAME(gemm)(PK_NO_TRANS, PK_NO_TRANS, batch, n_in, n_out, delta, n_out, theta + t,
                          n_in, 0, d_prev, n_in);
            PK_NAME(activation_backward)(prev, batch, n_in, d_prev, hidden);
            int64_t swap = buf;
            buf = spare;
            spare = swap;
            delta = d_prev;
        }
    }
    if (l2 != 0.0)
        *value += PK_NAME(weight_penalty)(theta, sizes, n_sizes, l2, theta, grad);
    return PK_OK;
}

#undef real

#endif
