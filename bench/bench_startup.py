"""The first result of a fresh interpreter, with an empty and with a warm Numba cache.

Each round starts a new process (interpreter start and imports included); the
untimed ``prepare`` gives a cold round its own empty ``NUMBA_CACHE_DIR``.

    pytest bench/bench_startup.py --benchmark-only --benchmark-group-by=group
"""

import pytest

from pykernels.benchmarks import startup_cases

CASES = startup_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def bench_startup(benchmark, case):
    step = case.make()
    benchmark.group = case.group
    benchmark.pedantic(step, setup=step.prepare, rounds=case.rounds, iterations=1)
