"""Input checks that run on every call and so must cost well under a microsecond."""

from ._jit import jit


@jit
def all_finite(x):
    """True when no entry of the 1-D array x is NaN or +-Inf."""
    acc = 0.0
    for i in range(x.size):
        acc += x[i] * 0.0  # 0 * finite = 0; 0 * nan = 0 * inf = nan
    return acc == 0.0
