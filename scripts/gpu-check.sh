#!/usr/bin/env bash
# On a machine with an NVIDIA GPU (packages from scripts/install-deps.sh
# already present): build with CUDA, run the CUDA test suites and the GPU
# benchmarks, print a short summary. Exits non-zero when a CUDA test fails.
#   scripts/gpu-check.sh [CUDA_ARCHITECTURES]    default 90 (H100/H200); e.g. "80;90"
set -uo pipefail
cd "$(dirname "$0")/.."
arch="${1:-90}"
build=build-gpu
log_dir="$build/gpu-check"

echo "== GPU"
if ! nvidia-smi -L; then
  echo "gpu-check: nvidia-smi found no GPU" >&2
  exit 1
fi
gpu_name=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -n 1)

echo "== configure and build (CUDA architectures $arch)"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMUSICGEN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
    > /tmp/gpu-check-configure.log 2>&1; then
  tail -n 20 /tmp/gpu-check-configure.log
  echo "gpu-check: configure failed (full log: /tmp/gpu-check-configure.log)" >&2
  exit 1
fi
mkdir -p "$log_dir"
if ! cmake --build "$build" -j "$(nproc)" > "$log_dir/build.log" 2>&1; then
  grep -E "error" "$log_dir/build.log" | head -n 20
  echo "gpu-check: build failed (full log: $log_dir/build.log)" >&2
  exit 1
fi

echo "== CUDA tests"
(cd "$build" && ctest -R cuda --output-on-failure) > "$log_dir/ctest.log" 2>&1
tests_rc=$?
grep -E "Failed|\*\*\*|tests passed|tests failed" "$log_dir/ctest.log" | tail -n 25
tests_line=$(grep -E "tests passed|tests failed" "$log_dir/ctest.log" | tail -n 1)

echo "== GPU benchmarks"
benches=0
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  "$b" --help 2>&1 | grep -q -- "--device" || continue
  name=$(basename "$b")
  echo "-- $name --device cuda"
  if "$b" --device cuda 2>&1 | tee "$log_dir/$name.log" | tail -n 15; then
    benches=$((benches + 1))
  else
    echo "($name failed; log: $log_dir/$name.log)"
  fi
done
[ "$benches" -gt 0 ] || echo "(no benchmark with a --device flag was built)"

echo "== summary"
echo "GPU: $gpu_name"
echo "CUDA tests: ${tests_line:-no result (see $log_dir/ctest.log)}"
echo "GPU benchmarks run: $benches"
exit "$tests_rc"
