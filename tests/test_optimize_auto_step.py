"""options={"step": "auto"}: the step 1/L from the Hessian's largest eigenvalue at x0."""

import numpy as np
import pytest

import pykernels as pk

A = np.diag([1.0, 10.0, 100.0]) + 0.5 * (np.ones((3, 3)) - np.eye(3))
L = np.linalg.eigvalsh(A)[-1]


def quadratic(x):
    return 0.5 * x @ A @ x


def quadratic_grad(x):
    return A @ x


@pytest.mark.parametrize("hessp", [None, lambda x, v: A @ v])
def test_first_gd_step_is_gradient_over_L(hessp):
    x0 = np.array([1.0, -2.0, 0.5])
    iterates = []
    res = pk.minimize(quadratic, x0, jac=quadratic_grad, hessp=hessp, method="gd",
                      options={"step": "auto"}, maxiter=3,
                      callback=lambda r: iterates.append(r.x.copy()))
    np.testing.assert_allclose(iterates[0], x0 - A @ x0 / L, rtol=1e-6)
    assert res.nhev > 0


@pytest.mark.parametrize("method", ["gd", "momentum"])
def test_converges_on_a_quadratic(method):
    res = pk.minimize(quadratic, np.ones(3), jac=quadratic_grad, method=method,
                      options={"step": "auto"}, maxiter=20000, tol=1e-8)
    assert res.success and res.fun < 1e-14
    if method == "gd":  # 1/L on an L-smooth convex function: f never increases
        assert np.all(np.diff(res.history) <= 1e-15)


def test_other_methods_reject_it():
    with pytest.raises(ValueError, match="step"):
        pk.minimize(quadratic, np.ones(3), jac=quadratic_grad, method="adam",
                    options={"step": "auto"})


def test_step_takes_only_auto():
    with pytest.raises(ValueError, match="options\\['step'\\] must be 'auto'"):
        pk.minimize(quadratic, np.ones(3), jac=quadratic_grad, method="gd",
                    options={"step": 0.1})
