"""Bad input to the derivative functions: clear errors naming the argument."""

import numba
import numpy as np
import pytest

import pykernels as pk


def square_sum(x):
    return np.sum(x ** 2)


square_sum_jit = numba.njit(square_sum)


@numba.njit
def nan_beyond_jit(x):
    return np.sum(x) if x[2] <= 0.5 else np.nan


def nan_beyond(x):
    return np.sum(x) if x[2] <= 0.5 else np.nan


@numba.njit
def vec_nan_jit(x):
    out = x.copy()
    if x[1] > 0.5:
        out[0] = np.inf
    return out


def shape_changes(x):
    return x[:2] if x[3] > 0.5 else x[:3]


@numba.njit
def shape_changes_jit(x):
    return x[:2] if x[3] > 0.5 else x[:3]


@numba.njit
def drops_imag_jit(x):
    return np.sum(x.real ** 2)


X = np.full(4, 0.5)


@pytest.mark.parametrize("f", [nan_beyond, nan_beyond_jit])
def test_nonfinite_value_names_component_and_x(f):
    with pytest.raises(ValueError, match=r"component 2 .*at x = \[0.5 0.5 0.5 0.5\]"):
        pk.gradient(f, X)
    with pytest.raises(ValueError, match="component 2"):
        pk.gradient(f, X, method="forward")


@pytest.mark.parametrize("f", [lambda x: vec_nan_jit(x), vec_nan_jit])
def test_nonfinite_jacobian_names_column(f):
    with pytest.raises(ValueError, match=r"column 1 .*x = "):
        pk.jacobian(f, X)


def test_nonfinite_f_at_x():
    with pytest.raises(ValueError, match=r"f\(x\) is not finite"):
        pk.gradient(lambda x: np.inf, X, method="forward")
    with pytest.raises(ValueError, match=r"f\(x\) is not finite: component 0"):
        pk.jacobian(lambda x: np.array([np.nan, 1.0]), X)


@pytest.mark.parametrize("f", [shape_changes, shape_changes_jit])
def test_wrong_shape_names_column(f):
    with pytest.raises(ValueError, match=r"wrong shape for column 3"):
        pk.jacobian(f, X)


def test_wrong_kind_of_output():
    with pytest.raises(ValueError, match="scalar"):
        pk.gradient(lambda x: x, X)
    with pytest.raises(TypeError, match="scalar f for gradient"):
        pk.gradient(numba.njit(lambda x: x * 2.0), X)
    with pytest.raises(ValueError, match="1-D"):
        pk.jacobian(lambda x: np.sum(x), X)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_x_and_v(bad):
    x = X.copy()
    x[1] = bad
    for call in (lambda: pk.gradient(square_sum_jit, x), lambda: pk.gradient(square_sum, x),
                 lambda: pk.jacobian(np.sin, x), lambda: pk.hessian(square_sum, x),
                 lambda: pk.hvp(square_sum, x, X)):
        with pytest.raises(ValueError, match="x must be finite"):
            call()
    with pytest.raises(ValueError, match="v must be finite"):
        pk.hvp(square_sum, X, x)


@pytest.mark.parametrize("step", [0.0, -1e-3, np.nan, np.inf, [1e-3, 1e-3, 0.0, 1e-3]])
def test_bad_step(step):
    for call in (lambda: pk.gradient(square_sum, X, step=step),
                 lambda: pk.jacobian(np.sin, X, step=step),
                 lambda: pk.hessian(square_sum, X, step=step)):
        with pytest.raises(ValueError, match="step must be positive"):
            call()


def test_bad_step_shape_and_type():
    with pytest.raises(ValueError, match=r"step must be a scalar or of shape \(4,\)"):
        pk.gradient(square_sum, X, step=[1e-3, 1e-3])
    with pytest.raises(TypeError, match="step"):
        pk.gradient(square_sum, X, step="small")
    with pytest.raises(ValueError, match="step"):
        pk.hvp(square_sum, X, X, step=-1.0)


@pytest.mark.parametrize("f", [lambda x: np.sum(np.real(x) ** 2),
                               lambda x: float(np.sum(x.real ** 2)), drops_imag_jit])
def test_complex_step_detects_dropped_imaginary_part(f):
    with pytest.raises(ValueError, match="imaginary"):
        pk.gradient(f, X, method="complex")


def test_complex_step_true_zero_derivative_is_not_an_error():
    assert np.array_equal(pk.gradient(square_sum, np.zeros(3), method="complex"), np.zeros(3))
    assert np.array_equal(pk.gradient(square_sum_jit, np.zeros(3), method="complex"),
                          np.zeros(3))


def test_complex_step_with_real_only_njit_f():
    # an @njit f that cannot be compiled for complex input: a TypeError saying so
    with pytest.raises(TypeError, match="complex input for method='complex'"):
        pk.gradient(numba.njit(lambda x: np.float64(x[0])), X, method="complex")


def test_unknown_names():
    with pytest.raises(ValueError, match="method must be one of"):
        pk.gradient(square_sum, X, method="five-point")
    with pytest.raises(ValueError, match="method must be one of"):
        pk.hessian(square_sum, X, method=None)
    with pytest.raises(ValueError, match="coloring must be one of"):
        pk.jacobian(np.sin, X, sparsity=np.eye(4, dtype=bool), coloring="random")
    with pytest.raises(ValueError, match="backend"):
        pk.gradient(square_sum, X, backend="fortran")


def test_sparsity_wrong_shape():
    with pytest.raises(ValueError, match=r"sparsity must have 4 columns"):
        pk.jacobian(np.sin, X, sparsity=np.eye(3, dtype=bool))
    with pytest.raises(ValueError, match=r"sparsity must have shape \(4, 4\)"):
        pk.jacobian(np.sin, X, sparsity=np.ones((5, 4), dtype=bool), method="forward")
    with pytest.raises(ValueError, match="wrong shape for column"):
        pk.jacobian(np.sin, X, sparsity=np.ones((5, 4), dtype=bool))
    with pytest.raises(ValueError, match="sparsity must be a 2-D"):
        pk.jacobian(np.sin, X, sparsity=np.ones(4, dtype=bool))


def test_other_arguments():
    with pytest.raises(TypeError, match="args must be a tuple"):
        pk.gradient(square_sum, X, args=[1])
    with pytest.raises(TypeError, match="f must be callable"):
        pk.gradient(3.0, X)
    with pytest.raises(ValueError, match="x must be 1-D"):
        pk.gradient(square_sum, np.ones((2, 2)))
    with pytest.raises(TypeError, match="x must be"):
        pk.gradient(square_sum, np.array(["a", "b"]))
    with pytest.raises(ValueError, match="workers must be >= 1"):
        pk.gradient(square_sum, X, workers=0)
    with pytest.raises(TypeError, match="executor must be"):
        pk.jacobian(np.sin, X, executor=object())
    with pytest.raises(ValueError, match=r"v must have shape \(4,\)"):
        pk.hvp(square_sum, X, np.ones(3))
    with pytest.raises(ValueError, match="x must lie inside bounds"):
        pk.gradient(square_sum, X, bounds=(0.0, 0.4))
    with pytest.raises(ValueError, match="bounds lo must be a scalar or of shape"):
        pk.gradient(square_sum, X, bounds=(np.zeros(3), 1.0))
    with pytest.raises(ValueError, match="bounds must satisfy lo < hi"):
        pk.gradient(square_sum, X, bounds=(0.5, [1.0, 1.0, 0.5, 1.0]))
    with pytest.raises(TypeError, match="bounds must be a pair"):
        pk.gradient(square_sum, X, bounds=1.0)
    with pytest.raises(ValueError, match=r"grad must return an array of shape \(4,\)"):
        pk.check_grad(square_sum, lambda x: x[:2], X)


@pytest.mark.parametrize("method", [0, 1, 2])
def test_steps_near_a_bound_agree_on_every_backend_and_never_vanish(method):
    # x within rounding of its bound (1e-12 off, 1e-17 off an x of 1e5), exactly on it,
    # in a box narrower than max(1, |x|), and far from both bounds
    from pykernels import _backend

    x = np.array([-1.0 + 8.7e-12, 1e5 - 1e-11, 0.0, 0.3, 2.0, 0.5])
    lo = np.array([-1.0, -np.inf, 0.0, 0.25, -np.inf, -1e9])
    hi = np.array([1.0, 1e5, 0.4, 0.31, np.inf, 1e9])
    hs = np.full(x.size, 6e-6)
    steps = []
    for name in pk.backends():
        h, stencil = np.empty(x.size), np.empty(x.size, np.int8)
        _backend.kernel("fd_steps", name)(x, hs, True, lo, hi, method, h, stencil)
        steps.append((h, stencil))
        assert np.all(x + h != x) and np.all((x + 2 * h >= lo) & (x + 2 * h <= hi)), name
    for h, stencil in steps[1:]:
        np.testing.assert_array_equal(h, steps[0][0])
        np.testing.assert_array_equal(stencil, steps[0][1])


def test_gradient_just_inside_a_bound_is_accurate():
    f = lambda x: float(np.sum(np.sin(x)) + x[0] * x[1])  # noqa: E731
    x = np.array([-1.0 + 8.7e-12, 0.2])
    g = pk.gradient(f, x, bounds=(-np.ones(2), np.ones(2)))
    np.testing.assert_allclose(g, [np.cos(x[0]) + x[1], np.cos(x[1]) + x[0]], rtol=1e-8)
