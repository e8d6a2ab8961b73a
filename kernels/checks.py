"""Input checks that run on every call and so must cost well under a microsecond."""

import numba

from ._jit import _POLICY


@numba.njit(cache=True, fastmath={"reassoc"}, **_POLICY)
def all_finite(x):
    """True when no entry of the 1-D array x is NaN or +-Inf.

    Sums x[i] * 0, which is 0 for finite x[i] and NaN for NaN or +-Inf.  The sum of
    zeros and NaNs is NaN in any order of addition, so reassociation -- the one
    fast-math flag used, which lets LLVM vectorise the reduction -- is exact here.
    """
    acc = 0.0
    for i in range(x.size):
        acc += x[i] * 0.0
    return acc == 0.0
