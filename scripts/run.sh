#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install packages, build, then
# train both models on their built-in data and generate music from them.
# Everything lands in runs/. Takes about five minutes on two cores after the build.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"

chopin=build/apps/chopin-lstm/chopin-lstm
jazz=build/apps/jazz-vae/jazz-vae
mkdir -p runs

echo "== chopin-lstm: train on the built-in piano corpus"
# A small embedding network on the timed tokens (bars, positions, pitch,
# duration, velocity, tempo), trained at every position: it learns within a
# minute, while the original recipe (--model seed, 512/256/256) needs far longer.
$chopin train --out runs/chopin --model embed --hidden1 128 --hidden2 64 --dense 64 --batch 32 --epochs 10
echo "== chopin-lstm: generate 30 seconds (temperature 1, top-p 0.95)"
$chopin generate --checkpoint runs/chopin/model.safetensors --length-seconds 30 \
  --out runs/chopin/generated.mid --wav runs/chopin/generated.wav
$chopin eval --checkpoint runs/chopin/model.safetensors

echo "== jazz-vae: train on the built-in jazz clips"
$jazz train --out runs/jazz --epochs 40 --lr 1e-3
echo "== jazz-vae: sample from the prior, a 3x3 grid over the latent plane, and an interpolation"
$jazz generate --checkpoint runs/jazz/model.safetensors --count 4 --grid 3 --out runs/jazz/samples
$jazz interpolate --checkpoint runs/jazz/model.safetensors runs/jazz/samples/grid-1-1.wav \
  runs/jazz/samples/grid-3-3.wav --steps 5 --out runs/jazz/interpolation
$jazz eval --checkpoint runs/jazz/model.safetensors

echo "== done: outputs in runs/chopin and runs/jazz"
ls runs/chopin runs/jazz
