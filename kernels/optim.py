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

import numba
import numpy as np

from ._jit import _POLICY, jit

#: For drivers that take a user's @njit function as an argument: they are compiled once
#: per user function and process, so caching them on disk would only litter the cache.
jit_user = numba.njit(**_POLICY)


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


# -- strong-Wolfe line search, by reverse communication ---------------------------
# The caller evaluates f and g at x + a d and hands (a, f(a), g(a).d) to
# ``wolfe_next``, which returns the next trial step, WOLFE_DONE (accept this trial)
# or WOLFE_FAIL.  One implementation serves the Python L-BFGS loop (plain callables)
# and the compiled one (@njit callables).  Algorithms 3.5/3.6 of Nocedal & Wright,
# "Numerical Optimization" (2006), with safeguarded cubic interpolation; a NaN/Inf
# trial value counts as "too far" and shrinks the bracket instead of failing.

WOLFE_DONE = -1.0
WOLFE_FAIL = -2.0
WOLFE_MAXTRIALS = 40
# indices into the state vector
_F0, _D0, _C1, _C2, _LO, _FLO, _DLO, _HI, _FHI, _DHI, _BRACKET, _TRIALS = range(12)
WOLFE_STATE_SIZE = 12


@jit
def wolfe_init(state, f0, d0, c1, c2):
    """Start a line search from f(0) = f0 with slope d0 = g.d < 0."""
    state[_F0] = f0
    state[_D0] = d0
    state[_C1] = c1
    state[_C2] = c2
    state[_LO] = 0.0
    state[_FLO] = f0
    state[_DLO] = d0
    state[_HI] = np.inf
    state[_FHI] = np.inf
    state[_DHI] = np.nan
    state[_BRACKET] = 0.0
    state[_TRIALS] = 0.0


@jit
def _interpolate(lo, flo, dlo, hi, fhi, dhi):
    """Minimiser of the cubic through (lo, flo, dlo), (hi, fhi, dhi), kept 10 % inside."""
    width = hi - lo
    t = lo + 0.5 * width
    if np.isfinite(fhi) and np.isfinite(dhi):
        d1 = dlo + dhi - 3.0 * (flo - fhi) / (lo - hi)
        disc = d1 * d1 - dlo * dhi
        if disc >= 0.0:
            d2 = math.copysign(math.sqrt(disc), width)
            cubic = hi - width * (dhi + d2 - d1) / (dhi - dlo + 2.0 * d2)
            if np.isfinite(cubic):
                t = cubic
    a, b = lo + 0.1 * width, hi - 0.1 * width
    return min(max(t, min(a, b)), max(a, b))


@jit
def wolfe_next(state, a, fa, da):
    """Next trial step after evaluating f(a) = fa, f'(a) = da (see the section comment)."""
    f0, d0, c1, c2 = state[_F0], state[_D0], state[_C1], state[_C2]
    state[_TRIALS] += 1.0
    finite = np.isfinite(fa) and np.isfinite(da)
    armijo = finite and fa <= f0 + c1 * a * d0
    if armijo and abs(da) <= -c2 * d0:
        return WOLFE_DONE
    if state[_TRIALS] >= WOLFE_MAXTRIALS:
        return WOLFE_FAIL
    if not armijo or fa >= state[_FLO]:
        # a is too far: it becomes the upper end of the bracket
        state[_HI], state[_FHI], state[_DHI] = a, fa, da
        state[_BRACKET] = 1.0
    elif state[_BRACKET] == 0.0 and da < 0.0:
        # still descending: move the lower end up and extrapolate
        state[_LO], state[_FLO], state[_DLO] = a, fa, da
        return 4.0 * a
    else:
        if state[_BRACKET] == 1.0 and da * (state[_HI] - state[_LO]) >= 0.0:
            state[_HI], state[_FHI], state[_DHI] = state[_LO], state[_FLO], state[_DLO]
        elif state[_BRACKET] == 0.0:
            # slope turned positive beyond lo: bracket [lo, a]
            state[_HI], state[_FHI], state[_DHI] = state[_LO], state[_FLO], state[_DLO]
        state[_LO], state[_FLO], state[_DLO] = a, fa, da
        state[_BRACKET] = 1.0
    if abs(state[_HI] - state[_LO]) <= 1e-12 * max(1.0, abs(state[_LO])):
        return WOLFE_FAIL
    return _interpolate(state[_LO], state[_FLO], state[_DLO],
                        state[_HI], state[_FHI], state[_DHI])


@jit
def wolfe_lower(state):
    """The best step with sufficient decrease found so far (0 when none)."""
    return state[_LO]


# -- L-BFGS two-loop recursion on ring buffers ------------------------------------

@jit
def lbfgs_push(S, Y, rho, newest, s, y):
    """Store the pair (s, y) after slot ``newest`` if s.y > 0; returns the new newest slot.

    Returns ``newest`` unchanged (pair skipped) when the curvature s.y is not
    positive, which keeps the inverse-Hessian approximation positive definite.
    """
    sy = np.dot(s, y)
    if not sy > 1e-12 * math.sqrt(np.dot(s, s) * np.dot(y, y)):
        return newest
    slot = (newest + 1) % S.shape[0]
    S[slot] = s
    Y[slot] = y
    rho[slot] = 1.0 / sy
    return slot


@jit
def lbfgs_direction(g, S, Y, rho, newest, count, alpha, d):
    """d = -H g with H the L-BFGS inverse Hessian of the ``count`` newest pairs.

    Two-loop recursion (Nocedal & Wright, Algorithm 7.4) with the initial scaling
    H0 = (s.y / y.y) I of the newest pair.
    """
    m = S.shape[0]
    d[:] = -g
    for j in range(count):
        i = (newest - j) % m
        alpha[i] = rho[i] * np.dot(S[i], d)
        d -= alpha[i] * Y[i]
    if count > 0:
        d *= 1.0 / (rho[newest] * np.dot(Y[newest], Y[newest]))
    for j in range(count - 1, -1, -1):
        i = (newest - j) % m
        beta = rho[i] * np.dot(Y[i], d)
        d += (alpha[i] - beta) * S[i]


@jit_user
def evaluate_rows(fun, P, out):
    """out[i] = fun(P[i]) for every row of P: a population in one compiled call."""
    for i in range(P.shape[0]):
        out[i] = fun(P[i])
