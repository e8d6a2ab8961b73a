"""Build script: the Python packages (``kernels/`` installed as ``pykernels.kernels``)
and, when a C compiler and a CBLAS are found, the optional C backend
``pykernels._pk_c`` (cffi, out of line, from ``csrc/``).

Without a compiler or BLAS the install still succeeds, without the ``"c"`` backend,
and says so once (the markupsafe pattern).  Environment variables:

* ``PYKERNELS_NO_C=1`` -- do not build the C backend at all;
* ``PYKERNELS_REQUIRE_C=1`` -- a C backend that does not build fails the install
  (CI sets it, so a broken C build is never hidden);
* ``PYKERNELS_BLAS`` -- which BLAS to link, see ``csrc/build_cffi.py``.
"""

import importlib.util
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.errors import CCompilerError, ExecError, PlatformError

BUILD_SCRIPT = "csrc/build_cffi.py"
_skipped = []  # why the C backend is not built


def _skip(reason):
    if os.environ.get("PYKERNELS_REQUIRE_C") == "1":
        raise SystemExit(f"PYKERNELS_REQUIRE_C=1 and the C backend cannot be built: {reason}")
    _skipped.append(reason)


def _report():
    """Say once, in the build log, that the C backend is left out and why."""
    if _skipped and _skipped[-1] is not None:
        bar = "*" * 75
        print(f"{bar}\nWARNING: pykernels is installed WITHOUT its C backend ('c'): "
              f"{_skipped[0]}\nThe numba and numpy backends work as usual.  To build it, "
              f"install a C compiler and\n`pip install scipy-openblas32`, then reinstall "
              f"pykernels.\n{bar}", file=sys.stderr)
        _skipped.append(None)


class OptionalBuildExt(build_ext):
    """build_ext that leaves out, with one message, an extension that fails to build."""

    def build_extensions(self):
        self.check_extensions_list(self.extensions)
        built = []
        for ext in self.extensions:
            try:
                self.build_extension(ext)
                built.append(ext)
            except (CCompilerError, ExecError, PlatformError, ValueError) as exc:
                _skip(f"{type(exc).__name__}: {exc}")
        self.extensions = built  # nothing to copy or record for the one that failed
        _report()


class ReportingBuildPy(build_py):
    """build_py that reports a C backend left out before any compiling (no BLAS, opt-out)."""

    def run(self):
        super().run()
        _report()


def c_modules():
    """``cffi_modules`` for setup(): the C backend when its build script finds a BLAS."""
    if os.environ.get("PYKERNELS_NO_C") == "1":
        _skip("PYKERNELS_NO_C=1")
        return []
    try:
        spec = importlib.util.spec_from_file_location("pykernels_build_cffi", BUILD_SCRIPT)
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        script.find_blas()
    except (ImportError, LookupError) as exc:
        _skip(f"{type(exc).__name__}: {exc}")
        return []
    return [f"{BUILD_SCRIPT}:ffibuilder"]


setup(
    packages=["pykernels", "pykernels.reference", "pykernels.kernels"],
    package_dir={"pykernels.kernels": "kernels"},
    cffi_modules=c_modules(),
    cmdclass={"build_ext": OptionalBuildExt, "build_py": ReportingBuildPy},
)
