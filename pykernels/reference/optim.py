"""NumPy references of the optimizer update kernels (see :mod:`pykernels.kernels.optim`)."""

import numpy as np


def sgd_update(theta, grad, lr):
    """theta -= lr * grad."""
    theta -= lr * grad


def momentum_update(theta, grad, velocity, lr, beta):
    """Heavy ball: velocity = beta * velocity + grad; theta -= lr * velocity."""
    velocity *= beta
    velocity += grad
    theta -= lr * velocity


def nesterov_update(theta, grad, velocity, lr, beta):
    """Nesterov momentum (Sutskever form): theta -= lr * (grad + beta * velocity)."""
    velocity *= beta
    velocity += grad
    theta -= lr * (grad + beta * velocity)


def adagrad_update(theta, grad, accum, lr, eps):
    """accum += grad^2; theta -= lr * grad / (sqrt(accum) + eps)."""
    accum += grad * grad
    theta -= lr * grad / (np.sqrt(accum) + eps)


def rmsprop_update(theta, grad, accum, lr, rho, eps):
    """accum = rho * accum + (1 - rho) * grad^2; theta -= lr * grad / (sqrt(accum) + eps)."""
    accum *= rho
    accum += (1.0 - rho) * grad * grad
    theta -= lr * grad / (np.sqrt(accum) + eps)


def adam_update(theta, grad, m, v, lr, beta1, beta2, eps, step):
    """Adam with bias correction folded into the step (the paper's efficient form)."""
    m *= beta1
    m += (1.0 - beta1) * grad
    v *= beta2
    v += (1.0 - beta2) * grad * grad
    root_c2 = np.sqrt(1.0 - beta2 ** step)
    theta -= (lr * root_c2 / (1.0 - beta1 ** step)) * m / (np.sqrt(v) + eps * root_c2)
