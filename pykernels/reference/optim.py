"""NumPy references of the optimizer update kernels (see :mod:`pykernels.kernels.optim`)."""

import math

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


# -- L-BFGS and its strong-Wolfe line search (the Python loop of pk.minimize uses these:
# a plain Python f then never needs Numba; the compiled loop uses kernels/optim.py)

def lbfgs_push(S, Y, rho, newest, x_new, x, g_new, g):
    """Store s = x_new - x, y = g_new - g after slot ``newest`` if s.y > 0; return the
    new newest slot, or ``newest`` when the pair is skipped (curvature s.y <= 0)."""
    s, y = x_new - x, g_new - g
    sy = float(s @ y)
    if not sy > 1e-12 * math.sqrt(float(s @ s) * float(y @ y)):
        return newest
    slot = (newest + 1) % S.shape[0]
    S[slot], Y[slot], rho[slot] = s, y, 1.0 / sy
    return slot


def lbfgs_direction(g, S, Y, rho, newest, count, alpha, d):
    """d = -H g, H the inverse Hessian of the ``count`` newest pairs: the two-loop
    recursion (Nocedal & Wright, Algorithm 7.4, H0 = (s.y / y.y) I of the newest),
    in the kernel's order of operations."""
    slots = [(newest - j) % S.shape[0] for j in range(count)]  # newest first
    r = rho.tolist()
    np.negative(g, out=d)
    for i in slots:
        alpha[i] = a = r[i] * float(S[i] @ d)
        d -= a * Y[i]
    if count:
        d *= 1.0 / (r[newest] * float(Y[newest] @ Y[newest]))
    for i in reversed(slots):
        d += (alpha[i] - r[i] * float(Y[i] @ d)) * S[i]

WOLFE_DONE = -1.0
WOLFE_FAIL = -2.0
WOLFE_MAXTRIALS = 40
WOLFE_STATE_SIZE = 12
# state: f(0), f'(0), c1, c2, then the bracket's ends (lo, f, f'), (hi, f, f'),
# whether it is bracketed, the number of trials


def wolfe_init(state, f0, d0, c1, c2):
    """Start a line search from f(0) = f0 with slope d0 = g.d < 0."""
    state[:] = (f0, d0, c1, c2, 0.0, f0, d0, np.inf, np.inf, np.nan, 0.0, 0.0)


def _cubic_step(lo, flo, dlo, hi, fhi, dhi):
    """Minimiser of the cubic through both ends, kept 10 % inside [lo, hi]."""
    width = hi - lo
    t = lo + 0.5 * width
    if math.isfinite(fhi) and math.isfinite(dhi):
        d1 = dlo + dhi - 3.0 * (flo - fhi) / (lo - hi)
        disc = d1 * d1 - dlo * dhi
        if disc >= 0.0:
            d2 = math.copysign(math.sqrt(disc), width)
            cubic = hi - width * (dhi + d2 - d1) / (dhi - dlo + 2.0 * d2)
            if math.isfinite(cubic):
                t = cubic
    a, b = lo + 0.1 * width, hi - 0.1 * width
    return min(max(t, min(a, b)), max(a, b))


def wolfe_next(state, a, fa, da):
    """Next trial step after f(a) = fa, f'(a) = da; WOLFE_DONE accepts ``a``,
    WOLFE_FAIL gives up (Nocedal & Wright, Algorithms 3.5/3.6; NaN/Inf is "too far")."""
    f0, d0, c1, c2, lo, flo, dlo, hi, fhi, dhi, bracketed, trials = state.tolist()
    a, fa, da = float(a), float(fa), float(da)
    state[11] = trials = trials + 1.0
    armijo = math.isfinite(fa) and math.isfinite(da) and fa <= f0 + c1 * a * d0
    if armijo and abs(da) <= -c2 * d0:
        return WOLFE_DONE
    if trials >= WOLFE_MAXTRIALS:
        return WOLFE_FAIL
    if not armijo or fa >= flo:
        hi, fhi, dhi, bracketed = a, fa, da, 1.0              # a is too far
    elif not bracketed and da < 0.0:
        state[4:7] = a, fa, da                                # still descending
        return 4.0 * a
    else:
        if not bracketed or da * (hi - lo) >= 0.0:
            hi, fhi, dhi = lo, flo, dlo
        lo, flo, dlo, bracketed = a, fa, da, 1.0
    state[4:11] = lo, flo, dlo, hi, fhi, dhi, bracketed
    if abs(hi - lo) <= 1e-12 * max(1.0, abs(lo)):
        return WOLFE_FAIL
    return _cubic_step(lo, flo, dlo, hi, fhi, dhi)


def wolfe_lower(state):
    """The best step with sufficient decrease found so far (0 when none)."""
    return float(state[4])
