"""Update kernels of the first-order optimizers, in place on a flat parameter vector.

Each kernel is one loop over the entries of ``theta``: it reads the gradient ``grad``,
updates the optimizer's state arrays (same shape and dtype as ``theta``) and ``theta``
in place.  Scalars (learning rate, decay rates, step count) come from the caller.

=========  ==============================================================
sgd        theta -= lr g
momentum   v = beta v + g;            theta -= lr v          (heavy ball)
nesterov   v = beta v + g;            theta -= lr (g + beta v)
adagrad    s += g^2;                  theta -= lr g / (sqrt(s) + eps)
rmsprop    s = rho s + (1 - rho) g^2; theta -= lr g / (sqrt(s) + eps)
adam       m, v = EMAs of g, g^2;     theta -= lr m^ / (sqrt(v^) + eps),
           m^ = m / (1 - b1^t), v^ = v / (1 - b2^t)
=========  ==============================================================
"""

import math

from ._jit import jit


@jit
def sgd_update(theta, grad, lr):
    """theta -= lr * grad."""
    for i in range(theta.size):
        theta[i] -= lr * grad[i]


@jit
def momentum_update(theta, grad, velocity, lr, beta):
    """Heavy ball: velocity = beta * velocity + grad; theta -= lr * velocity."""
    for i in range(theta.size):
        velocity[i] = beta * velocity[i] + grad[i]
        theta[i] -= lr * velocity[i]


@jit
def nesterov_update(theta, grad, velocity, lr, beta):
    """Nesterov momentum (Sutskever form): theta -= lr * (grad + beta * velocity)."""
    for i in range(theta.size):
        velocity[i] = beta * velocity[i] + grad[i]
        theta[i] -= lr * (grad[i] + beta * velocity[i])


@jit
def adagrad_update(theta, grad, accum, lr, eps):
    """accum += grad^2; theta -= lr * grad / (sqrt(accum) + eps)."""
    for i in range(theta.size):
        accum[i] += grad[i] * grad[i]
        theta[i] -= lr * grad[i] / (math.sqrt(accum[i]) + eps)


@jit
def rmsprop_update(theta, grad, accum, lr, rho, eps):
    """accum = rho * accum + (1 - rho) * grad^2; theta -= lr * grad / (sqrt(accum) + eps)."""
    for i in range(theta.size):
        accum[i] = rho * accum[i] + (1.0 - rho) * grad[i] * grad[i]
        theta[i] -= lr * grad[i] / (math.sqrt(accum[i]) + eps)


@jit
def adam_update(theta, grad, m, v, lr, beta1, beta2, eps, step):
    """Adam with bias correction; ``step`` is the 1-based count of updates so far.

    Uses the paper's efficient form (Kingma & Ba, sec. 2): the bias corrections are
    folded into the step ``lr * sqrt(c2) / c1`` and ``eps * sqrt(c2)``, leaving one
    square root and one division per entry.
    """
    c1 = 1.0 - beta1 ** step
    root_c2 = math.sqrt(1.0 - beta2 ** step)
    rate = lr * root_c2 / c1
    eps_hat = eps * root_c2
    for i in range(theta.size):
        gi = grad[i]
        mi = beta1 * m[i] + (1.0 - beta1) * gi
        vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
        m[i] = mi
        v[i] = vi
        theta[i] -= rate * mi / (math.sqrt(vi) + eps_hat)
