"""The "c" backend (csrc/ through cffi): parity with the Numba and NumPy backends
for every kernel, checked inputs at the cffi boundary, flat memory, and a clean
BackendUnavailable when the extension is missing.

Skipped when the extension is not built, unless PYKERNELS_REQUIRE_C=1 (set by
.ci/c_checks.sh), which turns the skip into a failure.
"""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

import pykernels as pk
from pykernels.network import ACTIVATIONS, LOSS_OUTPUTS, LOSSES, OUTPUTS

if "c" not in pk.backends():
    if os.environ.get("PYKERNELS_REQUIRE_C") == "1":
        raise RuntimeError("PYKERNELS_REQUIRE_C=1 but the C backend is unavailable")
    pytest.skip("C backend not built", allow_module_level=True)

from pykernels.kernels import activations as nb_act
from pykernels.kernels import losses as nb_loss

from pykernels import _cbackend

ffi, lib = _cbackend.ffi, _cbackend.lib
COMBOS = [(act, out, loss)
          for act, out, loss in itertools.product(ACTIVATIONS, OUTPUTS, LOSSES)
          if out in LOSS_OUTPUTS.get(loss, OUTPUTS)]
TOL = {np.float64: 1e-12, np.float32: 1e-5}
# (sizes, batch): single layer, batch 1, deeper and wider than the batch
# batch 33 and widths 70, 33: partial tiles of the compiled products; 300 inputs: BLAS
SHAPES = [((3, 1), 1), ((2, 5, 4), 1), ((3, 5, 4, 3), 7), ((4, 16, 9, 2), 33),
          ((5, 70, 33, 2), 25), ((300, 12, 3), 13)]


def make_case(act, out, loss, dtype, sizes, batch, seed=0):
    net = pk.MLP(list(sizes), activation=act, output=out, loss=loss, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    net.theta += rng.normal(0, 0.2, net.size).astype(dtype)
    X = rng.standard_normal((batch, net.n_in)).astype(dtype)
    if loss == "cross_entropy" and out == "softmax":
        Y = np.eye(net.n_out, dtype=dtype)[rng.integers(0, net.n_out, batch)]
    elif loss == "cross_entropy":
        Y = rng.uniform(0, 1, (batch, net.n_out)).astype(dtype)
    elif loss == "poisson":
        Y = rng.poisson(1.5, (batch, net.n_out)).astype(dtype)
    elif out == "softmax":  # targets around 1 / n_out: residuals of both signs in a row,
        # else l1 is affine in the softmax output and its gradient and Hessian vanish
        Y = rng.uniform(0, 2 / net.n_out, (batch, net.n_out)).astype(dtype)
    else:
        Y = rng.standard_normal((batch, net.n_out)).astype(dtype)
    return net, X, Y


def weighting(batch, dtype, seed=0):
    """Sample weights and an L2 penalty for batches of more than one row (batch 1: none,
    so both paths of the kernels run)."""
    if batch == 1:
        return {}
    sw = np.random.default_rng(seed).uniform(0.2, 2.0, batch).astype(dtype)
    return {"sample_weight": sw, "l2": 0.25}


def assert_close(actual, desired, rtol):
    # Relative to the largest entry, and never below 1e-3: where a whole gradient is
    # smaller than that, it is zero in exact arithmetic (softmax of one output; l1
    # residuals of one sign in a softmax row) and the backends return rounding noise.
    scale = max(float(np.max(np.abs(desired))), 1e-3)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale)


def pointer(array):
    return ffi.from_buffer("double[]" if array.dtype == np.float64 else "float[]", array)


def suffix(dtype):
    return "_f64" if dtype == np.float64 else "_f32"


# -- parity: the network kernels -----------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_mlp_kernels_agree_across_backends(act, out, loss, dtype):
    for sizes, batch in SHAPES:
        net, X, Y = make_case(act, out, loss, dtype, sizes, batch)
        kw = weighting(batch, dtype)
        c_loss, c_grad = net.loss_and_grad(X, Y, backend="c", **kw)
        assert c_grad.dtype == dtype
        for other in ("numba", "numpy"):
            value, grad = net.loss_and_grad(X, Y, backend=other, **kw)
            assert_close(c_loss, value, TOL[dtype])
            assert_close(c_grad, grad, TOL[dtype])
            assert_close(net.loss(X, Y, backend="c", **kw), net.loss(X, Y, backend=other, **kw),
                         TOL[dtype])
            assert_close(net.predict(X, backend="c"), net.predict(X, backend=other),
                         TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_the_network_bound_kernels_equal_the_checked_ones(act, out, loss, dtype):
    """MLP's calls go through _cbackend.bind (pointers made once, no checks): the same C
    functions as the checked kernel-level wrappers, so the same bits -- with the
    network's theta or another, with and without weights, any batch up to the buffer's."""
    module = pk._backend.resolve("c")
    for sizes, batch in SHAPES:
        net, X, Y = make_case(act, out, loss, dtype, sizes, batch)
        v = np.linspace(-1, 1, net.size).astype(dtype)
        for theta in (None, (net.theta * 0.5).astype(dtype)):
            for kw in ({}, weighting(batch, dtype)):
                at = net.theta if theta is None else theta
                sw, scale, l2 = net._check_weights(kw.get("sample_weight"), kw.get("l2", 0.0),
                                                   batch)
                work = np.empty(module.workspace_size(net.sizes, batch), dtype)
                grad = np.empty(net.size, dtype)
                value = module.mlp_loss_and_grad(at, net.sizes, *net._codes, X, Y, sw, scale,
                                                 l2, work, grad)
                got_value, got_grad = net.loss_and_grad(X, Y, theta, backend="c", **kw)
                assert got_value == value and got_grad.tobytes() == grad.tobytes()
                assert net.loss(X, Y, theta, backend="c", **kw) == module.mlp_loss(
                    at, net.sizes, *net._codes, X, Y, sw, scale, l2, work)
                for name in ("hvp", "gnvp"):
                    rop = np.zeros(module.rop_workspace_size(net.sizes, batch), dtype)
                    want = np.empty(net.size, dtype)
                    getattr(module, f"mlp_{name}")(at, net.sizes, *net._codes, X, Y, sw,
                                                   scale, l2, v, rop, want)
                    got = getattr(net, name)(X, Y, v, theta, backend="c", **kw)
                    assert got.tobytes() == want.tobytes()
            out_ = np.empty((batch, net.n_out), dtype)
            module.mlp_predict(net.theta if theta is None else theta, net.sizes,
                               *net._codes[:2], X, work, out_)
            assert net.predict(X, theta, backend="c").tobytes() == out_.tobytes()
        # a smaller batch after a larger one: the bound buffer serves it
        assert net.loss_and_grad(X[:1], Y[:1], backend="c")[1].tobytes() == \
            pk.MLP(list(sizes), act, out, loss, dtype=dtype, seed=0).loss_and_grad(
                X[:1], Y[:1], net.theta, backend="c")[1].tobytes()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_rop_kernels_agree_across_backends(act, out, loss, dtype):
    for sizes, batch in SHAPES:
        if out == "softmax" and sizes[-1] == 1:
            continue  # a constant output: H = 0 exactly, the backends' float32 noise ~1e-8
        net, X, Y = make_case(act, out, loss, dtype, sizes, batch)
        v = np.random.default_rng(5).standard_normal(net.size).astype(dtype)
        kw = weighting(batch, dtype)
        c_results = [net.hvp(X, Y, v, backend="c", **kw), net.gnvp(X, Y, v, backend="c", **kw),
                     net.jacobian(X, wrt="input", backend="c"),
                     net.jacobian(X, wrt="params", backend="c")]
        for other in ("numba", "numpy"):
            results = [net.hvp(X, Y, v, backend=other, **kw),
                       net.gnvp(X, Y, v, backend=other, **kw),
                       net.jacobian(X, wrt="input", backend=other),
                       net.jacobian(X, wrt="params", backend=other)]
            for actual, desired in zip(c_results, results):
                assert actual.dtype == dtype
                assert_close(actual, desired, TOL[dtype])


# -- parity: the activation and loss kernels ---------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("code", range(6))
def test_activation_kernels_match_numba(code, dtype):
    rng = np.random.default_rng(code)
    z = (rng.standard_normal((6, 9)) * 4).astype(dtype)
    b = rng.standard_normal(9).astype(dtype)
    d = rng.standard_normal((6, 9)).astype(dtype)
    zc, zn = z.copy(), z.copy()
    ac, an = np.empty_like(z), np.empty_like(z)
    name = "pk_bias_activation_forward" + suffix(dtype)
    assert getattr(lib, name)(pointer(zc), 6, 9, pointer(b), pointer(ac), code) == 0
    nb_act.bias_activation_forward(zn, b, an, code)
    assert_close(zc, zn, TOL[dtype])
    assert_close(ac, an, TOL[dtype])
    dc, dn = d.copy(), d.copy()
    name = "pk_activation_backward" + suffix(dtype)
    assert getattr(lib, name)(pointer(ac), 6, 9, pointer(dc), code) == 0
    nb_act.activation_backward(an, dn, code)
    assert_close(dc, dn, TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("out,loss", sorted({(o, l) for _, o, l in COMBOS}))
def test_output_loss_matches_numba(out, loss, dtype):
    _, _, Y = make_case("tanh", out, loss, dtype, (2, 4), 5)
    z = (np.random.default_rng(1).standard_normal((5, 4)) * 3).astype(dtype)
    ac, dc = np.empty_like(z), np.empty_like(z)
    an, dn = np.empty_like(z), np.empty_like(z)
    sw = np.random.default_rng(2).uniform(0, 2, 5).astype(dtype)
    for weights in (sw, sw[:0]):
        value = ffi.new("double *")
        name = "pk_output_loss" + suffix(dtype)
        assert getattr(lib, name)(pointer(z), 5, 4, pointer(Y), pointer(weights), weights.size,
                                  0.3, OUTPUTS[out], LOSSES[loss], pointer(ac), pointer(dc),
                                  value) == 0
        expected = nb_loss.output_loss(z, Y, weights, 0.3, OUTPUTS[out], LOSSES[loss], an, dn)
        assert_close(value[0], expected, TOL[dtype])
        assert_close(ac, an, TOL[dtype])
        assert_close(dc, dn, TOL[dtype])


def test_elementary_functions_within_a_few_ulp():
    x = np.concatenate([np.linspace(-750, 710, 20001), np.linspace(-1, 1, 2001)])
    def sigmoid(v):
        e = np.exp(-np.abs(v))
        return np.where(v >= 0, 1.0, e) / (1.0 + e)

    for code, ref in [(1, np.tanh), (3, sigmoid)]:
        a = np.empty_like(x)
        assert lib.pk_activation_row_f64(pointer(x), x.size, pointer(a), code) == 0
        expected = ref(x)
        ulp = np.spacing(np.maximum(np.abs(expected), np.finfo(float).tiny))
        assert np.max(np.abs(a - expected) / ulp) <= 4, code
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0])
    a = np.empty_like(special)
    lib.pk_activation_row_f64(pointer(special), 5, pointer(a), 1)
    np.testing.assert_array_equal(a, np.tanh(special))


# -- parity: the optimizer updates ----------------------------------------------------

UPDATES = {  # kernel -> (state slots, scalars after lr)
    "sgd_update": (0, ()),
    "momentum_update": (1, (0.9,)),
    "nesterov_update": (1, (0.9,)),
    "adagrad_update": (1, (1e-8,)),
    "rmsprop_update": (1, (0.9, 1e-8)),
    "adam_update": (2, (0.9, 0.999, 1e-8)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(UPDATES))
def test_optimizer_updates_agree_across_backends(name, dtype):
    import pykernels.kernels as nb

    import pykernels.reference as ref

    n_slots, scalars = UPDATES[name]
    start = np.random.default_rng(3).standard_normal(37).astype(dtype)
    results = {}
    for module in (_cbackend, nb, ref):
        theta = start.copy()
        slots = [np.zeros_like(theta) for _ in range(n_slots)]
        for step in range(1, 4):
            grad = np.sin(theta * step).astype(dtype)
            extra = (step,) if name == "adam_update" else ()
            getattr(module, name)(theta, grad, *slots, 0.05, *scalars, *extra)
        results[module.__name__] = [theta, *slots]
    c_result = results.pop(_cbackend.__name__)
    for other in results.values():
        for actual, desired in zip(c_result, other):
            assert actual.dtype == dtype
            assert_close(actual, desired, TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(UPDATES))
def test_unchecked_optimizer_updates_equal_the_checked_ones(name, dtype):
    """pk.optim's _apply (the training and minimize loops) calls _cbackend.unchecked:
    the same C loop without the wrapper's checks, so the same bits; Adam's step may
    come as a float (the Numba kernels take it so)."""
    n_slots, scalars = UPDATES[name]
    unchecked = _cbackend.unchecked(name)
    start = np.random.default_rng(4).standard_normal(301).astype(dtype)
    pair = []
    for update in (getattr(_cbackend, name), unchecked):
        theta = start.copy()
        slots = [np.zeros_like(theta) for _ in range(n_slots)]
        for step in range(1, 4):
            grad = np.cos(theta * step).astype(dtype)
            extra = (float(step),) if name == "adam_update" else ()
            update(theta, grad, *slots, 0.05, *scalars, *extra)
        pair.append(np.concatenate([theta, *slots]).tobytes())
    assert pair[0] == pair[1]


def test_optimizer_update_checks_its_buffers():
    theta, grad = np.zeros(4), np.ones(4)
    with pytest.raises(ValueError):
        _cbackend.momentum_update(theta, grad, np.zeros(3), 0.1, 0.9)
    with pytest.raises(TypeError):
        _cbackend.adam_update(theta, grad, np.zeros(4, np.float32), np.zeros(4), 0.1, 0.9,
                              0.999, 1e-8, 1)
    with pytest.raises(ValueError):
        _cbackend.sgd_update(np.zeros((2, 2)), grad, 0.1)


# -- the cffi boundary ---------------------------------------------------------------

def test_sizes_match_numba():
    from pykernels.kernels import rop_workspace_size, workspace_size

    for sizes, batch in SHAPES:
        assert _cbackend.workspace_size(np.array(sizes), batch) == workspace_size(
            np.array(sizes), batch)
        assert _cbackend.rop_workspace_size(np.array(sizes), batch) == rop_workspace_size(
            np.array(sizes), batch)


def test_rop_kernels_check_their_buffers():
    net, X, Y = make_case("tanh", "identity", "mse", np.float64, (3, 5, 2), 4)
    work = np.zeros(_cbackend.rop_workspace_size(net.sizes, 4))
    v, out = np.ones(net.size), np.empty(net.size)
    args = [net.theta, net.sizes, 1, 0, 0, X, Y, np.ones(4), 0.125, 0.0, v, work, out]
    assert np.isfinite(_cbackend.mlp_hvp(*args))
    for position, bad in [(7, np.ones(3)), (7, np.ones((4, 1))), (10, v[:-1]), (11, work[:-1]),
                          (12, out[:-1])]:
        with pytest.raises(ValueError):
            _cbackend.mlp_hvp(*args[:position], bad, *args[position + 1:])
    with pytest.raises(ValueError):  # out sized for wrt="input", asked for "params"
        _cbackend.mlp_jacobian(net.theta, net.sizes, 1, 0, X, work, np.empty((4, 2, 3)), True)


def _step_args(dtype=np.float64, batch=4):
    net, X, Y = make_case("tanh", "identity", "mse", dtype, (3, 5, 2), batch)
    work = np.empty(_cbackend.workspace_size(net.sizes, batch), dtype)
    grad = np.empty(net.size, dtype)
    return [net.theta, net.sizes, 1, 0, 0, X, Y, np.ones(batch, dtype), 1.0 / (2 * batch), 0.1,
            work, grad]


@pytest.mark.parametrize("position,bad,error", [
    (0, lambda a: a[:-1], ValueError),                     # theta too short
    (0, lambda a: a.astype(np.float32), TypeError),        # dtype mismatch
    (0, lambda a: list(a), TypeError),                     # not an ndarray
    (1, lambda a: np.array([3, 0, 2]), ValueError),        # empty layer
    (1, lambda a: np.array([3, 5, 2, 4]), ValueError),     # sizes != theta
    (1, lambda a: np.array([[3, 5, 2]]), ValueError),      # sizes not 1-D
    (2, lambda a: 7, ValueError),                          # unknown activation
    (4, lambda a: 3, ValueError),                          # cross_entropy + identity
    (5, lambda a: a[:, :2].copy(), ValueError),            # X too narrow
    (5, lambda a: np.asfortranarray(np.vstack([a, a])), ValueError),
    (5, lambda a: a[::2], ValueError),                     # batch != Y's
    (6, lambda a: a[:, :1].copy(), ValueError),            # Y too narrow
    (7, lambda a: a[:-1], ValueError),                     # sw neither empty nor (batch,)
    (7, lambda a: a.astype(np.float32), TypeError),        # sw's dtype is not theta's
    (7, lambda a: a[::2], ValueError),                     # sw not contiguous
    (10, lambda a: a[:-1], ValueError),                    # work too short
    (11, lambda a: a[:-1], ValueError),                    # grad too short
    (11, lambda a: a[::2], ValueError),                    # grad not contiguous
])
def test_bad_buffers_raise_instead_of_reaching_c(position, bad, error):
    args = _step_args()
    args[position] = bad(args[position])
    with pytest.raises(error):
        _cbackend.mlp_loss_and_grad(*args)


def test_read_only_outputs_are_refused():
    args = _step_args()
    args[11].flags.writeable = False
    with pytest.raises((TypeError, ValueError, BufferError)):
        _cbackend.mlp_loss_and_grad(*args)


def test_oversized_work_is_accepted():
    args = _step_args()
    args[10] = np.empty(args[10].size + 10)
    reference = _cbackend.mlp_loss_and_grad(*_step_args())
    assert _cbackend.mlp_loss_and_grad(*args) == reference


def test_memory_flat_over_100k_steps():
    psutil = pytest.importorskip("psutil")
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("AddressSanitizer's quarantine keeps freed memory resident")
    args = _step_args(batch=8)
    step = _cbackend.mlp_loss_and_grad
    for _ in range(10_000):
        step(*args)
    before = psutil.Process().memory_info().rss
    for _ in range(100_000):
        step(*args)
    grown = psutil.Process().memory_info().rss - before
    assert grown < 1 << 20, f"resident memory grew by {grown} bytes"


def test_missing_extension_gives_backend_unavailable():
    code = ("import sys; sys.modules['pykernels._pk_c'] = None\n"
            "import pykernels as pk\n"
            "assert 'c' not in pk.backends(), pk.backends()\n"
            "try:\n"
            "    pk.set_backend('c')\n"
            "except pk.BackendUnavailable as exc:\n"
            "    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pykernels._pk_c" in out and "reinstall" in out


# -- finite-difference loops over a C function pointer --------------------------------

def _c_functions():
    """Rosenbrock (scalar) and Broyden tridiagonal (vector) as cffi function pointers."""
    import cffi

    tffi = cffi.FFI()

    def view(x, n):
        return np.frombuffer(tffi.buffer(x, 8 * n), dtype=np.float64)

    @tffi.callback("double(double *, int64_t)")
    def rosenbrock(x, n):
        v = view(x, n)
        return float(np.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2))

    @tffi.callback("void(double *, int64_t, double *, int64_t)")
    def broyden(x, n, out, m):
        v = np.concatenate([[0.0], view(x, n), [0.0]])
        view(out, m)[:] = (3.0 - 2.0 * v[1:-1]) * v[1:-1] - v[:-2] - 2.0 * v[2:] + 1.0

    return rosenbrock, broyden


@pytest.mark.parametrize("method", [0, 1, 2])
def test_fd_loops_match_numba(method):
    import pykernels.kernels as nb

    rosenbrock, broyden = _c_functions()
    n = 9
    x = np.linspace(-1.2, 1.1, n)
    lo, hi = np.full(n, -1.2), np.full(n, np.inf)  # x[0] on a bound: one-sided columns
    hs = np.full(n, 1e-5)
    steps = []
    for module in (_cbackend, nb):
        h, stencil = np.empty(n), np.empty(n, np.int8)
        need = module.fd_steps(x, hs, True, lo, hi, method, h, stencil)
        steps.append((need, h, stencil))
    assert steps[0][0] == steps[1][0]
    np.testing.assert_array_equal(steps[0][1], steps[1][1])
    np.testing.assert_array_equal(steps[0][2], steps[1][2])
    _, h, stencil = steps[0]
    c_drv = _cbackend.fd_drivers(rosenbrock)
    n_drv = nb.fd_drivers(nb.fd_from_cffi(rosenbrock, False))
    f0 = float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))
    grads = [np.empty(n), np.empty(n)]
    assert c_drv["gradient"](x, h, stencil, f0, 1, grads[0], ()) == -1
    n_drv["gradient"](x, h, stencil, f0, 1, grads[1], ())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)
    hess = [np.empty((n, n)), np.empty((n, n))]
    for drv, out in zip((c_drv, n_drv), hess):
        drv["hessian"](x, np.full(n, 1e-4), method != 2, f0, 1, out, ())
    np.testing.assert_allclose(hess[0], hess[1], rtol=1e-12, atol=1e-12)
    assert np.allclose(hess[0], hess[0].T)

    c_drv = _cbackend.fd_drivers(broyden)
    n_drv = nb.fd_drivers(nb.fd_from_cffi(broyden, True, n))
    v = np.concatenate([[0.0], x, [0.0]])
    fx = (3.0 - 2.0 * v[1:-1]) * v[1:-1] - v[:-2] - 2.0 * v[2:] + 1.0
    jac = [np.empty((n, n)), np.empty((n, n))]
    status = [np.zeros(n, np.int8), np.zeros(n, np.int8)]
    for drv, out, st in zip((c_drv, n_drv), jac, status):
        drv["jacobian"](x, h, stencil, fx, 1, out, st, ())
    np.testing.assert_allclose(jac[0], jac[1], rtol=1e-12, atol=1e-12)
    assert not status[0].any()
    # three colour groups of the tridiagonal pattern
    order = np.concatenate([np.arange(k, n, 3) for k in range(3)]).astype(np.int64)
    gptr = np.array([0, len(range(0, n, 3)), len(range(0, n, 3)) + len(range(1, n, 3)), n])
    rows = np.concatenate([np.arange(max(j - 1, 0), min(j + 2, n)) for j in range(n)])
    colptr = np.concatenate([[0], np.cumsum([min(j + 2, n) - max(j - 1, 0) for j in range(n)])])
    dest = np.arange(rows.size)
    data = [np.empty(rows.size), np.empty(rows.size)]
    status = [np.zeros(3, np.int8), np.zeros(3, np.int8)]
    for drv, out, st in zip((c_drv, n_drv), data, status):
        drv["jacobian_grouped"](x, h, stencil, fx, order, gptr, colptr, rows, dest, 1, out,
                                st, ())
    np.testing.assert_allclose(data[0], data[1], rtol=1e-12, atol=1e-12)
    cols = np.repeat(np.arange(n), np.diff(colptr))
    np.testing.assert_allclose(data[0], jac[0][cols, rows], rtol=1e-12, atol=1e-12)


def test_fd_loops_check_their_inputs():
    rosenbrock, broyden = _c_functions()
    x, h, stencil = np.zeros(4), np.full(4, 1e-6), np.zeros(4, np.int8)
    with pytest.raises(TypeError):
        _cbackend.fd_drivers(lambda x: 0.0)
    with pytest.raises(ValueError):
        _cbackend.fd_drivers(rosenbrock)["gradient"](x, h, stencil, 0.0, 1, np.empty(3), ())
    with pytest.raises(ValueError):
        _cbackend.fd_drivers(rosenbrock)["gradient"](x, h, stencil, 0.0, 1, np.empty(4), (1,))
    drv = _cbackend.fd_drivers(broyden)
    fx = np.zeros(4)
    rows, colptr = np.arange(4), np.arange(5)
    for bad in ({"rows": np.array([0, 1, 2, 4])}, {"order": np.array([0, 1, 2, 9])},
                {"gptr": np.array([0, 5])}, {"colptr": np.array([0, 2, 1, 3, 4])}):
        kw = {"order": np.arange(4), "gptr": np.array([0, 4]), "colptr": colptr,
              "rows": rows, "dest": np.arange(4)}
        kw.update(bad)
        with pytest.raises(ValueError):
            drv["jacobian_grouped"](x, h, stencil, fx, kw["order"], kw["gptr"], kw["colptr"],
                                    kw["rows"], kw["dest"], 1, np.empty(4), np.zeros(1, np.int8),
                                    ())
    with pytest.raises(ValueError):
        _cbackend.fd_steps(x, h, True, x - 1, x + 1, 3, np.empty(4), np.empty(4, np.int8))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_products_give_the_c_loops_bits(dtype):
    """On AVX-512 CPUs both backends compute a small network's products by the same
    register tile (csrc/gemm.c, kernels/_gemm_tile.py): one sum per entry in the order
    of the inner index, so a relu/mse gradient -- exact elementwise steps -- agrees to
    the bit (partial tiles: batch 37, widths 70 and 10)."""
    import llvmlite.binding as llvm

    if not llvm.get_host_cpu_features().get("avx512f"):
        pytest.skip("the register tiles serve AVX-512 CPUs only")
    rng = np.random.default_rng(5)
    X = rng.standard_normal((37, 64)).astype(dtype)
    Y = rng.standard_normal((37, 10)).astype(dtype)
    results = []
    for backend in ("numba", "c"):
        with pk.use_backend(backend):
            net = pk.MLP([64, 70, 10], activation="relu", loss="mse", seed=0, dtype=dtype)
            results.append(net.loss_and_grad(X, Y))
    (loss_nb, grad_nb), (loss_c, grad_c) = results
    assert loss_nb == loss_c
    np.testing.assert_array_equal(grad_nb, grad_c)
