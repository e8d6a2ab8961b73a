"""The pykernels command: info, demo, bench."""

import json
import subprocess
import sys

import pytest

import pykernels as pk
from pykernels import benchmarks
from pykernels.cli import main


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for field in ("pykernels", "numpy", "numba", "backends", "blas", "numba cache"):
        assert field in out
    assert ", ".join(pk.backends()) in out


def test_bench_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--group", "tiny", "--json", str(path)]) == 0
    rows = json.loads(path.read_text())["cases"]
    expected = [c for c in benchmarks.all_cases() if c.quick and "tiny" in c.group]
    assert [(r["group"], r["impl"]) for r in rows] == [(c.group, c.impl) for c in expected]
    for backend in pk.backends():
        assert any(r["impl"] == backend and r["seconds"] > 0 for r in rows)
    assert min(r["ratio"] for r in rows if r["ratio"]) == 1.0
    assert "mlp-step|tiny|f64" in capsys.readouterr().out


def test_unknown_command():
    run = subprocess.run([sys.executable, "-m", "pykernels.cli", "train"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2 and "invalid choice" in run.stderr


def test_time_call_counts_rounds():
    calls = []
    seconds = benchmarks.time_call(lambda: calls.append(1), min_time=0.01, repeats=3)
    assert seconds > 0 and len(calls) >= 2 + 3


@pytest.mark.parametrize("seconds,text", [(2.5, "2.5 s"), (0.0123, "12.3 ms"),
                                          (4.2e-6, "4.2 us"), (3e-9, "3 ns")])
def test_format_seconds(seconds, text):
    assert benchmarks._format_seconds(seconds) == text


def test_one_core_pins_and_restores():
    import os
    import threading

    import numba

    cpus, threads = (os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None,
                     numba.get_num_threads())
    seen = {}

    def record(name):
        seen[name] = os.sched_getaffinity(0) if cpus is not None else None

    started, leave = threading.Event(), threading.Event()
    before = threading.Thread(target=lambda: (started.wait(), record("before")))
    before.start()
    with benchmarks.one_core():
        assert numba.get_num_threads() == 1
        started.set()  # a thread that existed before the block is pinned too
        before.join()
        inside = threading.Thread(target=lambda: (leave.wait(), record("inside")))
        inside.start()
        if cpus is not None:
            assert len(os.sched_getaffinity(0)) == 1 and len(seen["before"]) == 1
    leave.set()  # a thread started inside the block is released too
    inside.join()
    assert numba.get_num_threads() == threads
    if cpus is not None:
        assert os.sched_getaffinity(0) == cpus and seen["inside"] == cpus
