"""The C library's Makefile says what to install when no BLAS links."""

import pathlib
import shutil
import subprocess

import pytest

CSRC = pathlib.Path(__file__).resolve().parent.parent / "csrc"


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None
                    or not (CSRC / "Makefile").exists(), reason="needs make, cc and csrc/")
def test_make_without_a_blas_says_what_to_install():
    run = subprocess.run(["make", "-s", "-C", str(CSRC), "check-blas", "PYTHON=false",
                          "BLAS_LIBS=-lpk_no_such_blas"], capture_output=True, text=True)
    assert run.returncode != 0
    assert "no BLAS to link with" in run.stderr
    assert "pip install scipy-openblas32" in run.stderr
    assert "apt-get install libopenblas-dev" in run.stderr
    assert "cannot find" not in run.stderr      # not the linker's own message
