"""Benchmarks run on one thread on every side (BLAS, Numba, PyTorch)."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(1)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    with threadpool_limits(1):
        yield
