/* example.c -- pykernels from C, no Python: train a 2-16-1 tanh network on
 * y = x0 * x1 by full-batch gradient descent and print its loss.
 *
 *   make -C csrc run-example
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pykernels.h"

/* Uniform in [-1, 1) from a 64-bit LCG whose state the caller owns. */
static double uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return (double)(*state >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

int main(void)
{
    const int64_t sizes[] = {2, 16, 1}, n_sizes = 3, batch = 64;
    const int epochs = 2000;
    const double lr = 0.1;
    int64_t n_theta = pk_mlp_theta_size(sizes, n_sizes);
    int64_t n_work = pk_mlp_workspace_size(sizes, n_sizes, batch);
    double *theta = malloc(n_theta * sizeof *theta), *grad = malloc(n_theta * sizeof *grad);
    double *work = malloc(n_work * sizeof *work);
    double *X = malloc(batch * 2 * sizeof *X), *Y = malloc(batch * sizeof *Y);
    int status = PK_OK;
    if (!theta || !grad || !work || !X || !Y) {
        fprintf(stderr, "out of memory\n");
        status = 1;
        goto done;
    }
    uint64_t rng = 42;
    for (int64_t i = 0; i < batch; i++) {
        X[2 * i] = uniform(&rng);
        X[2 * i + 1] = uniform(&rng);
        Y[i] = X[2 * i] * X[2 * i + 1];
    }
    for (int64_t k = 0; k < n_theta; k++)
        theta[k] = 0.5 * uniform(&rng);
    double loss = 0.0;
    for (int epoch = 0; epoch <= epochs && status == PK_OK; epoch++) {
        /* no sample weights (NULL, 0), scale 1 / batch: the mean loss, no L2 penalty */
        status = pk_mlp_loss_and_grad_f64(theta, sizes, n_sizes, PK_TANH, PK_IDENTITY, PK_MSE,
                                          X, batch, Y, NULL, 0, 1.0 / batch, 0.0, work, grad,
                                          &loss);
        if (epoch % 500 == 0)
            printf("epoch %4d  loss %.6e\n", epoch, loss);
        for (int64_t k = 0; k < n_theta; k++)
            theta[k] -= lr * grad[k];
    }
    if (status != PK_OK)
        fprintf(stderr, "pykernels error %d\n", status);
done:
    free(theta);
    free(grad);
    free(work);
    free(X);
    free(Y);
    return status == PK_OK ? 0 : 1;
}
