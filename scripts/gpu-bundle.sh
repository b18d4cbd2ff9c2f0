#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh --prebuilt needs from a CUDA build into one
# folder, for a GPU machine without this project's build packages: the CUDA
# test program, both apps and the step benchmarks (DIR/bin), and the shared
# libraries they load that are not the C and C++ runtimes or cuBLAS (DIR/lib;
# the GPU machine's own CUDA installation provides cuBLAS).
#   scripts/gpu-bundle.sh [BUILD] [DIR]     defaults: build, gpu-bundle
# The build must have CUDA compiled for the GPU's architecture (the default
# architectures include sm_90 for H100/H200).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-gpu-bundle}
programs=(tests/test_cuda_parity apps/chopin-lstm/chopin-lstm apps/jazz-vae/jazz-vae bench/bench_chopin bench/bench_jazz
          bench/bench_sgemm_cuda)
for p in "${programs[@]}"; do
  [ -x "$build/$p" ] || { echo "gpu-bundle: $build/$p is missing (build with CUDA first)" >&2; exit 1; }
done
if ! ldd "$build/tests/test_cuda_parity" | grep -q libcudart; then
  echo "gpu-bundle: $build was built without CUDA" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
for p in "${programs[@]}"; do cp "$build/$p" "$out/bin/"; done
# Every library the programs resolve, less the runtimes every Linux machine has and cuBLAS.
for p in "${programs[@]}"; do ldd "$build/$p"; done | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u |
  grep -v -E '/(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libcublas|libcublasLt)\.so' |
  while read -r lib; do cp -L "$lib" "$out/lib/"; done
echo "gpu-bundle: $(ls "$out/bin" | wc -l) programs and $(ls "$out/lib" | wc -l) libraries in $out ($(du -sh "$out" | cut -f1))"
echo "on the GPU machine, in a copy of this repository: scripts/gpu-check.sh --prebuilt $out"
