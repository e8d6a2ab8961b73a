"""pk.train: batches in order (shuffle=False) and an optimizer state continued across calls."""

import numpy as np
import pytest

import pykernels as pk
from pykernels.datasets import spirals


def _net():
    return pk.MLP([2, 16, 2], activation="tanh", output="softmax", loss="cross_entropy",
                  seed=0)


def test_unshuffled_batches_are_the_rows_in_order():
    X, y = spirals(90, seed=1)
    net, ref = _net(), _net()
    opt = pk.optim.Nesterov(lr=0.05, beta=0.9)
    pk.train(net, X, y, optimizer=opt, epochs=2, batch_size=40, shuffle=False, l2=1e-3)
    theta, state = ref.theta.copy(), opt.init(ref.theta)
    for _ in range(2):
        for lo in range(0, len(X), 40):          # the last batch has 10 rows
            _, g = ref.loss_and_grad(X[lo:lo + 40], y[lo:lo + 40], theta, l2=1e-3)
            theta, state = opt.step(theta, g, state)
    np.testing.assert_array_equal(net.theta, theta)


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_a_continued_state_makes_two_calls_one_run(optimizer):
    X, y = spirals(64, seed=2)
    opt = pk.optim.OPTIMIZERS[optimizer](lr=0.01)
    once = _net()
    h_once = pk.train(once, X, y, optimizer=opt, epochs=4, batch_size=16, shuffle=False)
    split = _net()
    state = opt.init(split.theta)
    h_split = [pk.train(split, X, y, optimizer=opt, epochs=2, batch_size=16, shuffle=False,
                        state=state)["loss"] for _ in range(2)]
    np.testing.assert_array_equal(split.theta, once.theta)
    assert h_split[0] + h_split[1] == h_once["loss"]
    assert state["step"] == 4 * 4
    fresh = _net()
    pk.train(fresh, X, y, optimizer=opt, epochs=2, batch_size=16, shuffle=False)
    pk.train(fresh, X, y, optimizer=opt, epochs=2, batch_size=16, shuffle=False)
    assert not np.array_equal(fresh.theta, once.theta)     # a fresh state each call


def test_a_state_of_another_shape_or_dtype_is_refused():
    X, y = spirals(16, seed=0)
    opt = pk.optim.Adam()
    net = _net()
    with pytest.raises(ValueError, match="state"):
        pk.train(net, X, y, optimizer=opt, state=opt.init(np.zeros(3)))
    with pytest.raises(TypeError, match="state"):
        pk.train(net, X, y, optimizer=opt, state=opt.init(net.theta.astype(np.float32)))
    with pytest.raises(TypeError, match="state"):
        pk.train(net, X, y, optimizer=opt, state=[0.0])
