"""The R-operator kernels keep the forward/backward pass of (theta, X, Y) in their work
buffer and skip it in the next call at the same point: reused results must equal fresh
ones, and any change of theta, X, Y (in place included), of the product or of the
network must be noticed."""

import numpy as np
import pytest
from test_mlp import assert_close, make_data, make_net

import pykernels as pk
from pykernels import _backend

BACKENDS = ["numba", "c"]
CASES = [("relu", "softmax", "cross_entropy"), ("tanh", "identity", "mse"),
         ("sigmoid", "sigmoid", "cross_entropy"), ("tanh", "softmax", "huber")]


def module_of(backend):
    try:
        return _backend.resolve(backend)
    except pk.BackendUnavailable as exc:
        pytest.skip(str(exc))


def plain(net, batch):
    """The kernels' (sw, scale, l2) of the unweighted mean loss without penalty."""
    return net._check_weights(None, 0.0, batch)


def fresh(net, X, Y, v, backend, kernel="mlp_hvp", theta=None):
    """The product computed in a new, zero-filled work buffer (nothing to reuse)."""
    module = module_of(backend)
    X, Y = net._check_X(X), net._check_Y(Y, len(X))
    theta = net.theta if theta is None else theta
    work = np.zeros(module.rop_workspace_size(net.sizes, len(X)), net.dtype)
    out = np.empty(net.size, net.dtype)
    getattr(module, kernel)(theta, net.sizes, *net._codes, X, Y, *plain(net, len(X)), v, work,
                            out)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act,out,loss", CASES)
def test_reused_products_equal_fresh_ones(act, out, loss, dtype, backend):
    module_of(backend)
    net = make_net(act, out, loss, dtype, sizes=(3, 6, 5, 4, 3))
    X, Y = make_data(net, 7, seed=2)
    rng = np.random.default_rng(3)
    tol = 1e-13 if dtype == np.float64 else 1e-5
    for v in rng.standard_normal((3, net.size)).astype(dtype):
        for kernel, method in (("mlp_hvp", net.hvp), ("mlp_gnvp", net.gnvp)):
            got = method(X, Y, v, backend=backend)
            assert_close(got, fresh(net, X, Y, v, backend, kernel), tol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_changes_in_place_are_noticed(backend):
    module_of(backend)
    net = make_net("tanh", "softmax", "cross_entropy", sizes=(3, 6, 5, 3))
    X, Y = make_data(net, 5, seed=4)
    v = np.random.default_rng(5).standard_normal(net.size)
    net.hvp(X, Y, v, backend=backend)
    X[0, 0] += 0.5  # the same array, new contents
    np.testing.assert_array_equal(net.hvp(X, Y, v, backend=backend),
                                  fresh(net, X, Y, v, backend))
    net.theta[3] -= 0.25  # the network's own theta, in place
    np.testing.assert_array_equal(net.hvp(X, Y, v, backend=backend),
                                  fresh(net, X, Y, v, backend))
    Y = Y[::-1].copy()
    np.testing.assert_array_equal(net.hvp(X, Y, v, backend=backend),
                                  fresh(net, X, Y, v, backend))
    theta = net.theta * 1.1  # an explicit theta
    np.testing.assert_array_equal(net.hvp(X, Y, v, theta, backend=backend),
                                  fresh(net, X, Y, v, backend, theta=theta))
    # -0.0 and 0.0 are different bits: no reuse, the same result
    theta = net.theta.copy()
    theta[0] = 0.0
    net.hvp(X, Y, v, theta, backend=backend)
    theta[0] = -0.0
    np.testing.assert_array_equal(net.hvp(X, Y, v, theta, backend=backend),
                                  fresh(net, X, Y, v, backend, theta=theta))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gnvp_and_jacobian_between_products(backend):
    module_of(backend)
    net = make_net("sigmoid", "identity", "mse", sizes=(3, 6, 5, 2))
    X, Y = make_data(net, 6, seed=6)
    v = np.random.default_rng(7).standard_normal(net.size)
    expected = fresh(net, X, Y, v, backend)
    work = net._held(module_of(backend), True, len(X))[1]
    state = lambda: work[0]  # noqa: E731 -- the header's first entry
    assert state() == 0.0
    net.gnvp(X, Y, v, backend=backend)  # keeps only the forward pass
    assert state() == 1.0
    assert_close(net.hvp(X, Y, v, backend=backend), expected, 1e-13)
    assert state() == 2.0
    assert_close(net.gnvp(X, Y, v, backend=backend),
                 fresh(net, X, Y, v, backend, "mlp_gnvp"), 1e-13)
    assert state() == 2.0  # the Gauss-Newton product reuses, and keeps, the whole pass
    net.jacobian(X, "params", backend=backend)  # overwrites the work buffer
    assert state() == 0.0
    assert_close(net.hvp(X, Y, v, backend=backend), expected, 1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_work_buffer_for_two_networks(backend):
    """Kernel-level callers may share a work buffer between networks of one shape: the
    header (activation codes, sizes, batch) tells them apart even when theta is equal."""
    module = module_of(backend)
    relu = make_net("relu", "identity", "mse", sizes=(3, 5, 2))
    tanh = make_net("tanh", "identity", "mse", sizes=(3, 5, 2))
    tanh.theta = relu.theta
    X, Y = make_data(relu, 4, seed=8)
    v = np.random.default_rng(9).standard_normal(relu.size)
    work = np.zeros(module.rop_workspace_size(relu.sizes, 4))
    out = np.empty(relu.size)
    for net in (relu, tanh, relu):
        module.mlp_hvp(net.theta, net.sizes, *net._codes, X, Y, *plain(net, 4), v, work, out)
        np.testing.assert_array_equal(out, fresh(net, X, Y, v, backend))
    small = work[:module.rop_workspace_size(relu.sizes, 3)]
    module.mlp_hvp(relu.theta, relu.sizes, *relu._codes, X[:3], Y[:3], *plain(relu, 3), v, small,
                   out)
    np.testing.assert_array_equal(out, fresh(relu, X[:3], Y[:3], v, backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sizes,batch", [((3, 2), 1), ((4, 1), 3), ((2, 7, 1), 1),
                                         ((5, 3, 3, 3, 2), 2)])
def test_reuse_on_small_shapes(sizes, batch, backend):
    module_of(backend)
    net = make_net("sigmoid", "softmax" if sizes[-1] > 1 else "identity",
                   "cross_entropy" if sizes[-1] > 1 else "huber", sizes=sizes)
    X, Y = make_data(net, batch, seed=10)
    for v in np.random.default_rng(11).standard_normal((3, net.size)):
        assert_close(net.hvp(X, Y, v, backend=backend), fresh(net, X, Y, v, backend), 1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_networks_of_different_depth_sharing_a_buffer(backend):
    """A shallower network whose theta, X, Y are crafted from the deeper one's copy in
    the buffer (so that every compared prefix matches) is still told apart."""
    module = module_of(backend)
    deep = pk.MLP([2, 3, 1], activation="tanh", output="sigmoid", loss="mse", seed=0)
    shallow = pk.MLP([2, 3], activation="tanh", output="sigmoid", loss="mse", seed=0)
    rng = np.random.default_rng(0)
    theta, X = rng.standard_normal(deep.size), rng.standard_normal((1, 2))
    Y = rng.standard_normal((1, 1))
    n = max(module.rop_workspace_size(net.sizes, 1) for net in (deep, shallow))
    work = np.zeros(n)
    module.mlp_hvp(theta, deep.sizes, *deep._codes, X, Y, *plain(deep, 1),
                   rng.standard_normal(deep.size), work, np.empty(deep.size))
    t2, X2, Y2 = (np.concatenate([[1.0], theta[:8]]), theta[8:10].reshape(1, 2).copy(),
                  theta[10:13].reshape(1, 3).copy())
    v = rng.standard_normal(shallow.size)
    got, want = np.empty(shallow.size), np.empty(shallow.size)
    weights = plain(shallow, 1)
    module.mlp_hvp(t2, shallow.sizes, *shallow._codes, X2, Y2, *weights, v, work, got)
    module.mlp_hvp(t2, shallow.sizes, *shallow._codes, X2, Y2, *weights, v, np.zeros(n), want)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_theta_changed_by_another_thread_mid_call(backend):
    """The pass is computed from the copy it is kept with: a theta moved during a call
    (the kernels release the GIL) is recomputed at the next call, never mislabelled."""
    import threading

    module = module_of(backend)
    # big enough (~2 ms a call) for the mover to land inside the call most of the time
    net = pk.MLP([50, 200, 200, 10], activation="tanh", output="softmax",
                 loss="cross_entropy", seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((256, 50)), np.eye(10)[rng.integers(0, 10, 256)]
    v, theta = rng.standard_normal(net.size), net.theta.copy()
    work = np.zeros(module.rop_workspace_size(net.sizes, 256))
    weights = plain(net, 256)
    for _ in range(20):
        theta[:] = net.theta
        mover = threading.Thread(target=lambda: theta.__setitem__(slice(0, net.size // 2),
                                                                  theta[:net.size // 2] + 0.05))
        mover.start()
        module.mlp_hvp(theta, net.sizes, *net._codes, X, Y, *weights, v, work,
                       np.empty(net.size))
        mover.join()
        got, want = np.empty(net.size), np.empty(net.size)
        module.mlp_hvp(theta, net.sizes, *net._codes, X, Y, *weights, v, work, got)
        module.mlp_hvp(theta, net.sizes, *net._codes, X, Y, *weights, v, np.zeros_like(work),
                       want)
        np.testing.assert_array_equal(got, want)


def test_mlp_rop_is_callable_from_njit_and_takes_any_layout():
    import numba

    from pykernels.kernels import mlp_hvp, mlp_rop

    @numba.njit
    def product(theta, sizes, codes, X, Y, sw, scale, v, work, out):
        return mlp_rop(theta, sizes, codes[0], codes[1], codes[2], X, Y, sw, scale, 0.0, v, work,
                       out, False)

    net = make_net("relu", "softmax", "cross_entropy", sizes=(3, 6, 4))
    X, Y = make_data(net, 5, seed=12)
    v = np.random.default_rng(13).standard_normal(net.size)
    want = fresh(net, X, Y, v, "numba")
    work, out = np.zeros(module_of("numba").rop_workspace_size(net.sizes, 5)), np.empty(net.size)
    sw, scale, _ = plain(net, 5)
    product(net.theta, net.sizes, np.array(net._codes), X, Y, sw, scale, v, work, out)
    assert_close(out, want, 1e-13)
    mlp_hvp(net.theta, net.sizes, *net._codes, np.asfortranarray(X), Y, sw, scale, 0.0, v,
            np.zeros_like(work), out)
    assert_close(out, want, 1e-13)


def test_rounded_float32_header_is_never_exact():
    from pykernels.kernels.rop import _HEAD, _KEY, _describe

    sizes = np.array([3, 2])

    def describe(batch, n_sw, scale, l2):
        cand = np.zeros(_HEAD + sizes.size, np.float32)
        return cand, _describe(cand, sizes, 1, 0, 1, batch, n_sw, scale, l2)

    # batch 2**24 + 1 rounds to 2**24 in a float32 header: the kernel neither marks a pass
    # with such a header as kept nor takes one kept for 2**24 (whose header has the same
    # bits) as a hit (a buffer for that batch is too large to test here)
    assert not describe(2 ** 24 + 1, 0, 0.1, 0.0)[1]
    cand, exact = describe(7, 0, 0.1, 0.0)
    assert exact
    np.testing.assert_array_equal(cand[1:7], [1, 0, 1, 7, sizes.size, 0])
    np.testing.assert_array_equal(cand[_KEY:_KEY + 8], np.array([0.1, 0.0]).view("<u2"))
    np.testing.assert_array_equal(cand[_HEAD:], sizes)
    # scale and l2 are compared bit for bit, not through a float32 rounding
    for other in (describe(7, 0, np.nextafter(0.1, 1.0), 0.0), describe(7, 0, 0.1, -0.0),
                  describe(7, 7, 0.1, 0.0)):  # with 7 weights
        assert other[1] and not np.array_equal(other[0], cand)


@pytest.mark.parametrize("dtype, itype", [(np.float64, np.int64), (np.float32, np.int32)])
def test_same_bits_tells_signed_zeros_and_nan_payloads_apart(dtype, itype):
    import numba

    from pykernels.kernels import rop

    @numba.njit
    def _same_bits(a, b):  # a private helper of compiled code: no Python entry point
        return rop._same_bits(a, b)

    a = np.array([1.0, 0.0, np.nan, 2.5], dtype)
    assert _same_bits(a, a.copy())
    assert _same_bits(a[:0], a[:0])
    negative_zero = a.copy()
    negative_zero[1] = -0.0  # == 0.0, other bits
    assert not _same_bits(a, negative_zero)
    payload = a.copy()
    payload.view(itype)[2] |= 1  # still a NaN, another payload
    assert np.isnan(payload[2]) and not _same_bits(a, payload)
    last = a.copy()
    last[-1] = np.nextafter(last[-1], np.inf, dtype=dtype)  # the final entry counts too
    assert not _same_bits(a, last)


def test_pass_kept_for_a_size_float32_rounds_to_is_not_taken():
    """A float32 header holds width 2**24 + 1 as 2**24: a pass kept for 2**24 has the
    same header bits, and must not be taken for it."""
    from pykernels.kernels.rop import _CURVATURE, _HEAD, _keep

    theta, X, Y, sw = np.ones(3, np.float32), np.ones((2, 1), np.float32), \
        np.zeros((2, 1), np.float32), np.zeros(0, np.float32)
    head, cand = np.zeros(_HEAD + 2, np.float32), np.zeros(_HEAD + 2, np.float32)
    copy = np.zeros(theta.size + X.size + Y.size, np.float32)

    def hit(width):  # only the header reads the sizes: no buffer of that width is made
        return _keep(head, cand, copy, np.array([width, 1]), 1, 0, 0, theta, X, Y, sw,
                     1.0, 0.0)[4]

    assert not hit(2 ** 24)
    head[0] = _CURVATURE  # as mlp_rop marks the exact pass it computed as kept
    assert hit(2 ** 24)
    assert not hit(2 ** 24 + 1)
