"""Finite-difference loops over a compiled C function: the C backend's loop
(``pykernels._cbackend.fd_drivers``) against the Numba driver calling the same cffi
pointer (``kernels.fd_drivers(kernels.fd_from_cffi(f))``).  Central gradient of
Rosenbrock, n = 100, and central Jacobian of the Broyden tridiagonal function,
n = 1000.  The functions are compiled once per session with cffi and passed as
function pointers (skipped without a C compiler).

    pytest bench/bench_c_fd.py --benchmark-only --benchmark-group-by=group
"""

import numpy as np
import pytest

import pykernels as pk

SOURCE = """
#include <stdint.h>
double rosenbrock(const double *x, int64_t n) {
    double total = 0.0;
    for (int64_t i = 0; i + 1 < n; i++) {
        double a = x[i + 1] - x[i] * x[i], b = 1.0 - x[i];
        total += 100.0 * a * a + b * b;
    }
    return total;
}
void broyden(const double *x, int64_t n, double *out, int64_t m) {
    for (int64_t i = 0; i < m; i++)
        out[i] = (3.0 - 2.0 * x[i]) * x[i] - (i > 0 ? x[i - 1] : 0.0)
                 - 2.0 * (i + 1 < n ? x[i + 1] : 0.0) + 1.0;
}
"""


@pytest.fixture(scope="session")
def c_functions(tmp_path_factory):
    import cffi

    if "c" not in pk.backends():
        pytest.skip("C backend not built")
    ffi = cffi.FFI()
    ffi.cdef("double rosenbrock(const double *, int64_t);"
             "void broyden(const double *, int64_t, double *, int64_t);")
    ffi.set_source("_pk_bench_fd", SOURCE, extra_compile_args=["-O2"])
    folder = tmp_path_factory.mktemp("fd")
    try:
        path = ffi.compile(tmpdir=str(folder))
    except cffi.VerificationError as exc:  # no compiler
        pytest.skip(f"cannot compile the benchmark functions: {exc}")
    import importlib.util

    spec = importlib.util.spec_from_file_location("_pk_bench_fd", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: module.ffi.addressof(module.lib, name) for name in ("rosenbrock", "broyden")}


def _drivers(impl, f, vector, m=0):
    from pykernels import _cbackend, kernels

    if impl == "c":
        return _cbackend.fd_drivers(f)
    return kernels.fd_drivers(kernels.fd_from_cffi(f, vector, m))


@pytest.mark.parametrize("impl", ["c", "numba"])
def bench_fd_gradient_rosenbrock(benchmark, c_functions, impl):
    n = 100
    x = np.linspace(-1.0, 1.0, n)
    h, stencil = np.full(n, 6e-6) * np.maximum(1.0, np.abs(x)), np.zeros(n, np.int8)
    gradient = _drivers(impl, c_functions["rosenbrock"], False)["gradient"]
    out = np.empty(n)
    gradient(x, h, stencil, 0.0, 1, out, ())
    benchmark.group = "fd-gradient|rosenbrock-100|central"
    benchmark(gradient, x, h, stencil, 0.0, 1, out, ())
    assert np.isfinite(out).all()


@pytest.mark.parametrize("impl", ["c", "numba"])
def bench_fd_jacobian_broyden(benchmark, c_functions, impl):
    n = 1000
    x = np.linspace(-1.0, 1.0, n)
    h, stencil = np.full(n, 6e-6) * np.maximum(1.0, np.abs(x)), np.zeros(n, np.int8)
    f0 = np.zeros(n)
    jacobian = _drivers(impl, c_functions["broyden"], True, n)["jacobian"]
    out_t, status = np.empty((n, n)), np.zeros(n, np.int8)
    jacobian(x, h, stencil, f0, 1, out_t, status, ())
    benchmark.group = "fd-jacobian|broyden-1000|central"
    benchmark(jacobian, x, h, stencil, f0, 1, out_t, status, ())
    assert not status.any()
