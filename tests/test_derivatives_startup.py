"""Start-up of the derivative engine (issue 11): a plain Python f never needs Numba;
drivers of an @njit f load from Numba's on-disk cache in a later process."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

PLAIN_PYTHON_CALLS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import pykernels as pk
    imported_by_package = "numba" in sys.modules
    f = lambda x: float(x @ x)
    pk.gradient(f, np.ones(10))
    pk.gradient(f, np.ones(10), method="richardson")
    pk.jacobian(lambda x: x ** 2, np.ones(10))
    pk.jacobian(lambda x: x ** 2, np.ones(10), sparsity=np.eye(10, dtype=bool))
    pk.hessian(f, np.ones(4))
    pk.hessian(f, np.ones(30), sparsity=np.eye(30, k=1) + np.eye(30) + np.eye(30, k=-1))
    pk.hessian(None, np.ones(4), grad=lambda x: 2 * x)
    pk.hvp(f, np.ones(4), np.ones(4))
    pk.gradient(lambda X: np.sum(X * X, axis=0), np.ones(10), vectorized=True)
    pk.gradient(f, np.ones(10), step="auto")
    pk.check_grad(f, lambda x: 2 * x, np.ones(3))
    used = []
    if "numba" in sys.modules:
        import numba
        for name, module in list(sys.modules.items()):
            if name.startswith("pykernels"):
                used += [obj.__name__ for obj in vars(module).values()
                         if isinstance(obj, numba.core.registry.CPUDispatcher)
                         and obj.signatures]
    print(json.dumps({"imported_by_package": imported_by_package,
                      "numba": "numba" in sys.modules, "used": used}))
""")


@pytest.fixture(scope="module")
def plain_python_run(tmp_path_factory):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path_factory.mktemp("numba-cache")))
    out = subprocess.run([sys.executable, "-c", PLAIN_PYTHON_CALLS], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_plain_python_f_calls_no_numba_kernel(plain_python_run):
    # checks, steps, colouring of small patterns and the loops are NumPy: no Numba
    # kernel is compiled or loaded (whether or not `import pykernels` imports Numba)
    assert plain_python_run["used"] == []


def test_plain_python_f_leaves_numba_unimported(plain_python_run):
    if plain_python_run["imported_by_package"]:
        pytest.xfail("`import pykernels` itself imports numba (the lead's change to "
                     "pykernels/__init__.py makes it lazy; then this is a real check)")
    assert not plain_python_run["numba"]
