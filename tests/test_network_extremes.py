"""Network kernels at the edges of float64 (issue 14, items 9-12): no silent NaN from
finite input, cross-entropy exact near zero and never negative at huge logits, and the
same bits for the same call whatever was called before."""

from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_mlp import COMBOS, make_data, make_net

import pykernels as pk

pytestmark = pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning",
                                        "ignore:invalid value:RuntimeWarning")

BACKENDS = [b for b in ("numba", "c", "numpy") if b in pk.backends()]
COMPILED = [b for b in BACKENDS if b != "numpy"]
EPS = np.finfo(np.float64).eps


def _exact_cross_entropy(z, label):
    """logsumexp(z) - z[label] of float64 logits, in 400-digit decimal arithmetic."""
    with localcontext() as ctx:
        ctx.prec = 400  # exp(-700) ~ 1e-304 must survive 1 + it
        zs = [Decimal(float(v)) for v in z]
        top = max(zs)
        return float(top + sum((v - top).exp() for v in zs).ln() - zs[label])


# -- 11. cross-entropy near zero loss -------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("gap", [0.0, 2.0, 10.0, 18.0, 20.0, 30.0, 40.0, 700.0])
def test_cross_entropy_is_exact_near_zero_loss(backend, gap):
    # one layer, X = 1, b = 0: the logits are the weights, bit for bit
    net = pk.MLP([1, 5], activation="identity", output="softmax", loss="cross_entropy")
    rng = np.random.default_rng(int(gap))
    for label in range(5):
        z = rng.normal(0.0, 1.0, 5)
        z[label] += gap
        net.theta[:] = 0.0
        net.theta[:5] = z
        exact = _exact_cross_entropy(z, label)
        got = net.loss(np.ones((1, 1)), np.array([label]), backend=backend)
        # the kernels' exp is within 2 ulps (kernels/_math.py): a few ulps in all
        assert abs(got - exact) <= 8 * EPS * exact, (got, exact)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_of_soft_labels_is_exact(backend):
    net = pk.MLP([1, 4], activation="identity", output="softmax", loss="cross_entropy")
    z = np.array([25.0, -1.0, 0.5, 3.0])
    net.theta[:4] = z
    Y = np.array([[0.75, 0.0, 0.25, 0.0]])
    exact = 0.75 * _exact_cross_entropy(z, 0) + 0.25 * _exact_cross_entropy(z, 2)
    got = net.loss(np.ones((1, 1)), Y, backend=backend)
    assert abs(got - exact) <= 8 * EPS * exact


# -- 10. cross-entropy at huge logits -------------------------------------------------

@pytest.mark.parametrize("scale", [1e150, 1e300])
@pytest.mark.parametrize("sizes,activation", [([5, 3], "relu"), ([4, 8, 3], "tanh"),
                                              ([10, 16, 16, 4], "tanh")])
def test_cross_entropy_at_huge_theta_is_positive_and_agrees(sizes, activation, scale):
    net = pk.MLP(sizes, activation=activation, output="softmax", loss="cross_entropy", seed=0)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, sizes[0])), rng.integers(0, sizes[-1], 6)
    theta = net.theta * scale
    values = [net.loss(X, y, theta, backend=b) for b in BACKENDS]
    assert min(values) >= 0.0
    np.testing.assert_allclose(values, values[0], rtol=1e-12)


def test_cross_entropy_ignores_minus_infinite_logits_of_other_classes():
    # the logit of a class with y = 0 overflows to -inf: it adds nothing (not 0 * inf)
    net = pk.MLP([1, 3], activation="identity", output="softmax", loss="cross_entropy")
    net.theta[:3] = [1.0, -1e308, 0.0]
    X = np.full((1, 1), 4.0)  # z = (4, -inf, 0)
    for backend in BACKENDS:
        value, grad = net.loss_and_grad(X, np.array([0]), backend=backend)
        assert value == pytest.approx(np.log1p(np.exp(-4.0)), rel=1e-15)
        assert np.isfinite(grad).all()


# -- 9. finite input never gives a silent NaN -----------------------------------------

def _outcomes(net, X, Y, theta, backend):
    """Every evaluation of the network at (X, Y, theta): each result, or the error."""
    v = np.linspace(-1.0, 1.0, net.size)
    calls = {
        "loss": lambda: net.loss(X, Y, theta, backend=backend),
        "loss_and_grad": lambda: net.loss_and_grad(X, Y, theta, backend=backend),
        "predict": lambda: net.predict(X, theta, backend=backend),
        "hvp": lambda: net.hvp(X, Y, v, theta, backend=backend),
        "gnvp": lambda: net.gnvp(X, Y, v, theta, backend=backend),
        "jacobian": lambda: net.jacobian(X, "params", theta, backend=backend),
    }
    results = {}
    for name, call in calls.items():
        try:
            results[name] = call()
        except FloatingPointError as exc:
            assert "overflows float64 at this theta and X" in str(exc)
            results[name] = exc
    return results


def _has_nan(result):
    if isinstance(result, tuple):
        return any(_has_nan(r) for r in result)
    return not isinstance(result, Exception) and bool(np.isnan(result).any())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("what,scale", [("theta", 1e150), ("theta", 1e160), ("theta", 1e300),
                                        ("X", 1e160), ("X", 1e300)])
@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_extreme_finite_input_gives_the_true_value_or_an_error(backend, what, scale, act, out,
                                                               loss):
    net = make_net(act, out, loss)
    X, Y = make_data(net, 4, seed=2)
    theta = net.theta * scale if what == "theta" else net.theta
    X = X * scale if what == "X" else X
    for name, result in _outcomes(net, X, Y, theta, backend).items():
        assert not _has_nan(result), name


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_overflowing_mse_is_inf_with_its_finite_gradient(backend):
    # one layer: the output ~1e160 is finite, its square is not -- the true loss is
    # +inf, the gradient 2 (z - y)^T [X, 1] / (batch n_out) is finite
    net = make_net("tanh", "identity", "mse", sizes=(3, 2))
    X, Y = make_data(net, 4)
    theta = net.theta * 1e160
    value, grad = net.loss_and_grad(X, Y, theta, backend=backend)
    assert value == np.inf
    W, b = theta[:6].reshape(2, 3), theta[6:]
    residual = X @ W.T + b - Y
    want = np.concatenate([(residual.T @ X).ravel(), residual.sum(axis=0)]) * 2 / 8
    np.testing.assert_allclose(grad, want, rtol=1e-13)
    hv = net.hvp(X, Y, np.ones(net.size), theta, backend=backend)
    np.testing.assert_allclose(hv, net.hvp(X, Y, np.ones(net.size), backend=backend))


def _exact_mse_and_grad(net, theta, X, Y):
    """The mse loss of a tanh/relu network with identity output and its gradient by
    backpropagation in 50-digit mpmath arithmetic (exponents unbounded), rounded to
    float64: inf where the true value overflows, 0 where it underflows."""
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(50):
        sizes, t, layers = [int(s) for s in net.sizes], 0, []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            W = mpmath.matrix([[mpmath.mpf(float(theta[t + i * n_in + j])) for j in range(n_in)]
                               for i in range(n_out)])
            t += n_out * n_in
            layers.append((W, mpmath.matrix([mpmath.mpf(float(v)) for v in theta[t:t + n_out]])))
            t += n_out
        terms = len(X) * sizes[-1]
        grads = [[mpmath.matrix(W.rows, W.cols), mpmath.matrix(b.rows, 1)] for W, b in layers]
        loss = mpmath.mpf(0)
        for x, y in zip(X, Y):
            acts, zs = [mpmath.matrix([mpmath.mpf(float(v)) for v in x])], []
            for k, (W, b) in enumerate(layers):
                zs.append(W * acts[-1] + b)
                if k < len(layers) - 1:
                    acts.append(zs[-1].apply(mpmath.tanh if net.activation == "tanh"
                                             else lambda z: max(z, 0)))
            residual = zs[-1] - mpmath.matrix([mpmath.mpf(float(v)) for v in y])
            loss += sum(r * r for r in residual) / terms
            delta = residual * 2 / terms
            for k in range(len(layers) - 1, -1, -1):
                grads[k][0] += delta * acts[k].T
                grads[k][1] += delta
                if k:
                    slope = zs[k - 1].apply(lambda z: mpmath.sech(z) ** 2) \
                        if net.activation == "tanh" else zs[k - 1].apply(lambda z: int(z > 0))
                    back = layers[k][0].T * delta
                    delta = mpmath.matrix([back[i] * slope[i] for i in range(back.rows)])
        flat = [float(v) for dW, db in grads for v in list(dW) + list(db)]
        return float(loss), np.array(flat)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation,scale", [("relu", 1e300), ("relu", 1e160),
                                              ("tanh", 1e300), ("tanh", 1e160)])
def test_an_overflow_inside_the_network_gives_the_true_value(backend, activation, scale):
    # products of 1e300-size weights are inf - inf (NaN) in float64; the network
    # evaluates them again in extended precision, whose rounding is the true value
    net = make_net(activation, "identity", "mse", sizes=(3, 4, 2))
    X, Y = make_data(net, 3)
    theta = net.theta * scale
    value, grad = net.loss_and_grad(X, Y, theta, backend=backend)
    exact_value, exact_grad = _exact_mse_and_grad(net, theta, X, Y)
    assert value == exact_value == np.inf
    assert np.isfinite(grad).any() and (activation == "tanh" or np.isinf(grad).any())
    np.testing.assert_array_equal(np.isinf(grad), np.isinf(exact_grad))
    np.testing.assert_allclose(grad, exact_grad, rtol=1e-13)
    assert net.loss(X, Y, theta, backend=backend) == np.inf
    for product in (net.hvp(X, Y, np.ones(net.size), theta, backend=backend),
                    net.gnvp(X, Y, np.ones(net.size), theta, backend=backend)):
        assert not np.isnan(product).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_exp_output_past_any_float_range_is_a_floating_point_error(backend):
    # exp(1e160) and its products overflow even extended precision: no true value
    # to round, so an error, never NaN
    net = make_net("identity", "exp", "poisson", sizes=(3, 4, 2))
    X, Y = make_data(net, 4)
    with pytest.raises(FloatingPointError, match="overflows float64 at this theta and X"):
        net.loss_and_grad(X, Y, net.theta * 1e160, backend=backend)
    with pytest.raises(FloatingPointError, match="Hessian-vector product overflows"):
        net.hvp(X, Y, np.ones(net.size), net.theta * 1e160, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("where", ["theta", "X", "Y"])
def test_a_non_finite_input_is_named_not_blamed_on_overflow(backend, where):
    net = make_net("relu", "softmax", "mse")
    X, Y = make_data(net, 4)
    theta = net.theta.copy()
    {"theta": theta, "X": X, "Y": Y}[where][0, ...] = np.nan
    for call in (lambda: net.loss(X, Y, theta, backend=backend),
                 lambda: net.loss_and_grad(X, Y, theta, backend=backend),
                 lambda: net.hvp(X, Y, np.ones(net.size), theta, backend=backend)):
        with pytest.raises(ValueError, match=f"{where} must be finite"):
            call()


@settings(max_examples=60, deadline=None)
@given(combo=st.sampled_from(COMBOS), backend=st.sampled_from(BACKENDS),
       what=st.sampled_from(["theta", "X"]), exponent=st.integers(0, 308),
       seed=st.integers(0, 2**16))
def test_property_extreme_finite_inputs_never_give_nan(combo, backend, what, exponent, seed):
    net = make_net(*combo, seed=seed % 7)
    X, Y = make_data(net, 3, seed=seed)
    scale = 10.0 ** exponent
    with np.errstate(over="ignore"):
        theta = net.theta * scale if what == "theta" else net.theta
        X = X * scale if what == "X" else X
    assume(np.isfinite(theta).all() and np.isfinite(X).all())  # finite input only
    for name, result in _outcomes(net, X, Y, theta, backend).items():
        assert not _has_nan(result), name


# -- 12. the same call gives the same bits --------------------------------------------

def _bits(a):
    return np.ascontiguousarray(a).view(np.uint8)


@settings(max_examples=40, deadline=None)
@given(combo=st.sampled_from(COMBOS), backend=st.sampled_from(COMPILED),
       dtype=st.sampled_from([np.float64, np.float32]), batch=st.integers(1, 40),
       calls=st.lists(st.sampled_from(["hvp", "gnvp", "loss_and_grad", "jacobian"]),
                      min_size=2, max_size=6),
       seed=st.integers(0, 2**16))
def test_property_repeated_calls_give_identical_bits(combo, backend, dtype, batch, calls, seed):
    """Whatever ran before on the same network and point (a kept R-operator pass
    included), each call gives the bits a fresh network gives."""
    net = make_net(*combo, dtype=dtype, sizes=(4, 24, 16, 3), seed=seed % 5)
    X, Y = make_data(net, batch, seed=seed)
    v = np.random.default_rng(seed).standard_normal(net.size).astype(dtype)

    def call(network, name):
        if name == "jacobian":
            return network.jacobian(X, "params", backend=backend)
        if name == "loss_and_grad":
            return network.loss_and_grad(X, Y, backend=backend)[1]
        return getattr(network, name)(X, Y, v, backend=backend)

    fresh = {}
    for name in set(calls):
        other = make_net(*combo, dtype=dtype, sizes=(4, 24, 16, 3), seed=seed % 5)
        fresh[name] = call(other, name)
    for name in calls + calls:
        np.testing.assert_array_equal(_bits(call(net, name)), _bits(fresh[name]), name)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid", "identity"])
@pytest.mark.parametrize("sizes,batch", [((5, 16, 12, 4), 9), ((16, 64, 64, 10), 64)])
def test_hvp_twice_at_a_point_gives_identical_bits(backend, act, sizes, batch):
    # (5, 16, 12, 4) at batch 9 differed in the last bits before the kept pass ran the
    # fresh pass's GEMMs (a stacked (2 batch)-row product rounds rows differently)
    net = make_net(act, "softmax", "cross_entropy", sizes=sizes)
    X, Y = make_data(net, batch)
    v = np.random.default_rng(3).standard_normal(net.size)
    first = net.hvp(X, Y, v, backend=backend)
    fresh_gnvp = make_net(act, "softmax", "cross_entropy", sizes=sizes).gnvp(
        X, Y, v, backend=backend)
    for _ in range(3):
        np.testing.assert_array_equal(_bits(net.hvp(X, Y, v, backend=backend)), _bits(first))
        np.testing.assert_array_equal(_bits(net.gnvp(X, Y, v, backend=backend)),
                                      _bits(fresh_gnvp))


# -- the checked network calls: result checks instead of input scans -----------------

@settings(max_examples=60, deadline=None)
@given(combo=st.sampled_from(COMBOS), backend=st.sampled_from(BACKENDS),
       bad=st.sampled_from([np.nan, np.inf, -np.inf]), where=st.sampled_from(["X", "Y"]),
       seed=st.integers(0, 2**16))
def test_property_a_non_finite_input_is_named_by_the_fast_calls(combo, backend, bad, where,
                                                                 seed):
    """loss_and_grad, hvp and gnvp do not scan X and Y for NaN/Inf before the kernels:
    any such entry makes their result non-finite (X enters every entry of the first
    layer's weight gradient), which names the argument."""
    net = make_net(*combo, seed=seed % 5)
    X, Y = make_data(net, 4, seed=seed)
    if where == "Y" and net.loss_name == "cross_entropy" and np.isfinite(bad):
        return
    rng = np.random.default_rng(seed)
    array = X if where == "X" else Y
    array[rng.integers(array.shape[0]), rng.integers(array.shape[1])] = bad
    v = rng.standard_normal(net.size)
    for call in (lambda: net.loss_and_grad(X, Y, backend=backend),
                 lambda: net.hvp(X, Y, v, backend=backend),
                 lambda: net.gnvp(X, Y, v, backend=backend)):
        with pytest.raises(ValueError, match=f"{where} "):
            call()
