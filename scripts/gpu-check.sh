#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the CUDA test suite (also under
# compute-sanitizer's memcheck and racecheck), both apps trained, resumed and
# sampled with --device cuda against the CPU from the same seed, the GPU step
# benchmarks beside PyTorch + cuDNN where python3 has a CUDA build of torch,
# and a short summary last. Exits non-zero when a CUDA test or a check fails.
#
#   scripts/gpu-check.sh [CUDA_ARCHITECTURES]   build here (packages from scripts/install-deps.sh
#                                              present) in build-gpu/; default 90 (H100/H200), e.g. "80;90"
#   scripts/gpu-check.sh --prebuilt DIR        use DIR/bin and DIR/lib from scripts/gpu-bundle.sh (a machine
#                                              without the build packages)
#
# Every step has a timeout; the whole check takes a few minutes on an H200.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
prebuilt=""
arch=90
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) [ $# -ge 2 ] || { echo "gpu-check: --prebuilt needs a folder" >&2; exit 2; }
                prebuilt=$(cd "$2" 2>/dev/null && pwd) || { echo "gpu-check: --prebuilt: no folder $2" >&2; exit 2; }
                shift 2 ;;
    -*) echo "gpu-check: unknown option $1" >&2; exit 2 ;;
    *) arch=$1; shift ;;
  esac
done
log_dir="${GPU_CHECK_LOGS:-$root/build-gpu/gpu-check}"
mkdir -p "$log_dir"
failures=()
fail() { failures+=("$1"); echo "FAILED: $1"; }

echo "== GPU"
if ! nvidia-smi -L; then
  echo "gpu-check: nvidia-smi found no GPU" >&2
  exit 1
fi
gpu_name=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -n 1)

if [ -n "$prebuilt" ]; then
  bin="$prebuilt/bin"
  # The bundle's own libraries, then cuBLAS from wherever the machine keeps it.
  export LD_LIBRARY_PATH="$prebuilt/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  for lib in libcublas.so.13 libcublasLt.so.13; do
    found=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l {print $NF; exit}')
    [ -n "$found" ] || found=$(find /usr/local /usr/lib /opt -name "$lib" 2>/dev/null | head -n 1)
    [ -n "$found" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$found")"
  done
  echo "== prebuilt binaries from $prebuilt"
else
  build=build-gpu
  echo "== configure and build (CUDA architectures $arch)"
  if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMUSICGEN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
      > "$log_dir/configure.log" 2>&1; then
    tail -n 20 "$log_dir/configure.log"
    echo "gpu-check: configure failed (full log: $log_dir/configure.log)" >&2
    exit 1
  fi
  if ! cmake --build "$build" -j "$(nproc)" > "$log_dir/build.log" 2>&1; then
    grep -E "error" "$log_dir/build.log" | head -n 20
    echo "gpu-check: build failed (full log: $log_dir/build.log)" >&2
    exit 1
  fi
  bin="$log_dir/bin"
  mkdir -p "$bin"
  for f in tests/test_cuda_parity apps/chopin-lstm/chopin-lstm apps/jazz-vae/jazz-vae bench/bench_chopin bench/bench_jazz; do
    ln -sf "$root/$build/$f" "$bin/"
  done
fi
for f in test_cuda_parity chopin-lstm jazz-vae; do
  [ -x "$bin/$f" ] || { echo "gpu-check: $bin/$f is missing" >&2; exit 1; }
done

echo "== CUDA tests"
timeout 300 "$bin/test_cuda_parity" > "$log_dir/parity.log" 2>&1 || fail "CUDA tests (log: $log_dir/parity.log)"
grep -E "ERROR|test cases:|assertions:" "$log_dir/parity.log" | tail -n 20
tests_line=$(grep -E "test cases:" "$log_dir/parity.log" | tail -n 1)

sanitizer_line="compute-sanitizer not found"
if command -v compute-sanitizer > /dev/null; then
  echo "== compute-sanitizer: memcheck over the CUDA tests, racecheck over the reductions and norms"
  timeout 300 compute-sanitizer --tool memcheck --print-limit 10 --error-exitcode 3 "$bin/test_cuda_parity" \
    > "$log_dir/memcheck.log" 2>&1 || fail "memcheck (log: $log_dir/memcheck.log)"
  timeout 300 compute-sanitizer --tool racecheck --print-limit 10 --error-exitcode 3 "$bin/test_cuda_parity" \
    -tc="*softmax*,*sum*,*mean*,*norm*" > "$log_dir/racecheck.log" 2>&1 || fail "racecheck (log: $log_dir/racecheck.log)"
  sanitizer_line="memcheck: $(grep -E "ERROR SUMMARY" "$log_dir/memcheck.log" | tail -n 1 | sed 's/=* *//'); racecheck: $(grep -E "RACECHECK SUMMARY" "$log_dir/racecheck.log" | tail -n 1 | sed 's/=* *//')"
  echo "$sanitizer_line"
fi

# The first epoch's training loss from an app's --json lines.
first_loss() { grep -o '"train_loss":[-0-9.e+]*' "$1" | head -n 1 | cut -d: -f2; }
# "a b": |a - b| / |b|, printed with 2 significant digits; fails when above 1e-3.
compare_losses() {
  local name=$1 gpu=$2 cpu=$3
  if [ -z "$gpu" ] || [ -z "$cpu" ]; then fail "$name: no first-epoch loss"; return; fi
  local rel
  rel=$(awk -v a="$gpu" -v b="$cpu" 'BEGIN { d = a - b; if (d < 0) d = -d; if (b < 0) b = -b; printf "%.2g", d / b }')
  echo "$name first-epoch training loss: GPU $gpu, CPU $cpu (relative difference $rel)"
  awk -v r="$rel" 'BEGIN { exit !(r <= 1e-3) }' || fail "$name: the GPU's first epoch is $rel away from the CPU's"
  app_lines+=("$name first epoch: GPU $gpu, CPU $cpu ($rel)")
}
app_lines=()
work=$(mktemp -d)
threads=$(nproc)

echo "== chopin-lstm on the GPU: train (built-in corpus), resume, generate; the CPU's first epoch beside it"
chopin="$bin/chopin-lstm train --model embed --hidden1 128 --hidden2 64 --dense 64 --batch 32 --seed 3 --json"
timeout 300 $chopin --out "$work/cg" --device cuda --epochs 2 > "$log_dir/chopin-gpu.json" 2> "$log_dir/chopin-gpu.log" ||
  fail "chopin-lstm train --device cuda (log: $log_dir/chopin-gpu.log)"
timeout 300 $chopin --out "$work/cc" --device cpu --threads "$threads" --epochs 1 > "$log_dir/chopin-cpu.json" \
  2> "$log_dir/chopin-cpu.log" || fail "chopin-lstm train --device cpu (log: $log_dir/chopin-cpu.log)"
compare_losses chopin-lstm "$(first_loss "$log_dir/chopin-gpu.json")" "$(first_loss "$log_dir/chopin-cpu.json")"
timeout 300 $chopin --out "$work/cg" --device cuda --epochs 3 --resume > "$log_dir/chopin-resume.json" 2>&1 ||
  fail "chopin-lstm train --resume --device cuda (log: $log_dir/chopin-resume.json)"
grep -q '"epoch":3' "$log_dir/chopin-resume.json" || fail "chopin-lstm: the resumed run has no epoch 3"
timeout 120 "$bin/chopin-lstm" generate --checkpoint "$work/cg/model.safetensors" --device cuda --length-seconds 10 \
  --out "$work/cg/generated.mid" > "$log_dir/chopin-generate.log" 2>&1 || fail "chopin-lstm generate --device cuda"

echo "== jazz-vae on the GPU: train (built-in clips), resume, prior, generate, eval; the CPU's first epoch beside it"
jazz="$bin/jazz-vae train --seed 3 --epochs 3 --json"
timeout 300 $jazz --out "$work/jg" --device cuda > "$log_dir/jazz-gpu.json" 2> "$log_dir/jazz-gpu.log" ||
  fail "jazz-vae train --device cuda (log: $log_dir/jazz-gpu.log)"
# The same --epochs on both: the cosine learning rate is planned over them.
timeout 300 $jazz --out "$work/jc" --device cpu --threads "$threads" > "$log_dir/jazz-cpu.json" \
  2> "$log_dir/jazz-cpu.log" || fail "jazz-vae train --device cpu (log: $log_dir/jazz-cpu.log)"
compare_losses jazz-vae "$(first_loss "$log_dir/jazz-gpu.json")" "$(first_loss "$log_dir/jazz-cpu.json")"
timeout 300 "$bin/jazz-vae" train --seed 3 --epochs 4 --out "$work/jg" --device cuda --resume --json \
  > "$log_dir/jazz-resume.json" 2>&1 || fail "jazz-vae train --resume --device cuda (log: $log_dir/jazz-resume.json)"
timeout 300 "$bin/jazz-vae" prior --checkpoint "$work/jg/model.safetensors" --device cuda --epochs 5 \
  > "$log_dir/jazz-prior.log" 2>&1 || fail "jazz-vae prior --device cuda (log: $log_dir/jazz-prior.log)"
timeout 120 "$bin/jazz-vae" generate --checkpoint "$work/jg/model.safetensors" --device cuda --count 2 \
  --out "$work/jg/samples" > "$log_dir/jazz-generate.log" 2>&1 || fail "jazz-vae generate --device cuda"
timeout 120 "$bin/jazz-vae" eval --checkpoint "$work/jg/model.safetensors" --device cuda > "$log_dir/jazz-eval.log" 2>&1 ||
  fail "jazz-vae eval --device cuda"
rm -rf "$work"

echo "== GPU benchmarks"
bench_lines=()
if [ -x "$bin/bench_chopin" ]; then
  timeout 300 "$bin/bench_chopin" --device cuda --model seed --steps 10 > "$log_dir/bench_chopin.log" 2>&1 ||
    fail "bench_chopin --device cuda"
  tail -n 4 "$log_dir/bench_chopin.log"
  ours=$(grep -o '"samples_per_s": [0-9.]*' "$log_dir/bench_chopin.log" | tail -n 1 | awk '{print $2}')
  ref=""
  if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2> /dev/null; then
    timeout 300 python3 bench/compare/torch_chopin.py --device cuda --steps 10 --warmup 3 > "$log_dir/torch_chopin.log" 2>&1 &&
      ref=$(grep -o '"samples_per_s": [0-9.]*' "$log_dir/torch_chopin.log" | tail -n 1 | awk '{print $2}')
    tail -n 1 "$log_dir/torch_chopin.log"
  fi
  if [ -n "$ours" ] && [ -n "$ref" ]; then
    bench_lines+=("seed LSTM step, batch 256: $ours samples/s; PyTorch + cuDNN $ref samples/s ($(awk -v a="$ours" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')x)")
  else
    bench_lines+=("seed LSTM step, batch 256: ${ours:-no result} samples/s; PyTorch + cuDNN: ${ref:-not run}")
  fi
fi
if [ -x "$bin/bench_jazz" ]; then
  timeout 300 "$bin/bench_jazz" --device cuda --quick > "$log_dir/bench_jazz.log" 2>&1 || fail "bench_jazz --device cuda"
  tail -n 3 "$log_dir/bench_jazz.log"
  clips=$(grep -o '"samples_per_s": [0-9.]*' "$log_dir/bench_jazz.log" | tail -n 1 | awk '{print $2}')
  bench_lines+=("jazz conv VAE step, batch 10: ${clips:-no result} clips/s")
fi

echo "== summary"
echo "GPU: $gpu_name"
echo "CUDA tests: ${tests_line:-no result (see $log_dir/parity.log)}"
echo "sanitizers: $sanitizer_line"
for l in "${app_lines[@]}" "${bench_lines[@]}"; do echo "$l"; done
echo "logs: $log_dir"
if [ ${#failures[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
  exit 1
fi
echo "all checks passed"
