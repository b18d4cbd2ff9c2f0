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
# Three of the 16 pieces are held out whole; the run ends with eval's tables
# for pieces the best epoch generates, against those three.
$chopin train --out runs/chopin --model embed --hidden1 128 --hidden2 64 --dense 64 --batch 32 --epochs 10
echo "== chopin-lstm: generate 30 seconds (temperature 1, top-p 0.95)"
$chopin generate --checkpoint runs/chopin/best.safetensors --length-seconds 30 \
  --out runs/chopin/generated.mid --wav runs/chopin/generated.wav

echo "== jazz-vae: train on the built-in jazz clips (time-resolved latent: 128 channels per 46 ms)"
$jazz train --out runs/jazz --epochs 40
echo "== jazz-vae: train the learned prior (an LSTM over latent frames)"
$jazz prior --checkpoint runs/jazz/model.safetensors
echo "== jazz-vae: samples from the learned prior and from N(0, I), two as from one training file, a continuation of a primer, an interpolation"
$jazz generate --checkpoint runs/jazz/model.safetensors --count 4 --out runs/jazz/samples
$jazz generate --checkpoint runs/jazz/model.safetensors --count 2 --like builtin-jazz.00000 --out runs/jazz/like-00000
$jazz generate --checkpoint runs/jazz/model.safetensors --count 4 --prior normal --out runs/jazz/samples-normal
$jazz generate --checkpoint runs/jazz/model.safetensors --count 2 --primer runs/jazz/samples/sample-01.wav \
  --out runs/jazz/continued
$jazz interpolate --checkpoint runs/jazz/model.safetensors runs/jazz/samples/sample-01.wav \
  runs/jazz/samples/sample-02.wav --steps 5 --out runs/jazz/interpolation
$jazz eval --checkpoint runs/jazz/model.safetensors
echo "== jazz-vae: the original's design, one 2-D latent point per clip, and a 3x3 grid over that plane"
$jazz train --out runs/jazz-global --epochs 20 --lr 1e-3 --latent-mode global --latent 2
$jazz generate --checkpoint runs/jazz-global/model.safetensors --count 0 --grid 3 --out runs/jazz-global/grid

echo "== done: outputs in runs/chopin, runs/jazz and runs/jazz-global"
ls runs/chopin runs/jazz runs/jazz-global
