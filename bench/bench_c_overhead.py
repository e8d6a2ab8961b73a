"""Per-call cost of the C backend's cffi boundary, on a network so small (1-1,
batch 1) that the call is all there is: the checked wrapper
(``pykernels._cbackend.mlp_loss_and_grad``), the bare cffi call with prepared
pointers, and the Numba kernel's dispatch for scale.  wrapper - bare = the
wrapper's checks; bare = cffi's own call cost.

    pytest bench/bench_c_overhead.py --benchmark-only --benchmark-group-by=group
"""

import numpy as np
import pytest

import pykernels as pk

IMPLS = ["c-wrapper", "c-bare-cffi", "numba-kernel"]


def _call(impl):
    sizes, batch = np.array([1, 1]), 1
    theta, X, Y, grad = np.zeros(2), np.zeros((1, 1)), np.zeros((1, 1)), np.empty(2)
    sw = np.empty(0)  # no sample weights, scale 1, no penalty
    if impl == "numba-kernel":
        from pykernels import kernels

        work = np.empty(kernels.workspace_size(sizes, batch))
        return lambda: kernels.mlp_loss_and_grad(theta, sizes, 1, 0, 0, X, Y, sw, 1.0, 0.0, work,
                                                 grad)
    if "c" not in pk.backends():
        pytest.skip("C backend not built")
    from pykernels import _cbackend as c

    work = np.empty(c.workspace_size(sizes, batch))
    if impl == "c-wrapper":
        return lambda: c.mlp_loss_and_grad(theta, sizes, 1, 0, 0, X, Y, sw, 1.0, 0.0, work, grad)
    ptr = [c.ffi.from_buffer("double[]", a) for a in (theta, X, Y, work, grad)]
    p_sizes, value = c.ffi.from_buffer("int64_t[]", sizes), c.ffi.new("double *")
    fn = c.lib.pk_mlp_loss_and_grad_f64
    return lambda: fn(ptr[0], p_sizes, 2, 1, 0, 0, ptr[1], 1, ptr[2], c.ffi.NULL, 0, 1.0, 0.0,
                      ptr[3], ptr[4], value)


@pytest.mark.parametrize("impl", IMPLS)
def bench_call_overhead(benchmark, impl):
    call = _call(impl)
    call()  # compile / warm up
    benchmark.group = "call-overhead|1-1|f64"
    benchmark(call)
