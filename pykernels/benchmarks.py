"""Benchmark cases shared by ``bench/`` (pytest-benchmark) and ``pykernels bench``.

A :class:`Case` names a comparison group (``"mlp-step|tiny|f64"``), one
implementation in it (a backend, or a peer such as ``"torch"``), and a factory
returning a zero-argument callable that does one unit of work; both drivers time
exactly that callable.  A factory raises ``ImportError`` or
:class:`pykernels.BackendUnavailable` when its implementation is not installed.
"""

import contextlib
import dataclasses
import functools
import json
import os
import sys
import time
from typing import Callable

import numpy as np

from ._backend import BackendUnavailable, backends
from .network import MLP, atomic_write


@dataclasses.dataclass(frozen=True)
class Case:
    """One implementation of one benchmark group."""

    group: str
    impl: str
    make: Callable[[], Callable[[], object]]
    quick: bool = True
    #: None: timed by :func:`time_call`; else that many single calls, each after the
    #: untimed ``prepare()`` of the callable (start-up cases: one process per call)
    rounds: int | None = None

    @property
    def id(self):
        """``group|impl``, unique among the cases."""
        return f"{self.group}|{self.impl}"

#: name -> (layer sizes, hidden activation, output, loss, batch)
MLP_CASES = {
    "tiny": ([2, 32, 32, 1], "tanh", "identity", "mse", 32),
    "small": ([64, 128, 128, 10], "relu", "softmax", "cross_entropy", 64),
    "large": ([1024, 1024, 1024, 10], "relu", "softmax", "cross_entropy", 512),
}
LEARNING_RATE = 1e-3


def mlp_problem(case, dtype=np.float64, seed=0):
    """The network and one batch (X, Y) of benchmark case ``case``."""
    sizes, activation, output, loss, batch = MLP_CASES[case]
    net = MLP(sizes, activation=activation, output=output, loss=loss, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    if loss == "cross_entropy":
        Y = rng.integers(0, sizes[-1], batch)
    else:
        Y = rng.standard_normal((batch, sizes[-1])).astype(dtype)
    return net, X, Y


def mlp_step(case, backend, dtype=np.float64):
    """One SGD training step (loss_and_grad + update) of ``case`` on ``backend``."""
    net, X, Y = mlp_problem(case, dtype)
    theta = net.theta
    lr = dtype(LEARNING_RATE)

    def step():
        value, grad = net.loss_and_grad(X, Y, backend=backend)
        grad *= lr
        np.subtract(theta, grad, out=theta)
        return value

    return step


def _split(theta, net):
    """[W_1, b_1, W_2, ...] as slices of a flat theta (NumPy, torch or JAX array)."""
    params, start = [], 0
    for W, _ in net.layers:
        n_out, n_in = W.shape
        params.append(theta[start:start + n_out * n_in].reshape(n_out, n_in))
        params.append(theta[start + n_out * n_in:start + n_out * (n_in + 1)])
        start += n_out * (n_in + 1)
    return params


def _torch_mlp_loss(net, X, Y):
    """The network's mean loss as a torch function of the list [W_1, b_1, ...]."""
    import torch

    act = {"tanh": torch.tanh, "relu": torch.relu}[net.activation]
    F = torch.nn.functional
    loss = F.cross_entropy if net.loss_name == "cross_entropy" else F.mse_loss
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(np.asarray(Y))

    def value(params):
        a = Xt
        for k in range(0, len(params) - 2, 2):
            a = act(a @ params[k].T + params[k + 1])
        return loss(a @ params[-2].T + params[-1], Yt)

    return value


def torch_mlp_step(case, dtype=np.float64):
    """The same step in PyTorch eager mode (raises ImportError without torch)."""
    import torch

    net, X, Y = mlp_problem(case, dtype)
    params = [torch.tensor(p.copy(), requires_grad=True) for W, b in net.layers for p in (W, b)]
    loss = _torch_mlp_loss(net, X, Y)
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE)

    def step():
        optimizer.zero_grad()
        value = loss(params)
        value.backward()
        optimizer.step()
        return value.item()

    return step


def _jax():
    """JAX with float64 enabled (a process-wide JAX setting, fine in a benchmark run)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def _jax_mlp_loss(net, X, Y):
    """The network's mean loss as a JAX function of the list of (W, b) arrays."""
    jax = _jax()
    jnp = jax.numpy
    act = {"tanh": jnp.tanh, "relu": jax.nn.relu}[net.activation]
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    def loss(params):
        a = Xj
        for k in range(0, len(params) - 2, 2):
            a = act(a @ params[k].T + params[k + 1])
        z = a @ params[-2].T + params[-1]
        if net.loss_name == "cross_entropy":
            logp = jax.nn.log_softmax(z, axis=1)
            return -jnp.mean(jnp.take_along_axis(logp, Yj[:, None], axis=1))
        return jnp.mean((z - Yj) ** 2)

    return loss


def jax_mlp_step(case, dtype=np.float64):
    """The same SGD step jitted by JAX (raises ImportError without jax)."""
    net, X, Y = mlp_problem(case, dtype)
    jax = _jax()
    loss = _jax_mlp_loss(net, X, Y)

    @jax.jit
    def update(params):
        value, grads = jax.value_and_grad(loss)(params)
        return value, [p - LEARNING_RATE * g for p, g in zip(params, grads)]

    state = [[jax.numpy.asarray(p) for W, b in net.layers for p in (W, b)]]

    def step():
        value, state[0] = update(state[0])
        return float(value)  # waits for the result

    return step


def gemm_floor_step(case, dtype=np.float64):
    """Only the matrix products of one step, by ``np.dot`` into preallocated outputs.

    A lower bound for any implementation that calls BLAS: forward ``a W^T`` per
    layer, backward ``delta^T a`` and ``delta W``.
    """
    net, X, _ = mlp_problem(case, dtype)
    batch = len(X)
    acts = [X] + [np.ones((batch, W.shape[0]), dtype) for W, _ in net.layers]
    grads = [np.empty_like(W) for W, _ in net.layers]

    def step():
        for k, (W, _) in enumerate(net.layers):
            np.dot(acts[k], W.T, out=acts[k + 1])
        for k in range(len(net.layers) - 1, -1, -1):
            W = net.layers[k][0]
            np.dot(acts[k + 1].T, acts[k], out=grads[k])
            if k > 0:
                np.dot(acts[k + 1], W, out=acts[k])
        return 0.0

    return step


def mlp_flops(case):
    """Floating-point operations of one step: 2 per multiply-add, forward + 2x backward."""
    sizes, *_, batch = MLP_CASES[case]
    return 6 * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def mlp_cases():
    """Training-step cases: every backend, PyTorch eager, JAX jit and the BLAS floor."""
    cases = []
    for name in MLP_CASES:
        for tag, dtype in (("f64", np.float64), ("f32", np.float32)):
            group = f"mlp-step|{name}|{tag}"
            quick = name != "large"
            for backend in backends():
                cases.append(Case(group, backend, _bind(mlp_step, name, backend, dtype), quick))
            cases.append(Case(group, "torch", _bind(torch_mlp_step, name, dtype), quick))
            cases.append(Case(group, "jax", _bind(jax_mlp_step, name, dtype), quick))
            cases.append(Case(group, "gemm-floor", _bind(gemm_floor_step, name, dtype), quick))
    return cases


def _bind(factory, *args):
    return lambda: factory(*args)


# -- derivatives of any function ------------------------------------------------

@functools.lru_cache(maxsize=None)
def rosenbrock_njit():
    """Extended Rosenbrock as an ``@njit`` function (one per process, compiled on use)."""
    import numba

    @numba.njit
    def rosenbrock(x):
        total = 0.0
        for k in range(0, x.size, 2):
            a = 10.0 * (x[k + 1] - x[k] * x[k])
            b = 1.0 - x[k]
            total += a * a + b * b
        return total

    return rosenbrock


@functools.lru_cache(maxsize=None)
def rosenbrock_gradient_njit():
    """Exact gradient of :func:`rosenbrock_njit` as an ``@njit`` function."""
    import numba

    @numba.njit
    def rosenbrock_gradient(x):
        g = np.empty_like(x)
        for k in range(0, x.size, 2):
            t = x[k + 1] - x[k] * x[k]
            g[k] = -400.0 * x[k] * t - 2.0 * (1.0 - x[k])
            g[k + 1] = 200.0 * t
        return g

    return rosenbrock_gradient


def rosenbrock_numpy(x):
    """Extended Rosenbrock, vectorised NumPy (what a scipy user writes)."""
    a = 10.0 * (x[1::2] - x[0::2] ** 2)
    b = 1.0 - x[0::2]
    return np.sum(a * a + b * b)


def rosenbrock_columns(X):
    """Extended Rosenbrock of each column of ``X`` (n, k): a vectorized f."""
    a = 10.0 * (X[1::2] - X[0::2] ** 2)
    b = 1.0 - X[0::2]
    return np.sum(a * a + b * b, axis=0)


def rosenbrock_gradient(x):
    """Exact gradient of :func:`rosenbrock_numpy`."""
    t = x[1::2] - x[0::2] ** 2
    g = np.empty_like(x)
    g[0::2] = -400.0 * x[0::2] * t - 2.0 * (1.0 - x[0::2])
    g[1::2] = 200.0 * t
    return g


@functools.lru_cache(maxsize=None)
def broyden_njit():
    """Broyden tridiagonal residual R^n -> R^n as an ``@njit`` function (one per process)."""
    import numba

    @numba.njit
    def broyden(x):
        r = (3.0 - 2.0 * x) * x + 1.0
        r[1:] -= x[:-1]
        r[:-1] -= 2.0 * x[1:]
        return r

    return broyden


def broyden_numpy(x):
    """Broyden tridiagonal residual, vectorised NumPy."""
    r = (3.0 - 2.0 * x) * x + 1.0
    r[1:] -= x[:-1]
    r[:-1] -= 2.0 * x[1:]
    return r


def pentadiagonal_numpy(x):
    """``sum exp(x_i x_{i+2} / 10) + sum (x_i - x_{i+1})^4 / 4``: a pentadiagonal Hessian."""
    return np.sum(np.exp(0.1 * x[:-2] * x[2:])) + 0.25 * np.sum((x[:-1] - x[1:]) ** 4)


def pentadiagonal_gradient(x):
    """Exact gradient of :func:`pentadiagonal_numpy`."""
    g = np.zeros_like(x)
    e = 0.1 * np.exp(0.1 * x[:-2] * x[2:])
    g[:-2] += x[2:] * e
    g[2:] += x[:-2] * e
    d3 = (x[:-1] - x[1:]) ** 3
    g[:-1] += d3
    g[1:] -= d3
    return g


def pentadiagonal_hessian(x):
    """Exact Hessian of :func:`pentadiagonal_numpy` as a scipy.sparse.csr_matrix."""
    import scipy.sparse as sp

    e = np.exp(0.1 * x[:-2] * x[2:])
    d2 = 3.0 * (x[:-1] - x[1:]) ** 2
    diag = np.zeros_like(x)
    diag[:-2] += 0.01 * x[2:] ** 2 * e
    diag[2:] += 0.01 * x[:-2] ** 2 * e
    diag[:-1] += d2
    diag[1:] += d2
    cross = 0.1 * e + 0.01 * x[:-2] * x[2:] * e
    return sp.diags([cross, -d2, diag, -d2, cross], [-2, -1, 0, 1, 2], format="csr")


def _bare_central_loop(f, n, out):
    """A bare compiled central-difference loop over the columns of ``f`` (no checks,
    no plans): the floor a finite-difference engine can reach.  ``out`` (n, ...) gets
    the transposed derivative."""
    import numba

    r = np.finfo(float).eps ** (1 / 3)

    @numba.njit
    def loop(x, out):
        xp = x.copy()
        for j in range(x.size):
            h = r * max(1.0, abs(x[j]))
            xp[j] = x[j] + h
            fp = f(xp)
            xp[j] = x[j] - h
            fm = f(xp)
            xp[j] = x[j]
            out[j] = (fp - fm) / (2.0 * h)

    def derivative(x):
        loop(x, out)
        return out.T

    return derivative


def _gradient_point(n):
    return np.tile([-1.2, 1.0], n // 2) + 0.1


def _hessian_point(n):
    return 0.5 * np.sin(np.arange(n)) + 0.3


def derivative_step(group, impl):
    """One derivative of a benchmark group (see :func:`derivative_cases`)."""
    from scipy.optimize._numdiff import approx_derivative

    from . import derivatives

    kind, problem, method = group.split("|")
    n = int(problem.split("-")[1])
    if kind == "gradient-vectorized":
        x = _gradient_point(n)
        if impl == "vectorized":
            return lambda: derivatives.gradient(rosenbrock_columns, x, vectorized=True)
        return lambda: derivatives.gradient(rosenbrock_numpy, x)  # point by point
    if kind == "hessian-sparse":
        x = _hessian_point(n)
        pattern = pentadiagonal_hessian(x) != 0
        if impl == "sparse-grad":
            return lambda: derivatives.hessian(None, x, grad=pentadiagonal_gradient,
                                               sparsity=pattern)
        if impl == "sparse-f":
            return lambda: derivatives.hessian(pentadiagonal_numpy, x, sparsity=pattern)
        return lambda: derivatives.hessian(None, x, grad=pentadiagonal_gradient)
    if kind == "gradient":
        f_jit, f_np, x = rosenbrock_njit(), rosenbrock_numpy, _gradient_point(n)
    else:
        f_jit, f_np, x = broyden_njit(), broyden_numpy, np.linspace(-1.0, 1.0, n)
    engine = derivatives.gradient if kind == "gradient" else derivatives.jacobian
    if impl in backends():
        return lambda: engine(f_jit, x, method=method, backend=impl)
    if impl.startswith("scipy"):
        f = f_np if impl.endswith("numpy-f") else f_jit
        return lambda: approx_derivative(f, x, method="3-point")
    if impl.startswith("numdifftools"):
        import numdifftools

        diff = (numdifftools.Gradient if kind == "gradient" else numdifftools.Jacobian)(
            f_np if impl.endswith("numpy-f") else f_jit)
        return lambda: diff(x)
    if impl == "bare-compiled-loop":
        loop = _bare_central_loop(f_jit, n, np.empty((n,) if kind == "gradient" else (n, n)))
        return lambda: loop(x)
    if impl == "jax-autodiff":  # exact derivative by automatic differentiation, for scale
        jax = _jax()
        jnp = jax.numpy
        if kind == "gradient":
            derivative = jax.jit(jax.grad(lambda x: jnp.sum(
                100.0 * (x[1::2] - x[0::2] ** 2) ** 2 + (1.0 - x[0::2]) ** 2)))
        else:
            derivative = jax.jit(jax.jacfwd(lambda x: (3.0 - 2.0 * x) * x + 1.0
                                            - jnp.pad(x[:-1], (1, 0))
                                            - 2.0 * jnp.pad(x[1:], (0, 1))))
        xj = jnp.asarray(x)
        return lambda: np.asarray(derivative(xj))
    raise ValueError(f"unknown implementation {impl!r}")


def derivative_cases():
    """Gradient and Jacobian cases: our backends on an ``@njit`` f, scipy's
    ``approx_derivative`` on the same f and on a NumPy version (``-numpy-f``),
    numdifftools for Richardson, a bare compiled loop (the floor), and JAX's exact
    automatic derivative for scale.  ``gradient-vectorized``: a ``vectorized=True``
    gradient of a NumPy Rosenbrock against the point-by-point call (bar: >= 10x);
    ``hessian-sparse``: a pentadiagonal Hessian at n = 2000 from its gradient, sparse
    (star colouring) against dense (bar: >= 100x), and from f alone."""
    groups = {
        "gradient|rosenbrock-100|central": ["scipy", "scipy-numpy-f", "bare-compiled-loop",
                                            "jax-autodiff"],
        "gradient|rosenbrock-100|richardson": ["numdifftools", "numdifftools-numpy-f"],
        "jacobian|broyden-1000|central": ["scipy", "scipy-numpy-f", "bare-compiled-loop",
                                          "jax-autodiff"],
    }
    ours = [b for b in backends() if b != "c"]  # the C loops take cffi function pointers
    cases = []
    for group, peers in groups.items():
        for impl in ours + peers:
            slow = impl == "numpy" and group.startswith("jacobian")  # 2000 Python calls
            cases.append(Case(group, impl, _bind(derivative_step, group, impl), not slow))
    for group, impls in (("gradient-vectorized|rosenbrock-100|central",
                          ["vectorized", "point-by-point"]),
                         ("hessian-sparse|pentadiagonal-2000|central",
                          ["sparse-grad", "dense-grad", "sparse-f"])):
        for impl in impls:
            cases.append(Case(group, impl, _bind(derivative_step, group, impl),
                              impl != "dense-grad"))
    return cases


# -- Hessian-vector products of a network's loss ---------------------------------

def hvp_step(case, impl, dtype=np.float64):
    """One Hessian-vector product (or the gradient it is measured against) of ``case``."""
    net, X, Y = mlp_problem(case, dtype)
    v = np.random.default_rng(1).standard_normal(net.size).astype(dtype)
    if impl == "loss_and_grad":
        return lambda: net.loss_and_grad(X, Y)[1]
    if impl in backends():
        return lambda: net.hvp(X, Y, v, backend=impl)
    if impl == "numba-new-point":  # two thetas in turn: nothing kept can be reused
        thetas = [net.theta.copy(), np.nextafter(net.theta, np.inf, dtype=net.dtype)]

        def new_point():
            thetas.reverse()
            return net.hvp(X, Y, v, thetas[0], backend="numba")
        return new_point
    if impl == "gnvp":
        return lambda: net.gnvp(X, Y, v)
    if impl == "central-difference":
        e = 1e-5 / np.linalg.norm(v)

        def central():
            plus = net.loss_and_grad(X, Y, net.theta + e * v)[1]
            return (plus - net.loss_and_grad(X, Y, net.theta - e * v)[1]) / (2 * e)
        return central
    if impl == "torch":
        return _torch_hvp(net, X, Y, v)
    if impl == "jax":
        return _jax_hvp(net, X, Y, v)
    raise ValueError(f"unknown implementation {impl!r}")


def _jax_hvp(net, X, Y, v):
    """Forward-over-reverse HVP jitted by JAX, on the flat theta."""
    jax = _jax()
    loss = _jax_mlp_loss(net, X, Y)
    hvp = jax.jit(lambda t, u: jax.jvp(jax.grad(lambda s: loss(_split(s, net))), (t,), (u,))[1])
    theta, direction = jax.numpy.asarray(net.theta), jax.numpy.asarray(v)
    return lambda: np.asarray(hvp(theta, direction))


def _torch_hvp(net, X, Y, v):
    """``torch.autograd.functional.hvp`` of the loss, on the flat theta."""
    import torch

    loss = _torch_mlp_loss(net, X, Y)
    theta, direction = torch.from_numpy(net.theta.copy()), torch.from_numpy(v)
    return lambda: torch.autograd.functional.hvp(lambda t: loss(_split(t, net)), theta,
                                                 direction)[1]


def hvp_cases():
    """``hvp|<net>|f64``: one loss_and_grad (the unit), net.hvp per backend (repeated at
    one point, as in Lanczos or CG) and at a new theta every call, the Gauss-Newton
    product, the central difference of two gradients, PyTorch and JAX."""
    cases = []
    for name in ("small", "large"):
        group = f"hvp|{name}|f64"
        for impl in (["loss_and_grad"] + backends()
                     + ["numba-new-point", "gnvp", "central-difference", "torch", "jax"]):
            if name == "large" and impl == "numpy":
                continue  # the reference is for correctness, not speed
            cases.append(Case(group, impl, _bind(hvp_step, name, impl), name != "large"))
    return cases


# -- the first result of a fresh interpreter --------------------------------------

def startup_cases():
    """``startup|<first call>|<cold or warm>`` cases (:mod:`pykernels.startup`), timed
    over three fresh processes each."""
    from .startup import FIRST_CALLS, FreshProcess

    cases = []
    for first_call, (_, numba_too, quick) in FIRST_CALLS.items():
        second = first_call == "njit-f-gradient-second-process"
        for cache in ("cold",) if second else ("cold", "warm"):
            for backend in (None, "numba") if numba_too else (None,):
                cases.append(Case(f"startup|{first_call}|{cache}", backend or "default",
                                  _bind(FreshProcess, first_call, cache, backend), quick,
                                  rounds=3))
    return cases


# -- scikit-learn's MLP, an optional peer of pykernels.sklearn ----------------------

def sklearn_cases():
    """``sklearn-fit|<data>|<solver>-<iterations>`` cases (:mod:`pykernels._sklearn_bench`)."""
    from ._sklearn_bench import FITS, fit

    cases = []
    for group, (_, _, _, newton, quick) in FITS.items():
        impls = ["sklearn"] + [f"pykernels-{b}" for b in backends() if b != "numpy"]
        if newton:
            impls.append(f"pykernels-newton-cg-{newton}")
        cases += [Case(group, impl, functools.partial(fit, group, impl), quick)
                  for impl in impls]
    return cases


def all_cases():
    """Every benchmark case, in group order."""
    return (mlp_cases() + derivative_cases() + hvp_cases() + sklearn_cases()
            + startup_cases())


def time_rounds(step, rounds):
    """Median seconds of ``rounds`` single calls of ``step``, each after ``step.prepare()``."""
    times = []
    for _ in range(rounds):
        step.prepare()
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def time_call(step, min_time=0.2, repeats=5):
    """Median seconds per call of ``step`` over ``repeats`` timing rounds.

    Each round calls ``step`` as many times as fit in ``min_time / repeats`` (at
    least once), after one untimed call that compiles and warms caches.
    """
    step()
    start = time.perf_counter()
    step()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(min_time / repeats / once))
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            step()
        rounds.append((time.perf_counter() - start) / number)
    return float(np.median(rounds))


def _set_affinity(cpus):
    """Pin every thread of this process (``/proc/self/task``) to ``cpus``: the call
    itself only moves the calling thread, and runtimes keep thread pools of their own."""
    tasks = os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ["0"]
    for task in tasks:
        try:
            os.sched_setaffinity(int(task), cpus)
        except OSError:  # the thread ended meanwhile
            pass


@contextlib.contextmanager
def one_core():
    """Run on one thread on every side, and on one CPU core.

    BLAS (threadpoolctl), Numba and PyTorch (when imported) get one thread; every thread
    of the process is pinned to one core where the OS allows it, which also holds
    runtimes that keep their own thread pools -- XLA's ignores the flags meant for it
    and used both cores here.  Everything is restored on exit.
    """
    import numba
    from threadpoolctl import threadpool_limits

    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_setaffinity") else None
    torch = sys.modules.get("torch")
    threads = numba.get_num_threads(), torch.get_num_threads() if torch else None
    try:
        if cpus:
            _set_affinity({min(cpus)})
        numba.set_num_threads(1)
        if torch:
            torch.set_num_threads(1)
        with threadpool_limits(1):
            yield
    finally:
        numba.set_num_threads(threads[0])
        if torch:
            torch.set_num_threads(threads[1])
        if cpus:
            _set_affinity(cpus)


def run(cases, *, min_time=0.2, out=None):
    """Time ``cases`` on one core (:func:`one_core`); print a ratio table per group;
    return the rows.

    Returns
    -------
    list of dict
        One row per case: ``group``, ``impl``, ``seconds`` (median per call, None
        when the implementation is unavailable), ``ratio`` (to the group's fastest)
        and ``note``.
    """
    out = out or sys.stdout
    rows = []
    with one_core():
        for case in cases:
            try:
                step = case.make()
                seconds = (time_call(step, min_time) if case.rounds is None
                           else time_rounds(step, case.rounds))
                note = ""
            except (ImportError, BackendUnavailable) as exc:
                seconds, note = None, f"unavailable: {exc}"
            rows.append(dict(group=case.group, impl=case.impl, seconds=seconds, note=note))
    for row in rows:
        times = [r["seconds"] for r in rows if r["group"] == row["group"] and r["seconds"]]
        row["ratio"] = row["seconds"] / min(times) if row["seconds"] else None
    _print_table(rows, out)
    return rows


def _print_table(rows, out):
    group = None
    for row in rows:
        if row["group"] != group:
            group = row["group"]
            print(f"\n{group}", file=out)
            print(f"  {'implementation':<22} {'median':>12} {'ratio':>7}", file=out)
        if row["seconds"] is None:
            print(f"  {row['impl']:<22} {'-':>12} {'-':>7}  {row['note'][:60]}", file=out)
        else:
            print(f"  {row['impl']:<22} {_format_seconds(row['seconds']):>12} "
                  f"{row['ratio']:>6.2f}x", file=out)


def _format_seconds(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def write_json(rows, path):
    """Write the rows of :func:`run` to ``path`` as JSON, atomically (a failed write
    leaves neither a truncated file nor its temporary one).

    Parameters
    ----------
    rows : list of dict
    path : str or os.PathLike

    Raises
    ------
    TypeError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError
        When ``path`` cannot be written (see :func:`pykernels.network.check_writable`).
    """
    atomic_write(path, lambda fh: json.dump({"cases": rows}, fh, indent=1), "--json",
                 suffix=".json", binary=False)
