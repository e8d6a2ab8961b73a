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
    print(json.dumps({"numba": "numba" in sys.modules, "used": used}))
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
    # kernel is compiled or loaded
    assert plain_python_run["used"] == []


def test_plain_python_f_leaves_numba_unimported(plain_python_run):
    assert not plain_python_run["numba"]


USER_MODULE = textwrap.dedent("""
    import numba

    @numba.njit(cache=True)
    def rosen(x):
        s = 0.0
        for k in range(x.size - 1):
            s += 100.0 * (x[k + 1] - x[k] ** 2) ** 2 + (1.0 - x[k]) ** 2
        return s
""")

FIRST_GRADIENT = textwrap.dedent("""
    import json, time
    start = time.perf_counter()
    import numpy as np
    import pykernels as pk
    import userf
    pk.gradient(userf.rosen, np.full(10, 0.5))
    pk.jacobian(lambda x: np.array([userf.rosen(x)]), np.full(10, 0.5))
    seconds = time.perf_counter() - start
    from pykernels import kernels
    drivers = kernels.fd_drivers(userf.rosen).values()
    print(json.dumps({"seconds": seconds,
                      "hits": sum(sum(d.stats.cache_hits.values()) for d in drivers),
                      "misses": sum(sum(d.stats.cache_misses.values()) for d in drivers)}))
""")


def test_njit_f_drivers_load_from_the_cache_in_a_later_process(tmp_path):
    (tmp_path / "userf.py").write_text(USER_MODULE)
    cache = tmp_path / "numba-cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(tmp_path))

    def run():
        out = subprocess.run([sys.executable, "-c", FIRST_GRADIENT], capture_output=True,
                             text=True, env=env, cwd=tmp_path, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    def entries():
        return {str(p.relative_to(cache)): p.stat().st_mtime_ns
                for p in cache.rglob("*") if p.is_file()}

    first = run()
    assert first["misses"] >= 1                     # compiled, and written to the cache
    written = entries()
    assert any("_templates" in name for name in written)
    second = run()
    assert second["misses"] == 0 and second["hits"] >= 1
    assert entries() == written                     # the second process compiled nothing new


def test_drivers_of_different_functions_do_not_share_cache_entries(tmp_path):
    # two functions of the same name and code shape in different modules: the key
    # (module, name, source hash) keeps their cached drivers apart
    for name, power in (("one", 2), ("two", 3)):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(f"""
            import numba

            @numba.njit(cache=True)
            def f(x):
                return (x ** {power}).sum()
        """))
    script = textwrap.dedent("""
        import json, numpy as np, pykernels as pk, one, two
        x = np.array([1.0, 2.0])
        print(json.dumps([pk.gradient(one.f, x).tolist(), pk.gradient(two.f, x).tolist()]))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(tmp_path))
    for _ in range(2):  # compile and cache, then load
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        g_one, g_two = json.loads(out.stdout.strip().splitlines()[-1])
        assert abs(g_one[1] - 4.0) < 1e-6 and abs(g_two[1] - 12.0) < 1e-6
