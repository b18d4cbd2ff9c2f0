#!/usr/bin/env bash
# Installs the Debian 12 packages musicgen needs, only those missing.
# Idempotent: with everything present it only runs dpkg-query and exits.
#   scripts/install-deps.sh          what the build, the tests and the apps need
#   scripts/install-deps.sh --fuzz   also clang and libFuzzer, for scripts/fuzz.sh only
set -euo pipefail

fuzz=0
for arg in "$@"; do
  case "$arg" in
    --fuzz) fuzz=1 ;;
    *) echo "install-deps.sh: unknown option $arg (try --fuzz)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake pkg-config git
  libsndfile1-dev libfftw3-dev libsamplerate0-dev libcgif-dev
  libfluidsynth-dev fluid-soundfont-gm
  libcli11-dev nlohmann-json3-dev libfmt-dev doctest-dev libstb-dev
  libopenblas-dev
  python3-numpy
)
if [ "$fuzz" -eq 1 ]; then
  # clang with its libFuzzer and sanitizer runtimes.
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
