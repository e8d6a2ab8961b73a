"""Start-up benchmark cases: the first result of a fresh interpreter.

Each case starts a new Python process that imports numpy and pykernels and makes one
first call, and times it from the outside (interpreter start and imports included),
with Numba's cache directory (``NUMBA_CACHE_DIR``) either empty -- a new environment,
a Numba upgrade, another CPU -- or warmed by an earlier identical process.  Groups
``startup|<first call>|cold`` and ``startup|<first call>|warm``; implementations
``default`` (the automatic backend: C when built) and ``numba``
(``PYKERNELS_BACKEND=numba``).  The cases (:func:`pykernels.benchmarks.startup_cases`)
are shared by ``bench/bench_startup.py`` and ``pykernels bench --group startup``.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import weakref

_NET = ("net = pk.MLP([64, 128, 128, 10]); X = np.ones((64, 64)); Y = np.zeros((64, 10))\n")

#: first call -> (Python source run after ``import numpy as np, pykernels as pk``,
#: whether the numba-only variant is measured too, quick)
FIRST_CALLS = {
    "import": ("", False, True),
    "loss_and_grad": (_NET + "net.loss_and_grad(X, Y)", True, True),
    "predict": (_NET + "net.predict(X)", True, True),
    "hvp": (_NET + "net.hvp(X, Y, np.ones(net.size))", True, True),
    "gradient-python-f": ("pk.gradient(lambda x: float(np.sum(x ** 2)), np.ones(10))",
                          False, True),
    "minimize-lbfgs-python-f": ("pk.minimize(lambda x: float(np.sum((x - 1) ** 2)), "
                                "np.zeros(10), method='lbfgs')", False, True),
    "demo-quick": (None, True, False),
    "warmup": (None, False, False),
    "njit-f-gradient-second-process": (None, False, True),
}

_NJIT_F = '''import numba, numpy as np

@numba.njit(cache=True)
def f(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
'''


class FreshProcess:
    """Run one first call in a new interpreter: :meth:`prepare`, then call.

    Parameters
    ----------
    first_call : str
        A key of :data:`FIRST_CALLS`.
    cache : {"cold", "warm"}
        ``cold``: every run gets a new, empty cache directory; ``warm``: runs share
        one, filled by an untimed run at construction.
    backend : str or None
        ``PYKERNELS_BACKEND`` of the child (None: the automatic default).
    """

    def __init__(self, first_call, cache, backend=None):
        self._folder = tempfile.mkdtemp(prefix="pykernels-startup-")
        weakref.finalize(self, shutil.rmtree, self._folder, True)
        self._first_call, self._cache, self._backend = first_call, cache, backend
        self._runs = 0
        self._dir = None
        if first_call == "njit-f-gradient-second-process":
            with open(os.path.join(self._folder, "userf.py"), "w") as fh:
                fh.write(_NJIT_F)
        if cache == "warm":
            self._run(os.path.join(self._folder, "cache"))

    def _command(self):
        source = FIRST_CALLS[self._first_call][0]
        if self._first_call == "demo-quick":
            return [sys.executable, "-m", "pykernels.cli", "demo", "--quick", "--out",
                    os.path.join(self._folder, "demo")]
        if self._first_call == "warmup":
            return [sys.executable, "-m", "pykernels.cli", "warmup", "--quiet"]
        if self._first_call == "njit-f-gradient-second-process":
            source = "from userf import f\npk.gradient(f, np.linspace(-1, 1, 100))"
        return [sys.executable, "-c", f"import numpy as np, pykernels as pk\n{source}"]

    def _run(self, cache_dir):
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, MPLBACKEND="Agg",
                   PYTHONPATH=os.pathsep.join([self._folder, os.environ.get("PYTHONPATH", "")]))
        env.pop("PYKERNELS_BACKEND", None)
        if self._backend is not None:
            env["PYKERNELS_BACKEND"] = self._backend
        subprocess.run(self._command(), env=env, cwd=self._folder, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def prepare(self):
        """Set up the next run's cache directory (untimed): a new, empty one when
        cold (where the njit case's first process then compiles f)."""
        self._runs += 1
        if self._cache == "warm":
            self._dir = os.path.join(self._folder, "cache")
            return
        shutil.rmtree(os.path.join(self._folder, f"cold-{self._runs - 1}"), True)
        self._dir = os.path.join(self._folder, f"cold-{self._runs}")
        if self._first_call == "njit-f-gradient-second-process":
            self._run(self._dir)

    def __call__(self):
        """One timed run in the directory :meth:`prepare` set up."""
        self._run(self._dir)
