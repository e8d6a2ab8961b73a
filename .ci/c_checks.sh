#!/usr/bin/env bash
# Memory-safety checks of the C backend (issue 5), run from .ci/run:
#   1. make -C csrc: the static/shared library and the example; the C test driver;
#   2. the C test driver built with -fsanitize=address,undefined: zero reports;
#   3. valgrind --leak-check=full on the example: zero errors, zero leaks;
#   4. the cffi extension built with the sanitizers, in a temporary copy of the
#      package (the working tree's extension is left alone), and the C-backend
#      pytest subset (tests/test_cbackend.py) run against it under ASan + UBSan.
# Installs what it needs (gcc, make, valgrind via apt-get; scipy-openblas32, cffi via
# pip).  Expects pykernels installed (.ci/run does that first).  Measured 2.0-2.5 min
# on a shared 2-core machine, most of it the ASan pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

missing=()
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v make >/dev/null || missing+=(make)
command -v valgrind >/dev/null || missing+=(valgrind)
if ((${#missing[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
python -m pip install -q scipy-openblas32 cffi psutil pytest
python -c "import pykernels" 2>/dev/null || python -m pip install -q -e ".[test]"

echo "== C library, example and test driver"
make -s -C csrc clean
make -s -C csrc all test

echo "== C test driver under AddressSanitizer + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    make -s -C csrc SAN=1 test

echo "== valgrind on the example"
valgrind --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
    --error-exitcode=1 csrc/build/example

echo "== C-backend pytest subset under AddressSanitizer + UBSan"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r pykernels "$tmp/pykernels"
rm -f "$tmp"/pykernels/_pk_c*.so
cp -r kernels "$tmp/pykernels/kernels"
find "$tmp" -name __pycache__ -prune -exec rm -rf {} +
SAN=1 python csrc/build_cffi.py "$tmp/pykernels" >"$tmp/build.log" 2>&1 \
    || { cat "$tmp/build.log"; exit 1; }
export PYTHONPATH="$tmp" NUMBA_CACHE_DIR="$tmp/numba-cache" PYKERNELS_REQUIRE_C=1
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1  # CPython itself never frees everything
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
cp tests/test_cbackend.py "$tmp/"
(
    cd "$tmp"  # so that the copy, not the working tree, is the pykernels imported
    python -c "import pykernels._cbackend, pykernels._pk_c as m; assert m.__file__.startswith('$tmp'), m.__file__"
    python -m pytest -q -p no:cacheprovider test_cbackend.py
)
unset LD_PRELOAD

echo "c_checks: all passed in $((SECONDS - start)) s"
