/* test_driver.c -- the C kernels without Python (make -C csrc test; with SAN=1
 * under AddressSanitizer + UBSan):
 *   - backpropagation against central differences of the loss, for every
 *     hidden x output x loss, batch 1 and 7, float64;
 *   - float32 against float64;
 *   - loss, loss_and_grad and predict consistent with each other;
 *   - the elementary functions against libm, special values included;
 *   - every invalid argument gives its error code and writes nothing.
 * Every buffer is malloc'ed at its exact size, so the sanitizer sees any overrun. */
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

/* Data of one case: random X, theta and targets fitting the loss. */
typedef struct {
    int64_t sizes[4], n_sizes, batch, n_theta, n_work, n_y;
    double *theta, *X, *Y, *work, *grad;
} Case;

static Case make_case(int output, int loss, int64_t batch, uint64_t seed)
{
    Case c = {{3, 5, 4, 3}, 4, batch, 0, 0, 0, NULL, NULL, NULL, NULL, NULL};
    c.n_theta = pk_mlp_theta_size(c.sizes, c.n_sizes);
    c.n_work = pk_mlp_workspace_size(c.sizes, c.n_sizes, batch);
    c.n_y = batch * c.sizes[c.n_sizes - 1];
    c.theta = xmalloc(c.n_theta * sizeof(double));
    c.grad = xmalloc(c.n_theta * sizeof(double));
    c.work = xmalloc(c.n_work * sizeof(double));
    c.X = xmalloc(batch * c.sizes[0] * sizeof(double));
    c.Y = xmalloc(c.n_y * sizeof(double));
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
            else
                c.Y[i * n_out + j] = 2.0 * u;
        }
    return c;
}

static void free_case(Case *c)
{
    free(c->theta);
    free(c->grad);
    free(c->work);
    free(c->X);
    free(c->Y);
}

static double loss_at(Case *c, int hidden, int output, int loss)
{
    double value = NAN;
    pk_mlp_loss_f64(c->theta, c->sizes, c->n_sizes, hidden, output, loss, c->X, c->batch,
                    c->Y, c->work, &value);
    return value;
}

static void test_gradients(void)
{
    const int outputs[] = {PK_IDENTITY, PK_TANH, PK_SIGMOID, PK_SOFTMAX};
    char detail[96];
    for (int hidden = PK_IDENTITY; hidden <= PK_SIGMOID; hidden++)
        for (int o = 0; o < 4; o++)
            for (int loss = PK_MSE; loss <= PK_CROSS_ENTROPY; loss++)
                for (int64_t batch = 1; batch <= 7; batch += 6) {
                    int output = outputs[o];
                    if (loss == PK_CROSS_ENTROPY && output != PK_SOFTMAX && output != PK_SIGMOID)
                        continue;
                    Case c = make_case(output, loss, batch, 7 + hidden + 10 * o + 100 * loss);
                    double value;
                    int status = pk_mlp_loss_and_grad_f64(c.theta, c.sizes, c.n_sizes, hidden,
                                                          output, loss, c.X, batch, c.Y,
                                                          c.work, c.grad, &value);
                    double err = 0.0, scale = 1e-3;
                    for (int64_t k = 0; k < c.n_theta; k++) {
                        double t = c.theta[k], h = 1e-6;
                        c.theta[k] = t + h;
                        double up = loss_at(&c, hidden, output, loss);
                        c.theta[k] = t - h;
                        double down = loss_at(&c, hidden, output, loss);
                        c.theta[k] = t;
                        double fd = (up - down) / (2 * h);
                        err = fmax(err, fabs(fd - c.grad[k]));
                        scale = fmax(scale, fabs(fd));
                    }
                    double again = loss_at(&c, hidden, output, loss);
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
                             PK_CROSS_ENTROPY, c.X, 5, c.Y, c.work, c.grad, &v64);
    int status = pk_mlp_loss_and_grad_f32(theta, c.sizes, c.n_sizes, PK_TANH, PK_SOFTMAX,
                                          PK_CROSS_ENTROPY, X, 5, Y, work, grad, &v32);
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
                             c.work, c.grad, &value)
    check(STEP(c.sizes, c.n_sizes, 9, PK_IDENTITY, PK_MSE, 2) == PK_ERR_CODE, "bad hidden", "");
    check(STEP(c.sizes, c.n_sizes, -1, PK_IDENTITY, PK_MSE, 2) == PK_ERR_CODE, "hidden < 0", "");
    check(STEP(c.sizes, c.n_sizes, PK_TANH, 5, PK_MSE, 2) == PK_ERR_CODE, "bad output", "");
    check(STEP(c.sizes, c.n_sizes, PK_TANH, PK_IDENTITY, 4, 2) == PK_ERR_CODE, "bad loss", "");
    check(STEP(c.sizes, c.n_sizes, PK_TANH, PK_IDENTITY, PK_CROSS_ENTROPY, 2) == PK_ERR_CODE,
          "cross-entropy without softmax/sigmoid", "");
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
    free_case(&c);
}

int main(void)
{
    test_gradients();
    test_float32_and_predict();
    test_elementary_functions();
    test_invalid_arguments();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
