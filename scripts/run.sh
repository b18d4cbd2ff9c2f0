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
# A smaller embedding network: on this small corpus it learns within minutes,
# while the full-size seed network (--model seed, 512/256/256) needs far longer.
$chopin train --out runs/chopin --model embed --hidden1 128 --hidden2 64 --dense 64 --epochs 8
echo "== chopin-lstm: generate 200 tokens"
$chopin generate --checkpoint runs/chopin/model.safetensors --notes 200 --temperature 0.8 --top-p 0.95 \
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
