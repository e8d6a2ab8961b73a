"""Benchmarks run on one thread on every side (BLAS, Numba, PyTorch) and on one core."""

import pytest

from pykernels.benchmarks import one_core


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    try:
        import torch  # noqa: F401 -- imported first, so that one_core gives it one thread
    except ImportError:
        pass
    with one_core():
        yield
