"""pk.optim update objects: kernels vs the NumPy reference, a known formula, convergence."""

import numpy as np
import pytest

import pykernels as pk

OPTS = [
    (pk.optim.SGD, dict(lr=0.1)),
    (pk.optim.Momentum, dict(lr=0.05, beta=0.9)),
    (pk.optim.Nesterov, dict(lr=0.05, beta=0.9)),
    (pk.optim.AdaGrad, dict(lr=0.5)),
    (pk.optim.RMSProp, dict(lr=0.01)),
    (pk.optim.Adam, dict(lr=0.05)),
]
IDS = [cls.__name__ for cls, _ in OPTS]


def _run(cls, kw, backend, dtype=np.float64, steps=300):
    """Minimize the parabola 0.5 * sum(a * x^2); returns the trajectory's last point."""
    a = np.linspace(0.5, 2.0, 7).astype(dtype)
    opt = cls(**kw, backend=backend)
    theta = np.linspace(-1, 1, 7).astype(dtype)
    state = opt.init(theta)
    for _ in range(steps):
        theta, state = opt.step(theta, a * theta, state)
    return theta, state


@pytest.mark.parametrize("cls,kw", OPTS, ids=IDS)
def test_numba_matches_reference_and_converges(cls, kw):
    t1, s1 = _run(cls, kw, "numba")
    t2, s2 = _run(cls, kw, "numpy")
    np.testing.assert_allclose(t1, t2, rtol=1e-12, atol=1e-14)
    assert s1["step"] == s2["step"] == 300
    assert np.abs(t1).max() < 0.05


@pytest.mark.parametrize("cls,kw", OPTS, ids=IDS)
def test_float32_stays_float32(cls, kw):
    theta, state = _run(cls, kw, "numba", np.float32, steps=5)
    assert theta.dtype == np.float32
    assert all(v.dtype == np.float32 for k, v in state.items() if k != "step")


def test_adam_first_step_is_lr_times_sign():
    # with bias correction the first Adam step is lr * g / (|g| + eps') = lr * sign(g)
    opt = pk.optim.Adam(lr=0.1, eps=1e-12)
    theta = np.array([1.0, -1.0, 3.0])
    theta, _ = opt.step(theta, np.array([5.0, -0.01, 2.0]), opt.init(theta))
    np.testing.assert_allclose(theta, [0.9, -0.9, 2.9], rtol=1e-9)


def test_momentum_formula():
    opt = pk.optim.Momentum(lr=0.1, beta=0.5)
    theta = np.zeros(2)
    state = opt.init(theta)
    opt.step(theta, np.array([1.0, 2.0]), state)
    opt.step(theta, np.array([1.0, 2.0]), state)
    # v1 = g, v2 = 1.5 g; theta = -0.1 * (g + 1.5 g)
    np.testing.assert_allclose(theta, [-0.25, -0.5])
    np.testing.assert_allclose(state["velocity"], [1.5, 3.0])


def test_bad_input():
    with pytest.raises(ValueError, match="lr"):
        pk.optim.Adam(lr=-1)
    with pytest.raises(ValueError, match="beta1"):
        pk.optim.Adam(beta1=1.0)
    opt = pk.optim.Adam()
    theta = np.zeros(3)
    state = opt.init(theta)
    with pytest.raises(ValueError, match="grad"):
        opt.step(theta, np.zeros(4), state)
    with pytest.raises(TypeError, match="theta"):
        opt.step([0.0, 0.0, 0.0], np.zeros(3), state)
    with pytest.raises(ValueError, match="state"):
        opt.step(np.zeros(4), np.zeros(4), state)


def _read_only(n):
    a = np.zeros(n)
    a.flags.writeable = False
    return a


BAD_STATES = [
    (None, TypeError, "state must be the dict"),
    ([0, np.zeros(3)], TypeError, "state must be the dict"),
    ({"accum": np.zeros(3)}, ValueError, r"state\['step'\] is missing"),
    ({"step": 0}, ValueError, r"state\['accum'\] is missing"),
    ({"step": None, "accum": np.zeros(3)}, TypeError, r"state\['step'\] must be an integer"),
    ({"step": -1, "accum": np.zeros(3)}, ValueError, r"state\['step'\] must be >= 0"),
    ({"step": 0, "accum": np.zeros(3, dtype=np.int64)}, TypeError,
     r"state\['accum'\] must be a float64 array like theta, got int64"),
    ({"step": 0, "accum": np.zeros(3, dtype=np.float32)}, TypeError, r"state\['accum'\]"),
    ({"step": 0, "accum": [0.0, 0.0, 0.0]}, TypeError, r"state\['accum'\] must be a float64"),
    ({"step": 0, "accum": None}, TypeError, r"state\['accum'\]"),
    ({"step": 0, "accum": np.zeros(4)}, ValueError, r"state\['accum'\] must have shape \(3,\)"),
    ({"step": 0, "accum": _read_only(3)}, ValueError, r"state\['accum'\] must be a writeable"),
    ({"step": 0, "accum": np.zeros(6)[::2]}, ValueError, "C-contiguous"),
]


@pytest.mark.parametrize("backend", ["numba", "c", "numpy"])
@pytest.mark.parametrize("state,exc,match", BAD_STATES)
def test_every_backend_rejects_a_bad_state_before_updating(backend, state, exc, match):
    if backend not in pk.backends():
        pytest.skip(f"backend {backend!r} not built")
    opt = pk.optim.RMSProp(lr=0.1, backend=backend)
    theta = np.ones(3)
    with pytest.raises(exc, match=match):
        opt.step(theta, np.ones(3), state)
    np.testing.assert_array_equal(theta, 1.0)


@pytest.mark.parametrize("cls,kw", OPTS, ids=IDS)
def test_every_optimizer_checks_its_slots(cls, kw):
    opt = cls(**kw)
    theta = np.ones(4)
    state = opt.init(theta)
    for slot in [k for k in state if k != "step"]:
        broken = {**state, slot: state[slot].astype(np.int64)}
        with pytest.raises(TypeError, match=rf"state\['{slot}'\]"):
            opt.step(theta, np.ones(4), broken)
    opt.check_state(state, theta)   # the state of init passes


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 0.0, "0.1", True])
def test_hyper_parameters_must_be_finite_positive_numbers(value):
    with pytest.raises((TypeError, ValueError), match="lr"):
        pk.optim.Adam(lr=value)
    with pytest.raises((TypeError, ValueError), match="lr"):
        pk.optim.SGD(lr=0.1).step(np.ones(2), np.ones(2), {"step": 0}, lr=value)
