"""pk.train: accuracy on spirals, schedules, validation, checkpoint/resume."""

import os

import numpy as np
import pytest

import pykernels as pk
from pykernels.datasets import spirals


def _net(seed=0):
    return pk.MLP([2, 32, 32, 2], activation="tanh", output="softmax",
                  loss="cross_entropy", seed=seed)


def _accuracy(net, X, y):
    return float((net.predict(X).argmax(axis=1) == y).mean())


def test_spirals_above_95_percent():
    X, y = spirals(400, noise=0.05, seed=1)
    net = _net()
    hist = pk.train(net, X, y, optimizer="adam", lr=1e-2, epochs=150, batch_size=32, seed=0,
                    schedule="cosine")
    assert _accuracy(net, X, y) > 0.95
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert len(hist["loss"]) == len(hist["time"]) == len(hist["lr"]) == 150


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop",
                                       "adam"])
def test_every_optimizer_lowers_the_loss(optimizer):
    X, y = spirals(200, seed=2)
    net = _net()
    lr = {"sgd": 0.5, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.1}.get(optimizer, 1e-2)
    hist = pk.train(net, X, y, optimizer=optimizer, lr=lr, epochs=8, batch_size=16)
    assert hist["loss"][-1] < 0.9 * hist["loss"][0]


def test_same_seed_same_result_and_validation():
    X, y = spirals(200, seed=3)
    nets = [_net(), _net()]
    hists = [pk.train(n, X, y, epochs=3, seed=5, validation=(X[:50], y[:50])) for n in nets]
    np.testing.assert_array_equal(nets[0].theta, nets[1].theta)
    assert hists[0]["val_loss"] == hists[1]["val_loss"]
    assert np.isfinite(hists[0]["val_loss"]).all()
    other = _net()
    pk.train(other, X, y, epochs=3, seed=6)
    assert not np.array_equal(other.theta, nets[0].theta)


def test_schedules():
    X, y = spirals(64, seed=0)
    h = pk.train(_net(), X, y, lr=0.1, epochs=5, schedule="step", step_size=2, gamma=0.5)
    np.testing.assert_allclose(h["lr"], [0.1, 0.1, 0.05, 0.05, 0.025])
    h = pk.train(_net(), X, y, lr=0.1, epochs=4, schedule="cosine")
    np.testing.assert_allclose(h["lr"], 0.05 * (1 + np.cos(np.pi * np.arange(4) / 4)))
    with pytest.raises(ValueError, match="schedule"):
        pk.train(_net(), X, y, schedule="linear")


def test_train_matches_hand_loop_with_optim_object():
    X, y = spirals(96, seed=4)
    net = _net()
    opt = pk.optim.Momentum(lr=0.05, beta=0.8)
    pk.train(net, X, y, optimizer=opt, epochs=2, batch_size=32, seed=9)
    ref = _net()
    theta = ref.theta.copy()
    state = opt.init(theta)
    rng = np.random.default_rng(9)
    for _ in range(2):
        order = rng.permutation(len(X))
        for lo in range(0, len(X), 32):
            idx = order[lo:lo + 32]
            _, g = ref.loss_and_grad(X[idx], y[idx], theta)
            theta, state = opt.step(theta, g, state)
    np.testing.assert_array_equal(net.theta, theta)


def _stop_after(k):
    def callback(epoch, history):
        if epoch + 1 == k:
            raise StopIteration
    return callback


@pytest.mark.parametrize("optimizer", ["adam", "nesterov"])
def test_checkpoint_resume_bit_for_bit(tmp_path, optimizer):
    X, y = spirals(150, seed=5)
    kw = dict(optimizer=optimizer, lr=1e-2, epochs=5, batch_size=32, seed=1, schedule="cosine",
              validation=(X[:20], y[:20]))
    full = _net()
    h_full = pk.train(full, X, y, **kw)
    path = tmp_path / "ckpt.npz"
    part = _net()
    h_part = pk.train(part, X, y, checkpoint=path, callback=_stop_after(2), **kw)
    assert len(h_part["loss"]) == 2
    resumed = _net(seed=123)                     # different start: the checkpoint wins
    h_res = pk.train(resumed, X, y, checkpoint=path, resume=True, **kw)
    np.testing.assert_array_equal(resumed.theta, full.theta)
    assert h_res["loss"] == h_full["loss"]
    assert h_res["val_loss"] == h_full["val_loss"]


def test_interrupted_checkpoint_write_keeps_previous(tmp_path, monkeypatch):
    X, y = spirals(100, seed=6)
    path = tmp_path / "ckpt.npz"
    net = _net()
    pk.train(net, X, y, epochs=1, checkpoint=path)
    before = path.read_bytes()

    def broken_savez(fh, **arrays):
        fh.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        pk.train(net, X, y, epochs=3, checkpoint=path, resume=True)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    h = pk.train(_net(), X, y, epochs=2, checkpoint=path, resume=True)
    assert len(h["loss"]) == 2 and np.isnan(h["time"][0])


def test_bad_arguments(tmp_path):
    X, y = spirals(20, seed=0)
    with pytest.raises(ValueError, match="optimizer"):
        pk.train(_net(), X, y, optimizer="lbfgs")
    with pytest.raises(ValueError, match="resume"):
        pk.train(_net(), X, y, resume=True)
    with pytest.raises(ValueError, match="X"):
        pk.train(_net(), X[:, :1], y)
    with pytest.raises(ValueError, match="epochs"):
        pk.train(_net(), X, y, epochs=0)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="checkpoint"):
        pk.train(_net(), X, y, checkpoint=bad, resume=True)


def test_progress_bar(capsys):
    X, y = spirals(64, seed=0)
    pk.train(_net(), X, y, epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "train" in err and "loss=" in err


def test_float32_network_trains_in_float32():
    X, y = spirals(128, seed=0)
    net = pk.MLP([2, 16, 2], output="softmax", loss="cross_entropy", dtype=np.float32, seed=0)
    hist = pk.train(net, X, y, optimizer="adam", lr=1e-2, epochs=5, batch_size=32)
    assert net.theta.dtype == np.float32
    assert hist["loss"][-1] < hist["loss"][0]
