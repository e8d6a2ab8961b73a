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
 * The loss kernels take per-sample weights sw (n_sw = batch entries, or n_sw = 0:
 * every weight is 1), a double scale and an L2 coefficient l2 >= 0, and compute
 *     scale * sum_i sw_i l_i  +  (l2 / 2) * (sum of the squared weight entries)
 * with l_i row i's loss (kernels/losses.py: the sum over its outputs for the
 * elementwise losses) and the biases not penalised; gradients and curvature products
 * are those of this value.
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
enum { PK_IDENTITY = 0, PK_TANH = 1, PK_RELU = 2, PK_SIGMOID = 3, PK_SOFTMAX = 4, PK_EXP = 5 };

/* Loss codes (kernels/losses.py); cross-entropy needs a softmax or sigmoid output,
 * Poisson an exp output. */
enum { PK_MSE = 0, PK_L1 = 1, PK_HUBER = 2, PK_CROSS_ENTROPY = 3, PK_POISSON = 4 };

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

/* *value <- scale * sum_i sw_i l_i for a = G_out(z) against y, all (batch, n_out);
 * fills a and delta = d value / dz. */
int pk_output_loss_f64(const double *z, int64_t batch, int64_t n_out, const double *y,
                       const double *sw, int64_t n_sw, double scale, int out_code,
                       int loss_code, double *a, double *delta, double *value);
int pk_output_loss_f32(const float *z, int64_t batch, int64_t n_out, const float *y,
                       const float *sw, int64_t n_sw, double scale, int out_code,
                       int loss_code, float *a, float *delta, double *value);

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

/* *value <- the loss of the network on (X, Y) (weighted, scaled, penalised). */
int pk_mlp_loss_f64(const double *theta, const int64_t *sizes, int64_t n_sizes,
                    int hidden, int output, int loss, const double *X, int64_t batch,
                    const double *Y, const double *sw, int64_t n_sw, double scale,
                    double l2, double *work, double *value);
int pk_mlp_loss_f32(const float *theta, const int64_t *sizes, int64_t n_sizes,
                    int hidden, int output, int loss, const float *X, int64_t batch,
                    const float *Y, const float *sw, int64_t n_sw, double scale,
                    double l2, float *work, double *value);

/* *value <- the loss on (X, Y) as pk_mlp_loss; grad (theta size) <- its gradient by
 * backpropagation.  The fused training step. */
int pk_mlp_loss_and_grad_f64(const double *theta, const int64_t *sizes, int64_t n_sizes,
                             int hidden, int output, int loss, const double *X,
                             int64_t batch, const double *Y, const double *sw,
                             int64_t n_sw, double scale, double l2, double *work,
                             double *grad, double *value);
int pk_mlp_loss_and_grad_f32(const float *theta, const int64_t *sizes, int64_t n_sizes,
                             int hidden, int output, int loss, const float *X,
                             int64_t batch, const float *Y, const float *sw,
                             int64_t n_sw, double scale, double l2, float *work,
                             float *grad, double *value);

/* ---- rop.c ------------------------------------------------------------------ *
 * Second-order products of the loss by the R-operator and per-sample Jacobians
 * (kernels/rop.py); work holds pk_mlp_rop_workspace_size entries, zero-filled before its
 * first use: the products keep the forward and backward pass of the last (theta, X, Y,
 * sw, scale, l2) there, and skip them in the next call at the same point. */

int64_t pk_mlp_rop_workspace_size(const int64_t *sizes, int64_t n_sizes, int64_t batch);

/* out (theta size) <- H v, H the Hessian of the loss (as pk_mlp_loss) w.r.t. theta;
 * *value <- the loss. */
int pk_mlp_hvp_f64(const double *theta, const int64_t *sizes, int64_t n_sizes, int hidden,
                   int output, int loss, const double *X, int64_t batch, const double *Y,
                   const double *sw, int64_t n_sw, double scale, double l2,
                   const double *v, double *work, double *out, double *value);
int pk_mlp_hvp_f32(const float *theta, const int64_t *sizes, int64_t n_sizes, int hidden,
                   int output, int loss, const float *X, int64_t batch, const float *Y,
                   const float *sw, int64_t n_sw, double scale, double l2,
                   const float *v, float *work, float *out, double *value);

/* out (theta size) <- G v, G the (PSD) Gauss-Newton matrix; *value <- the loss. */
int pk_mlp_gnvp_f64(const double *theta, const int64_t *sizes, int64_t n_sizes, int hidden,
                    int output, int loss, const double *X, int64_t batch, const double *Y,
                    const double *sw, int64_t n_sw, double scale, double l2,
                    const double *v, double *work, double *out, double *value);
int pk_mlp_gnvp_f32(const float *theta, const int64_t *sizes, int64_t n_sizes, int hidden,
                    int output, int loss, const float *X, int64_t batch, const float *Y,
                    const float *sw, int64_t n_sw, double scale, double l2,
                    const float *v, float *work, float *out, double *value);

/* out (batch, n_out, n_in) -- or (batch, n_out, theta size) when wrt_params -- <- the
 * per-sample Jacobians of the outputs a_L. */
int pk_mlp_jacobian_f64(const double *theta, const int64_t *sizes, int64_t n_sizes,
                        int hidden, int output, const double *X, int64_t batch, double *work,
                        double *out, int wrt_params);
int pk_mlp_jacobian_f32(const float *theta, const int64_t *sizes, int64_t n_sizes,
                        int hidden, int output, const float *X, int64_t batch, float *work,
                        float *out, int wrt_params);

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

/* ---- fd.c ------------------------------------------------------------------- *
 * Finite-difference loops over a user function given as a C function pointer (twin
 * of the real-step drivers of kernels/fd.py; the complex step needs complex input,
 * which these signatures do not have).  Stencils, step rule and status codes are
 * those of kernels/fd.py; h is the signed step of each component, stencil its
 * PK_S_* code (int8), both from pk_fd_steps_f64.  work is caller-owned scratch. */

typedef double (*pk_scalar_fn)(const double *x, int64_t n);
typedef void (*pk_vector_fn)(const double *x, int64_t n, double *out, int64_t m);

enum { PK_FD_FORWARD = 0, PK_FD_BACKWARD = 1, PK_FD_CENTRAL = 2 };    /* methods */
enum { PK_S_CENTRAL = 0, PK_S_FORWARD = 1, PK_S_ONESIDED = 2 };       /* stencils */
enum { PK_FD_OK = 0, PK_FD_BAD_VALUE = 2 };                           /* column status */

/* h, stencil (n) <- the signed step and stencil of every component of x inside
 * [lo, hi]; *need_f0 <- whether some stencil uses f(x). */
int pk_fd_steps_f64(const double *x, int64_t n, const double *hs, int relative,
                    const double *lo, const double *hi, int method, double *h,
                    int8_t *stencil, int *need_f0);

/* out (n) <- the gradient of scalar f at x; work: n entries; *first_bad <- index of
 * the first non-finite entry of out, or -1. */
int pk_fd_gradient_f64(pk_scalar_fn f, const double *x, int64_t n, const double *h,
                       const int8_t *stencil, double f0, double *work, double *out,
                       int64_t *first_bad);

/* out_t (n, m) <- the transposed Jacobian of vector f: R^n -> R^m at x (f0 = f(x),
 * m entries); work: n + 2 m entries; status (n) <- PK_FD_OK or PK_FD_BAD_VALUE per
 * column. */
int pk_fd_jacobian_f64(pk_vector_fn f, const double *x, int64_t n, const double *h,
                       const int8_t *stencil, const double *f0, int64_t m, double *work,
                       double *out_t, int8_t *status);

/* Jacobian with the columns order[gptr[g]:gptr[g+1]] of group g perturbed together;
 * the nonzeros of column j are the rows rows[colptr[j]:colptr[j+1]], stored at
 * data[dest[k]]; work: n + 2 m entries; status (ngroups) per group.  The index
 * arrays must be valid (pykernels._cbackend checks them). */
int pk_fd_jacobian_grouped_f64(pk_vector_fn f, const double *x, int64_t n, const double *h,
                               const int8_t *stencil, const double *f0, int64_t m,
                               const int64_t *order, const int64_t *gptr, int64_t ngroups,
                               const int64_t *colptr, const int64_t *rows,
                               const int64_t *dest, double *work, double *data,
                               int8_t *status);

/* out (n, n) <- the Hessian of scalar f by second differences (forward when
 * forward != 0, else central), symmetric by construction; work: 2 n entries. */
int pk_fd_hessian_f64(pk_scalar_fn f, const double *x, int64_t n, const double *h,
                      int forward, double f0, double *work, double *out);

#endif
