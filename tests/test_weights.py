"""Sample weights and the L2 penalty of the network losses (issue 12, item 1).

The value is sum_i s_i lbar_i / sum_i s_i + (l2 / 2) sum ||W||^2: every backend against
the NumPy reference with weights and a penalty, for every activation x output x loss x
dtype; derivatives against central differences and torch.autograd; the weights' meaning
(integer weights repeat rows, a common factor changes nothing, zero weights drop rows);
the penalty against its formula; the scale = 1, l2 = 0 kernel sums that a sharded
objective adds up; the kept R-operator pass keyed on the weights, scale and l2; errors
naming the argument; the Objective and pk.train.
"""

import numpy as np
import pytest
from test_mlp import COMBOS, make_data, make_net

import pykernels as pk
from pykernels import _backend

COMPILED = ["numba", "c"]
L2 = 0.3


def module_of(backend):
    try:
        return _backend.resolve(backend)
    except pk.BackendUnavailable as exc:
        pytest.skip(str(exc))


def sample_weights(batch, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).uniform(0.2, 2.0, batch).astype(dtype)


def assert_close(actual, desired, rtol):
    """Relative to the largest entry of ``desired`` (at least 1e-3: below that the exact
    result is zero -- e.g. l1 on a one-output softmax -- and the backends' rounding
    noise differs)."""
    scale = max(float(np.max(np.abs(desired))), 1e-3)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale)


def evaluations(net, X, Y, v, backend, **weighting):
    """Loss, gradient, H v and G v of ``net`` with ``weighting`` on ``backend``."""
    value, grad = net.loss_and_grad(X, Y, backend=backend, **weighting)
    assert net.loss(X, Y, backend=backend, **weighting) == pytest.approx(value, rel=1e-12)
    return [value, grad, net.hvp(X, Y, v, backend=backend, **weighting),
            net.gnvp(X, Y, v, backend=backend, **weighting)]


def assert_equivalent(net, v, first, second):
    """On every backend, loss, gradient, H v and G v of ``first`` and ``second`` -- each
    (X, Y, weighting keywords) -- agree to 1e-12."""
    for backend in ["numpy"] + COMPILED:
        module_of(backend)
        (X1, Y1, kw1), (X2, Y2, kw2) = first, second
        for actual, desired in zip(evaluations(net, X1, Y1, v, backend, **kw1),
                                   evaluations(net, X2, Y2, v, backend, **kw2)):
            assert_close(actual, desired, 1e-12)


# -- every backend against the reference -------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_backends_match_reference_with_weights_and_penalty(act, out, loss, dtype):
    net = make_net(act, out, loss, dtype)
    X, Y = make_data(net, 7, seed=3)
    v = np.random.default_rng(4).standard_normal(net.size).astype(dtype)
    weighting = dict(sample_weight=sample_weights(7, dtype=dtype), l2=L2)
    desired = evaluations(net, X, Y, v, "numpy", **weighting)
    tol = 1e-12 if dtype == np.float64 else 1e-4
    for backend in COMPILED:
        module_of(backend)
        for actual, want in zip(evaluations(net, X, Y, v, backend, **weighting), desired):
            assert np.asarray(actual).dtype in (dtype, np.float64)
            assert_close(actual, want, tol)


@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_gradient_and_hvp_match_central_differences(act, out, loss):
    net = make_net(act, out, loss)
    X, Y = make_data(net, 6, seed=5)
    weighting = dict(sample_weight=sample_weights(6, seed=1), l2=L2)
    value, grad = net.loss_and_grad(X, Y, **weighting)
    h = 1e-6
    fd = np.empty(net.size)
    for i in range(net.size):
        e = np.zeros(net.size)
        e[i] = h
        fd[i] = (net.loss(X, Y, net.theta + e, **weighting)
                 - net.loss(X, Y, net.theta - e, **weighting)) / (2 * h)
    assert_close(grad, fd, 1e-6)  # kinks of relu, l1, huber: away from them w.p. 1
    v = np.random.default_rng(6).standard_normal(net.size)
    h = 1e-5
    plus = net.loss_and_grad(X, Y, net.theta + h * v, **weighting)[1]
    minus = net.loss_and_grad(X, Y, net.theta - h * v, **weighting)[1]
    assert_close(net.hvp(X, Y, v, **weighting), (plus - minus) / (2 * h), 1e-7)


# -- torch.autograd as an independent oracle ------------------------------------------

def torch_objective(net, X, Y, sw, l2):
    """theta (flat torch vector) -> the weighted, penalised loss written with torch."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    hidden = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
              "identity": lambda z: z}[net.activation]
    x, y, s = torch.tensor(X), torch.tensor(Y), torch.tensor(sw)
    per_row = net.loss_name == "cross_entropy" and net.output == "softmax"

    def objective(theta):
        a, t, penalty = x, 0, 0.0
        for k in range(len(net.sizes) - 1):
            n_in, n_out = int(net.sizes[k]), int(net.sizes[k + 1])
            W = theta[t:t + n_out * n_in].reshape(n_out, n_in)
            b = theta[t + n_out * n_in:t + n_out * (n_in + 1)]
            t += n_out * (n_in + 1)
            penalty = penalty + (W * W).sum()
            a = a @ W.T + b
            if k < len(net.sizes) - 2:
                a = hidden(a)
        if per_row:
            terms = -(y * torch.log_softmax(a, dim=1))
        elif net.loss_name == "cross_entropy":
            terms = F.binary_cross_entropy_with_logits(a, y, reduction="none")
        elif net.loss_name == "poisson":  # exp(z) - y z, plus the constant y log y - y
            terms = (F.poisson_nll_loss(a, y, log_input=True, full=False, reduction="none")
                     + torch.xlogy(y, y) - y)
        else:
            out = {"identity": a, "tanh": torch.tanh(a), "sigmoid": torch.sigmoid(a),
                   "softmax": torch.softmax(a, dim=1), "exp": torch.exp(a)}[net.output]
            terms = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}[
                net.loss_name](out, y, reduction="none")
        rows = terms.sum(dim=1)
        count = s.sum() * (1 if per_row else net.n_out)
        return (s * rows).sum() / count + 0.5 * l2 * penalty

    return objective


@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_gradient_and_hvp_match_torch(act, out, loss):
    torch = pytest.importorskip("torch")
    net = make_net(act, out, loss)
    X, Y = make_data(net, 9, seed=7)
    sw = sample_weights(9, seed=2)
    v = np.random.default_rng(8).standard_normal(net.size)
    objective = torch_objective(net, X, Y, sw, L2)
    theta = torch.tensor(net.theta, requires_grad=True)
    value = objective(theta)
    value.backward()
    _, hv = torch.autograd.functional.hvp(objective, torch.tensor(net.theta), torch.tensor(v))
    got, grad = net.loss_and_grad(X, Y, sample_weight=sw, l2=L2)
    assert got == pytest.approx(value.item(), rel=1e-12)
    assert_close(grad, theta.grad.numpy(), 1e-10)
    assert_close(net.hvp(X, Y, v, sample_weight=sw, l2=L2), hv.numpy(), 1e-9)


# -- what the weights mean -------------------------------------------------------------

CASES = [("tanh", "identity", "mse"), ("relu", "softmax", "cross_entropy"),
         ("sigmoid", "sigmoid", "cross_entropy"), ("tanh", "exp", "poisson"),
         ("sigmoid", "softmax", "huber")]


@pytest.mark.parametrize("act,out,loss", CASES)
def test_integer_weights_equal_repeated_rows(act, out, loss):
    net = make_net(act, out, loss)
    X, Y = make_data(net, 8, seed=9)
    counts = np.array([1, 0, 3, 2, 1, 4, 0, 2])
    Xr, Yr = np.repeat(X, counts, axis=0), np.repeat(Y, counts, axis=0)
    v = np.random.default_rng(10).standard_normal(net.size)
    assert_equivalent(net, v, (X, Y, dict(sample_weight=counts, l2=L2)),
                      (Xr, Yr, dict(l2=L2)))


@pytest.mark.parametrize("act,out,loss", CASES)
def test_a_common_factor_changes_nothing(act, out, loss):
    net = make_net(act, out, loss)
    X, Y = make_data(net, 6, seed=11)
    sw = sample_weights(6, seed=3)
    v = np.random.default_rng(12).standard_normal(net.size)
    assert_equivalent(net, v, (X, Y, dict(sample_weight=sw * 37.5)),
                      (X, Y, dict(sample_weight=sw)))
    # all weights equal: the unweighted mean
    assert_equivalent(net, v, (X, Y, dict(sample_weight=np.full(6, 4))), (X, Y, {}))


@pytest.mark.parametrize("act,out,loss", CASES)
def test_zero_weights_drop_rows(act, out, loss):
    net = make_net(act, out, loss)
    X, Y = make_data(net, 7, seed=13)
    sw = sample_weights(7, seed=4)
    sw[[1, 4, 5]] = 0.0
    keep = sw > 0
    v = np.random.default_rng(14).standard_normal(net.size)
    assert_equivalent(net, v, (X, Y, dict(sample_weight=sw)),
                      (X[keep], Y[keep], dict(sample_weight=sw[keep])))


@pytest.mark.parametrize("backend", ["numpy"] + COMPILED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_penalty_is_half_l2_times_squared_weights_biases_excluded(backend, dtype):
    module_of(backend)
    net = make_net("tanh", "softmax", "cross_entropy", dtype)
    X, Y = make_data(net, 5, seed=15)
    v = np.random.default_rng(16).standard_normal(net.size).astype(dtype)
    l2 = 0.7
    weights = np.zeros(net.size, bool)  # the weight matrices' entries of theta
    t = 0
    for W, b in net.layers:
        weights[t:t + W.size] = True
        t += W.size + b.size
    squares = sum(float(np.sum(W.astype(np.float64) ** 2)) for W, _ in net.layers)
    with_penalty = evaluations(net, X, Y, v, backend, l2=l2)
    without = evaluations(net, X, Y, v, backend)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert with_penalty[0] - without[0] == pytest.approx(0.5 * l2 * squares, rel=tol * 10)
    for got, base, direction in zip(with_penalty[1:], without[1:], (net.theta, v, v)):
        expected = np.where(weights, l2 * direction, 0.0)
        assert_close(got - base, expected, tol * 10)
        assert np.all(got[~weights] == base[~weights])  # biases: not penalised


# -- kernel sums: what a sharded objective adds up ------------------------------------

@pytest.mark.parametrize("backend", ["numpy"] + COMPILED)
@pytest.mark.parametrize("act,out,loss", CASES)
def test_unscaled_kernel_sums_add_up_over_shards(act, out, loss, backend):
    """scale = 1, l2 = 0: each shard's kernel returns plain weighted sums; their sum,
    divided once by the total weight (and outputs), plus the penalty on the driver, is the
    full objective -- for the value, the gradient, H v and G v."""
    module = module_of(backend)
    net = make_net(act, out, loss)
    X, Y = make_data(net, 12, seed=17)
    Y = net._check_Y(Y, 12)
    sw = sample_weights(12, seed=5)
    v = np.random.default_rng(18).standard_normal(net.size)
    totals = [0.0, np.zeros(net.size), np.zeros(net.size), np.zeros(net.size)]
    for rows in (slice(0, 5), slice(5, 6), slice(6, 12)):
        Xs, Ys, ss = X[rows].copy(), Y[rows].copy(), sw[rows].copy()
        work = np.zeros(module.workspace_size(net.sizes, len(Xs)))
        rop_work = np.zeros(module.rop_workspace_size(net.sizes, len(Xs)))
        grad, hv, gv = (np.empty(net.size) for _ in range(3))
        value = module.mlp_loss_and_grad(net.theta, net.sizes, *net._codes, Xs, Ys, ss, 1.0,
                                         0.0, work, grad)
        assert module.mlp_loss(net.theta, net.sizes, *net._codes, Xs, Ys, ss, 1.0, 0.0,
                               work) == pytest.approx(value, rel=1e-14)
        module.mlp_hvp(net.theta, net.sizes, *net._codes, Xs, Ys, ss, 1.0, 0.0, v, rop_work, hv)
        module.mlp_gnvp(net.theta, net.sizes, *net._codes, Xs, Ys, ss, 1.0, 0.0, v, rop_work, gv)
        for k, part in enumerate((value, grad, hv, gv)):
            totals[k] = totals[k] + part
    count = sw.sum() * net._row_terms
    penalty_free = evaluations(net, X, Y, v, backend, sample_weight=sw)
    for total, desired in zip(totals, penalty_free):
        assert_close(total / count, desired, 1e-12)


# -- the kept R-operator pass ---------------------------------------------------------

@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kept_pass_recomputed_when_weights_scale_or_l2_change(backend, dtype):
    """After each product the kept pass in ``work`` is overwritten with garbage (its header
    still says "kept"): a product with the same (sw, scale, l2) then returns garbage -- it
    reuses -- and one with any of them changed returns the fresh result -- it recomputes."""
    from pykernels.kernels.rop import _HEAD

    module = module_of(backend)
    net = make_net("tanh", "exp", "poisson", dtype, sizes=(3, 6, 5, 2))
    X, Y = make_data(net, 6, seed=19)
    v = np.random.default_rng(20).standard_normal(net.size).astype(dtype)
    sw = sample_weights(6, seed=6, dtype=dtype)
    work = np.zeros(module.rop_workspace_size(net.sizes, 6), dtype)
    kept = _HEAD + net.sizes.size + net.size + 6 * (net.n_in + net.n_out + 1)

    def product(sw, scale, l2, buffer):
        out = np.empty(net.size, dtype)
        module.mlp_hvp(net.theta, net.sizes, *net._codes, X, Y, sw, scale, l2, v, buffer, out)
        return out

    steps = [(sw[:0], 0.1, 0.0), (sw, 0.1, 0.0), (sw, 0.2, 0.0), (sw, 0.2, 0.5),
             (sw, np.nextafter(0.2, 1.0), 0.5),  # one ulp of float64: bits, not a rounding
             (sw * np.array(1, dtype), np.nextafter(0.2, 1.0), -0.0 + 0.25)]
    for k, (sw_k, scale, l2) in enumerate(steps):
        if k:
            work[kept:] = 1e3
            np.testing.assert_array_equal(product(sw_k, scale, l2, work),
                                          product(sw_k, scale, l2, np.zeros_like(work)))
        else:
            product(sw_k, scale, l2, work)
        assert work[0] == 2.0  # the pass is kept for the next call
    work[kept:] = 1e3
    sw_k, scale, l2 = steps[-1]
    assert not np.allclose(product(sw_k, scale, l2, work),
                           product(sw_k, scale, l2, np.zeros_like(work)))  # reused: garbage
    product(sw, 0.2, 0.5, work)
    work[kept:] = 1e3
    sw[2] *= 3  # in place
    np.testing.assert_array_equal(product(sw, 0.2, 0.5, work),
                                  product(sw, 0.2, 0.5, np.zeros_like(work)))


def test_kept_pass_is_reused_with_weights():
    """The weights do not defeat the reuse: a second product at the same point skips the
    forward pass (checked through the header's state and an unchanged result)."""
    net = make_net("relu", "softmax", "cross_entropy", sizes=(3, 6, 4))
    X, Y = make_data(net, 5, seed=21)
    sw = sample_weights(5, seed=7)
    v = np.random.default_rng(22).standard_normal(net.size)
    first = net.hvp(X, Y, v, sample_weight=sw, l2=L2, backend="numba")
    work = net._held(module_of("numba"), True, 5)[1]
    assert work[0] == 2.0
    np.testing.assert_allclose(net.hvp(X, Y, v, sample_weight=sw, l2=L2, backend="numba"),
                               first, rtol=1e-13, atol=1e-15)


# -- bad input names the argument -----------------------------------------------------

BAD_WEIGHTS = [
    (np.ones(4), ValueError, r"sample_weight must have shape \(5,\)"),
    (np.ones((5, 1)), ValueError, "sample_weight must be 1-D"),
    (np.array([1, 1, -1, 1, 1.0]), ValueError, "sample_weight must be >= 0"),
    (np.array([1, 1, np.nan, 1, 1.0]), ValueError, "sample_weight must be finite"),
    (np.array([1, 1, np.inf, 1, 1.0]), ValueError, "sample_weight must be finite"),
    (np.zeros(5), ValueError, "sample_weight must have a positive sum"),
    (np.array(["a"] * 5), TypeError, "sample_weight must be"),
]
BAD_L2 = [(-0.1, ValueError), (np.nan, ValueError), (np.inf, ValueError), ("1", TypeError),
          (True, TypeError), (None, TypeError), (np.ones(2), TypeError)]


def _calls(net, X, Y, v):
    return [lambda **kw: net.loss(X, Y, **kw), lambda **kw: net.loss_and_grad(X, Y, **kw),
            lambda **kw: net.hvp(X, Y, v, **kw), lambda **kw: net.gnvp(X, Y, v, **kw),
            lambda **kw: net.objective(X, Y, **kw),
            lambda **kw: pk.train(net, X, Y, epochs=1, **kw)]


@pytest.mark.parametrize("bad,error,message", BAD_WEIGHTS)
def test_bad_sample_weight_names_it(bad, error, message):
    net = make_net("tanh", "identity", "mse")
    X, Y = make_data(net, 5)
    for call in _calls(net, X, Y, np.ones(net.size)):
        with pytest.raises(error, match=message):
            call(sample_weight=bad)


@pytest.mark.parametrize("bad,error", BAD_L2)
def test_bad_l2_names_it(bad, error):
    net = make_net("tanh", "identity", "mse")
    X, Y = make_data(net, 5)
    for call in _calls(net, X, Y, np.ones(net.size)):
        with pytest.raises(error, match="l2 must be"):
            call(l2=bad)


def test_accepted_weight_and_l2_types():
    net = make_net("tanh", "identity", "mse")
    X, Y = make_data(net, 4)
    reference = net.loss(X, Y, sample_weight=np.array([1.0, 2.0, 0.0, 1.0]), l2=1.0)
    for sw in ([1, 2, 0, 1], np.array([1, 2, 0, 1], np.int32), (1.0, 2.0, 0.0, 1.0),
               np.array([1, 2, 0, 1], np.float32)):
        for l2 in (1, 1.0, np.float32(1.0), np.int64(1)):
            assert net.loss(X, Y, sample_weight=sw, l2=l2) == pytest.approx(reference,
                                                                            rel=1e-12)


# -- the Objective ------------------------------------------------------------------------

def test_objective_carries_weights_penalty_and_gauss_newton():
    net = make_net("tanh", "exp", "poisson")
    X, Y = make_data(net, 8, seed=23)
    sw = sample_weights(8, seed=8)
    weighting = dict(sample_weight=sw, l2=L2)
    objective = net.objective(X, Y, **weighting)
    theta = net.theta * 0.9
    v = np.random.default_rng(24).standard_normal(net.size)
    assert objective.fun(theta) == net.loss(X, Y, theta, **weighting)
    value, grad = objective.fun_and_grad(theta)
    np.testing.assert_array_equal(grad, net.loss_and_grad(X, Y, theta, **weighting)[1])
    np.testing.assert_array_equal(objective.grad(theta), grad)
    np.testing.assert_array_equal(objective.hvp(theta, v), net.hvp(X, Y, v, theta, **weighting))
    gv = objective.gnvp(theta, v)
    np.testing.assert_array_equal(gv, net.gnvp(X, Y, v, theta, **weighting))
    assert v @ gv > 0  # positive definite here: the penalty adds l2 on the weights
    assert "gnvp" in repr(objective)
    res = pk.minimize(objective, net.theta, method="newton-cg", maxiter=5)
    assert res.fun < objective.fun(net.theta)


def test_objective_accepts_and_checks_gnvp():
    obj = pk.Objective(lambda x: x @ x, gnvp=lambda x, v: 2 * v)
    np.testing.assert_array_equal(obj.gnvp(np.ones(2), np.ones(2)), [2.0, 2.0])
    assert pk.Objective(lambda x: x @ x).gnvp is None
    with pytest.raises(TypeError, match="gnvp must be callable"):
        pk.Objective(lambda x: x @ x, gnvp=3)


# -- pk.train --------------------------------------------------------------------------

def test_train_with_unit_weights_is_unweighted_training():
    X, Y = make_data(make_net("tanh", "identity", "mse"), 50, seed=25)
    a, b = make_net("tanh", "identity", "mse"), make_net("tanh", "identity", "mse")
    ha = pk.train(a, X, Y, epochs=3, batch_size=8, lr=1e-2)
    hb = pk.train(b, X, Y, epochs=3, batch_size=8, lr=1e-2, sample_weight=np.ones(50))
    np.testing.assert_array_equal(a.theta, b.theta)
    assert ha["loss"] == hb["loss"]


def test_train_weights_follow_their_rows_through_shuffling():
    """At lr = 0 theta stays put, so each epoch's loss -- the batches' weighted losses,
    averaged with their total weights -- is the weighted loss of the whole set, whatever
    the shuffle: weights that did not move with their rows would give another value."""
    net = make_net("relu", "softmax", "cross_entropy")
    X, y = make_data(net, 40, seed=26, labels=True)
    sw = sample_weights(40, seed=9)
    sw[:10] = 0.0  # whole mini-batches of zero weight happen too
    hist = pk.train(net, X, y, optimizer="sgd", epochs=3, batch_size=6, schedule=lambda e: 0.0,
                    sample_weight=sw, l2=L2)
    expected = net.loss(X, y, sample_weight=sw, l2=L2)
    np.testing.assert_allclose(hist["loss"], expected, rtol=1e-12)
    unweighted = net.loss(X, y, l2=L2)
    assert abs(expected - unweighted) > 1e-3  # the weights matter in this case


def test_train_step_is_the_penalised_gradient():
    net = make_net("tanh", "identity", "mse")
    X, Y = make_data(net, 16, seed=27)
    sw = sample_weights(16, seed=10)
    _, grad = net.loss_and_grad(X, Y, sample_weight=sw, l2=L2)
    expected = net.theta - 0.05 * grad
    hist = pk.train(net, X, Y, optimizer="sgd", lr=0.05, epochs=1, batch_size=16,
                    sample_weight=sw, l2=L2)
    np.testing.assert_allclose(net.theta, expected, rtol=1e-12, atol=1e-14)
    assert np.isnan(hist["val_loss"][0])


def test_train_validation_loss_is_unweighted_and_unpenalised():
    net = make_net("tanh", "identity", "mse")
    X, Y = make_data(net, 16, seed=28)
    Xv, Yv = make_data(net, 9, seed=29)
    hist = pk.train(net, X, Y, epochs=1, batch_size=4, validation=(Xv, Yv),
                    sample_weight=sample_weights(16), l2=1.0)
    assert hist["val_loss"][0] == pytest.approx(net.loss(Xv, Yv), rel=1e-12)
