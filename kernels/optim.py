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
import weakref

import numba
import numpy as np
from numba.core.types.function_type import WrapperAddressProtocol

from ._jit import _POLICY, jit, jit_inline, jit_signature

# Drivers that call a user's @njit function take it as a first-class function of an
# explicit type: they compile once (and are cached on disk) for every function of that
# type.  Passing a Numba dispatcher there costs ~60 us of conversion per driver call,
# so :func:`as_function` hands over a C pointer instead (~6 us; ~0.1 us per call inside).
SCALAR_FUN = numba.types.FunctionType(numba.float64(numba.float64[::1]))
VECTOR_FUN = numba.types.FunctionType(numba.float64[::1](numba.float64[::1]))


class _FunctionPointer(WrapperAddressProtocol):
    """A user's @njit function recompiled as a C callback of one signature."""

    def __init__(self, dispatcher, ftype):
        self._signature = ftype.signature
        self._cfunc = numba.cfunc(self._signature, error_model="numpy")(dispatcher.py_func)
        self._numba_type_ = ftype          # typed without a Python lookup on every call

    def __wrapper_address__(self):
        return self._cfunc.address

    def signature(self):
        return self._signature


_POINTERS = weakref.WeakKeyDictionary()


def as_function(dispatcher, ftype):
    """``dispatcher`` (an @njit function) as an argument of type ``ftype`` (SCALAR_FUN or
    VECTOR_FUN); compiled once per function and process, then remembered."""
    cache = _POINTERS.setdefault(dispatcher, {})
    if ftype not in cache:
        cache[ftype] = _FunctionPointer(dispatcher, ftype)
    return cache[ftype]


_F64 = numba.float64
_I64 = numba.int64
_ARR = numba.float64[::1]


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
# The reductions are compiled with reassociation allowed -- the one fast-math flag
# used: it lets LLVM vectorise a sum (results then depend on the machine's vector
# width, not on threads or runs), and keeps IEEE NaN/Inf semantics.  A plain strict
# loop ran 6x slower, and BLAS ddot pays a call per product.
_reduction = numba.njit(cache=True, fastmath={"reassoc"}, **_POLICY)


@_reduction
def _dot(a, b):
    total = 0.0
    for i in range(a.size):
        total += a[i] * b[i]
    return total


@_reduction
def _axpy_dot(alpha, x, y, z):
    """y += alpha * x, then return z . y (one pass over y)."""
    total = 0.0
    for i in range(y.size):
        y[i] += alpha * x[i]
        total += z[i] * y[i]
    return total


@_reduction
def lbfgs_push(S, Y, rho, newest, x_new, x, g_new, g):
    """Store s = x_new - x, y = g_new - g after slot ``newest`` if s.y > 0.

    Returns the new newest slot, or ``newest`` unchanged (pair skipped) when the
    curvature s.y is not positive, which keeps the inverse Hessian positive definite.
    """
    sy = ss = yy = 0.0
    for k in range(x.size):
        sk, yk = x_new[k] - x[k], g_new[k] - g[k]
        sy += sk * yk
        ss += sk * sk
        yy += yk * yk
    if not sy > 1e-12 * math.sqrt(ss * yy):
        return newest
    slot = (newest + 1) % S.shape[0]
    for k in range(x.size):
        S[slot, k] = x_new[k] - x[k]
        Y[slot, k] = g_new[k] - g[k]
    rho[slot] = 1.0 / sy
    return slot


_ABS_MASK = np.int64(0x7FFFFFFFFFFFFFFF)


@jit_inline
def _absbits(v):
    """|v| as int64 bits: for floats >= 0 the integer order is the float order, and a
    NaN's bits exceed +inf's, so an integer max (which vectorises) finds max |v| or NaN."""
    return np.float64(v).view(np.int64) & _ABS_MASK


@jit_inline
def _maxabs(a):
    """max |a_i|, NaN if any entry is NaN."""
    m = np.int64(0)
    for v in a:
        m = max(m, _absbits(v))
    return np.int64(m).view(np.float64)


@jit
def lbfgs_direction(g, S, Y, rho, newest, count, alpha, d):
    """d = -H g with H the L-BFGS inverse Hessian of the ``count`` newest pairs.

    Two-loop recursion (Nocedal & Wright, Algorithm 7.4) with the initial scaling
    H0 = (s.y / y.y) I of the newest pair.
    """
    m = S.shape[0]
    for k in range(d.size):
        d[k] = -g[k]
    if count == 0:
        return
    # first loop, newest pair first; each update of d is fused with the next dot
    sd = _dot(S[newest], d)
    for j in range(count):
        i = (newest - j) % m
        alpha[i] = rho[i] * sd
        following = S[(i - 1) % m] if j + 1 < count else Y[newest]
        sd = _axpy_dot(-alpha[i], Y[i], d, following)
    # sd is now y_newest . d; scale by H0 = (s.y / y.y) I of the newest pair
    scale = 1.0 / (rho[newest] * _dot(Y[newest], Y[newest]))
    for k in range(d.size):
        d[k] *= scale
    oldest = (newest - count + 1) % m
    yd = _dot(Y[oldest], d)
    for j in range(count - 1, -1, -1):
        i = (newest - j) % m
        following = Y[(i + 1) % m] if j > 0 else Y[i]
        yd = _axpy_dot(alpha[i] - rho[i] * yd, S[i], d, following)


@jit_signature((SCALAR_FUN, numba.float64[:, ::1], _ARR))
def evaluate_rows(fun, P, out):
    """out[i] = fun(P[i]) for every row of P: a population in one compiled call."""
    for i in range(P.shape[0]):
        out[i] = fun(P[i])


# -- L-BFGS compiled end to end for @njit fun and jac -----------------------------

@jit
def _take_if_better(x, f, g, best_x, best, best_g):
    if np.isfinite(f) and f < best[0]:
        for k in range(x.size):
            best_x[k] = x[k]
            best_g[k] = g[k]
        best[0] = f


@jit
def _stalled(best, best_seen, stalled):
    """(best value so far, iterations without a decrease of it) after one iteration."""
    if best < best_seen:
        return best, 0
    return best_seen, stalled + 1


@jit_signature((SCALAR_FUN, VECTOR_FUN, _ARR, _I64, _I64, _I64, _I64, _F64, _F64, _F64, _ARR))
def lbfgs_loop(fun, jac, x0, memory, maxiter, maxfev, patience, gtol, ftol, xtol, history):
    """L-BFGS with the strong-Wolfe search of this module, no Python per iteration.

    Same algorithm as ``pykernels._firstorder.lbfgs`` (which drives the NumPy twins of
    ``wolfe_next``, ``lbfgs_push``, ``lbfgs_direction``).  ``history`` (length >=
    maxiter) receives f per iteration.  Returns ``(best_x, best_f, best_g, nit, nfev,
    status)``; status codes as ``pk.minimize``: 0 gtol, 1 maxiter, 2 maxfev, 4 ftol,
    5 xtol, 6 NaN/Inf, 7 line search failed, 8 no decrease of the best value in
    ``patience`` iterations.
    """
    n = x0.size
    x = x0.copy()
    f = fun(x)
    g = jac(x)
    nfev = 1
    best_x, best_g, best = x.copy(), g.copy(), np.array([np.inf])
    _take_if_better(x, f, g, best_x, best, best_g)
    S, Y = np.zeros((memory, n)), np.zeros((memory, n))
    rho, alpha, d = np.zeros(memory), np.zeros(memory), np.empty(n)
    state = np.empty(WOLFE_STATE_SIZE)
    xt = np.empty(n)
    newest, count, nit, status = memory - 1, 0, 0, -1
    best_seen, stalled = np.inf, 0
    if not (np.isfinite(f) and np.isfinite(_maxabs(g))):
        return best_x, best[0], best_g, nit, nfev, 6
    while status < 0:
        lbfgs_direction(g, S, Y, rho, newest, count, alpha, d)
        slope = np.dot(g, d)
        if not slope < 0.0:
            count = 0
            for k in range(n):
                d[k] = -g[k]
            slope = np.dot(g, d)
        t = 1.0 if count else min(1.0, 1.0 / max(_maxabs(g), 1e-300))
        wolfe_init(state, f, slope, 1e-4, 0.9)
        found = False
        while nfev < maxfev:
            for k in range(n):
                xt[k] = x[k] + t * d[k]
            ft = fun(xt)
            gt = jac(xt)
            nfev += 1
            _take_if_better(xt, ft, gt, best_x, best, best_g)
            t_next = wolfe_next(state, t, ft, np.dot(gt, d))
            if t_next == WOLFE_DONE:
                found = True
                break
            if t_next == WOLFE_FAIL:
                t = wolfe_lower(state)
                if t > 0.0 and nfev < maxfev:
                    for k in range(n):
                        xt[k] = x[k] + t * d[k]
                    ft = fun(xt)
                    gt = jac(xt)
                    nfev += 1
                    found = True
                break
            t = t_next
        if not found:
            if nfev >= maxfev:
                status = 2
            elif count > 0:
                count = 0
            else:
                status = 7
            continue
        slot = lbfgs_push(S, Y, rho, newest, xt, x, gt, g)
        if slot != newest:
            newest, count = slot, min(count + 1, memory)
        step_bits = np.int64(0)
        for k in range(n):
            step_bits = max(step_bits, _absbits(xt[k] - x[k]))
            x[k] = xt[k]
        step = np.int64(step_bits).view(np.float64)
        f_prev = f
        f, g = ft, gt
        history[nit] = f
        nit += 1
        gnorm = _maxabs(g)
        if not (np.isfinite(f) and np.isfinite(gnorm)):
            status = 6
        elif gnorm <= gtol:
            status = 0
        elif abs(f_prev - f) <= ftol * max(abs(f_prev), abs(f), 1.0):
            status = 4
        elif step <= (xtol * max(1.0, _maxabs(x)) if xtol > 0.0 else 0.0):
            status = 5
        else:
            best_seen, stalled = _stalled(best[0], best_seen, stalled)
            if stalled >= patience:
                status = 8
            elif nit >= maxiter:
                status = 1
            elif nfev >= maxfev:
                status = 2
    return best_x, best[0], best_g, nit, nfev, status


# -- pk.optim rules with a fixed step, compiled end to end --------------------------

@jit_signature((SCALAR_FUN, VECTOR_FUN, _ARR, _I64, _F64, _F64, _F64, _F64, _I64, _I64, _I64,
                _F64, _F64, _F64, _ARR))
def first_order_loop(fun, jac, x0, kind, lr, a, b, eps, maxiter, maxfev, patience, gtol, ftol,
                     xtol, history):
    """x <- update(x, jac(x)) with one of the update kernels above, no Python per step.

    ``kind``: 0 sgd, 1 momentum (a = beta), 2 nesterov (a = beta), 3 adagrad,
    4 rmsprop (a = rho), 5 adam (a, b = beta1, beta2).  Same iterations and stopping
    tests as ``pykernels._firstorder.first_order`` with a fixed step; returns
    ``(best_x, best_f, best_g, nit, nfev, status)`` like :func:`lbfgs_loop`.
    """
    n = x0.size
    x = x0.copy()
    f = fun(x)
    g = jac(x)
    nfev = 1
    best_x, best_g, best = x.copy(), g.copy(), np.array([np.inf])
    _take_if_better(x, f, g, best_x, best, best_g)
    s1, s2, x_prev = np.zeros(n), np.zeros(n), np.empty(n)
    f_prev, have_prev, steps, nit, status = 0.0, False, 0, 0, -1
    best_seen, stalled = np.inf, 0
    if not (np.isfinite(f) and np.isfinite(_maxabs(g))):
        return best_x, best[0], best_g, nit, nfev, 6
    while status < 0:
        steps += 1
        if kind == 0:
            sgd_update(x, g, lr)
        elif kind == 1:
            momentum_update(x, g, s1, lr, a)
        elif kind == 2:
            nesterov_update(x, g, s1, lr, a)
        elif kind == 3:
            adagrad_update(x, g, s1, lr, eps)
        elif kind == 4:
            rmsprop_update(x, g, s1, lr, a, eps)
        else:
            adam_update(x, g, s1, s2, lr, a, b, eps, float(steps))
        if nfev + 1 > maxfev:
            status = 2
            break
        f = fun(x)
        g = jac(x)
        nfev += 1
        _take_if_better(x, f, g, best_x, best, best_g)
        history[nit] = f
        nit += 1
        gnorm = _maxabs(g)
        if not (np.isfinite(f) and np.isfinite(gnorm)):
            status = 6
        elif gnorm <= gtol:
            status = 0
        elif have_prev and abs(f_prev - f) <= ftol * max(abs(f_prev), abs(f), 1.0):
            status = 4
        elif have_prev and _maxabs(x - x_prev) <= xtol * max(1.0, _maxabs(x)):
            status = 5
        else:
            best_seen, stalled = _stalled(best[0], best_seen, stalled)
            if stalled >= patience:
                status = 8
            elif nit >= maxiter:
                status = 1
        f_prev, have_prev = f, True
        for k in range(n):
            x_prev[k] = x[k]
    return best_x, best[0], best_g, nit, nfev, status
