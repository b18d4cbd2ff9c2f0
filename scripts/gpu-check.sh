#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the CUDA test suite (also under
# compute-sanitizer's memcheck and racecheck), once as the backend chooses its
# kernels and once with each alternative forced (cuDNN's convolutions, the
# persistent LSTM recurrence, and neither), both apps trained, resumed and
# sampled with --device cuda against the CPU from the same seed, the GPU step
# benchmarks beside PyTorch + cuDNN where python3 has a CUDA build of torch,
# the SGEMM walk-through against cuBLAS, and a short summary last. Exits
# non-zero when a CUDA test or a check fails.
#
#   scripts/gpu-check.sh [CUDA_ARCHITECTURES]   build here (packages from scripts/install-deps.sh
#                                              present) in build-gpu/; default 90 (H100/H200), e.g. "80;90"
#   scripts/gpu-check.sh --prebuilt DIR        use DIR/bin and DIR/lib from scripts/gpu-bundle.sh (a machine
#                                              without the build packages)
#   --parts tests,sanitizers,apps,bench        run only these parts (default: all four), e.g. to fit a short
#                                              lease: tests and bench first, sanitizers and apps next
#
# Every step has a timeout; the whole check takes a few minutes on an H200.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
prebuilt=""
arch=90
parts=tests,sanitizers,apps,bench
while [ $# -gt 0 ]; do
  case "$1" in
    --parts) [ $# -ge 2 ] || { echo "gpu-check: --parts needs a list" >&2; exit 2; }
             parts=$2
             for p in ${parts//,/ }; do
               case "$p" in tests|sanitizers|apps|bench) ;; *) echo "gpu-check: --parts: unknown part $p" >&2; exit 2 ;; esac
             done
             shift 2 ;;
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
want() { [[ ",$parts," == *",$1,"* ]]; }
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
  for f in tests/test_cuda_parity apps/chopin-lstm/chopin-lstm apps/jazz-vae/jazz-vae bench/bench_chopin bench/bench_jazz \
      bench/bench_sgemm_cuda; do
    ln -sf "$root/$build/$f" "$bin/"
  done
fi
# cuDNN is loaded at run time (libcudnn.so.9): from the system, or else from
# wherever a Python package (PyTorch's nvidia-cudnn) keeps it.
if ! ldconfig -p 2>/dev/null | grep -q 'libcudnn\.so\.9 '; then
  found=$(find /usr/local /usr/lib /opt -name libcudnn.so.9 2>/dev/null | head -n 1)
  [ -n "$found" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$(dirname "$found")"
fi
for f in test_cuda_parity chopin-lstm jazz-vae; do
  [ -x "$bin/$f" ] || { echo "gpu-check: $bin/$f is missing" >&2; exit 1; }
done

tests_line="not run"
forced_line="forced alternatives: not run"
if want tests; then
  echo "== CUDA tests"
  timeout 300 "$bin/test_cuda_parity" > "$log_dir/parity.log" 2>&1 || fail "CUDA tests (log: $log_dir/parity.log)"
  grep -E "ERROR|test cases:|assertions:" "$log_dir/parity.log" | tail -n 20
  tests_line=$(grep -E "test cases:" "$log_dir/parity.log" | tail -n 1)
  # The alternatives forced on, then off, so that each path meets the CPU
  # reference whatever the measurements chose above.
  timeout 300 env MUSICGEN_CUDNN=on MUSICGEN_LSTM_RECURRENCE=persistent MUSICGEN_KERNEL_LOG=1 "$bin/test_cuda_parity" \
    -tc="*conv*,*lstm*,*beyond*" > "$log_dir/parity-forced.log" 2>&1 ||
    fail "CUDA tests with cuDNN and the persistent recurrence forced (log: $log_dir/parity-forced.log)"
  timeout 300 env MUSICGEN_CUDNN=off MUSICGEN_LSTM_RECURRENCE=steps "$bin/test_cuda_parity" \
    -tc="*conv*,*lstm*,*beyond*" > "$log_dir/parity-plain.log" 2>&1 ||
    fail "CUDA tests with our own kernels only (log: $log_dir/parity-plain.log)"
  forced_line="forced alternatives: $(grep -E "test cases:" "$log_dir/parity-forced.log" | tail -n 1 | sed 's/\[doctest\] *//'); own kernels only: $(grep -E "test cases:" "$log_dir/parity-plain.log" | tail -n 1 | sed 's/\[doctest\] *//')"
  echo "$forced_line"
  grep -m 3 -E "^(cudnn|kernels):" "$log_dir/parity-forced.log"
fi

sanitizer_line="not run"
if want sanitizers && ! command -v compute-sanitizer > /dev/null; then
  sanitizer_line="compute-sanitizer not found"
elif want sanitizers; then
  echo "== compute-sanitizer: memcheck over the CUDA tests, racecheck over the reductions and norms"
  # Our own kernels over the whole suite; cuDNN's calls (descriptors, workspace) on the convolution cases.
  timeout 300 env MUSICGEN_CUDNN=off MUSICGEN_LSTM_RECURRENCE=steps compute-sanitizer --tool memcheck \
    --print-limit 10 --error-exitcode 3 "$bin/test_cuda_parity" > "$log_dir/memcheck.log" 2>&1 ||
    fail "memcheck (log: $log_dir/memcheck.log)"
  timeout 300 env MUSICGEN_CUDNN=on compute-sanitizer --tool memcheck --print-limit 10 --error-exitcode 3 \
    "$bin/test_cuda_parity" -tc="*conv*" > "$log_dir/memcheck-cudnn.log" 2>&1 ||
    fail "memcheck, cuDNN convolutions (log: $log_dir/memcheck-cudnn.log)"
  timeout 300 compute-sanitizer --tool racecheck --print-limit 10 --error-exitcode 3 "$bin/test_cuda_parity" \
    -tc="*softmax*,*sum*,*mean*,*norm*" > "$log_dir/racecheck.log" 2>&1 || fail "racecheck (log: $log_dir/racecheck.log)"
  # The persistent recurrence shares h_t and dgates_t between blocks through a grid barrier
  # (the op table's small LSTM shapes: racecheck is slow on the seed-size ones).
  timeout 300 env MUSICGEN_LSTM_RECURRENCE=persistent compute-sanitizer --tool memcheck --print-limit 10 \
    --error-exitcode 3 "$bin/test_cuda_parity" -tc="cuda parity lstm*" > "$log_dir/memcheck-lstm.log" 2>&1 ||
    fail "memcheck, persistent recurrence (log: $log_dir/memcheck-lstm.log)"
  timeout 300 env MUSICGEN_LSTM_RECURRENCE=persistent compute-sanitizer --tool racecheck --print-limit 10 \
    --error-exitcode 3 "$bin/test_cuda_parity" -tc="cuda parity lstm*" > "$log_dir/racecheck-lstm.log" 2>&1 ||
    fail "racecheck, persistent recurrence (log: $log_dir/racecheck-lstm.log)"
  sanitizer_line="memcheck: $(grep -E "ERROR SUMMARY" "$log_dir/memcheck.log" | tail -n 1 | sed 's/=* *//'); cuDNN: $(grep -E "ERROR SUMMARY" "$log_dir/memcheck-cudnn.log" | tail -n 1 | sed 's/=* *//'); racecheck: $(grep -E "RACECHECK SUMMARY" "$log_dir/racecheck.log" | tail -n 1 | sed 's/=* *//'); persistent recurrence: $(grep -E "ERROR SUMMARY" "$log_dir/memcheck-lstm.log" | tail -n 1 | sed 's/=* *//'), $(grep -E "RACECHECK SUMMARY" "$log_dir/racecheck-lstm.log" | tail -n 1 | sed 's/=* *//')"
  echo "$sanitizer_line"
fi

# The first epoch's training loss (the mean over its steps) from an app's --json lines.
first_loss() { grep -o '"train_loss":[-0-9.e+]*' "$1" | head -n 1 | cut -d: -f2; }
# "a b": |a - b| / |b|, printed with 2 significant digits; fails when above the limit (default 1e-3).
compare_losses() {
  local name=$1 gpu=$2 cpu=$3 limit=${4:-1e-3}
  if [ -z "$gpu" ] || [ -z "$cpu" ]; then fail "$name: no training loss"; return; fi
  local rel
  rel=$(awk -v a="$gpu" -v b="$cpu" 'BEGIN { d = a - b; if (d < 0) d = -d; if (b < 0) b = -b; printf "%.2g", d / b }')
  echo "$name training loss: GPU $gpu, CPU $cpu (relative difference $rel)"
  awk -v r="$rel" -v l="$limit" 'BEGIN { exit !(r <= l) }' || fail "$name: the GPU's loss is $rel away from the CPU's"
  app_lines+=("$name: GPU $gpu, CPU $cpu ($rel)")
}
app_lines=()
work=$(mktemp -d)
threads=$(nproc)

if want apps; then
  echo "== chopin-lstm on the GPU: train (built-in corpus), resume, generate; the CPU's first epoch beside it"
  chopin="$bin/chopin-lstm train --model embed --hidden1 128 --hidden2 64 --dense 64 --batch 32 --seed 3 --json"
  timeout 300 $chopin --out "$work/cg" --device cuda --epochs 2 > "$log_dir/chopin-gpu.json" 2> "$log_dir/chopin-gpu.log" ||
    fail "chopin-lstm train --device cuda (log: $log_dir/chopin-gpu.log)"
  timeout 300 $chopin --out "$work/cc" --device cpu --threads "$threads" --epochs 1 > "$log_dir/chopin-cpu.json" \
    2> "$log_dir/chopin-cpu.log" || fail "chopin-lstm train --device cpu (log: $log_dir/chopin-cpu.log)"
  compare_losses "chopin-lstm first epoch" "$(first_loss "$log_dir/chopin-gpu.json")" "$(first_loss "$log_dir/chopin-cpu.json")"
  timeout 300 $chopin --out "$work/cg" --device cuda --epochs 3 --resume > "$log_dir/chopin-resume.json" 2>&1 ||
    fail "chopin-lstm train --resume --device cuda (log: $log_dir/chopin-resume.json)"
  grep -q '"epoch":3' "$log_dir/chopin-resume.json" || fail "chopin-lstm: the resumed run has no epoch 3"
  timeout 120 "$bin/chopin-lstm" generate --checkpoint "$work/cg/model.safetensors" --device cuda --length-seconds 10 \
    --out "$work/cg/generated.mid" > "$log_dir/chopin-generate.log" 2>&1 || fail "chopin-lstm generate --device cuda"

  # The seed network (scalar input, loss at the last step only): its training
  # loss over the first 1 and 40 steps on the GPU and on the CPU. Two CPU
  # kernel sets (AVX-512 and plain loops) stay within 3e-6 of each other over
  # a whole epoch of the 48-file set, so a larger gap here is the GPU's.
  for n in 1 40; do
    seed="$bin/chopin-lstm train --model seed --seed 3 --json --epochs 1 --max-steps $n"
    timeout 300 $seed --out "$work/sg$n" --device cuda > "$log_dir/seed-gpu-$n.json" 2>&1 ||
      fail "chopin-lstm train --model seed --device cuda (log: $log_dir/seed-gpu-$n.json)"
    timeout 300 $seed --out "$work/sc$n" --device cpu --threads "$threads" > "$log_dir/seed-cpu-$n.json" 2>&1 ||
      fail "chopin-lstm train --model seed --device cpu (log: $log_dir/seed-cpu-$n.json)"
    compare_losses "chopin-lstm seed, $n steps" "$(first_loss "$log_dir/seed-gpu-$n.json")" \
      "$(first_loss "$log_dir/seed-cpu-$n.json")" 1e-4
  done

  echo "== jazz-vae on the GPU: train (built-in clips), resume, prior, generate, eval; the CPU's first epoch beside it"
  jazz="$bin/jazz-vae train --seed 3 --epochs 3 --json"
  timeout 300 $jazz --out "$work/jg" --device cuda > "$log_dir/jazz-gpu.json" 2> "$log_dir/jazz-gpu.log" ||
    fail "jazz-vae train --device cuda (log: $log_dir/jazz-gpu.log)"
  # The same --epochs on both: the cosine learning rate is planned over them.
  timeout 300 $jazz --out "$work/jc" --device cpu --threads "$threads" > "$log_dir/jazz-cpu.json" \
    2> "$log_dir/jazz-cpu.log" || fail "jazz-vae train --device cpu (log: $log_dir/jazz-cpu.log)"
  compare_losses "jazz-vae first epoch" "$(first_loss "$log_dir/jazz-gpu.json")" "$(first_loss "$log_dir/jazz-cpu.json")"
  timeout 300 "$bin/jazz-vae" train --seed 3 --epochs 4 --out "$work/jg" --device cuda --resume --json \
    > "$log_dir/jazz-resume.json" 2>&1 || fail "jazz-vae train --resume --device cuda (log: $log_dir/jazz-resume.json)"
  timeout 300 "$bin/jazz-vae" prior --checkpoint "$work/jg/model.safetensors" --device cuda --epochs 5 \
    > "$log_dir/jazz-prior.log" 2>&1 || fail "jazz-vae prior --device cuda (log: $log_dir/jazz-prior.log)"
  timeout 120 "$bin/jazz-vae" generate --checkpoint "$work/jg/model.safetensors" --device cuda --count 2 \
    --out "$work/jg/samples" > "$log_dir/jazz-generate.log" 2>&1 || fail "jazz-vae generate --device cuda"
  timeout 120 "$bin/jazz-vae" eval --checkpoint "$work/jg/model.safetensors" --device cuda > "$log_dir/jazz-eval.log" 2>&1 ||
    fail "jazz-vae eval --device cuda"
fi
rm -rf "$work"

bench_lines=()
if want bench; then
  echo "== GPU benchmarks"
  # A RESULT line's numeric field.
  field() { grep -o "\"$2\": [0-9.]*" "$1" | tail -n 1 | awk '{print $2}'; }
  ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }' || echo "-"; }
  have_torch=0
  python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2> /dev/null && have_torch=1
  if [ -x "$bin/bench_chopin" ]; then
    MUSICGEN_KERNEL_LOG=1 timeout 300 "$bin/bench_chopin" --device cuda --model seed --steps 10 \
      > "$log_dir/bench_chopin.log" 2>&1 || fail "bench_chopin --device cuda"
    MUSICGEN_LSTM_RECURRENCE=steps timeout 300 "$bin/bench_chopin" --device cuda --model seed --steps 10 \
      > "$log_dir/bench_chopin-steps.log" 2>&1 || fail "bench_chopin --device cuda, per-step recurrence"
    grep -E "^kernels:" "$log_dir/bench_chopin.log"
    tail -n 3 "$log_dir/bench_chopin.log"
    ours=$(field "$log_dir/bench_chopin.log" samples_per_s)
    steps_only=$(field "$log_dir/bench_chopin-steps.log" samples_per_s)
    ref=""
    if [ $have_torch = 1 ]; then
      timeout 300 python3 bench/compare/torch_chopin.py --device cuda --steps 10 --warmup 3 > "$log_dir/torch_chopin.log" 2>&1 &&
        ref=$(field "$log_dir/torch_chopin.log" samples_per_s)
      tail -n 1 "$log_dir/torch_chopin.log"
    fi
    bench_lines+=("seed LSTM step, batch 256: ${ours:-no result} samples/s (per-step recurrence only: ${steps_only:--}); PyTorch + cuDNN ${ref:-not run}; ours/PyTorch $(ratio "$ours" "$ref")")
    epoch=$(field "$log_dir/bench_chopin.log" epoch_s)
    [ -n "$epoch" ] && bench_lines+=("seed recipe, 200 epochs of the 48-file set: $(awk -v e="$epoch" 'BEGIN { printf "%.1f", 200 * e / 60 }') min projected from the step time")
    peak=$(field "$log_dir/bench_chopin.log" peak_tensor_mib)
    [ -n "$peak" ] && bench_lines+=("seed LSTM step memory: $peak MiB of tensors at the peak; parameters + Adamax state + saved activations $(field "$log_dir/bench_chopin.log" min_mib) MiB")
  fi
  if [ -x "$bin/bench_jazz" ]; then
    MUSICGEN_KERNEL_LOG=1 timeout 300 "$bin/bench_jazz" --device cuda --model conv --steps 10 \
      > "$log_dir/bench_jazz.log" 2>&1 || fail "bench_jazz --device cuda"
    MUSICGEN_CUDNN=off timeout 300 "$bin/bench_jazz" --device cuda --model conv --steps 10 \
      > "$log_dir/bench_jazz-own.log" 2>&1 || fail "bench_jazz --device cuda, own convolutions"
    grep -E "^convolutions:" "$log_dir/bench_jazz.log"
    echo "convolution shapes on cuDNN: $(grep -c -- '-> cuDNN' "$log_dir/bench_jazz.log") of $(grep -c -E '^cudnn: .*(-> |: ours)' "$log_dir/bench_jazz.log")"
    tail -n 1 "$log_dir/bench_jazz.log"
    clips=$(field "$log_dir/bench_jazz.log" samples_per_s)
    own=$(field "$log_dir/bench_jazz-own.log" samples_per_s)
    jref=""
    if [ $have_torch = 1 ]; then
      timeout 300 python3 bench/compare/torch_jazz.py --device cuda --steps 10 --warmup 3 > "$log_dir/torch_jazz.log" 2>&1 &&
        jref=$(field "$log_dir/torch_jazz.log" samples_per_s)
      tail -n 1 "$log_dir/torch_jazz.log"
    fi
    bench_lines+=("jazz conv VAE step, batch 10: ${clips:-no result} clips/s (own convolutions only: ${own:--}); PyTorch + cuDNN fp32 ${jref:-not run}; ours/PyTorch $(ratio "$clips" "$jref")")
    peak=$(field "$log_dir/bench_jazz.log" peak_tensor_mib)
    [ -n "$peak" ] && bench_lines+=("jazz step memory: $peak MiB of tensors at the peak; parameters + Adam state + saved activations $(field "$log_dir/bench_jazz.log" min_mib) MiB")
  fi
  if [ -x "$bin/bench_sgemm_cuda" ]; then
    timeout 300 "$bin/bench_sgemm_cuda" > "$log_dir/bench_sgemm.log" 2>&1 || fail "bench_sgemm_cuda (log: $log_dir/bench_sgemm.log)"
    cat "$log_dir/bench_sgemm.log"
    best=$(awk '/^M = N = K = 4096/ { on = 1; next } /^M = N = K/ { on = 0 } on && /^\| v[0-9]/ { gsub(/%/, "", $0); split($0, c, "|"); v = c[5] + 0; if (v > best) { best = v; name = c[2] } } END { if (best) printf "%s at %.1f%% of cuBLAS", name, best }' "$log_dir/bench_sgemm.log")
    bench_lines+=("SGEMM 4096^3 fp32: best ${best:-no result}")
  fi
fi

echo "== summary"
echo "GPU: $gpu_name"
echo "CUDA tests: ${tests_line:-no result (see $log_dir/parity.log)}"
echo "$forced_line"
echo "sanitizers: $sanitizer_line"
for l in "${app_lines[@]}" "${bench_lines[@]}"; do echo "$l"; done
echo "logs: $log_dir"
if [ ${#failures[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
  exit 1
fi
echo "all checks passed"
