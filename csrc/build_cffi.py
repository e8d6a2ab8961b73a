"""cffi build of the ``"c"`` backend: the C kernels of ``csrc/`` as ``pykernels._pk_c``.

``setup.py`` builds it out of line through ``cffi_modules``; by hand (from the repo
root) ``python csrc/build_cffi.py`` builds it in place.  The cdef is
``csrc/pykernels.h`` itself, minus its preprocessor lines: the header is the single
source of truth.

BLAS (environment variable ``PYKERNELS_BLAS``):

* ``auto`` (default): the OpenBLAS of the ``scipy-openblas32`` wheel when it is
  importable (a build requirement in ``pyproject.toml``, so a plain ``pip install``
  has it), else a system ``libopenblas`` (``apt-get install libopenblas-dev``);
* ``scipy-openblas32`` or ``system``: only that one.
"""

import ctypes.util
import os
import pathlib

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
SOURCES = ["checks.c", "gemm.c", "activations.c", "losses.c", "mlp.c", "rop.c", "optim.c",
           "fd.c"]
MODULE = "pykernels._pk_c"


def cdef_text(header=HERE / "pykernels.h"):
    """The header without its preprocessor lines: what cffi's cdef parses."""
    lines = header.read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def find_blas():
    """Compiler and linker settings of a CBLAS.

    Returns
    -------
    dict
        ``library_dirs``, ``libraries``, ``define_macros`` and ``extra_link_args``
        for ``FFI.set_source``.

    Raises
    ------
    LookupError
        If no BLAS is found; the message says what to install.
    """
    choice = os.environ.get("PYKERNELS_BLAS", "auto")
    if choice not in ("auto", "scipy-openblas32", "system"):
        raise LookupError(f"PYKERNELS_BLAS must be auto, scipy-openblas32 or system, "
                          f"got {choice!r}")
    if choice in ("auto", "scipy-openblas32"):
        try:
            import scipy_openblas32
        except ImportError:
            pass
        else:
            # The runtime copy is found by pykernels._cbackend (which loads it before
            # the extension) or, in a regular install, through this relative rpath.
            return {"library_dirs": [scipy_openblas32.get_lib_dir()],
                    "libraries": [scipy_openblas32.get_library()],
                    "define_macros": [("PK_BLAS_PREFIX", "scipy_")],
                    "extra_link_args": ["-Wl,-rpath,$ORIGIN/../scipy_openblas32/lib"]}
    if choice in ("auto", "system") and ctypes.util.find_library("openblas"):
        return {"library_dirs": [], "libraries": ["openblas"], "define_macros": [],
                "extra_link_args": []}
    raise LookupError("no CBLAS found: pip install scipy-openblas32 "
                      "(or apt-get install libopenblas-dev and set PYKERNELS_BLAS=system)")


#: -fno-trapping-math lets gcc vectorise the branch-free math of pk_internal.h (no
#: value changes: pykernels never reads the IEEE exception flags); -fno-math-errno lets
#: it vectorise sqrt (the optimizer updates: 15 -> 2 us for Adam on 4.6k parameters;
#: sqrt is correctly rounded either way, and pykernels never reads errno);
#: -ffp-contract=off keeps a * b + c two roundings, as in Numba and C99 mode, also in
#: the AVX clones.
OPT_FLAGS = ("-O3", "-fno-trapping-math", "-fno-math-errno", "-ffp-contract=off")


def make_ffibuilder(extra_compile_args=OPT_FLAGS, extra_link_args=(), relative=True):
    """An ``FFI`` ready to compile ``pykernels._pk_c`` (raises LookupError without BLAS).

    Paths are relative to the working directory (setuptools wants that; setup.py
    runs from the repo root) unless ``relative`` is false.
    """
    blas = find_blas()
    path = os.path.relpath if relative else str
    ffi = FFI()
    ffi.cdef(cdef_text())
    ffi.set_source(
        MODULE, '#include "pykernels.h"',
        sources=[path(HERE / name) for name in SOURCES],
        include_dirs=[path(HERE)],
        libraries=blas["libraries"] + ["m"],
        library_dirs=blas["library_dirs"],
        define_macros=blas["define_macros"],
        extra_compile_args=list(extra_compile_args),
        extra_link_args=blas["extra_link_args"] + list(extra_link_args))
    return ffi


def _ffibuilder_or_none():
    try:
        return make_ffibuilder()
    except LookupError:
        return None


#: What ``cffi_modules=["csrc/build_cffi.py:ffibuilder"]`` picks up (None without BLAS:
#: setup.py then leaves the extension out).
ffibuilder = _ffibuilder_or_none()

if __name__ == "__main__":
    # python csrc/build_cffi.py [DEST]: build in csrc/build/py*/ and copy the extension
    # to DEST (default: pykernels/, in place); SAN=1 builds it under AddressSanitizer
    # + UBSan for .ci/c_checks.sh, which puts it in a copy of the package.
    import shutil
    import sys

    if os.environ.get("SAN") == "1":
        san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
        builder = make_ffibuilder(["-g", "-O1", "-fno-omit-frame-pointer"] + list(OPT_FLAGS[1:])
                                  + san, san,
                                  relative=False)
    else:
        builder = make_ffibuilder(relative=False)
    tmpdir = HERE / "build" / ("py-san" if os.environ.get("SAN") == "1" else "py")
    built = builder.compile(tmpdir=str(tmpdir), verbose=True)
    shutil.copy(built, sys.argv[1] if len(sys.argv) > 1 else HERE.parent / "pykernels")
