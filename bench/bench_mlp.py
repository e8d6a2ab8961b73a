"""One training step (loss_and_grad + SGD update) per backend, and PyTorch eager.

``gemm-floor`` times only the step's matrix products by ``np.dot``: the BLAS bound.
``extra_info["gflops"]`` holds the step's work; divide by the median for GFLOP/s.

    pytest bench/bench_mlp.py --benchmark-only --benchmark-group-by=group
"""

import numpy as np
import pytest

import pykernels as pk
from pykernels.benchmarks import (MLP_CASES, gemm_floor_step, mlp_flops, mlp_step,
                                  torch_mlp_step)

DTYPES = {"f64": np.float64, "f32": np.float32}
IMPLEMENTATIONS = pk.backends() + ["torch", "gemm-floor"]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MLP_CASES)
def bench_mlp_step(benchmark, case, dtype, impl):
    if impl == "torch":
        pytest.importorskip("torch")
        step = torch_mlp_step(case, DTYPES[dtype])
    elif impl == "gemm-floor":
        step = gemm_floor_step(case, DTYPES[dtype])
    else:
        step = mlp_step(case, impl, DTYPES[dtype])
    step()  # compile / warm up outside the timing
    benchmark.group = f"mlp-step|{case}|{dtype}"
    if case == "large":
        value = benchmark.pedantic(step, rounds=7, iterations=1, warmup_rounds=1)
    else:
        value = benchmark(step)
    benchmark.extra_info["gflops"] = mlp_flops(case) / 1e9
    assert np.isfinite(value)
