"""An independent hostile-input suite for pk.MLP on every backend (issue 14's last bar):
construction, predict, loss, loss_and_grad, hvp, gnvp, jacobian, lipschitz_bound and
files answer with finite numbers (backends agreeing) or raise a ValueError/TypeError
naming the argument; at the edges of float64 they give the true value (inf where it
overflows) or a FloatingPointError, never a NaN."""

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import pykernels as pk

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

BACKENDS = [b for b in ("numba", "c", "numpy") if b in pk.backends()]
CONFIGS = [("tanh", "identity", "mse", 3), ("relu", "softmax", "cross_entropy", 3),
           ("sigmoid", "sigmoid", "cross_entropy", 1), ("identity", "exp", "poisson", 2),
           ("tanh", "tanh", "huber", 2), ("relu", "identity", "l1", 2)]
RNG = np.random.default_rng(0)


def _problem(config, dtype=np.float64, rows=5):
    activation, output, loss, n_out = config
    net = pk.MLP([4, 6, n_out], activation=activation, output=output, loss=loss,
                 dtype=dtype, seed=1)
    X = RNG.standard_normal((rows, 4))
    if output == "softmax":
        Y = RNG.integers(0, n_out, rows)
    elif output == "sigmoid":
        Y = (RNG.random((rows, 1)) > 0.5).astype(float)
    else:
        Y = np.abs(RNG.standard_normal((rows, n_out)))
    return net, X, Y


def _layouts(a):
    """The same values in other dtypes and layouts (and some that are not the same)."""
    a = np.asarray(a, dtype=float)
    ro = a.copy()
    ro.flags.writeable = False
    out = [a.astype(np.float32), np.asfortranarray(a), a[..., ::-1][..., ::-1], ro,
           a.tolist(), np.repeat(a, 2, axis=-1)[..., ::2]]
    out += [a.astype(np.float16), a.astype(complex), a.astype(object), a.astype(str),
            a > 0, a[None], a.reshape(-1), np.empty((0,) + a.shape[1:]),
            np.where(a > 0.5, np.nan, a), np.where(a > 0.5, -np.inf, a), a * 1e300,
            a * 5e-324, -0.0 * a]
    return out


@st.composite
def evaluations(draw):
    """One evaluation with at most one hostile argument.  Values whose true results
    overflow (theta scaled past 1e100) have their own tests below."""
    config = draw(st.sampled_from(CONFIGS))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    net, X, Y = _problem(config, dtype)
    method = draw(st.sampled_from(["predict", "loss", "loss_and_grad", "hvp", "gnvp",
                                   "jacobian", "jacobian-params"]))
    kwargs = dict(backend=draw(st.sampled_from(BACKENDS)))
    args = {"X": X, "Y": Y, "v": RNG.standard_normal(net.size)}
    part = draw(st.sampled_from(["none", "X", "Y", "theta", "v", "sample_weight", "l2",
                                 "backend"]))
    if part in ("X", "Y"):
        args[part] = draw(st.sampled_from(_layouts(args[part]) + [
            [[1.0, 2.0], [3.0]], None, "X", np.ones((5, 7))]))
    elif part == "theta":
        kwargs["theta"] = draw(st.sampled_from(_layouts(net.theta)[:-3] + [
            net.theta * 1e3, net.theta[:-1], np.append(net.theta, 0.0), "theta"]))
    elif part == "v":
        args["v"] = draw(st.sampled_from(_layouts(args["v"]) + [np.ones(3), "v"]))
    elif part == "sample_weight":
        kwargs["sample_weight"] = draw(st.sampled_from([
            np.arange(5.0), np.zeros(5), -np.ones(5), np.ones(4), np.ones((5, 1)),
            np.array([1, np.nan, 1, 1, 1]), [1, 2, 3, 4, 5], np.ones(5, bool), "w",
            np.ones(5) * 1e10, np.ones(5) * 1e-10]))
    elif part == "l2":
        kwargs["l2"] = draw(st.sampled_from([0.5, -1.0, np.nan, np.inf, 1e300, "0", None,
                                             True, [0.1]]))
    elif part == "backend":
        kwargs["backend"] = draw(st.sampled_from(["C", "fortran", ["c"], 1, ""]))
    return net, method, args, kwargs


def _call(net, method, args, kwargs):
    if method in ("predict", "jacobian", "jacobian-params"):
        kwargs = {k: v for k, v in kwargs.items() if k not in ("sample_weight", "l2")}
        if method == "predict":
            return net.predict(args["X"], **kwargs)
        return net.jacobian(args["X"], "params" if method.endswith("params") else "input",
                            **kwargs)
    if method in ("hvp", "gnvp"):
        return getattr(net, method)(args["X"], args["Y"], args["v"], **kwargs)
    return getattr(net, method)(args["X"], args["Y"], **kwargs)


def _arrays(result):
    return [np.asarray(r, dtype=float) for r in (result if isinstance(result, tuple)
                                                  else (result,))]


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(case=evaluations())
def test_network_answers_finite_or_names_the_argument(case):
    net, method, args, kwargs = case
    try:
        result = _call(net, method, args, kwargs)
    except (ValueError, TypeError, pk.BackendUnavailable) as exc:
        names = ("X", "Y", "theta", "v", "sample_weight", "l2", "backend")
        assert any(name in str(exc) for name in names), str(exc)
        event(type(exc).__name__)
        return
    event("result")
    assert all(np.isfinite(a).all() for a in _arrays(result))
    if kwargs.get("backend") in BACKENDS and len(BACKENDS) > 1:
        others = [_call(net, method, args, dict(kwargs, backend=b)) for b in BACKENDS]
        tol = 1e-10 if net.dtype == np.float64 else 2e-3
        for other in others:
            for a, b in zip(_arrays(result), _arrays(other)):
                np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, np.abs(b).max()))


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(sizes=st.one_of(st.lists(st.integers(-2, 6), min_size=0, max_size=4),
                       st.sampled_from([[2**31, 1], [2**20, 2**12, 1], [2.0, 3], ["2", "3"],
                                        [True, 2], {2, 3}, (2, 3), np.array([2, 3]),
                                        np.array([[2, 3]]), "23", 5, None, range(2, 4)])),
       activation=st.sampled_from(["tanh", "relu", "sigmoid", "identity", "TANH", None, 1]),
       output=st.sampled_from(["identity", "softmax", "sigmoid", "tanh", "exp", "relu"]),
       loss=st.sampled_from(["mse", "l1", "huber", "cross_entropy", "poisson", "hinge"]),
       dtype=st.sampled_from([np.float64, np.float32, np.float16, int, "x", None]))
def test_construction_builds_or_names_the_argument(sizes, activation, output, loss, dtype):
    try:
        net = pk.MLP(sizes, activation=activation, output=output, loss=loss, dtype=dtype)
    except (ValueError, TypeError) as exc:
        assert any(n in str(exc) for n in ("sizes", "activation", "output", "loss", "dtype"))
        return
    assert np.isfinite(net.theta).all() and net.theta.size == net.size


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_damaged_network_files_load_the_network_or_raise_value_error(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    net = pk.MLP([3, 5, 2], seed=0)
    path = folder / "net.npz"
    net.save(path)
    raw = bytearray(path.read_bytes())
    kind = data.draw(st.sampled_from(["truncate", "flip", "zero-run", "append"]))
    if kind == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif kind == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, len(raw) - 1))
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "zero-run":
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at:at + data.draw(st.integers(1, 64))] = bytes(64)[:len(raw[at:at + 64])]
    else:
        raw += bytes(data.draw(st.binary(min_size=1, max_size=64)))
    path.write_bytes(bytes(raw))
    try:
        loaded = pk.MLP.load(path)
    except ValueError as exc:
        assert repr(str(path)) in str(exc)
        return
    # a change the format does not read (a zip comment, padding) leaves the network
    assert loaded.sizes.tolist() == net.sizes.tolist()
    np.testing.assert_array_equal(loaded.theta, net.theta)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_same_call_gives_the_same_bits_in_any_order(backend):
    """Results do not depend on what the network computed before."""
    net, X, Y = _problem(CONFIGS[1])
    first = [net.predict(X, backend=backend), net.loss_and_grad(X, Y, backend=backend)[1],
             net.jacobian(X, "params", backend=backend)]
    for b in (3, 5, 1):
        net.loss_and_grad(X[:b], Y[:b], backend=backend)
        net.jacobian(X[:b], backend=backend)
    again = [net.predict(X, backend=backend), net.loss_and_grad(X, Y, backend=backend)[1],
             net.jacobian(X, "params", backend=backend)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


# -- the edges of float64 ------------------------------------------------------------

@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[3]], ids=["mse", "poisson"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_finite_theta_far_out_gives_no_nan(config, backend):
    net, X, Y = _problem(config)
    theta = net.theta * 1e160
    v = np.ones(net.size)
    calls = [lambda: net.loss_and_grad(X, Y, theta, backend=backend)[1],
             lambda: net.hvp(X, Y, v, theta, backend=backend),
             lambda: net.gnvp(X, Y, v, theta, backend=backend)]
    for call in calls:
        try:
            assert not np.isnan(call()).any()
        except FloatingPointError as exc:  # exp(1e160): past every float's range
            assert net.output == "exp" and "overflows float64" in str(exc)


@pytest.mark.parametrize("config", [CONFIGS[1], CONFIGS[2]], ids=["softmax", "sigmoid"])
def test_cross_entropy_far_out_on_the_reference(config):
    # misclassified rows have logit gaps ~1e600: the true loss overflows (inf), the
    # gradient does not
    net, X, Y = _problem(config)
    values = [net.loss_and_grad(X, Y, net.theta * 1e300, backend=b) for b in BACKENDS]
    for value, grad in values:
        assert not np.isnan(value) and np.isfinite(grad).all()
        assert value == values[0][0]
        np.testing.assert_allclose(grad, values[0][1], rtol=1e-12)


@pytest.mark.parametrize("weight", [5e-324, 1e308])
@pytest.mark.parametrize("backend", BACKENDS)
def test_equal_extreme_sample_weights_are_no_weights(weight, backend):
    net, X, Y = _problem(CONFIGS[0])
    value, grad = net.loss_and_grad(X, Y, sample_weight=np.full(5, weight), backend=backend)
    ref_value, ref_grad = net.loss_and_grad(X, Y, backend=backend)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_repeated_products_give_the_same_bits(backend):
    differs = 0
    for seed in range(10):
        net = pk.MLP([5, 16, 4], activation="tanh", output="softmax", loss="cross_entropy",
                     seed=seed)
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((7, 5))
        Y = np.eye(4)[rng.integers(0, 4, 7)]
        v, w = rng.standard_normal((2, net.size))
        first = net.hvp(X, Y, v, backend=backend)
        net.hvp(X, Y, w, backend=backend)
        differs += not np.array_equal(net.hvp(X, Y, v, backend=backend), first)
    assert differs == 0
