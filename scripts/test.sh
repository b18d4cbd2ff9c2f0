#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (packages, and chromium for the report's
# browser test when it can be installed), builds musicgen and runs the whole
# test suite under CTest.
#   scripts/test.sh              release build in build/ (CUDA too when nvcc is found)
#   scripts/test.sh --sanitize   ASan + UBSan build of the CPU suite in build-asan/, then each
#                                libFuzzer target for 60 s (scripts/fuzz.sh, clang, build-fuzz/)
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    *) echo "test.sh: unknown option $arg (try --sanitize)" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh --chromium
jobs=$(nproc)
if [ "$sanitize" -eq 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMUSICGEN_SANITIZE=ON -DMUSICGEN_CUDA=OFF
  cmake --build build-asan -j "$jobs"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ctest --output-on-failure -j "$jobs")
  scripts/fuzz.sh all 60
else
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j "$jobs"
  (cd build && ctest --output-on-failure -j "$jobs")
fi
