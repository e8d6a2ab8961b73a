/* pykernels.h -- the C kernels of pykernels, the one public header.
 *
 * Each function mirrors the Numba kernel of the same name in kernels/: same
 * argument order, with the length of an array right after the first array that has
 * it; the caller allocates every buffer; outputs come last.  Every function returns
 * PK_OK or a negative PK_ERR_* code and writes nothing else on failure.  No global
 * state: the functions are reentrant and thread-safe on distinct outputs.
 *
 * Layout and conventions (row-major, theta, sizes, workspace) are those of
 * kernels/mlp.py; activation and loss codes those of kernels/activations.py and
 * kernels/losses.py.  _f64 works on double arrays, _f32 on float arrays (the
 * elementwise math of both runs in double, as in the Numba kernels); reported loss
 * values are always double.
 *
 * This file is also the cffi cdef (csrc/build_cffi.py strips the lines starting
 * with '#'), so it holds declarations only.
 */
#ifndef PYKERNELS_H
#define PYKERNELS_H

#include <stdint.h>

enum {
    PK_OK = 0,
    PK_ERR_CODE = -1,  /* unknown activation or loss code, or an invalid combination */
    PK_ERR_SIZE = -2   /* a size or batch is < 1, or too large for BLAS (> INT32_MAX) */
};

/* Activation codes (kernels/activations.py). */
enum { PK_IDENTITY = 0, PK_TANH = 1, PK_RELU = 2, PK_SIGMOID = 3, PK_SOFTMAX = 4 };

/* Loss codes (kernels/losses.py). */
enum { PK_MSE = 0, PK_L1 = 1, PK_HUBER = 2, PK_CROSS_ENTROPY = 3 };

/* ---- activations.c ---------------------------------------------------------- */

/* a (n) <- G(z) for one row; a must not overlap z. */
int pk_activation_row_f64(const double *z, int64_t n, double *a, int code);
int pk_activation_row_f32(const float *z, int64_t n, float *a, int code);

/* a (batch, n) <- G(z + b); z is overwritten with z + b. */
int pk_bias_activation_forward_f64(double *z, int64_t batch, int64_t n, const double *b,
                                   double *a, int code);
int pk_bias_activation_forward_f32(float *z, int64_t batch, int64_t n, const float *b,
                                   float *a, int code);

/* In place on d (batch, n): d <- d * G'(z), G' written through a = G(z). */
int pk_activation_backward_f64(const double *a, int64_t batch, int64_t n, double *d, int code);
int pk_activation_backward_f32(const float *a, int64_t batch, int64_t n, float *d, int code);

/* ---- losses.c --------------------------------------------------------------- */

/* Mean loss of a = G_out(z) against y, all (batch, n_out); fills a, delta = dL/dz
 * and *value. */
int pk_output_loss_f64(const double *z, int64_t batch, int64_t n_out, const double *y,
                       int out_code, int loss_code, double *a, double *delta, double *value);
int pk_output_loss_f32(const float *z, int64_t batch, int64_t n_out, const float *y,
                       int out_code, int loss_code, float *a, float *delta, double *value);

/* ---- mlp.c ------------------------------------------------------------------ */

/* Entries of theta for layer widths sizes[0..n_sizes-1]; a negative PK_ERR_* code
 * if the sizes are invalid. */
int64_t pk_mlp_theta_size(const int64_t *sizes, int64_t n_sizes);

/* Entries of the work buffer for sizes and batch rows; a negative PK_ERR_* code if
 * they are invalid. */
int64_t pk_mlp_workspace_size(const int64_t *sizes, int64_t n_sizes, int64_t batch);

/* out (batch, sizes[-1]) <- the network's output for the rows of X (batch, sizes[0]). */
int pk_mlp_predict_f64(const double *theta, const int64_t *sizes, int64_t n_sizes,
                       int hidden, int output, const double *X, int64_t batch,
                       double *work, double *out);
int pk_mlp_predict_f32(const float *theta, const int64_t *sizes, int64_t n_sizes,
                       int hidden, int output, const float *X, int64_t batch,
                       float *work, float *out);

/* *value <- the mean loss of the network on (X, Y). */
int pk_mlp_loss_f64(const double *theta, const int64_t *sizes, int64_t n_sizes,
                    int hidden, int output, int loss, const double *X, int64_t batch,
                    const double *Y, double *work, double *value);
int pk_mlp_loss_f32(const float *theta, const int64_t *sizes, int64_t n_sizes,
                    int hidden, int output, int loss, const float *X, int64_t batch,
                    const float *Y, float *work, double *value);

/* *value <- the mean loss on (X, Y); grad (theta size) <- its gradient by
 * backpropagation.  The fused training step. */
int pk_mlp_loss_and_grad_f64(const double *theta, const int64_t *sizes, int64_t n_sizes,
                             int hidden, int output, int loss, const double *X,
                             int64_t batch, const double *Y, double *work, double *grad,
                             double *value);
int pk_mlp_loss_and_grad_f32(const float *theta, const int64_t *sizes, int64_t n_sizes,
                             int hidden, int output, int loss, const float *X,
                             int64_t batch, const float *Y, float *work, float *grad,
                             double *value);

/* ---- optim.c ---------------------------------------------------------------- *
 * First-order optimizer updates, in place on theta (n) and the state arrays (n);
 * scalars in double.  Formulas in kernels/optim.py. */

int pk_sgd_update_f64(double *theta, int64_t n, const double *grad, double lr);
int pk_sgd_update_f32(float *theta, int64_t n, const float *grad, double lr);
int pk_momentum_update_f64(double *theta, int64_t n, const double *grad, double *velocity,
                           double lr, double beta);
int pk_momentum_update_f32(float *theta, int64_t n, const float *grad, float *velocity,
                           double lr, double beta);
int pk_nesterov_update_f64(double *theta, int64_t n, const double *grad, double *velocity,
                           double lr, double beta);
int pk_nesterov_update_f32(float *theta, int64_t n, const float *grad, float *velocity,
                           double lr, double beta);
int pk_adagrad_update_f64(double *theta, int64_t n, const double *grad, double *accum,
                          double lr, double eps);
int pk_adagrad_update_f32(float *theta, int64_t n, const float *grad, float *accum,
                          double lr, double eps);
int pk_rmsprop_update_f64(double *theta, int64_t n, const double *grad, double *accum,
                          double lr, double rho, double eps);
int pk_rmsprop_update_f32(float *theta, int64_t n, const float *grad, float *accum,
                          double lr, double rho, double eps);
int pk_adam_update_f64(double *theta, int64_t n, const double *grad, double *m, double *v,
                       double lr, double beta1, double beta2, double eps, int64_t step);
int pk_adam_update_f32(float *theta, int64_t n, const float *grad, float *m, float *v,
                       double lr, double beta1, double beta2, double eps, int64_t step);

#endif
