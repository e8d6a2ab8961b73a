"""One training step (loss_and_grad + SGD update) per backend, PyTorch eager and BLAS.

``gemm-floor`` times only the step's matrix products by ``np.dot``: the BLAS bound.
``extra_info["gflops"]`` holds the step's work; divide by the median for GFLOP/s.

    pytest bench/bench_mlp.py --benchmark-only --benchmark-group-by=group
"""

import numpy as np
import pytest

from pykernels import BackendUnavailable
from pykernels.benchmarks import mlp_cases, mlp_flops

CASES = mlp_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def bench_mlp_step(benchmark, case):
    try:
        step = case.make()
    except (ImportError, BackendUnavailable) as exc:
        pytest.skip(str(exc))
    step()  # compile / warm up outside the timing
    benchmark.group = case.group
    size = case.group.split("|")[1]
    benchmark.extra_info["gflops"] = mlp_flops(size) / 1e9
    if size == "large":
        value = benchmark.pedantic(step, rounds=7, iterations=1, warmup_rounds=1)
    else:
        value = benchmark(step)
    assert np.isfinite(value)
