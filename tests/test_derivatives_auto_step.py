"""step="auto" (issue 15, item 3): the noise of f estimated from a difference table
(ECnoise) and the step that balances it, under deterministic pseudo-noise."""

import hashlib

import numpy as np
import pytest

import pykernels as pk


def smooth(x):
    return np.sum(np.exp(0.3 * x)) + np.sum((x[1:] - x[:-1] ** 2) ** 2) + 3.0


def smooth_grad(x):
    g = 0.3 * np.exp(0.3 * x)
    t = x[1:] - x[:-1] ** 2
    g[1:] += 2.0 * t
    g[:-1] += -4.0 * x[:-1] * t
    return g


def smooth_hess(x):
    n = x.size
    H = np.diag(0.09 * np.exp(0.3 * x))
    t = x[1:] - x[:-1] ** 2
    i = np.arange(n - 1)
    H[i + 1, i + 1] += 2.0
    H[i, i] += -4.0 * t + 8.0 * x[:-1] ** 2
    H[i, i + 1] += -4.0 * x[:-1]
    H[i + 1, i] += -4.0 * x[:-1]
    return H


def uniform(x):
    """Deterministic pseudo-random number in [-1, 1) from the bits of x: noise that
    does not correlate at any step."""
    digest = hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=8).digest()
    return 2.0 * int.from_bytes(digest, "little") / 2.0 ** 64 - 1.0


def noisy(level, fun=smooth):
    return lambda x: fun(x) * (1.0 + level * uniform(x))


def sigma(level, x):
    return level * abs(smooth(x)) / np.sqrt(3.0)   # std of level * |f| * U(-1, 1)


def rel_err(g, exact):
    return np.max(np.abs(g - exact)) / np.max(np.abs(exact))


POINTS = [np.linspace(-0.5, 1.0, 10), np.linspace(0.2, 1.4, 6)]


@pytest.mark.parametrize("method", ["central", "forward"])
@pytest.mark.parametrize("level", [1e-10, 1e-6])
@pytest.mark.parametrize("x", POINTS, ids=["n10", "n6"])
def test_gradient_within_5x_of_the_best_step_in_hindsight(x, level, method):
    f = noisy(level)
    exact = smooth_grad(x)
    g, info = pk.gradient(f, x, method=method, step="auto", full_output=True)
    assert 1 / 3 <= info.noise / sigma(level, x) <= 3
    best = min(rel_err(pk.gradient(f, x, method=method, step=r * np.maximum(1.0, np.abs(x))),
                       exact) for r in np.logspace(-12, -0.5, 64))
    assert rel_err(g, exact) <= 5 * best
    # the default step, made for machine precision, is far worse under this noise
    assert rel_err(g, exact) * 10 < rel_err(pk.gradient(f, x, method=method), exact)
    assert np.mean(np.abs(g - exact) <= info.error) >= 0.8
    assert info.step.shape == x.shape and np.all(info.step != 0)


def test_smooth_f_keeps_the_default_accuracy_and_counts_evaluations():
    x = POINTS[0]
    calls = []

    def f(y):
        calls.append(1)
        return smooth(y)
    g, info = pk.gradient(f, x, step="auto", full_output=True)
    assert rel_err(g, smooth_grad(x)) <= 1e-8
    assert info.noise <= 1e-12 * smooth(x)
    assert len(calls) <= 2 * x.size + 1 + 8 * 3


@pytest.mark.parametrize("level", [1e-10, 1e-6])
def test_jacobian_and_richardson(level):
    x = POINTS[0]
    f = noisy(level)
    J, info = pk.jacobian(lambda y: np.array([f(y), 2.0 * f(y[::-1])]), x, step="auto",
                          full_output=True)
    exact = np.vstack([smooth_grad(x), 2.0 * smooth_grad(x[::-1])[::-1]])
    default = pk.jacobian(lambda y: np.array([f(y), 2.0 * f(y[::-1])]), x)
    assert info.noise.shape == (2,) and info.error.shape == (2, x.size)
    assert rel_err(J, exact) * 10 < rel_err(default, exact)
    g, info = pk.gradient(f, x, method="richardson", step="auto", full_output=True)
    assert rel_err(g, smooth_grad(x)) <= 20 * max(info.error.max() / np.abs(g).max(), 1e-12)


def test_hessian_and_hvp_under_noise():
    x = POINTS[1]
    level = 1e-8
    f = noisy(level)
    exact = smooth_hess(x)
    H, info = pk.hessian(f, x, step="auto", full_output=True)
    best = min(rel_err(pk.hessian(f, x, step=r * np.maximum(1.0, np.abs(x))), exact)
               for r in np.logspace(-6, -0.5, 40))
    assert rel_err(H, exact) <= 5 * best
    assert 1 / 3 <= info.noise / sigma(level, x) <= 3
    v = np.linspace(1.0, -1.0, x.size)
    assert rel_err(pk.hvp(f, x, v, step="auto"), exact @ v) * 10 < \
        rel_err(pk.hvp(f, x, v), exact @ v)
    grad = lambda y: smooth_grad(y) * (1.0 + 1e-8 * uniform(y))  # noqa: E731
    assert rel_err(pk.hvp(None, x, v, grad=grad, step="auto"), exact @ v) < \
        rel_err(pk.hvp(None, x, v, grad=grad), exact @ v)


def test_bounds_and_bad_step():
    x = POINTS[0]
    f = noisy(1e-6)
    seen = []

    def recorded(y):
        seen.append(y.copy())
        return f(y)
    lo, hi = x - 1e-3, x + 1.0
    g = pk.gradient(recorded, x, step="auto", bounds=(lo, hi))
    assert np.all(np.array(seen) >= lo) and np.all(np.array(seen) <= hi)
    assert np.all(np.isfinite(g))
    with pytest.raises(TypeError, match="'auto'"):
        pk.gradient(smooth, x, step="noisy")
