#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: build with CUDA (sm_90 by default), run
# the CUDA test suites and the GPU benchmarks, and print a short summary.
#   scripts/gpu-check.sh [CUDA_ARCHITECTURES]     e.g. 90 (H100/H200), or "80;90"
set -uo pipefail
cd "$(dirname "$0")/.."
arch="${1:-90}"
build=build-gpu

echo "== GPU"
nvidia-smi -L || { echo "gpu-check: nvidia-smi found no GPU" >&2; exit 1; }

echo "== build (CUDA architectures $arch)"
if [ -x scripts/install-deps.sh ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  scripts/install-deps.sh || echo "gpu-check: package install failed; trying with what is present"
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMUSICGEN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" >/dev/null || exit 1
cmake --build "$build" -j "$(nproc)" 2>&1 | grep -E "error|warning: unused" ; test "${PIPESTATUS[0]}" -eq 0 || exit 1

echo "== CUDA tests"
(cd "$build" && ctest -R "cuda" --output-on-failure 2>&1 | tee /tmp/gpu-check-ctest.log | tail -n 25)
tests_line=$(grep -E "tests passed|tests failed" /tmp/gpu-check-ctest.log | tail -n 1)

echo "== all other tests on this machine"
(cd "$build" && ctest -E "cuda" -j "$(nproc)" 2>&1 | tail -n 3)

echo "== GPU benchmarks"
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  if "$b" --help 2>&1 | grep -q -- "--device"; then
    echo "-- $(basename "$b") --device cuda"
    "$b" --device cuda || echo "($(basename "$b") failed)"
  fi
done

echo "== summary"
echo "GPU: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -n 1)"
echo "CUDA tests: ${tests_line:-no result}"
