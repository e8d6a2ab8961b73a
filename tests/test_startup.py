"""Start-up: what a fresh process imports and compiles before its first answer, and the
warm-up command that fills Numba's cache ahead of time."""

import os
import subprocess
import sys

import numpy as np
import pytest

import pykernels as pk

C_BUILT = "c" in pk.backends()


def _python(code, cache_dir, **env):
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), **env},
                         timeout=600)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _cache_files(folder):
    return sorted(name for _, _, files in os.walk(folder) for name in files)


def test_import_does_not_import_numba(tmp_path):
    out = _python("import sys, pykernels; print('numba' in sys.modules)", tmp_path,
                  PYKERNELS_BACKEND="")
    assert out.split() == ["False"]


FIRST_CALLS = """
import sys, numpy as np, pykernels as pk
net = pk.MLP([5, 8, 3], activation="tanh", output="softmax", loss="cross_entropy")
X = np.linspace(-1, 1, 20).reshape(4, 5); y = np.array([0, 2, 1, 0])
norm = lambda a: float(np.abs(a).sum())
out = [net.loss(X, y), norm(net.loss_and_grad(X, y)[1]), norm(net.predict(X)),
       norm(net.hvp(X, y, np.ones(net.size))), norm(net.gnvp(X, y, np.ones(net.size))),
       norm(net.jacobian(X)), norm(net.jacobian(X, "params"))]
for cls in (pk.optim.SGD, pk.optim.Momentum, pk.optim.Nesterov, pk.optim.AdaGrad,
            pk.optim.RMSProp, pk.optim.Adam):
    opt = cls(); theta = net.theta.copy(); opt.step(theta, np.ones_like(theta), opt.init(theta))
    out.append(norm(theta))
print(pk.get_backend(), 'numba' in sys.modules, *out)
"""


@pytest.mark.skipif(not C_BUILT, reason="the C backend is not built in this install")
def test_first_network_calls_compile_nothing_with_c(tmp_path):
    backend, numba_imported, *values = _python(FIRST_CALLS, tmp_path,
                                               PYKERNELS_BACKEND="").split()
    assert (backend, numba_imported) == ("c", "False")
    assert _cache_files(tmp_path) == []
    # the same answers as the reference
    reference = _python(FIRST_CALLS, tmp_path, PYKERNELS_BACKEND="numpy").split()[2:]
    np.testing.assert_allclose(np.array(values, float), np.array(reference, float),
                               rtol=1e-12)


def test_without_c_the_default_is_numba(tmp_path):
    code = ("from pykernels import _backend\n"
            "_backend._errors['c'] = 'left out by the test'\n" + FIRST_CALLS)
    backend, numba_imported, *values = _python(code, tmp_path, PYKERNELS_BACKEND="").split()
    assert (backend, numba_imported) == ("numba", "True")
    reference = _python(FIRST_CALLS, tmp_path, PYKERNELS_BACKEND="numpy").split()[2:]
    np.testing.assert_allclose(np.array(values, float), np.array(reference, float),
                               rtol=1e-12)


def test_warmup_fills_the_cache_and_a_second_run_compiles_nothing(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    first = subprocess.run([sys.executable, "-m", "pykernels.cli", "warmup", "--quiet"],
                           capture_output=True, text=True, env=env, timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    assert " 0 compiled" not in first.stdout and "cache: " + str(cache) in first.stdout
    second = subprocess.run([sys.executable, "-m", "pykernels.cli", "warmup", "--quiet"],
                            capture_output=True, text=True, env=env, timeout=900)
    assert second.returncode == 0, second.stdout + second.stderr
    assert " 0 compiled" in second.stdout and " 0 loaded" not in second.stdout
    info = _info_rows(env)
    assert info["numba cache"].startswith(str(cache))
    assert info["numba cache state"].startswith("warm")


def _info_rows(env):
    """``pykernels info`` as {row name: value} (names may hold spaces: aligned columns)."""
    out = subprocess.run([sys.executable, "-m", "pykernels.cli", "info"], capture_output=True,
                         text=True, env=env, timeout=300).stdout
    width = len("numba cache state")
    return {line[:width].strip(): line[width:].strip() for line in out.splitlines()}


def test_warmup_reports_a_failing_step(monkeypatch, capsys):
    from pykernels import warmup

    def broken():
        raise RuntimeError("no compiler today")

    monkeypatch.setattr(warmup, "LANES", {"broken": [("broken step", broken, ())]})
    monkeypatch.setattr(warmup, "subprocess", _InProcess)
    result = warmup.warmup(progress=False)
    assert not result["ok"]
    assert "broken: broken step: RuntimeError: no compiler today" in capsys.readouterr().out


class _InProcess:
    """Stands in for ``subprocess`` in :func:`warmup.warmup`: runs the lane here."""

    PIPE = None

    class Popen:
        def __init__(self, command, **kwargs):
            import io
            from contextlib import redirect_stdout

            from pykernels import warmup

            buffer = io.StringIO()
            with redirect_stdout(buffer):
                self.returncode = warmup._run_lane(command[-1])
            self.stdout = io.StringIO(buffer.getvalue())
            self.stderr = io.StringIO("")

        def wait(self):
            return self.returncode


def test_info_names_the_cache_in_use(tmp_path):
    info = _info_rows({**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)})
    assert info["numba cache"].startswith(str(tmp_path))
    assert info["numba cache state"].startswith("cold")
