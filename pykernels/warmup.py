"""``pykernels warmup``: compile (or load) every Numba kernel into the on-disk cache.

Numba compiles a kernel at its first call in a process and keeps the machine code in
its cache directory, keyed on the Numba version, the kernel's source file and the
CPU.  A fresh environment, a Numba upgrade or another CPU model starts cold: the
first call of the ``"numba"`` backend then waits for the compiler.  The warm-up pays
that once, ahead of time, through the public API (so every signature a real call
uses is the one compiled), in two *lanes* -- child processes that run side by side:

* ``network``: the MLP kernels (forward, backpropagation, R-operator, Jacobians) for
  float64 and float32;
* ``optimizers and derivatives``: the optimizer updates for both dtypes, the input
  checks, the finite-difference and colouring kernels, and the compiled minimize
  loops for ``@njit`` objectives.

No kernel is compiled by both lanes at once (Numba's cache index of a function is
rewritten by whichever process saves last), so the warm-up is safe beside other
processes that use the same cache.  A second run loads everything and compiles
nothing.
"""

import json
import subprocess
import sys
import threading
import time

import numpy as np

__all__ = ["cache_state", "warmup"]


# -- what each lane runs ----------------------------------------------------------

def _network(dtype):
    """Every MLP kernel of the numba backend for ``dtype``, through ``pk.MLP``."""
    import pykernels as pk

    steps = []
    for output, loss in (("softmax", "cross_entropy"), ("identity", "mse")):
        net = pk.MLP([3, 4, 2], activation="tanh", output=output, loss=loss, dtype=dtype)
        X = np.linspace(-1, 1, 15).reshape(5, 3).astype(dtype)
        Y = np.eye(2, dtype=dtype)[[0, 1, 1, 0, 1]]
        v = np.ones(net.size, dtype)
        steps.append(lambda net=net, X=X, Y=Y, v=v: (
            net.predict(X, backend="numba"), net.loss(X, Y, backend="numba"),
            net.loss_and_grad(X, Y, backend="numba"), net.hvp(X, Y, v, backend="numba"),
            net.gnvp(X, Y, v, backend="numba"), net.jacobian(X, "input", backend="numba"),
            net.jacobian(X, "params", backend="numba")))
    for step in steps:
        step()


def _optimizers(dtype):
    """The update kernel of every ``pk.optim`` optimizer for ``dtype``."""
    import pykernels as pk

    for cls in (pk.optim.SGD, pk.optim.Momentum, pk.optim.Nesterov, pk.optim.AdaGrad,
                pk.optim.RMSProp, pk.optim.Adam):
        opt = cls(backend="numba")
        theta = np.ones(4, dtype)
        opt.step(theta, np.ones(4, dtype), opt.init(theta))


def _checks():
    """The input checks of both dtypes."""
    from .kernels.checks import all_finite

    for dtype in (np.float64, np.float32):
        all_finite(np.ones(3, dtype))


def _derivatives():
    """The compiled difference drivers for ``@njit`` functions, and the colouring."""
    import pykernels as pk

    from . import _warmup_functions as fns

    x = np.linspace(0.5, 1.5, 4)
    for method in ("forward", "backward", "central", "complex", "richardson"):
        pk.gradient(fns.scalar, x, method=method, backend="numba")
        pk.jacobian(fns.vector, x, method=method, backend="numba")
    pk.hessian(fns.scalar, x, backend="numba")
    pk.hessian(fns.scalar, x, grad=fns.scalar_grad, backend="numba")
    pk.hvp(fns.scalar, x, np.ones(4), backend="numba")
    pk.jacobian(fns.vector, x, sparsity=np.eye(4, dtype=bool), backend="numba")
    pk.hessian(fns.scalar, x, grad=fns.scalar_grad, sparsity=np.ones((4, 4), bool),
               backend="numba")
    pk.hessian(fns.scalar, x, sparsity=np.ones((4, 4), bool), backend="numba")
    # the colourings (patterns this small take their plain-Python twins in the API)
    from .kernels import coloring

    indptr, indices = np.array([0, 1, 2], np.int64), np.array([1, 0], np.int64)
    order, colors = coloring.smallest_last_order(indptr, indices), np.empty(2, np.int64)
    coloring.greedy_coloring(order, indptr, indices, colors)
    coloring.star_coloring(order, indptr, indices, colors)


def _minimize():
    """The compiled minimize loops for ``@njit`` objectives."""
    import pykernels as pk

    from . import _warmup_functions as fns

    x0 = np.full(3, 0.5)
    for method in ("lbfgs", "adam"):
        pk.minimize(fns.scalar, x0, jac=fns.scalar_grad, method=method, maxiter=3)
    pk.minimize(fns.scalar, x0, method="random-search", maxiter=2, seed=0)


#: lane name -> [(step name, function, arguments)]
LANES = {
    "network": [("network float64", _network, (np.float64,)),
                ("network float32", _network, (np.float32,))],
    "optimizers and derivatives": [
        ("optimizer updates float64", _optimizers, (np.float64,)),
        ("optimizer updates float32", _optimizers, (np.float32,)),
        ("input checks", _checks, ()),
        ("finite differences", _derivatives, ()),
        ("compiled minimize", _minimize, ()),
    ],
}


def _dispatchers():
    """Every cacheable Numba dispatcher of pykernels' loaded modules (compiled drivers
    included), as ``{qualified name: dispatcher}``."""
    from numba.core.caching import FunctionCache
    from numba.core.registry import CPUDispatcher

    found = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("pykernels") or module is None:
            continue
        for value in list(vars(module).values()):
            if not isinstance(value, CPUDispatcher):
                value = getattr(value, "_compiled", None)  # a kernels._jit._LazyDriver
            if isinstance(value, CPUDispatcher) and isinstance(value._cache, FunctionCache):
                found[f"{value.py_func.__module__}.{value.py_func.__qualname__}"] = value
    return found


def _run_lane(lane):
    """Child process: run the steps of ``lane``, one line of JSON per event on stdout."""
    for step, function, args in LANES[lane]:
        try:
            function(*args)
        except Exception as exc:  # reported to the parent, which fails the command
            print(json.dumps({"step": step, "error": f"{type(exc).__name__}: {exc}"}),
                  flush=True)
            return 1
        print(json.dumps({"step": step}), flush=True)
    compiled = loaded = 0
    for dispatcher in _dispatchers().values():
        compiled += sum(dispatcher.stats.cache_misses.values())
        loaded += sum(dispatcher.stats.cache_hits.values())
    print(json.dumps({"kernels": len(_dispatchers()), "compiled": compiled,
                      "loaded": loaded}), flush=True)
    return 0


def warmup(progress=True, out=None):
    """Compile or load every kernel of the numba backend into Numba's cache.

    Parameters
    ----------
    progress : bool
        Show a tqdm progress bar (one tick per step of each lane).
    out : file, optional
        Where the summary goes (default ``sys.stdout``).

    Returns
    -------
    dict
        ``ok`` (bool), ``seconds``, ``kernels`` (entry points and callees used),
        ``compiled`` and ``loaded`` (overloads compiled now / loaded from the cache),
        ``cache`` (the directory) and ``errors`` (``"lane: step: message"`` strings).
    """
    out = out or sys.stdout
    start = time.perf_counter()
    total = sum(len(steps) for steps in LANES.values())
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, desc="pykernels warmup", unit="step", file=sys.stderr)
    lock = threading.Lock()
    summary = {"kernels": 0, "compiled": 0, "loaded": 0}
    errors = []

    def follow(lane, child):
        for line in child.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a kernel's own print, not an event
            with lock:
                if "error" in event:
                    errors.append(f"{lane}: {event['step']}: {event['error']}")
                elif "step" in event:
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix_str(event["step"])
                else:
                    for key in summary:
                        summary[key] += event[key]
        if child.wait() != 0 and not any(e.startswith(f"{lane}:") for e in errors):
            errors.append(f"{lane}: the worker process failed (exit status "
                          f"{child.returncode}): {child.stderr.read().strip()[-2000:]}")

    children = [(lane, subprocess.Popen([sys.executable, "-m", "pykernels.warmup", lane],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True))
                for lane in LANES]
    threads = [threading.Thread(target=follow, args=lane_child) for lane_child in children]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if bar is not None:
        bar.close()
    result = dict(ok=not errors, seconds=time.perf_counter() - start,
                  cache=cache_directory(), errors=errors, **summary)
    print(f"pykernels warmup: {result['kernels']} kernels, {result['compiled']} compiled, "
          f"{result['loaded']} loaded from the cache, in {result['seconds']:.1f} s",
          file=out)
    print(f"cache: {result['cache']}", file=out)
    for error in errors:
        print(f"FAILED {error}", file=out)
    return result


# -- where the cache is, and what it holds --------------------------------------------

def _kernel_functions():
    """The Python functions of every cacheable kernel of ``pykernels.kernels``."""
    import importlib

    from numba.core.registry import CPUDispatcher

    functions = []
    for module in ("activations", "losses", "mlp", "rop", "optim", "fd", "coloring",
                   "checks"):
        module = importlib.import_module(f"pykernels.kernels.{module}")
        for value in vars(module).values():
            if getattr(value, "__module__", None) != module.__name__ and \
                    getattr(getattr(value, "py_func", None), "__module__", None) != \
                    module.__name__:
                continue
            if isinstance(value, CPUDispatcher):
                if value._cache.__class__.__name__ == "FunctionCache":
                    functions.append(value.py_func)
            elif hasattr(value, "_signature") and hasattr(value, "py_func"):  # _LazyDriver
                functions.append(value.py_func)
    return functions


def cache_directory():
    """The directory Numba really uses for pykernels' kernels in this environment.

    ``NUMBA_CACHE_DIR`` when set, else ``__pycache__`` beside the kernels when that is
    writable, else a per-user directory -- asked of Numba's own cache locator.

    Returns
    -------
    str
    """
    from numba.core.caching import FunctionCache

    from .kernels import mlp
    return FunctionCache(mlp.mlp_loss_and_grad.py_func).cache_path


def cache_state():
    """How many of pykernels' kernels have machine code cached for this CPU and Numba.

    Returns
    -------
    (str, int, int)
        The cache directory, the number of kernels with at least one cached overload
        for this CPU, Numba version and source, and the number of cacheable kernels.
    """
    from numba.core.caching import FunctionCache
    from numba.core.registry import cpu_target

    magic = cpu_target.target_context.codegen().magic_tuple()
    functions = _kernel_functions()
    warm = 0
    for function in functions:
        index = FunctionCache(function)._cache_file._load_index()
        warm += any(key[1] == magic for key in index)
    return cache_directory(), warm, len(functions)


if __name__ == "__main__":
    sys.exit(_run_lane(sys.argv[1]))
