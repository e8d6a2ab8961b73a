"""Poisson regression: the ``exp`` output and the ``poisson`` loss (half the Poisson
deviance, scikit-learn's ``MLPRegressor(loss="poisson")`` objective up to its sum over the
outputs).  The derivatives of every combination, and the Jacobian of exp, are in the
shared tables of test_mlp, test_rop, test_cbackend and test_weights; here the loss against
its closed form, scipy's xlogy form, scikit-learn and torch, the checks and files."""

import numpy as np
import pytest
from test_mlp import assert_close, make_data, make_net

import pykernels as pk

BACKENDS = ["numpy", "numba", "c"]


def backends():
    return [b for b in BACKENDS if b in pk.backends()]


def half_deviance(Y, mu):
    """Elementwise y log(y / mu) - y + mu by scipy's xlogy (0 log 0 = 0)."""
    from scipy.special import xlogy

    return xlogy(Y, Y / mu) - Y + mu


def poisson_net(dtype=np.float64, sizes=(4, 7, 3), seed=1):
    return make_net("tanh", "exp", "poisson", dtype, sizes=sizes, seed=seed)


def test_predict_is_exp_of_the_logits():
    net = poisson_net()
    X, _ = make_data(net, 6)
    logits = pk.MLP(net.sizes.tolist(), activation="tanh", output="identity", seed=None)
    logits.theta = net.theta
    for backend in backends():
        assert_close(net.predict(X, backend=backend), np.exp(logits.predict(X)), 1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_is_the_mean_half_deviance(dtype):
    net = poisson_net(dtype)
    X, Y = make_data(net, 9, seed=2)
    Y[0] = 0.0  # rows and entries of zero counts: 0 log 0 = 0
    assert (Y == 0).any() and (Y > 0).any()
    mu = net.predict(X, backend="numpy").astype(np.float64)
    terms = half_deviance(Y.astype(np.float64), mu)
    sw = np.random.default_rng(3).uniform(0.5, 2.0, 9)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for backend in backends():
        assert net.loss(X, Y, backend=backend) == pytest.approx(terms.mean(), rel=tol)
        weighted = np.average(terms, weights=sw, axis=0).mean()
        assert net.loss(X, Y, sample_weight=sw, backend=backend) == pytest.approx(weighted,
                                                                                rel=tol)


def test_loss_gradient_and_hvp_by_hand_on_one_parameter():
    """A 1-1 linear layer: mu = exp(w x + b), l = y log(y / mu) - y + mu, so dl/dz = mu - y
    and d2l/dz2 = mu."""
    net = pk.MLP([1, 1], activation="identity", output="exp", loss="poisson", seed=0)
    w, b, x, y = 0.4, -0.3, 1.5, 2.0
    net.theta[:] = [w, b]
    mu = np.exp(w * x + b)
    for backend in backends():
        value, grad = net.loss_and_grad([[x]], [[y]], backend=backend)
        assert value == pytest.approx(y * np.log(y / mu) - y + mu, rel=1e-14)
        np.testing.assert_allclose(grad, [(mu - y) * x, mu - y], rtol=1e-14)
        H = np.array([[x * x, x], [x, 1.0]]) * mu
        for v in np.eye(2):
            np.testing.assert_allclose(net.hvp([[x]], [[y]], v, backend=backend), H @ v,
                                       rtol=1e-14)
            np.testing.assert_allclose(net.gnvp([[x]], [[y]], v, backend=backend), H @ v,
                                       rtol=1e-14)


def test_matches_sklearn_poisson_loss_up_to_the_outputs_mean():
    base = pytest.importorskip("sklearn.neural_network._base")
    net = poisson_net()
    X, Y = make_data(net, 11, seed=4)
    sw = np.random.default_rng(5).uniform(0.5, 2.0, 11)
    mu = net.predict(X)
    for backend in backends():
        assert net.n_out * net.loss(X, Y, backend=backend) == pytest.approx(
            base.poisson_loss(Y, mu), rel=1e-12)
        assert net.n_out * net.loss(X, Y, sample_weight=sw, backend=backend) == pytest.approx(
            base.poisson_loss(Y, mu, sample_weight=sw), rel=1e-12)


def test_gradient_and_hvp_match_torch_poisson_nll():
    """torch's poisson_nll_loss(log_input=True) is exp(z) - y z: ours minus the constant
    y log y - y, so the derivatives are equal."""
    torch = pytest.importorskip("torch")
    net = poisson_net(sizes=(4, 6, 5, 2))
    X, Y = make_data(net, 8, seed=6)
    x, y = torch.tensor(X), torch.tensor(Y)

    def loss(theta):
        a, t = x, 0
        for k in range(len(net.sizes) - 1):
            n_in, n_out = int(net.sizes[k]), int(net.sizes[k + 1])
            z = a @ theta[t:t + n_out * n_in].reshape(n_out, n_in).T + theta[
                t + n_out * n_in:t + n_out * (n_in + 1)]
            t += n_out * (n_in + 1)
            a = torch.tanh(z) if k < len(net.sizes) - 2 else z
        return torch.nn.functional.poisson_nll_loss(a, y, log_input=True, full=False)

    theta = torch.tensor(net.theta, requires_grad=True)
    value = loss(theta)
    value.backward()
    v = np.random.default_rng(7).standard_normal(net.size)
    _, hv = torch.autograd.functional.hvp(loss, torch.tensor(net.theta), torch.tensor(v))
    constant = np.mean(np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1)), 0.0) - Y)
    for backend in backends():
        got, grad = net.loss_and_grad(X, Y, backend=backend)
        assert got == pytest.approx(value.item() + constant, rel=1e-12)
        assert_close(grad, theta.grad.numpy(), 1e-11)
        assert_close(net.hvp(X, Y, v, backend=backend), hv.numpy(), 1e-10)


def test_exp_output_with_the_other_elementwise_losses():
    for loss in ("mse", "l1", "huber"):
        net = make_net("relu", "exp", loss, sizes=(3, 5, 2))
        X, Y = make_data(net, 6, seed=8)
        value, grad = net.loss_and_grad(X, Y)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
    with pytest.raises(ValueError, match="cross_entropy' needs output"):
        pk.MLP([2, 3], output="exp", loss="cross_entropy")


def test_checks_name_the_argument():
    with pytest.raises(ValueError, match="loss='poisson' needs output='exp'"):
        pk.MLP([2, 3], output="identity", loss="poisson")
    with pytest.raises(ValueError, match="output must be one of"):
        pk.MLP([2, 3], output="log", loss="poisson")
    with pytest.raises(ValueError, match="activation must be one of"):
        pk.MLP([2, 4, 3], activation="exp")  # an output activation only
    net = poisson_net()
    X, Y = make_data(net, 4)
    Y[1, 2] = -0.5
    v = np.ones(net.size)
    for call in (lambda: net.loss(X, Y), lambda: net.loss_and_grad(X, Y),
                 lambda: net.hvp(X, Y, v), lambda: net.gnvp(X, Y, v),
                 lambda: net.objective(X, Y), lambda: pk.train(net, X, Y, epochs=1)):
        with pytest.raises(ValueError, match=r"Y \(Poisson targets\) must be >= 0"):
            call()


def test_save_and_load_keep_a_poisson_network(tmp_path):
    net = poisson_net(np.float32)
    path = tmp_path / "poisson.npz"
    net.save(path)
    back = pk.MLP.load(path)
    assert (back.output, back.loss_name, back.dtype) == ("exp", "poisson", np.float32)
    np.testing.assert_array_equal(back.theta, net.theta)
    X, Y = make_data(net, 5)
    assert back.loss(X, Y) == net.loss(X, Y)


def test_lipschitz_bound_of_an_exp_output_is_infinite():
    assert poisson_net().lipschitz_bound() == np.inf


def test_poisson_regression_fits_counts():
    """pk.minimize on the objective recovers a log-linear rate from Poisson counts drawn
    from it, at an in-sample deviance no larger than the true parameters' (the MLE's)."""
    rng = np.random.default_rng(10)
    X = rng.standard_normal((400, 2))
    Y = rng.poisson(np.exp(0.5 * X[:, :1] - 0.3 * X[:, 1:] + 0.2)).astype(float)
    net = pk.MLP([2, 1], activation="identity", output="exp", loss="poisson", seed=0)
    res = pk.minimize(net.objective(X, Y), net.theta, method="newton-cg", maxiter=30)
    np.testing.assert_allclose(res.x, [0.5, -0.3, 0.2], atol=0.12)
    assert res.fun <= net.loss(X, Y, np.array([0.5, -0.3, 0.2]))
    assert np.max(np.abs(res.jac)) < 1e-6
