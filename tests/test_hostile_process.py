"""Process-level attacks (issue 14's last bar): kill -9 during writes, memory over long
loops, threads on shared and separate objects.  Small sizes: each test stays under
about 10 s."""

import gc
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest

import pykernels as pk

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

_SAVER = """
import sys
import numpy as np
import pykernels as pk
net = pk.MLP([4, 64, 64, 3], seed=0)
print("ready", flush=True)
k = 0
while True:
    k += 1
    net.theta[:] = k            # version k: every parameter equals k
    net.save(sys.argv[1])
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_kill_9_during_repeated_saves_leaves_a_whole_network(tmp_path):
    """Killed at arbitrary points of a save loop, the file is always one whole version;
    the next save removes what the killed writes left behind."""
    path = tmp_path / "net.npz"
    rng = np.random.default_rng(0)
    versions = []
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 20
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.2))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        net = pk.MLP.load(path)
        value = net.theta[0]
        assert value >= 1 and np.all(net.theta == value)  # one whole version
        versions.append(value)
    pk.MLP([2, 1]).save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]


_TRAINER = """
import sys
import numpy as np
import pykernels as pk
rng = np.random.default_rng(0)
X, Y = rng.standard_normal((300, 4)), rng.standard_normal((300, 2))
sw = rng.random(300)
net = pk.MLP([4, 32, 2], seed=0)
hist = pk.train(net, X, Y, epochs=int(sys.argv[2]), batch_size=7, checkpoint=sys.argv[1],
                resume=True, sample_weight=sw, optimizer="rmsprop", lr=1e-2, shuffle=False,
                schedule=lambda e: 1e-2 / (1 + e), l2=1e-3,
                callback=lambda e, h: print("epoch", e, flush=True))
np.save(sys.argv[1] + ".theta.npy", net.theta)
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_kill_9_during_weighted_unshuffled_training_resumes_bit_for_bit(tmp_path):
    epochs = 12
    reference = tmp_path / "ref.npz"
    subprocess.run([sys.executable, "-c", _TRAINER, str(reference), str(epochs)], check=True,
                   capture_output=True)
    path = tmp_path / "ckpt.npz"
    for stop_after in (2, 5, 9):
        proc = subprocess.Popen([sys.executable, "-c", _TRAINER, str(path), str(epochs)],
                                stdout=subprocess.PIPE, text=True)
        for line in proc.stdout:
            if line.startswith("epoch") and int(line.split()[1]) >= stop_after:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    subprocess.run([sys.executable, "-c", _TRAINER, str(path), str(epochs)], check=True,
                   capture_output=True)
    np.testing.assert_array_equal(np.load(str(path) + ".theta.npy"),
                                  np.load(str(reference) + ".theta.npy"))
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


def _growth(step, repeats, warm=100):
    """Bytes that ``repeats`` more calls of ``step`` leave behind, traced after ``warm``
    traced calls filled the bounded caches (plans, workspaces) with traced blocks -- so
    that a cache replacing its entries counts as no growth."""
    tracemalloc.start()
    try:
        for k in range(warm):
            step(k)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for k in range(repeats):
            step(warm + k)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


@numba.njit
def _bowl(x):
    return np.sum((x - 0.5) ** 2)


X8 = np.random.default_rng(1).standard_normal((64, 8))
LOOPS = {
    # a new Python function every call: the plans kept per function stay bounded
    "gradient-of-new-functions": lambda k: pk.gradient(lambda x: float(x @ x) + k, np.ones(4)),
    "hvp-of-new-functions": lambda k: pk.hvp(lambda x: float(x @ x) * k, np.ones(3),
                                             np.ones(3)),
    "jacobian-of-njit": lambda k: pk.jacobian(numba.njit(lambda x: x * 2.0) if k < 0 else
                                              lambda x: x * float(k), np.ones(3)),
    "gradient-of-njit": lambda k: pk.gradient(_bowl, np.full(5, float(k))),
    "minimize": lambda k: pk.minimize(lambda x: float(np.sum((x - k) ** 2)), np.zeros(3),
                                      maxiter=20),
    "minimize-genetic": lambda k: pk.minimize(lambda x: float(x @ x), np.ones(2),
                                              method="genetic", maxiter=3, seed=k),
    "hessian_eigs": lambda k: pk.hessian_eigs(lambda v: (k + 1.0) * v, 6, k=2),
    "stationary_points": lambda k: pk.stationary_points(np.sin, 0.0, 3.0 + k % 3, num=41,
                                                        fprime=np.cos),
    "train-one-epoch": lambda k: pk.train(pk.MLP([8, 8, 1], seed=k), X8, X8[:, :1], epochs=1),
    "objective": lambda k: pk.MLP([8, 4, 2], seed=0).objective(X8[:k % 60 + 1],
                                                                X8[:k % 60 + 1, :2]).fun(
        np.zeros(46)),
}


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_long_loops_do_not_grow(name):
    grown = _growth(LOOPS[name], 300)
    # an unbounded cache of plans grows ~3 KiB a call here: ~900 KiB in 300 calls
    assert grown < 2**17, f"{name}: {grown / 2**10:.0f} KiB left by 300 calls"


def test_saving_and_loading_in_a_loop_does_not_grow(tmp_path):
    path = tmp_path / "net.npz"
    net = pk.MLP([8, 16, 2], seed=0)

    def step(k):
        net.save(path)
        pk.MLP.load(path)

    assert _growth(step, 100, warm=20) < 2**17


@numba.njit
def _rosen(x):
    s = 0.0
    for i in range(x.size - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def test_threads_on_shared_functions_give_the_serial_bits():
    """Four threads calling the derivative engine, the optimizers and the curvature
    functions at once on shared @njit and Python functions: bit for bit the serial
    results."""
    points = [np.random.default_rng(k).standard_normal(6) for k in range(12)]
    jobs = {
        "gradient": lambda p: pk.gradient(_rosen, p),
        "hessian": lambda p: pk.hessian(_rosen, p, method="richardson"),
        "hvp": lambda p: pk.hvp(_rosen, p, p),
        "jacobian": lambda p: pk.jacobian(lambda y: np.array([_rosen(y), y @ y]), p),
        "minimize": lambda p: pk.minimize(lambda y: float(_rosen(y)), p, maxiter=15).x,
        "eigs": lambda p: pk.hessian_eigs(lambda v: pk.hvp(_rosen, p, v), 6, k=2).values,
        "train": lambda p: _trained(int(abs(p[0]) * 1000)),
    }
    serial = {name: [job(p) for p in points] for name, job in jobs.items()}
    with ThreadPoolExecutor(4) as pool:
        for _ in range(2):
            for name, job in jobs.items():
                for got, want in zip(pool.map(job, points), serial[name]):
                    np.testing.assert_array_equal(got, want, err_msg=name)


def _trained(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 3))
    net = pk.MLP([3, 8, 2], seed=seed)
    pk.train(net, X, X[:, :2] ** 2, epochs=2, batch_size=8, seed=seed)
    return net.theta


@pytest.mark.parametrize("backend", [b for b in ("numba", "c", "numpy") if b in pk.backends()])
def test_threads_sharing_one_network_get_the_serial_bits(backend):
    """Threads sharing one network for predict, loss_and_grad, jacobian and products
    along v (kept R-operator passes included) get the serial bits."""
    net = pk.MLP([5, 16, 3], activation="relu", output="softmax", loss="cross_entropy",
                 seed=0)
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((2 + k, 5)), rng.integers(0, 3, 2 + k)) for k in range(8)]

    def job(batch):
        X, y = batch
        v = np.linspace(-1.0, 1.0, net.size) * len(X)
        return (net.predict(X, backend=backend), net.loss_and_grad(X, y, backend=backend)[1],
                net.jacobian(X, "params", backend=backend), net.hvp(X, y, v, backend=backend),
                net.hvp(X, y, -v, backend=backend))

    serial = [job(b) for b in batches]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(4):
            for got, want in zip(pool.map(job, batches), serial):
                for a, b in zip(got, want):
                    np.testing.assert_array_equal(a, b)
