/* test_driver.c -- the C kernels without Python (make -C csrc test; with SAN=1
 * under AddressSanitizer + UBSan):
 *   - backpropagation against central differences of the loss, for every
 *     hidden x output x loss, batch 1 and 7, float64, with and without sample
 *     weights and an L2 penalty;
 *   - float32 against float64;
 *   - loss, loss_and_grad and predict consistent with each other;
 *   - the elementary functions against libm, special values included;
 *   - every invalid argument gives its error code and writes nothing;
 *   - the R-operator products (weighted and penalised, Poisson included) against
 *     differences of the gradient, the Jacobian against differences of predict,
 *     Gauss-Newton positive semi-definite, the kept pass recomputed when the weights,
 *     scale or l2 change;
 *   - the difference loops on C functions against exact derivatives;
 *   - the optimizer updates: one SGD step exactly, Adam to a quadratic's minimum;
 *   - the matrix products (gemm.c) against a naive product, edges of the tile and of
 *     the small path included.
 * Every buffer is malloc'ed at its exact size, so the sanitizer sees any overrun. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "pk_internal.h"

static int passed, failed;

static void check(int ok, const char *what, const char *detail)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s (%s)\n", what, detail);
    }
}

static double uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return (double)(*state >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void *calloc_or_die(size_t count, size_t bytes)
{
    void *p = calloc(count, bytes);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* Data of one case: random X, theta, targets fitting the loss and sample weights; scale
 * makes the loss a mean. */
typedef struct {
    int64_t sizes[4], n_sizes, batch, n_theta, n_work, n_y;
    double *theta, *X, *Y, *work, *grad, *sw, scale;
} Case;

static Case make_case(int output, int loss, int64_t batch, uint64_t seed)
{
    Case c = {{3, 5, 4, 3}, 4, batch, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0.0};
    c.n_theta = pk_mlp_theta_size(c.sizes, c.n_sizes);
    c.n_work = pk_mlp_workspace_size(c.sizes, c.n_sizes, batch);
    c.n_y = batch * c.sizes[c.n_sizes - 1];
    c.theta = xmalloc(c.n_theta * sizeof(double));
    c.grad = xmalloc(c.n_theta * sizeof(double));
    c.work = xmalloc(c.n_work * sizeof(double));
    c.X = xmalloc(batch * c.sizes[0] * sizeof(double));
    c.Y = xmalloc(c.n_y * sizeof(double));
    c.sw = xmalloc(batch * sizeof(double));
    for (int64_t i = 0; i < batch; i++)
        c.sw[i] = 1.0 + uniform(&seed);
    for (int64_t k = 0; k < c.n_theta; k++)
        c.theta[k] = uniform(&seed);
    for (int64_t k = 0; k < batch * c.sizes[0]; k++)
        c.X[k] = 2.0 * uniform(&seed);
    int64_t n_out = c.sizes[c.n_sizes - 1];
    for (int64_t i = 0; i < batch; i++)
        for (int64_t j = 0; j < n_out; j++) {
            double u = uniform(&seed);
            if (loss == PK_CROSS_ENTROPY && output == PK_SOFTMAX)
                c.Y[i * n_out + j] = j == (i % n_out);
            else if (loss == PK_CROSS_ENTROPY)
                c.Y[i * n_out + j] = 0.5 + 0.5 * u;
            else if (loss == PK_POISSON)
                c.Y[i * n_out + j] = u < -0.5 ? 0.0 : 3.0 * (1.0 + u);
            else
                c.Y[i * n_out + j] = 2.0 * u;
        }
    c.scale = 1.0 / (double)(loss == PK_CROSS_ENTROPY && output == PK_SOFTMAX ? batch
                                                                               : c.n_y);
    return c;
}

static void free_case(Case *c)
{
    free(c->theta);
    free(c->grad);
    free(c->work);
    free(c->X);
    free(c->Y);
    free(c->sw);
}

/* The mean loss, or with weighted != 0 the weighted one plus a penalty of 0.1. */
static double loss_at(Case *c, int hidden, int output, int loss, int weighted)
{
    double value = NAN;
    pk_mlp_loss_f64(c->theta, c->sizes, c->n_sizes, hidden, output, loss, c->X, c->batch,
                    c->Y, c->sw, weighted ? c->batch : 0, c->scale, weighted ? 0.1 : 0.0,
                    c->work, &value);
    return value;
}

/* 1 when loss needs an output other than output. */
static int invalid_pair(int output, int loss)
{
    return (loss == PK_CROSS_ENTROPY && output != PK_SOFTMAX && output != PK_SIGMOID)
           || (loss == PK_POISSON && output != PK_EXP);
}

static void test_gradients(void)
{
    const int outputs[] = {PK_IDENTITY, PK_TANH, PK_SIGMOID, PK_SOFTMAX, PK_EXP};
    char detail[96];
    for (int hidden = PK_IDENTITY; hidden <= PK_SIGMOID; hidden++)
        for (int o = 0; o < 5; o++)
            for (int loss = PK_MSE; loss <= PK_POISSON; loss++)
                for (int64_t batch = 1; batch <= 7; batch += 6) {
                    int output = outputs[o], weighted = batch > 1;
                    if (invalid_pair(output, loss))
                        continue;
                    Case c = make_case(output, loss, batch, 7 + hidden + 10 * o + 100 * loss);
                    double value;
                    int status = pk_mlp_loss_and_grad_f64(c.theta, c.sizes, c.n_sizes, hidden,
                                                          output, loss, c.X, batch, c.Y, c.sw,
                                                          weighted ? batch : 0, c.scale,
                                                          weighted ? 0.1 : 0.0, c.work, c.grad,
                                                          &value);
                    double err = 0.0, scale = 1e-3;
                    for (int64_t k = 0; k < c.n_theta; k++) {
                        double t = c.theta[k], h = 1e-6;
                        c.theta[k] = t + h;
                        double up = loss_at(&c, hidden, output, loss, weighted);
                        c.theta[k] = t - h;
                        double down = loss_at(&c, hidden, output, loss, weighted);
                        c.theta[k] = t;
                        double fd = (up - down) / (2 * h);
                        err = fmax(err, fabs(fd - c.grad[k]));
                        scale = fmax(scale, fabs(fd));
                    }
                    double again = loss_at(&c, hidden, output, loss, weighted);
                    snprintf(detail, sizeof detail, "hidden %d output %d loss %d batch %d: "
                             "err %.2e", hidden, output, loss, (int)batch, err / scale);
                    /* l1 has kinks: only its values are compared */
                    check(status == PK_OK && (loss == PK_L1 || err <= 1e-6 * scale),
                          "gradient vs central differences", detail);
                    check(again == value, "loss equals loss_and_grad's value", detail);
                    free_case(&c);
                }
}

static void test_float32_and_predict(void)
{
    Case c = make_case(PK_SOFTMAX, PK_CROSS_ENTROPY, 5, 11);
    int64_t n_out = c.sizes[c.n_sizes - 1];
    float *theta = xmalloc(c.n_theta * sizeof(float)), *grad = xmalloc(c.n_theta * sizeof(float));
    float *work = xmalloc(c.n_work * sizeof(float)), *X = xmalloc(5 * c.sizes[0] * sizeof(float));
    float *Y = xmalloc(c.n_y * sizeof(float));
    double *out = xmalloc(c.n_y * sizeof(double));
    for (int64_t k = 0; k < c.n_theta; k++)
        theta[k] = (float)c.theta[k];
    for (int64_t k = 0; k < 5 * c.sizes[0]; k++)
        X[k] = (float)c.X[k];
    for (int64_t k = 0; k < c.n_y; k++)
        Y[k] = (float)c.Y[k];
    double v64, v32;
    pk_mlp_loss_and_grad_f64(c.theta, c.sizes, c.n_sizes, PK_TANH, PK_SOFTMAX,
                             PK_CROSS_ENTROPY, c.X, 5, c.Y, NULL, 0, c.scale, 0.0, c.work,
                             c.grad, &v64);
    int status = pk_mlp_loss_and_grad_f32(theta, c.sizes, c.n_sizes, PK_TANH, PK_SOFTMAX,
                                          PK_CROSS_ENTROPY, X, 5, Y, NULL, 0, c.scale, 0.0, work,
                                          grad, &v32);
    double err = fabs(v32 - v64) / fabs(v64);
    for (int64_t k = 0; k < c.n_theta; k++)
        err = fmax(err, fabs(grad[k] - c.grad[k]) / 1e-1);
    check(status == PK_OK && err < 1e-5, "float32 agrees with float64", "");
    pk_mlp_predict_f64(c.theta, c.sizes, c.n_sizes, PK_TANH, PK_SOFTMAX, c.X, 5, c.work, out);
    double row_err = 0.0, nll = 0.0;
    for (int64_t i = 0; i < 5; i++) {
        double total = 0.0;
        for (int64_t j = 0; j < n_out; j++) {
            total += out[i * n_out + j];
            nll -= c.Y[i * n_out + j] * log(out[i * n_out + j]) / 5;
        }
        row_err = fmax(row_err, fabs(total - 1.0));
    }
    check(row_err < 1e-15 && fabs(nll - v64) < 1e-12, "predict's softmax matches the loss", "");
    free(theta);
    free(grad);
    free(work);
    free(X);
    free(Y);
    free(out);
    free_case(&c);
}

static void test_elementary_functions(void)
{
    double worst[3] = {0, 0, 0};
    for (int k = 0; k <= 200000; k++) {
        double x = -750.0 + k * (1460.0 / 200000);
        double ref[3] = {exp(x), tanh(x), x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))};
        double got[3] = {pk_exp(x), pk_tanh(x), pk_sigmoid(x)};
        for (int f = 0; f < 3; f++) {
            double ulp = nextafter(fabs(ref[f]), INFINITY) - fabs(ref[f]);
            if (ref[f] != 0 || got[f] != 0)
                worst[f] = fmax(worst[f], fabs(got[f] - ref[f]) / ulp);
        }
    }
    char detail[64];
    snprintf(detail, sizeof detail, "exp %.1f, tanh %.1f, sigmoid %.1f ulp",
             worst[0], worst[1], worst[2]);
    check(worst[0] <= 3 && worst[1] <= 3 && worst[2] <= 4, "elementary functions vs libm",
          detail);
    check(isnan(pk_exp(NAN)) && pk_exp(INFINITY) == INFINITY && pk_exp(-INFINITY) == 0
          && pk_tanh(INFINITY) == 1 && pk_tanh(-INFINITY) == -1 && isnan(pk_tanh(NAN))
          && pk_sigmoid(-INFINITY) == 0 && pk_sigmoid(INFINITY) == 1,
          "special values", "");
}

static void test_invalid_arguments(void)
{
    Case c = make_case(PK_IDENTITY, PK_MSE, 2, 3);
    double value = 123.0;
    int64_t zero[] = {3, 0, 3}, big[] = {3, (int64_t)1 << 31, 3};
#define STEP(sizes, n_sizes, hidden, output, loss, batch) \
    pk_mlp_loss_and_grad_f64(c.theta, sizes, n_sizes, hidden, output, loss, c.X, batch, c.Y, \
                             NULL, 0, 1.0, 0.0, c.work, c.grad, &value)
    check(STEP(c.sizes, c.n_sizes, 9, PK_IDENTITY, PK_MSE, 2) == PK_ERR_CODE, "bad hidden", "");
    check(STEP(c.sizes, c.n_sizes, -1, PK_IDENTITY, PK_MSE, 2) == PK_ERR_CODE, "hidden < 0", "");
    check(STEP(c.sizes, c.n_sizes, PK_TANH, 6, PK_MSE, 2) == PK_ERR_CODE, "bad output", "");
    check(STEP(c.sizes, c.n_sizes, PK_TANH, PK_IDENTITY, 4, 2) == PK_ERR_CODE, "bad loss", "");
    check(STEP(c.sizes, c.n_sizes, PK_TANH, PK_IDENTITY, PK_CROSS_ENTROPY, 2) == PK_ERR_CODE,
          "cross-entropy without softmax/sigmoid", "");
    check(STEP(c.sizes, c.n_sizes, PK_TANH, PK_SOFTMAX, PK_POISSON, 2) == PK_ERR_CODE,
          "Poisson without exp", "");
    check(STEP(c.sizes, c.n_sizes, PK_TANH, PK_EXP, 5, 2) == PK_ERR_CODE, "bad loss 5", "");
    check(pk_mlp_loss_and_grad_f64(c.theta, c.sizes, c.n_sizes, PK_TANH, PK_IDENTITY, PK_MSE,
                                   c.X, 2, c.Y, c.sw, 1, 1.0, 0.0, c.work, c.grad, &value)
              == PK_ERR_SIZE, "n_sw neither 0 nor batch", "");
    check(STEP(zero, 3, PK_TANH, PK_IDENTITY, PK_MSE, 2) == PK_ERR_SIZE, "empty layer", "");
    check(STEP(big, 3, PK_TANH, PK_IDENTITY, PK_MSE, 2) == PK_ERR_SIZE, "layer > 2**31-1", "");
    check(STEP(c.sizes, 1, PK_TANH, PK_IDENTITY, PK_MSE, 2) == PK_ERR_SIZE, "one size", "");
    check(STEP(c.sizes, c.n_sizes, PK_TANH, PK_IDENTITY, PK_MSE, 0) == PK_ERR_SIZE, "batch 0", "");
#undef STEP
    check(value == 123.0, "nothing written on failure", "");
    check(pk_mlp_workspace_size(c.sizes, c.n_sizes, 2) == 2 * ((5 + 4 + 3) + 3 + 2 * 5),
          "workspace size", "");
    check(pk_mlp_theta_size(c.sizes, c.n_sizes) == 5 * 4 + 4 * 6 + 3 * 5, "theta size", "");
    check(pk_mlp_workspace_size(zero, 3, 2) == PK_ERR_SIZE
          && pk_mlp_theta_size(big, 3) == PK_ERR_SIZE, "sizes of invalid networks", "");
    double z = 0, a;
    check(pk_activation_row_f64(&z, 1, &a, 7) == PK_ERR_CODE, "bad activation code", "");
    check(pk_activation_row_f64(&z, 1, &a, PK_EXP) == PK_OK && a == 1.0, "exp(0) = 1", "");
    free_case(&c);
}

static void test_rop(void)
{
    const int combos[][3] = {{PK_TANH, PK_SOFTMAX, PK_CROSS_ENTROPY},
                             {PK_SIGMOID, PK_IDENTITY, PK_MSE},
                             {PK_TANH, PK_TANH, PK_HUBER},
                             {PK_SIGMOID, PK_EXP, PK_POISSON},
                             {PK_TANH, PK_EXP, PK_MSE}};
    char detail[96];
    for (int c = 0; c < 5; c++) {
        int hidden = combos[c][0], output = combos[c][1], loss = combos[c][2];
        Case k = make_case(output, loss, 6, 40 + c);
        /* the first three unweighted, the others with weights and a penalty */
        const double *sw = c < 3 ? NULL : k.sw, l2 = c < 3 ? 0.0 : 0.25;
        int64_t n_sw = c < 3 ? 0 : 6;
        int64_t n = k.n_theta, n_rop = pk_mlp_rop_workspace_size(k.sizes, k.n_sizes, 6);
        double *v = xmalloc(n * sizeof(double)), *hv = xmalloc(n * sizeof(double));
        double *gv = xmalloc(n * sizeof(double)), *up = xmalloc(n * sizeof(double));
        double *rwork = calloc_or_die(n_rop, sizeof(double)), value, eps = 1e-5;
        uint64_t seed = 99;
        for (int64_t q = 0; q < n; q++)
            v[q] = uniform(&seed);
#define ARGS k.theta, k.sizes, k.n_sizes, hidden, output, loss, k.X, 6, k.Y, sw, n_sw, \
             k.scale, l2
        int status = pk_mlp_hvp_f64(ARGS, v, rwork, hv, &value);
        status |= pk_mlp_gnvp_f64(ARGS, v, rwork, gv, &value);
        for (int64_t q = 0; q < n; q++)
            k.theta[q] += eps * v[q];
        pk_mlp_loss_and_grad_f64(ARGS, k.work, up, &value);
        for (int64_t q = 0; q < n; q++)
            k.theta[q] -= 2 * eps * v[q];
        pk_mlp_loss_and_grad_f64(ARGS, k.work, k.grad, &value);
        double err = 0.0, scale = 1e-3, vgv = 0.0;
        for (int64_t q = 0; q < n; q++) {
            double fd = (up[q] - k.grad[q]) / (2 * eps);
            err = fmax(err, fabs(fd - hv[q]));
            scale = fmax(scale, fabs(fd));
            vgv += v[q] * gv[q];
        }
        snprintf(detail, sizeof detail, "combo %d: err %.2e, v.Gv %.3e", c, err / scale, vgv);
        check(status == PK_OK && err <= 1e-6 * scale, "hvp vs differences of the gradient",
              detail);
        check(vgv >= 0.0, "Gauss-Newton product is PSD", detail);
        /* theta moved since rwork was filled: the kept pass must not be reused */
        double *fresh = calloc_or_die(n_rop, sizeof(double)), stale = 0.0;
        status = pk_mlp_hvp_f64(ARGS, v, rwork, hv, &value);
        status |= pk_mlp_hvp_f64(ARGS, v, fresh, up, &value);
        for (int64_t q = 0; q < n; q++)
            stale = fmax(stale, fabs(hv[q] - up[q]));
        check(status == PK_OK && stale == 0.0, "hvp after theta moved equals a fresh one",
              detail);
        status = pk_mlp_hvp_f64(ARGS, v, rwork, hv, &value); /* same point: reused */
        stale = 0.0;
        for (int64_t q = 0; q < n; q++)
            stale = fmax(stale, fabs(hv[q] - up[q]) / scale);
        check(status == PK_OK && stale <= 1e-13, "hvp at the same point reuses work", detail);
#undef ARGS
        /* the kept pass is keyed on the weights, scale and l2 too: changing one at a time
         * recomputes it */
        double *want = xmalloc(n * sizeof(double));
        for (int change = 0; change < 3; change++) {
            k.sw[2] += change == 0 ? 0.5 : 0.0;
            double scale2 = k.scale * (change >= 1 ? 3.0 : 1.0), l2b = l2 + (change == 2);
            double *w_fresh = calloc_or_die(n_rop, sizeof(double));
            status = pk_mlp_hvp_f64(k.theta, k.sizes, k.n_sizes, hidden, output, loss, k.X, 6,
                                    k.Y, k.sw, 6, scale2, l2b, v, rwork, hv, &value);
            status |= pk_mlp_hvp_f64(k.theta, k.sizes, k.n_sizes, hidden, output, loss, k.X, 6,
                                     k.Y, k.sw, 6, scale2, l2b, v, w_fresh, want, &value);
            stale = 0.0;
            for (int64_t q = 0; q < n; q++)
                stale = fmax(stale, fabs(hv[q] - want[q]));
            check(status == PK_OK && stale == 0.0, "hvp after sw, scale or l2 changed", detail);
            free(w_fresh);
        }
        free(want);
        free(fresh);
        free(v);
        free(hv);
        free(gv);
        free(up);
        free(rwork);
        free_case(&k);
    }
    /* input Jacobian of a 3-5-4-3 tanh/softmax net vs central differences of predict */
    Case k = make_case(PK_SOFTMAX, PK_CROSS_ENTROPY, 2, 5);
    int64_t n_rop = pk_mlp_rop_workspace_size(k.sizes, k.n_sizes, 2);
    double *rwork = calloc_or_die(n_rop, sizeof(double));
    double *jac = xmalloc(2 * 3 * 3 * sizeof(double));
    double *yp = xmalloc(6 * sizeof(double)), *ym = xmalloc(6 * sizeof(double)), err = 0.0;
    int status = pk_mlp_jacobian_f64(k.theta, k.sizes, k.n_sizes, PK_TANH, PK_SOFTMAX, k.X, 2,
                                     rwork, jac, 0);
    for (int64_t j = 0; j < 3; j++) {
        double x0 = k.X[j], x1 = k.X[3 + j], eps = 1e-6;
        k.X[j] = x0 + eps;
        k.X[3 + j] = x1 + eps;
        pk_mlp_predict_f64(k.theta, k.sizes, k.n_sizes, PK_TANH, PK_SOFTMAX, k.X, 2, k.work, yp);
        k.X[j] = x0 - eps;
        k.X[3 + j] = x1 - eps;
        pk_mlp_predict_f64(k.theta, k.sizes, k.n_sizes, PK_TANH, PK_SOFTMAX, k.X, 2, k.work, ym);
        k.X[j] = x0;
        k.X[3 + j] = x1;
        for (int64_t i = 0; i < 2; i++)
            for (int64_t o = 0; o < 3; o++)
                err = fmax(err, fabs((yp[i * 3 + o] - ym[i * 3 + o]) / (2 * eps)
                                     - jac[(i * 3 + o) * 3 + j]));
    }
    snprintf(detail, sizeof detail, "err %.2e", err);
    check(status == PK_OK && err < 1e-8, "input Jacobian vs differences of predict", detail);
    free(rwork);
    free(jac);
    free(yp);
    free(ym);
    free_case(&k);
}

static double rosenbrock(const double *x, int64_t n)
{
    double total = 0.0;
    for (int64_t i = 0; i + 1 < n; i++)
        total += 100.0 * pow(x[i + 1] - x[i] * x[i], 2) + pow(1.0 - x[i], 2);
    return total;
}

static void broyden(const double *x, int64_t n, double *out, int64_t m)
{
    for (int64_t i = 0; i < m; i++)
        out[i] = (3.0 - 2.0 * x[i]) * x[i] - (i > 0 ? x[i - 1] : 0.0)
                 - 2.0 * (i + 1 < n ? x[i + 1] : 0.0) + 1.0;
}

/* Largest error of g against the exact gradient of rosenbrock, relative to max(1, |g_j|). */
static double rosenbrock_gradient_error(const double *x, int64_t n, const double *g)
{
    double err = 0.0;
    for (int64_t j = 0; j < n; j++) {
        double exact = (j + 1 < n ? -400.0 * x[j] * (x[j + 1] - x[j] * x[j]) - 2.0 * (1.0 - x[j])
                                  : 0.0)
                       + (j > 0 ? 200.0 * (x[j] - x[j - 1] * x[j - 1]) : 0.0);
        err = fmax(err, fabs(g[j] - exact) / fmax(1.0, fabs(exact)));
    }
    return err;
}

/* The same Rosenbrock over complex numbers (for the complex step). */
static double _Complex rosenbrock_complex(const double _Complex *x, int64_t n)
{
    double _Complex total = 0.0;
    for (int64_t i = 0; i + 1 < n; i++) {
        double _Complex a = x[i + 1] - x[i] * x[i], b = 1.0 - x[i];
        total += 100.0 * a * a + b * b;
    }
    return total;
}

/* sum_i a w_i x_i^2 + c: extra arguments a (double), w (array), c (double). */
static double weighted(const double *x, int64_t n, double a, const double *w, double c)
{
    double total = c;
    for (int64_t i = 0; i < n; i++)
        total += a * w[i] * x[i] * x[i];
    return total;
}

static pk_fd_function plain(void (*fn)(void), int vector, int complex_step)
{
    pk_fd_function f = {fn, vector, complex_step, 0, {0, 0, 0}, {{0.0}, {0.0}, {0.0}}};
    return f;
}

static void test_fd_complex_and_args(void)
{
    enum { N = 5 };
    double x[N] = {-1.2, 1.0, 0.5, -0.3, 0.8}, h[N], out[N], work[4 * N], hess[N * N];
    double w[N] = {1.0, 2.0, 3.0, 4.0, 5.0}, hr[N];
    int64_t bad = 0;
    for (int j = 0; j < N; j++) {
        h[j] = 1e-20;
        hr[j] = 1e-5;
    }
    pk_fd_function fc = plain((void (*)(void))rosenbrock_complex, 0, 1);
    int ok = pk_fd_gradient_complex_f64(&fc, x, N, h, work, out, &bad) == PK_OK && bad == -1;
    double err = rosenbrock_gradient_error(x, N, out);
    char detail[64];
    snprintf(detail, sizeof detail, "err %.2e", err);
    check(ok && err < 1e-14, "complex-step gradient of Rosenbrock", detail);
    ok = pk_fd_hessian_complex_f64(&fc, x, N, h, hr, work, hess) == PK_OK;
    double exact01 = -400.0 * x[0], exact00 = 1200.0 * x[0] * x[0] - 400.0 * x[1] + 2.0;
    check(ok && fabs(hess[1] - exact01) < 1e-7 * fabs(exact01) && hess[1] == hess[N]
          && fabs(hess[0] - exact00) < 1e-7 * fabs(exact00), "complex-step Hessian", "");
    pk_fd_function fw = plain((void (*)(void))weighted, 0, 0);
    fw.nargs = 3;
    fw.kinds[1] = PK_ARG_ARRAY;
    fw.args[0].d = 2.0;
    fw.args[1].p = w;
    fw.args[2].d = 7.0;
    int8_t stencil[N] = {0, 0, 0, 0, 0};
    ok = pk_fd_gradient_f64(&fw, x, N, hr, stencil, 0.0, work, out, &bad) == PK_OK;
    err = 0.0;
    for (int j = 0; j < N; j++)
        err = fmax(err, fabs(out[j] - 4.0 * w[j] * x[j]));
    snprintf(detail, sizeof detail, "err %.2e", err);
    check(ok && err < 1e-8, "gradient with extra arguments (double, array, double)", detail);
    fw.kinds[0] = 7; /* not a kind */
    check(pk_fd_gradient_f64(&fw, x, N, hr, stencil, 0.0, work, out, &bad) == PK_ERR_FUNCTION
              && pk_fd_gradient_f64(&fc, x, N, hr, stencil, 0.0, work, out, &bad)
                     == PK_ERR_FUNCTION,
          "a function of the wrong kind or bad arguments is refused", "");
}

static void test_fd(void)
{
    enum { N = 6 };
    double x[N] = {-1.2, 1.0, 0.5, -0.3, 0.8, 1.1}, hs[N], lo[N], hi[N], h[N], out[N];
    double work[N + 2 * N], jac_t[N * N], hess[N * N], f0[N];
    int8_t stencil[N], status[N];
    int need_f0 = 0;
    int64_t bad = 0;
    for (int j = 0; j < N; j++) {
        hs[j] = cbrt(2.220446049250313e-16);
        lo[j] = -1.2; /* x[0] sits on its lower bound: a one-sided column */
        hi[j] = INFINITY;
    }
    pk_fd_function fr = plain((void (*)(void))rosenbrock, 0, 0);
    pk_fd_function fb = plain((void (*)(void))broyden, 1, 0);
    int ok = pk_fd_steps_f64(x, N, hs, 1, lo, hi, PK_FD_CENTRAL, h, stencil, &need_f0) == PK_OK;
    ok = ok && stencil[0] == PK_S_ONESIDED && stencil[1] == PK_S_CENTRAL && need_f0;
    ok = ok && pk_fd_gradient_f64(&fr, x, N, h, stencil, rosenbrock(x, N), work, out,
                                  &bad) == PK_OK && bad == -1;
    double err = rosenbrock_gradient_error(x, N, out);
    char detail[64];
    snprintf(detail, sizeof detail, "err %.2e", err);
    check(ok && err < 1e-6, "fd gradient of Rosenbrock", detail);
    for (int j = 0; j < N; j++)
        h[j] = 1e-4;
    ok = pk_fd_hessian_f64(&fr, x, N, h, 0, rosenbrock(x, N), work, hess) == PK_OK;
    double exact01 = -400.0 * x[0], exact00 = 1200.0 * x[0] * x[0] - 400.0 * x[1] + 2.0;
    check(ok && fabs(hess[1] - exact01) < 1e-4 * fabs(exact01) && hess[1] == hess[N]
          && fabs(hess[0] - exact00) < 1e-4 * fabs(exact00), "fd Hessian of Rosenbrock", "");
    pk_fd_steps_f64(x, N, hs, 1, lo, hi, PK_FD_CENTRAL, h, stencil, &need_f0);
    broyden(x, N, f0, N);
    ok = pk_fd_jacobian_f64(&fb, x, N, h, stencil, f0, N, work, jac_t, status) == PK_OK;
    err = 0.0;
    for (int j = 0; j < N; j++)
        for (int i = 0; i < N; i++) {
            double exact = i == j ? 3.0 - 4.0 * x[i]
                                  : (j == i - 1 ? -1.0 : (j == i + 1 ? -2.0 : 0.0));
            err = fmax(err, fabs(jac_t[j * N + i] - exact));
            ok = ok && status[j] == PK_FD_OK;
        }
    snprintf(detail, sizeof detail, "err %.2e", err);
    check(ok && err < 1e-8, "fd Jacobian of Broyden tridiagonal", detail);
    /* the same by three colour groups of the tridiagonal pattern */
    int64_t order[N] = {0, 3, 1, 4, 2, 5}, gptr[4] = {0, 2, 4, 6}, colptr[N + 1], rows[3 * N];
    int64_t dest[3 * N], nnz = 0;
    for (int64_t j = 0; j < N; j++) {
        colptr[j] = nnz;
        for (int64_t i = j > 0 ? j - 1 : 0; i <= j + 1 && i < N; i++) {
            rows[nnz] = i;
            dest[nnz] = nnz;
            nnz++;
        }
    }
    colptr[N] = nnz;
    double data[3 * N];
    int8_t gstatus[3] = {0, 0, 0};
    ok = pk_fd_jacobian_grouped_f64(&fb, x, N, h, stencil, f0, N, order, gptr, 3, colptr,
                                    rows, dest, work, data, gstatus) == PK_OK;
    err = 0.0;
    for (int64_t j = 0; j < N; j++)
        for (int64_t q = colptr[j]; q < colptr[j + 1]; q++)
            err = fmax(err, fabs(data[q] - jac_t[j * N + rows[q]]));
    check(ok && err < 1e-12 && !gstatus[0] && !gstatus[1] && !gstatus[2],
          "grouped Jacobian equals the dense one", "");
}

static void test_optim(void)
{
    double theta[3] = {1.0, 2.0, 3.0}, grad[3] = {1.0, -1.0, 0.5}, m[3] = {0}, v[3] = {0};
    int ok = pk_sgd_update_f64(theta, 3, grad, 0.5) == PK_OK;
    check(ok && theta[0] == 0.5 && theta[1] == 2.5 && theta[2] == 2.75, "one SGD step", "");
    for (int64_t step = 1; step <= 3000; step++) {
        for (int i = 0; i < 3; i++)
            grad[i] = 2.0 * (theta[i] - 1.0); /* (theta - 1)^2 */
        pk_adam_update_f64(theta, 3, grad, m, v, 0.01, 0.9, 0.999, 1e-8, step);
    }
    check(fabs(theta[0] - 1) < 1e-3 && fabs(theta[1] - 1) < 1e-3 && fabs(theta[2] - 1) < 1e-3,
          "Adam reaches the minimum of a quadratic", "");
}

static void test_checks(void)
{
    double d[37];
    float f[37];
    for (int i = 0; i < 37; i++) {
        d[i] = i % 2 ? 1e308 : -4.9e-324;
        f[i] = i % 2 ? 3.4e38f : -1e-45f;
    }
    check(pk_all_finite_f64(d, 37) && pk_all_finite_f32(f, 37), "all_finite: finite extremes",
          "");
    check(pk_all_finite_f64(d, 0) && pk_all_finite_f32(f, 0), "all_finite: empty", "");
    d[35] = d[35] * 10.0;  /* 1e309 -> inf */
    f[17] = f[17] - f[17] * 0.0f / 0.0f;  /* NaN */
    check(!pk_all_finite_f64(d, 37) && !pk_all_finite_f32(f, 37), "all_finite: inf, nan", "");
}

/* pk_gemm against a naive triple loop in long double: every transposition, beta 0 and 1,
 * widths around the tile's (12 rows, 2 vectors) and the small path's limits (k 256,
 * n 1024: beyond them BLAS), double and float; the columns and rows past C's are left
 * untouched (C sits inside a larger, guarded buffer). */
static void test_gemm(void)
{
    static const int64_t dims[][3] = {{1, 1, 1}, {12, 16, 1}, {13, 17, 2}, {11, 15, 7},
                                      {32, 32, 32}, {64, 10, 128}, {10, 128, 64},
                                      {25, 33, 100}, {7, 1, 256}, {5, 3, 257}, {3, 1025, 4},
                                      {24, 48, 9}, {1, 100, 31}};
    uint64_t state = 11;
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        int64_t m = dims[d][0], n = dims[d][1], k = dims[d][2], ldc = n + 3;
        for (int form = 0; form < 4; form++) {
            int ta = form & 1 ? PK_TRANS : PK_NO_TRANS, tb = form & 2 ? PK_TRANS : PK_NO_TRANS;
            int64_t lda = ta == PK_TRANS ? m : k, ldb = tb == PK_TRANS ? k : n;
            double *A = xmalloc(sizeof *A * (size_t)(m * k)), *B = xmalloc(sizeof *B * (size_t)(k * n));
            double *C = xmalloc(sizeof *C * (size_t)((m + 1) * ldc));
            float *Af = xmalloc(sizeof *Af * (size_t)(m * k)), *Bf = xmalloc(sizeof *Bf * (size_t)(k * n));
            float *Cf = xmalloc(sizeof *Cf * (size_t)((m + 1) * ldc));
            for (int64_t i = 0; i < m * k; i++)
                Af[i] = (float)(A[i] = uniform(&state));
            for (int64_t i = 0; i < k * n; i++)
                Bf[i] = (float)(B[i] = uniform(&state));
            for (int beta = 0; beta < 2; beta++) {
                for (int64_t i = 0; i < (m + 1) * ldc; i++)
                    Cf[i] = (float)(C[i] = 0.5 + i % 3);
                pk_gemm_f64(ta, tb, m, n, k, A, lda, B, ldb, beta, C, ldc);
                pk_gemm_f32(ta, tb, m, n, k, Af, lda, Bf, ldb, beta, Cf, ldc);
                double err = 0.0, err_f = 0.0;
                int untouched = 1;
                for (int64_t i = 0; i <= m; i++)
                    for (int64_t j = 0; j < ldc; j++) {
                        double old = 0.5 + (i * ldc + j) % 3;
                        if (i == m || j >= n) {
                            untouched &= C[i * ldc + j] == old && Cf[i * ldc + j] == (float)old;
                            continue;
                        }
                        long double want = beta ? old : 0.0, want_f = want;
                        for (int64_t p = 0; p < k; p++) {
                            int64_t a = ta == PK_TRANS ? p * lda + i : i * lda + p;
                            int64_t b = tb == PK_TRANS ? j * ldb + p : p * ldb + j;
                            want += (long double)A[a] * B[b];
                            want_f += (long double)Af[a] * Bf[b];
                        }
                        err = fmax(err, fabs((double)(C[i * ldc + j] - want)));
                        err_f = fmax(err_f, fabs((double)(Cf[i * ldc + j] - want_f)));
                    }
                char detail[96];
                snprintf(detail, sizeof detail, "m %ld n %ld k %ld form %d beta %d: %.1e %.1e",
                         (long)m, (long)n, (long)k, form, beta, err, err_f);
                check(err <= 1e-15 * (k + 2) && err_f <= 1e-6 * (k + 2) && untouched,
                      "gemm against a naive product", detail);
            }
            free(A), free(B), free(C), free(Af), free(Bf), free(Cf);
        }
    }
}

int main(void)
{
    test_checks();
    test_gemm();
    test_gradients();
    test_float32_and_predict();
    test_elementary_functions();
    test_invalid_arguments();
    test_rop();
    test_fd();
    test_fd_complex_and_args();
    test_optim();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
