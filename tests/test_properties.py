"""Property tests over shapes and batch sizes (batch 1 included)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import pykernels as pk
from pykernels.network import ACTIVATIONS, LOSS_OUTPUTS, LOSSES, OUTPUTS

shapes = st.lists(st.integers(1, 9), min_size=2, max_size=4)


@st.composite
def cases(draw):
    sizes = draw(shapes)
    loss = draw(st.sampled_from(sorted(LOSSES)))
    output = draw(st.sampled_from(sorted(LOSS_OUTPUTS.get(loss, OUTPUTS))))
    activation = draw(st.sampled_from(sorted(ACTIVATIONS)))
    batch = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**16))
    weighted = draw(st.booleans())  # random sample weights and L2 penalty
    return sizes, activation, output, loss, batch, seed, weighted


@settings(max_examples=60, deadline=None)
@given(cases())
def test_backends_agree_on_any_shape(case):
    sizes, activation, output, loss, batch, seed, weighted = case
    net = pk.MLP(sizes, activation=activation, output=output, loss=loss, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, sizes[0]))
    if loss == "cross_entropy":
        Y = rng.uniform(0, 1, (batch, sizes[-1]))
        if output == "softmax":
            Y /= Y.sum(axis=1, keepdims=True)
    elif loss == "poisson":
        Y = rng.poisson(1.0, (batch, sizes[-1])).astype(float)
    else:
        Y = rng.standard_normal((batch, sizes[-1]))
    kw = {}
    if weighted:
        kw = dict(sample_weight=rng.uniform(0.1, 3.0, batch), l2=float(rng.uniform(0, 1)))
    value, grad = net.loss_and_grad(X, Y, **kw)
    ref_value, ref_grad = net.loss_and_grad(X, Y, backend="numpy", **kw)
    scale = max(1.0, np.max(np.abs(ref_grad)))
    assert abs(value - ref_value) <= 1e-12 * max(1.0, abs(ref_value))
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-12 * scale)
    out = net.predict(X)
    assert out.shape == (batch, sizes[-1])
    np.testing.assert_allclose(out, net.predict(X, backend="numpy"), rtol=1e-12, atol=1e-14)
    if output == "softmax":
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-14)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(0, 1000))
def test_loss_is_mean_over_batch(batch, seed):
    """Splitting a batch in two and averaging gives the loss of the whole batch."""
    net = pk.MLP([3, 6, 2], activation="tanh", output="identity", loss="huber", seed=seed)
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((2 * batch, 3)), 3 * rng.standard_normal((2 * batch, 2))
    whole, grad = net.loss_and_grad(X, Y)
    a, ga = net.loss_and_grad(X[:batch], Y[:batch])
    b, gb = net.loss_and_grad(X[batch:], Y[batch:])
    assert abs(whole - (a + b) / 2) <= 1e-13 * max(1, abs(whole))
    np.testing.assert_allclose(grad, (ga + gb) / 2, rtol=1e-11, atol=1e-14)
