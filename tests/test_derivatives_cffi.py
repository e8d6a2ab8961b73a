"""cffi function pointers as f: compiled once into the difference loops."""

import importlib
import shutil
import sys

import numpy as np
import pytest
from problems import get

import pykernels as pk

cffi = pytest.importorskip("cffi")

C_SOURCE = """
#include <stdint.h>
#include <math.h>
#include <complex.h>
double rosen(const double *x, int64_t n) {       /* extended Rosenbrock */
    double s = 0.0;
    for (int64_t k = 0; k + 1 < n; k += 2) {
        double a = 10.0 * (x[k + 1] - x[k] * x[k]), b = 1.0 - x[k];
        s += a * a + b * b;
    }
    return s;
}
void broyden(const double *x, int64_t n, double *out, int64_t m) {  /* tridiagonal */
    for (int64_t i = 0; i < m; i++) {
        double r = (3.0 - 2.0 * x[i]) * x[i] + 1.0;
        if (i > 0) r -= x[i - 1];
        if (i < n - 1) r -= 2.0 * x[i + 1];
        out[i] = r;
    }
}
double weighted(const double *x, int64_t n, double a) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += a * sin(x[i]);
    return s;
}
double scaled(const double *x, int64_t n, double a, const double *w, double c) {
    double s = c;                                  /* sum a w_i x_i^3 + c */
    for (int64_t i = 0; i < n; i++) s += a * w[i] * x[i] * x[i] * x[i];
    return s;
}
void scaled_vector(const double *x, int64_t n, double *out, int64_t m, const double *w) {
    for (int64_t i = 0; i < m; i++) out[i] = w[i] * x[i] * x[i];
}
double _Complex rosen_complex(const double _Complex *x, int64_t n) {
    double _Complex s = 0.0;
    for (int64_t k = 0; k + 1 < n; k += 2) {
        double _Complex a = 10.0 * (x[k + 1] - x[k] * x[k]), b = 1.0 - x[k];
        s += a * a + b * b;
    }
    return s;
}
void broyden_complex(const double _Complex *x, int64_t n, double _Complex *out, int64_t m) {
    for (int64_t i = 0; i < m; i++) {
        double _Complex r = (3.0 - 2.0 * x[i]) * x[i] + 1.0;
        if (i > 0) r -= x[i - 1];
        if (i < n - 1) r -= 2.0 * x[i + 1];
        out[i] = r;
    }
}
double too_many(const double *x, int64_t n, double a, double b, double c, double d) {
    return a + b + c + d;
}
"""
C_DEFS = """
double rosen(const double *x, int64_t n);
void broyden(const double *x, int64_t n, double *out, int64_t m);
double weighted(const double *x, int64_t n, double a);
double scaled(const double *x, int64_t n, double a, const double *w, double c);
void scaled_vector(const double *x, int64_t n, double *out, int64_t m, const double *w);
double _Complex rosen_complex(const double _Complex *x, int64_t n);
void broyden_complex(const double _Complex *x, int64_t n, double _Complex *out, int64_t m);
double too_many(const double *x, int64_t n, double a, double b, double c, double d);
"""


@pytest.fixture(scope="module")
def clib(tmp_path_factory):
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler")
    tmp = tmp_path_factory.mktemp("cffi_fd")
    ffi = cffi.FFI()
    ffi.cdef(C_DEFS)
    ffi.set_source("_pk_fd_test", C_SOURCE, libraries=["m"], extra_compile_args=["-O2"])
    ffi.compile(tmpdir=str(tmp), verbose=False)
    sys.path.insert(0, str(tmp))
    try:
        mod = importlib.import_module("_pk_fd_test")
    finally:
        sys.path.remove(str(tmp))
    return {name: mod.ffi.addressof(mod.lib, name) for name in (
        "rosen", "broyden", "weighted", "scaled", "scaled_vector", "rosen_complex",
        "broyden_complex", "too_many")}


def test_cffi_scalar_gradient_and_hessian(clib):
    p = get("rosenbrock", 10)
    x = p.x0 + 0.1
    for method, tol in (("central", 1e-9), ("forward", 1e-6), ("richardson", 1e-12)):
        g = pk.gradient(clib["rosen"], x, method=method)
        assert np.max(np.abs(g - p.grad(x))) <= tol * np.max(np.abs(p.grad(x)))
        # the compiled loop and the reference loop call the same C function
        assert np.array_equal(g, pk.gradient(clib["rosen"], x, method=method, backend="numpy"))
    H = pk.hessian(clib["rosen"], x)
    assert np.array_equal(H, H.T)
    assert np.max(np.abs(H - p.hess(x))) <= 1e-6 * np.max(np.abs(p.hess(x)))


def test_cffi_vector_jacobian_dense_and_sparse(clib):
    import scipy.sparse as sp

    p = get("broyden_tridiagonal", 200)
    x = np.linspace(-1, 1, p.n)
    J = pk.jacobian(clib["broyden"], x)
    assert np.max(np.abs(J - p.jac(x))) <= 1e-9 * np.max(np.abs(p.jac(x)))
    pattern = sp.diags([np.ones(p.n - 1), np.ones(p.n), np.ones(p.n - 1)], [-1, 0, 1])
    Js = pk.jacobian(clib["broyden"], x, sparsity=pattern)
    assert isinstance(Js, sp.csr_matrix)
    assert np.max(np.abs(Js.toarray() - p.jac(x))) <= 1e-9 * np.max(np.abs(p.jac(x)))
    assert pk.jacobian(clib["broyden"], x[:50], m=50).shape == (50, 50)


def test_cffi_args_and_errors(clib):
    x = np.array([0.1, 0.2, 0.3])
    assert np.max(np.abs(pk.gradient(clib["weighted"], x, args=(2.0,)) - 2 * np.cos(x))) < 1e-9
    with pytest.raises(TypeError, match="complex"):
        pk.gradient(clib["rosen"], x[:2], method="complex")
    with pytest.raises(TypeError, match="vector"):
        pk.jacobian(clib["rosen"], x)
    with pytest.raises(TypeError, match="scalar"):
        pk.gradient(clib["broyden"], x)


def test_c_backend_loops_identical_to_numba(clib):
    # the C loops (csrc/fd.c) and the Numba drivers call the same C function with the
    # same steps and the same arithmetic: the same bits
    if "c" not in pk.backends():
        pytest.skip("C backend not built")
    import scipy.sparse as sp

    p = get("rosenbrock", 10)
    x = p.x0 + 0.1
    for method in ("central", "forward", "backward", "richardson"):
        assert np.array_equal(pk.gradient(clib["rosen"], x, method=method, backend="c"),
                              pk.gradient(clib["rosen"], x, method=method))
    assert np.array_equal(pk.hessian(clib["rosen"], x, backend="c"),
                          pk.hessian(clib["rosen"], x))
    q = get("broyden_tridiagonal", 50)
    y = np.linspace(-1, 1, q.n)
    assert np.array_equal(pk.jacobian(clib["broyden"], y, backend="c"),
                          pk.jacobian(clib["broyden"], y))
    pattern = sp.diags([np.ones(q.n - 1), np.ones(q.n), np.ones(q.n - 1)], [-1, 0, 1])
    assert (pk.jacobian(clib["broyden"], y, sparsity=pattern, backend="c")
            != pk.jacobian(clib["broyden"], y, sparsity=pattern)).nnz == 0
    with pytest.raises(TypeError, match="complex"):
        pk.gradient(clib["rosen"], x, method="complex", backend="c")


@pytest.mark.parametrize("backend", ["numba", "numpy", "c"])
def test_cffi_sparsity_fixes_the_output_size(clib, backend):
    if backend not in pk.backends():
        pytest.skip(f"backend {backend} not built")
    x = np.linspace(-1, 1, 5)
    pattern = (np.abs(np.subtract.outer(np.arange(3), np.arange(5))) <= 1)  # (3, 5), no m=
    J = pk.jacobian(clib["broyden"], x, sparsity=pattern, backend=backend).toarray()
    full = pk.jacobian(clib["broyden"], x, backend=backend)
    np.testing.assert_allclose(J, full[:3], rtol=1e-9, atol=1e-12)


def needs_c():
    if "c" not in pk.backends():
        pytest.skip("C backend not built")


def test_c_loops_take_extra_arguments(clib):
    # doubles and arrays after (x, n): the C loops pass them (scalar ones with the bits
    # of the Numba driver calling the same C function; Numba's cffi calls take no arrays)
    needs_c()
    x = np.array([0.3, -0.7, 1.1, 0.5])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    args = (2.0, w, 5.0)
    tol = {"central": 1e-9, "forward": 1e-6, "richardson": 1e-12}
    for method in ("central", "forward", "richardson"):
        g = pk.gradient(clib["scaled"], x, method=method, args=args, backend="c")
        exact = 6.0 * w * x ** 2
        assert np.max(np.abs(g - exact)) <= tol[method] * np.max(np.abs(exact))
        assert np.array_equal(pk.gradient(clib["weighted"], x, method=method, args=(2.0,),
                                          backend="c"),
                              pk.gradient(clib["weighted"], x, method=method, args=(2.0,)))
    H = pk.hessian(clib["scaled"], x, args=args, backend="c")
    np.testing.assert_allclose(H, np.diag(12.0 * w * x), rtol=1e-6, atol=1e-6)
    assert np.array_equal(pk.hessian(clib["weighted"], x, args=(2.0,), backend="c"),
                          pk.hessian(clib["weighted"], x, args=(2.0,)))
    J = pk.jacobian(clib["scaled_vector"], x, args=(w,), backend="c")
    np.testing.assert_allclose(J, np.diag(2.0 * w * x), rtol=1e-8, atol=1e-12)
    with pytest.raises(ValueError, match="takes 3 extra argument"):
        pk.gradient(clib["scaled"], x, args=(2.0,), backend="c")
    with pytest.raises(TypeError, match="at most 3 extra parameters"):
        pk.gradient(clib["too_many"], x, args=(1.0, 2.0, 3.0, 4.0), backend="c")


def test_c_loops_take_the_complex_step(clib):
    needs_c()
    p = get("rosenbrock", 10)
    x = p.x0 + 0.1
    for backend in (None, "c"):
        g = pk.gradient(clib["rosen_complex"], x, method="complex", backend=backend)
        assert np.max(np.abs(g - p.grad(x))) <= 1e-14 * np.max(np.abs(p.grad(x)))
        H = pk.hessian(clib["rosen_complex"], x, method="complex", backend=backend)
        assert np.array_equal(H, H.T)
        assert np.max(np.abs(H - p.hess(x))) <= 1e-7 * np.max(np.abs(p.hess(x)))
    q = get("broyden_tridiagonal", 50)
    y = np.linspace(-1, 1, q.n)
    J = pk.jacobian(clib["broyden_complex"], y, method="complex", m=q.n)
    assert np.max(np.abs(J - q.jac(y))) <= 1e-14 * np.max(np.abs(q.jac(y)))
    import scipy.sparse as sp

    pattern = sp.diags([np.ones(q.n - 1), np.ones(q.n), np.ones(q.n - 1)], [-1, 0, 1])
    Js = pk.jacobian(clib["broyden_complex"], y, method="complex", sparsity=pattern)
    assert np.max(np.abs(Js.toarray() - q.jac(y))) <= 1e-14 * np.max(np.abs(q.jac(y)))
    # the same function in complex Python arithmetic: the same derivative
    np.testing.assert_allclose(g, pk.gradient(p.fun, x, method="complex"), rtol=1e-13)
    with pytest.raises(TypeError, match="method='complex' only"):
        pk.gradient(clib["rosen_complex"], x)
    with pytest.raises(TypeError, match="only the C loops call it"):
        pk.gradient(clib["rosen_complex"], x, method="complex", backend="numba")
