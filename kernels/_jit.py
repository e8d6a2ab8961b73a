"""The one jit policy of pykernels.

* ``nopython`` always (``numba.njit``) -- no object mode, no hidden Python fallbacks;
* ``nogil=True`` -- kernels release the GIL so threads run them concurrently;
* ``error_model="numpy"`` -- division by zero gives inf/nan as in NumPy and C;
* no ``fastmath``: the kernels rely on IEEE semantics for NaN/Inf and on the exact
  evaluation order of the compensated expressions in :mod:`._math`;
* ``cache=True`` on serial kernels only; ``parallel=True`` kernels are never cached
  (cached parallel functions have segfaulted elsewhere: numba issue 4807).
"""

import numba

_POLICY = dict(nogil=True, error_model="numpy")

#: Decorator for serial kernels (compiled lazily per dtype, cached on disk).
jit = numba.njit(cache=True, **_POLICY)

#: Decorator for small scalar helpers that are inlined into their callers at the
#: Numba IR level, so loops calling them vectorise.
jit_inline = numba.njit(inline="always", **_POLICY)

#: Decorator for ``prange`` kernels (not cached, see above).
jit_parallel = numba.njit(parallel=True, **_POLICY)
