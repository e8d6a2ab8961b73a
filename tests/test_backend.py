"""Backend dispatch: names, defaults, context manager, environment variable."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import pykernels as pk


def test_backends_in_preference_order():
    names = pk.backends()
    assert names[0] == "numba" and names[-1] == "numpy"
    assert set(names) <= {"numba", "c", "numpy"}


def test_default_is_c_when_built_else_numba():
    from pykernels import _backend

    assert _backend.automatic_backend() == ("c" if "c" in pk.backends() else "numba")
    if "PYKERNELS_BACKEND" not in os.environ:
        assert pk.get_backend() == _backend.automatic_backend()


def test_set_and_use_backend():
    default = pk.get_backend()
    with pk.use_backend("numpy"):
        assert pk.get_backend() == "numpy"
        with pk.use_backend("numba"):
            assert pk.get_backend() == "numba"
        assert pk.get_backend() == "numpy"
    assert pk.get_backend() == default
    pk.set_backend("numpy")
    try:
        assert pk.get_backend() == "numpy"
    finally:
        pk.set_backend(default)


def test_use_backend_is_per_thread():
    seen = []
    with pk.use_backend("numpy"):
        worker = threading.Thread(target=lambda: seen.append(pk.get_backend()))
        worker.start()
        worker.join()
    assert seen == [pk.get_backend()] and seen != ["numpy"]


def test_use_backend_routes_calls(monkeypatch):
    import pykernels.reference as ref

    calls = []
    original = ref.mlp_loss

    def spy(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(ref, "mlp_loss", spy)
    net = pk.MLP([2, 3, 1])
    X = np.ones((4, 2))
    net.loss(X, np.ones(4))
    assert calls == []
    with pk.use_backend("numpy"):
        net.loss(X, np.ones(4))
    net.loss(X, np.ones(4), backend="numpy")
    assert calls == [1, 1]


@pytest.mark.parametrize("name", ["cuda", "", None, 3, "NUMBA"])
def test_unknown_backend_names(name):
    with pytest.raises(ValueError, match="backend must be one of"):
        pk.set_backend(name)
    if name is not None:  # backend=None in a call means "the default"
        with pytest.raises(ValueError, match="backend must be one of"):
            pk.MLP([2, 1]).predict(np.ones((1, 2)), backend=name)


def test_unavailable_backend_says_why_and_how():
    if "c" in pk.backends():
        pytest.skip("the C backend is built in this install")
    with pytest.raises(pk.BackendUnavailable, match="(?s)'c' is not available.*to build it"):
        pk.set_backend("c")
    assert issubclass(pk.BackendUnavailable, RuntimeError)


def _python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_environment_variable_sets_default():
    for name in ("numpy", "numba"):
        run = _python("import pykernels as pk; print(pk.get_backend())", PYKERNELS_BACKEND=name)
        assert run.stdout.strip() == name, run.stderr
    run = _python("import pykernels as pk; pk.get_backend()", PYKERNELS_BACKEND="fortran")
    assert run.returncode != 0 and "backend must be one of" in run.stderr


def test_import_compiles_nothing_and_stays_light():
    heavy = ["scipy.optimize", "scipy.linalg", "scipy.sparse", "scipy.stats", "matplotlib",
             "tqdm", "torch"]
    code = ("import sys, pykernels; from pykernels import kernels; "
            f"print([m for m in {heavy} if m in sys.modules], "
            "kernels.mlp_loss_and_grad.signatures)")
    run = _python(code)
    assert run.stdout.split() == ["[]", "[]"], run.stderr
