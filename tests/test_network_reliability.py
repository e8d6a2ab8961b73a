"""pk.MLP and pk.train under hostile input (issue 14): bounded workspaces, files that
cannot make us allocate or resume into garbage, learning rates checked, clear errors."""

import json
import os
import signal
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pykernels as pk
from pykernels.datasets import spirals

BACKENDS = [b for b in ("numba", "c", "numpy") if b in pk.backends()]


# -- 2. workspaces stay bounded whatever the batch sizes ---------------------------

def _buffers(net):
    return {key: held for key, held in net._local.__dict__.items()}


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_workspaces_stay_bounded_over_batch_sizes(backend):
    net = pk.MLP([8, 64, 64, 4], seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((400, 8)), rng.standard_normal((400, 4))
    v = rng.standard_normal(net.size)
    module = pk._backend.resolve(backend)
    net.loss_and_grad(X[:1], Y[:1], backend=backend)          # imports, first buffers
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for b in range(1, 401):
            net.predict(X[:b], backend=backend)
            net.loss_and_grad(X[:b], Y[:b], backend=backend)
            if b % 7 == 0 or b == 400:
                net.hvp(X[:b], Y[:b], v, backend=backend)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    held = _buffers(net)
    assert len(held) == 2                                   # one plain, one R-operator
    needed = (module.workspace_size(net.sizes, 400)
              + module.rop_workspace_size(net.sizes, 400)) * 8
    assert sum(work.nbytes for _, work, _ in held.values()) == needed
    assert grown <= needed + 2**20, (grown, needed)          # per batch size: 124 MiB


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_a_kept_pass_never_serves_another_batch(backend):
    """One R-operator buffer serves every batch: a pass kept at batch 10 must not be
    taken for batch 5 on the same leading rows (or the reverse, after growing)."""
    net = pk.MLP([3, 7, 2], activation="tanh", loss="mse", seed=1)
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    v = rng.standard_normal(net.size)

    def fresh(b):
        other = pk.MLP([3, 7, 2], activation="tanh", loss="mse", seed=1)
        return other.hvp(X[:b], Y[:b], v, backend=backend)

    for b in (10, 5, 10, 3, 5, 5, 10):
        np.testing.assert_array_equal(net.hvp(X[:b], Y[:b], v, backend=backend), fresh(b))
        np.testing.assert_array_equal(net.gnvp(X[:b], Y[:b], v, backend=backend),
                                      pk.MLP([3, 7, 2], seed=1).gnvp(X[:b], Y[:b], v,
                                                                      backend=backend))
    assert len(_buffers(net)) == 1
    # the worst case: batch 5 whose (X, Y), laid out flat, are the start of the copy
    # kept for batch 10 -- only the batch in the header tells them apart
    Y[:5] = X[5:10].reshape(-1)[:10].reshape(5, 2)
    net.hvp(X, Y, v, backend=backend)
    np.testing.assert_array_equal(net.hvp(X[:5], Y[:5], v, backend=backend), fresh(5))


# -- 8. sizes that cannot fit; files that declare more than they hold ----------------

def _save(tmp_path, net=None, name="net.npz"):
    path = tmp_path / name
    (net or pk.MLP([3, 4, 1], seed=0)).save(path)
    return path


def _fields(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _write_zip(path, members):
    """members: name -> raw bytes of the .npy (any header, any payload)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, raw in members.items():
            zf.writestr(name + ".npy", raw)


def _npy(array, header=None):
    """The bytes of ``array`` as .npy, with its header dict replaced by ``header``."""
    import io
    fh = io.BytesIO()
    np.lib.format.write_array(fh, np.asarray(array))
    raw = fh.getvalue()
    if header is None:
        return raw
    text = header.encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    start = 10 + int.from_bytes(raw[8:10], "little")
    return raw[:8] + len(text).to_bytes(2, "little") + text + raw[start:]


def _peak_during(func):
    tracemalloc.start()
    try:
        try:
            func()
        except ValueError as exc:
            error = exc
        else:
            error = None
        return tracemalloc.get_traced_memory()[1], error
    finally:
        tracemalloc.stop()


def test_a_tiny_file_declaring_a_huge_network_allocates_nothing(tmp_path):
    path = _save(tmp_path)
    fields = _fields(path)
    fields["sizes"] = np.array([32768, 32768, 2])            # 1 GiB of theta, declared
    np.savez(path, **fields)
    assert path.stat().st_size < 4096
    peak, error = _peak_during(lambda: pk.MLP.load(path))
    assert error is not None and "field 'theta' must have shape (1073840130,)" in str(error)
    assert peak < 2**20


def test_a_member_declaring_more_than_it_holds_is_refused_before_reading(tmp_path):
    path = tmp_path / "net.npz"
    good = _fields(_save(tmp_path, name="good.npz"))
    members = {k: _npy(v) for k, v in good.items()}
    members["theta"] = _npy(good["theta"], "{'descr': '<f8', 'fortran_order': False, "
                                           "'shape': (4000000000,), }")
    _write_zip(path, members)
    peak, error = _peak_during(lambda: pk.MLP.load(path))
    assert error is not None and "field 'theta'" in str(error) and "declares shape" in str(error)
    assert str(path) in str(error)
    assert peak < 2**20


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_files_raise_value_error_and_allocate_little(tmp_path, data):
    """Any bytes damaged anywhere: a ValueError naming the file (or a network when the
    damage hit nothing that matters), and never more memory than a few times the file."""
    path = _save(tmp_path, pk.MLP([5, 9, 3], seed=2))
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path.write_bytes(bytes(raw))
    peak, error = _peak_during(lambda: pk.MLP.load(path))
    assert peak < 20 * len(raw) + 2**20
    if error is not None:
        assert str(path) in str(error)


# -- 7. damaged headers and edited checkpoints ------------------------------------------

@pytest.mark.parametrize("header,match", [
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (21, }", "field 'theta'"),
    ("{'descr': '<q8', 'fortran_order': False, 'shape': (21,), }", "field 'theta'"),
    ("{'descr': 'O', 'fortran_order': False, 'shape': (21,), }", "field 'theta'"),
    ("{'descr': '<f8', 'shape': (21,), }", "field 'theta'"),
    ("[1, 2, 3]", "field 'theta'"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", "field 'theta'"),
])
def test_damaged_member_headers_name_file_and_field(tmp_path, header, match):
    good = _fields(_save(tmp_path, name="good.npz"))
    path = tmp_path / "net.npz"
    members = {k: _npy(v) for k, v in good.items()}
    members["theta"] = _npy(good["theta"], header)
    _write_zip(path, members)
    with pytest.raises(ValueError, match=match) as info:
        pk.MLP.load(path)
    assert str(path) in str(info.value)


def test_unsupported_zip_features_are_value_errors(tmp_path):
    path = _save(tmp_path)
    raw = bytearray(path.read_bytes())
    # compression method 99 (AES) in every local and central header: NotImplementedError
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = raw.find(sig)
        while at >= 0:
            raw[at + offset:at + offset + 2] = (99).to_bytes(2, "little")
            at = raw.find(sig, at + 1)
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="net.npz"):
        pk.MLP.load(path)
    # the "encrypted" flag: RuntimeError in zipfile
    path = _save(tmp_path)
    raw = bytearray(path.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(sig)
        while at >= 0:
            raw[at + offset] |= 1
            at = raw.find(sig, at + 1)
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="net.npz"):
        pk.MLP.load(path)


def _net():
    return pk.MLP([2, 8, 2], activation="tanh", output="softmax", loss="cross_entropy",
                  seed=0)


@pytest.fixture(scope="module")
def data():
    return spirals(60, seed=0)


@pytest.fixture
def ckpt(tmp_path, data):
    X, y = data
    path = tmp_path / "ckpt.npz"
    pk.train(_net(), X, y, optimizer="adam", epochs=2, batch_size=16, checkpoint=path)
    return path


def _edit(path, **changes):
    fields = _fields(path)
    fields.update(changes)
    np.savez(path, **{k: v for k, v in fields.items() if v is not None})


def _resume(path, data, net=None, **kw):
    X, y = data
    kw = {"optimizer": "adam", "epochs": 4, "batch_size": 16, **kw}
    return pk.train(net or _net(), X, y, checkpoint=path, resume=True, **kw)


CHECKPOINT_EDITS = [
    (dict(state_v=np.full(42, -1.0)), "field 'state_v' holds negative values"),
    (dict(state_m=np.full(42, np.nan)), "field 'state_m' holds NaN or Inf"),
    (dict(theta=np.full(42, np.inf)), "field 'theta' holds NaN or Inf"),
    (dict(theta=np.ones(42, dtype=np.float32)), "field 'theta' must be a float64 array"),
    (dict(state_v=np.ones(41)), r"field 'state_v' must be a float64 array of shape \(42,\)"),
    (dict(step=np.array(-5)), "field 'step' must be an integer >= 0"),
    (dict(step=np.array(2.5)), "field 'step' must be an integer >= 0"),
    (dict(epoch=np.array(-3)), "field 'epoch' must be an integer >= 0"),
    (dict(epoch=np.array(5)), "field 'history_loss' must hold 5 floats"),
    (dict(activation=np.array("relu")), "activation='relu', not 'tanh'"),
    (dict(loss=np.array("mse")), "loss='mse', not 'cross_entropy'"),
    (dict(sizes=np.array([2, 9, 2])), r"sizes=\[2, 9, 2\], not \[2, 8, 2\]"),
    (dict(optimizer=None), "was written by None"),
    (dict(format=None), "not a version-2 pykernels training checkpoint"),
    (dict(version=np.array(1)), "not a version-2"),
    (dict(rng=np.array("{not json")), "field 'rng' is not a generator state"),
    (dict(rng=np.array(json.dumps({"bit_generator": "MT19937", "state": 1}))),
     "field 'rng'"),
    (dict(state_v=None), "expected the fields"),
    (dict(extra=np.ones(2)), "expected the fields"),
]


@pytest.mark.parametrize("changes,match", CHECKPOINT_EDITS)
def test_edited_checkpoints_are_refused_before_anything_changes(ckpt, data, changes, match):
    _edit(ckpt, **changes)
    net = _net()
    before = net.theta.copy()
    with pytest.raises(ValueError, match=match) as info:
        _resume(ckpt, data, net)
    assert str(ckpt) in str(info.value)
    np.testing.assert_array_equal(net.theta, before)


def test_checkpoint_of_another_network_names_the_checkpoint(ckpt, data):
    wide = pk.MLP([2, 9, 2], activation="tanh", output="softmax", loss="cross_entropy")
    with pytest.raises(ValueError, match=r"checkpoint .*ckpt.npz.* sizes=\[2, 8, 2\]"):
        _resume(ckpt, data, wide)
    relu = pk.MLP([2, 8, 2], activation="relu", output="softmax", loss="cross_entropy")
    with pytest.raises(ValueError, match="activation='tanh', not 'relu'"):
        _resume(ckpt, data, relu)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "no-optimizer-field"])
def test_damaged_checkpoints_are_value_errors(ckpt, data, damage):
    if damage == "truncate":
        ckpt.write_bytes(ckpt.read_bytes()[:300])
    elif damage == "garbage":
        raw = bytearray(ckpt.read_bytes())
        raw[40:80] = b"\xff" * 40
        ckpt.write_bytes(bytes(raw))
    else:
        _edit(ckpt, optimizer=None, extra=np.ones(1))
    with pytest.raises(ValueError, match="ckpt.npz"):
        _resume(ckpt, data)


def test_missing_directory_is_an_error_before_training(tmp_path, data):
    X, y = data
    net = _net()
    before = net.theta.copy()
    target = tmp_path / "no" / "such" / "ckpt.npz"
    with pytest.raises(FileNotFoundError, match="checkpoint=.*ckpt.npz") as info:
        pk.train(net, X, y, epochs=1, checkpoint=target)
    assert ".tmp" not in str(info.value)
    np.testing.assert_array_equal(net.theta, before)
    with pytest.raises(FileNotFoundError, match=r"path=.*net.npz.*does not exist") as info:
        net.save(tmp_path / "missing" / "net.npz")
    assert ".tmp" not in str(info.value)
    with pytest.raises(IsADirectoryError, match="checkpoint"):
        pk.train(net, X, y, epochs=1, checkpoint=tmp_path)


_WRITER = """
import os, sys, time
import numpy as np
import pykernels as pk

def stuck(fh, **arrays):
    fh.write(b"PK\\x03\\x04 half a zip")
    fh.flush()
    print("writing", flush=True)
    time.sleep(600)

np.savez = stuck
pk.MLP([2, 3, 1]).save(sys.argv[1])
"""


def _start_writer(path):
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    return proc


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-"))


def test_a_killed_write_leaves_a_temporary_the_next_save_removes(tmp_path):
    path = tmp_path / "net.npz"
    killed = _start_writer(path)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    live = _start_writer(path)
    try:
        left = _temporaries(tmp_path)
        assert len(left) == 2 and all(str(p.pid) in " ".join(left) for p in (killed, live))
        pk.MLP([2, 3, 1]).save(path)                 # removes the dead writer's file only
        assert _temporaries(tmp_path) == [n for n in left if f"-{live.pid}-" in n]
        other = tmp_path / "other.npz"
        pk.MLP([2, 3, 1]).save(other)                # another path's files are not its own
        assert _temporaries(tmp_path) == [n for n in left if f"-{live.pid}-" in n]
    finally:
        live.kill()
        live.wait()
    pk.MLP([2, 3, 1]).save(path)
    assert _temporaries(tmp_path) == []
    assert pk.MLP.load(path).sizes.tolist() == [2, 3, 1]


# -- 6. learning rates ------------------------------------------------------------------

@pytest.mark.parametrize("kw,exc,match", [
    (dict(schedule=lambda e: float("nan")), ValueError, r"schedule\(0\) must be a finite"),
    (dict(schedule=lambda e: float("inf")), ValueError, r"schedule\(0\) must be a finite"),
    (dict(schedule=lambda e: 0.1 if e < 2 else -0.1), ValueError,
     r"schedule\(2\) must be a finite number >= 0, got -0.1"),
    (dict(schedule=lambda e: None), TypeError, r"schedule\(0\) must return a real number"),
    (dict(schedule=lambda e: "0.1"), TypeError, r"schedule\(0\) must return a real number"),
    (dict(schedule="step", gamma=float("nan")), ValueError, "gamma must be a finite number"),
    (dict(schedule="step", gamma=-0.5), ValueError, "gamma must be a finite number >= 0"),
    (dict(lr=float("nan")), ValueError, "lr must be a finite number > 0"),
    (dict(lr=-1e-3), ValueError, "lr must be a finite number > 0"),
    (dict(seed=-1), ValueError, "seed must be an integer >= 0"),
    (dict(callback=3), TypeError, "callback must be callable or None"),
])
def test_bad_learning_rates_are_refused_before_theta_changes(data, kw, exc, match):
    X, y = data
    net = _net()
    before = net.theta.copy()
    with pytest.raises(exc, match=match):
        pk.train(net, X, y, epochs=4, **kw)
    np.testing.assert_array_equal(net.theta, before)


def test_a_zero_rate_is_allowed(data):
    X, y = data
    net = _net()
    before = net.theta.copy()
    hist = pk.train(net, X, y, epochs=2, schedule=lambda e: 0.0, optimizer="sgd")
    np.testing.assert_array_equal(net.theta, before)
    assert hist["lr"] == [0.0, 0.0]


# -- 15. ragged input, network side -------------------------------------------------------

@pytest.mark.parametrize("method", ["predict", "loss", "loss_and_grad", "hvp", "objective"])
def test_ragged_inputs_name_x_or_y(method):
    net = pk.MLP([2, 3, 1], seed=0)
    ragged, good = [[1.0, 2.0], [3.0]], np.ones((2, 2))
    calls = {"predict": lambda X, Y: net.predict(X), "loss": net.loss,
             "loss_and_grad": net.loss_and_grad, "objective": net.objective,
             "hvp": lambda X, Y: net.hvp(X, Y, np.ones(net.size))}
    with pytest.raises(ValueError, match="X must be a rectangular array"):
        calls[method](ragged, [1.0, 2.0])
    if method != "predict":
        with pytest.raises(ValueError, match="Y must be a rectangular array"):
            calls[method](good, [[1.0], [2.0, 3.0]])


def test_backend_given_as_a_list_names_backend():
    with pytest.raises(ValueError, match=r"backend must be one of .* got \['c'\]"):
        pk.MLP([2, 3]).predict(np.ones((1, 2)), backend=["c"])
