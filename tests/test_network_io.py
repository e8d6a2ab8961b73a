"""save/load: round trip, atomic writes, and rejection of damaged files (never unpickles)."""

import zipfile

import numpy as np
import pytest

import pykernels as pk


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip(tmp_path, dtype):
    net = pk.MLP([3, 5, 2], activation="sigmoid", output="softmax", loss="cross_entropy",
                 dtype=dtype, seed=4)
    path = tmp_path / "net.npz"
    net.save(path)
    back = pk.MLP.load(path)
    assert repr(back) == repr(net)
    np.testing.assert_array_equal(back.theta, net.theta)
    assert back.theta.dtype == dtype
    X = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "net.npz"
    pk.MLP([2, 2], seed=0).save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        pk.MLP([2, 2], seed=1).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]


def _rewrite(path, **changes):
    with np.load(path) as data:
        fields = {k: data[k] for k in data.files}
    fields.update(changes)
    fields = {k: v for k, v in fields.items() if v is not None}
    np.savez(path, **fields)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "net.npz"
    pk.MLP([3, 4, 1], seed=0).save(path)
    return path


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable pykernels file"):
        pk.MLP.load(saved)


def test_not_a_zip(saved):
    saved.write_bytes(b"hello")
    with pytest.raises(ValueError, match="not a readable"):
        pk.MLP.load(saved)


@pytest.mark.parametrize("changes,match", [
    (dict(theta=np.ones(3)), "field 'theta' must have shape"),
    (dict(theta=np.full(21, np.nan)), "non-finite"),
    (dict(sizes=np.array([3.0, 4.0, 1.0])), "'sizes' must be a 1-D integer array"),
    (dict(sizes=np.array([3, -4, 1])), r"field 'sizes' is not a network: sizes\[1\]"),
    (dict(activation=np.array("swish")), "inconsistent network description"),
    (dict(format=np.array("other")), "not a version-1"),
    (dict(version=np.array(7)), "not a version-1"),
    (dict(loss=None), "expected the fields"),
    (dict(extra=np.ones(2)), "expected the fields"),
    (dict(theta=np.ones(21, dtype=np.int64)), "inconsistent network description"),
])
def test_hand_edited_file(saved, changes, match):
    _rewrite(saved, **changes)
    with pytest.raises(ValueError, match=match):
        pk.MLP.load(saved)


def test_object_arrays_are_never_unpickled(saved):
    _rewrite(saved, activation=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ValueError, match="field 'activation' is unreadable"):
        pk.MLP.load(saved)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        pk.MLP.load(tmp_path / "nope.npz")


def test_npy_instead_of_npz(saved):
    np.save(saved.with_suffix(".npy"), np.ones(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        pk.MLP.load(saved.with_suffix(".npy"))


def test_zip_member_replaced_by_garbage(saved):
    with np.load(saved) as data:
        fields = {k: data[k] for k in data.files}
    with zipfile.ZipFile(saved, "w") as zf:
        for key, value in fields.items():
            if key != "theta":
                with zf.open(key + ".npy", "w") as fh:
                    np.lib.format.write_array(fh, value)
        zf.writestr("theta.npy", b"garbage")
    with pytest.raises(ValueError, match="field 'theta'"):
        pk.MLP.load(saved)
