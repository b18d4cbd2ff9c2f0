#!/usr/bin/env bash
# Installs the Debian 12 packages musicgen needs, only those missing.
# Idempotent: with everything present it only runs dpkg-query and exits.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libsndfile1-dev libfftw3-dev libsamplerate0-dev libcgif-dev
  libfluidsynth-dev fluid-soundfont-gm
  libcli11-dev nlohmann-json3-dev libfmt-dev doctest-dev libstb-dev
  libopenblas-dev
  python3-numpy
)

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
