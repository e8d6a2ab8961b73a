"""net.objective into pk.minimize, and compare_methods (the demo's table)."""

import numpy as np

import pykernels as pk
from pykernels.datasets import spirals
from pykernels.optimize import compare_methods


def _net():
    return pk.MLP([2, 12, 12, 2], activation="tanh", output="softmax", loss="cross_entropy",
                  seed=0)


def test_objective_matches_network_and_trains():
    X, y = spirals(120, noise=0.05, seed=0)
    net = _net()
    obj = net.objective(X, y)
    theta = net.theta.copy()
    loss, grad = net.loss_and_grad(X, y)
    assert obj.fun(theta) == loss
    np.testing.assert_array_equal(obj.grad(theta), grad)
    v = np.random.default_rng(0).standard_normal(net.size)
    np.testing.assert_array_equal(obj.hvp(theta, v), net.hvp(X, y, v))
    res = pk.minimize(obj, theta, method="lbfgs", maxiter=300)
    assert res.fun < 0.1 * loss and res.nfev == res.njev
    np.testing.assert_array_equal(net.theta, theta)          # the net is left alone
    net.theta = res.x
    assert (net.predict(X).argmax(axis=1) == y).mean() > 0.95
    res = pk.minimize(obj, theta, method="newton-cg", maxiter=30)
    assert res.fun < 0.5 * loss and res.nhev > 0


def test_compare_methods_rows():
    # noisy enough that no method drives the loss to ~0 within the budget (with noise
    # 0.05 a fast random search reaches lbfgs's converged 4e-6 in 0.3 s)
    X, y = spirals(100, noise=0.2, seed=1)
    rows = compare_methods(_net(), X, y, 0.3, methods=("random-search", "lbfgs"))
    assert [r["method"] for r in rows] == ["random-search", "lbfgs"]
    zero, first = rows
    assert set(zero) == {"method", "evaluations", "gradients", "hvps", "seconds", "loss",
                         "accuracy", "evals_to_reference", "ratio", "trace"}
    assert zero["trace"] and zero["trace"][-1][0] <= zero["evaluations"]
    assert first["loss"] < zero["loss"]
    assert first["evals_to_reference"] is not None
    assert first["ratio"] == zero["evaluations"] / first["evals_to_reference"]
    assert 0 <= first["accuracy"] <= 1
