#!/usr/bin/env bash
# Installs the Debian 12 packages musicgen needs, only those missing.
# Idempotent: with everything present it only runs dpkg-query and exits.
#   scripts/install-deps.sh          what the build, the tests and the apps need
#   scripts/install-deps.sh --fuzz   also clang and libFuzzer, for scripts/fuzz.sh only
#   scripts/install-deps.sh --chromium  also Debian's chromium, for the report's browser test only
#                                    (tests/appcommon_report.cpp); when it cannot be installed the
#                                    script says so and succeeds, and that test is skipped
set -euo pipefail

fuzz=0
chromium=0
for arg in "$@"; do
  case "$arg" in
    --fuzz) fuzz=1 ;;
    --chromium) chromium=1 ;;
    *) echo "install-deps.sh: unknown option $arg (try --fuzz or --chromium)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake pkg-config git
  libsndfile1-dev libfftw3-dev libsamplerate0-dev libcgif-dev
  libfluidsynth-dev fluid-soundfont-gm
  libcli11-dev nlohmann-json3-dev libfmt-dev doctest-dev libstb-dev
  libopenblas-dev
  openmpi-bin libopenmpi-dev
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

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Chromium is optional: the one test that opens a report in it skips itself
# without it, so failing to install it is a message, not an error.
if [ "$chromium" -eq 1 ]; then
  if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
    echo "install-deps: chromium present"
  else
    echo "install-deps: installing chromium (for the report's browser test)"
    if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium; }; then
      echo "install-deps: chromium could not be installed; the report's browser test will be skipped" >&2
    fi
  fi
fi
