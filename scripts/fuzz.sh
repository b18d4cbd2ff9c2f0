#!/usr/bin/env bash
# Builds one libFuzzer target with AddressSanitizer and UndefinedBehaviorSanitizer
# (clang, in build-fuzz/ or $FUZZ_BUILD) and runs it for SECONDS.
#   scripts/fuzz.sh TARGET SECONDS
# TARGET: midi (MIDI reader and tokenizer), safetensors (reader, checkpoint
# checks, both apps' metadata checks), audio (audio loader), chopin_cli,
# jazz_cli (each app's command-line parsing), or all.
#
# Seeds: the text files in tests/fuzz/seeds/TARGET, and MIDI files, WAV files
# and checkpoints that the fuzz build's own apps write on first use (in
# FUZZ_BUILD/seeds). Inputs reach 1 MB, so deep JSON and large MIDI files are
# in range. New inputs go to FUZZ_BUILD/corpus/TARGET; a crash is saved as
# FUZZ_BUILD/crashes/TARGET-* and the script exits non-zero. Each run ends
# with a line "fuzz TARGET: N executions in S s".
set -euo pipefail
cd "$(dirname "$0")/.."

targets_all=(midi safetensors audio chopin_cli jazz_cli)
if [ $# -ne 2 ]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS (TARGET: ${targets_all[*]} or all)" >&2
  exit 2
fi
target=$1
seconds=$2
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;; esac
if [ "$target" = all ]; then
  targets=("${targets_all[@]}")
else
  case " ${targets_all[*]} " in *" $target "*) targets=("$target") ;;
    *) echo "fuzz.sh: unknown target '$target' (one of: ${targets_all[*]} all)" >&2; exit 2 ;;
  esac
fi

scripts/install-deps.sh --fuzz
build=${FUZZ_BUILD:-build-fuzz}
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMUSICGEN_CUDA=OFF \
    -DMUSICGEN_SANITIZE=ON -DMUSICGEN_FUZZ=ON \
    -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link
fi
fuzzers=()
for t in "${targets[@]}"; do fuzzers+=("fuzz_$t"); done
cmake --build "$build" -j "$(nproc)" --target "${fuzzers[@]}" chopin-lstm jazz-vae

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Real files for the binary formats, written once by the fuzz build's apps (tiny models, a second or two each).
seeds="$build/seeds"
if [ ! -f "$seeds/done" ]; then
  rm -rf "$seeds"
  mkdir -p "$seeds"/{midi,safetensors,audio,work}
  chopin="$build/apps/chopin-lstm/chopin-lstm"
  jazz="$build/apps/jazz-vae/jazz-vae"
  # Quiet unless a step fails.
  quietly() { ASAN_OPTIONS=detect_leaks=0 "$@" > "$seeds/work/out.log" 2>&1 || { cat "$seeds/work/out.log" >&2; exit 1; }; }
  quietly "$chopin" train --out "$seeds/work/chopin" --epochs 1 --hidden1 8 --hidden2 8 --dense 8 --batch 16 \
    --max-steps 2 --seq-len 8 --threads 1
  quietly "$chopin" train --out "$seeds/work/chopin-embed" --model embed --epochs 1 --hidden1 8 --hidden2 8 \
    --dense 8 --embed-dim 4 --batch 16 --max-steps 2 --seq-len 8 --threads 1
  quietly "$chopin" generate --checkpoint "$seeds/work/chopin/model.safetensors" --notes 24 --temperature 1 \
    --out "$seeds/midi/piece.mid" --threads 1
  quietly "$chopin" generate --checkpoint "$seeds/work/chopin/model.safetensors" --notes 8 \
    --out "$seeds/midi/short.mid" --threads 1
  quietly "$jazz" train --out "$seeds/work/jazz" --epochs 1 --clip-seconds 0.1 --n-fft 64 --hop 32 --channels 2,2 \
    --threads 1
  quietly "$jazz" generate --checkpoint "$seeds/work/jazz/model.safetensors" --count 1 --griffin-lim-iters 2 \
    --out "$seeds/work/jazz-samples" --threads 1
  rm -f "$seeds/midi/"*-roll.png
  cp "$seeds/work/chopin/model.safetensors" "$seeds/safetensors/chopin.safetensors"
  cp "$seeds/work/chopin-embed/model.safetensors" "$seeds/safetensors/chopin-embed.safetensors"
  cp "$seeds/work/jazz/model.safetensors" "$seeds/safetensors/jazz.safetensors"
  cp "$seeds/work/jazz-samples/sample-01.wav" "$seeds/audio/sample.wav"
  rm -rf "$seeds/work"
  touch "$seeds/done"
fi

status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  mkdir -p "$corpus" "$build/crashes"
  dirs=("$corpus")
  [ -d "tests/fuzz/seeds/$t" ] && dirs+=("tests/fuzz/seeds/$t")
  [ -d "$seeds/$t" ] && dirs+=("$seeds/$t")
  log="$build/fuzz-$t.log"
  echo "fuzz $t: running for $seconds s (log: $log)"
  if "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len=1048576 -timeout=20 -rss_limit_mb=2048 \
       -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" "${dirs[@]}" > "$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz $t: ${runs:-?} executions in $seconds s, no crash"
  else
    echo "fuzz $t: FAILED; the end of $log:" >&2
    tail -n 40 "$log" >&2
    status=1
  fi
done
exit $status
