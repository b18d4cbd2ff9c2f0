#pragma once
// The size limits of jazz-vae. Every size a user controls, on the command
// line or inside a checkpoint, is checked against these before anything is
// allocated; --help shows them, README.md lists them. What a network of a
// given size costs, the models say themselves (mg::nn::ConvVaeConfig,
// mg::nn::LatentPriorConfig); here only what depends on the data too.
#include <cstdint>

#include "apps/jazz-vae/dataset.h"
#include "models/jazz_vae.h"
#include "models/latent_prior.h"

namespace jazz {

inline constexpr double kMaxClipSeconds = 600;
inline constexpr int kMaxFft = 16384;
inline constexpr int64_t kMaxStageChannels = 1024;
inline constexpr size_t kMaxStages = 8;
inline constexpr int64_t kMaxLatent = 256;
inline constexpr int64_t kMaxKernel = 15;
inline constexpr int64_t kMaxBlocks = 8;  // residual blocks per stage
inline constexpr double kMinLogFloor = 1e-8, kMaxLogFloor = 1e3;
inline constexpr double kMinPower = 0.01;  // --power: exponents up to 1
inline constexpr double kMaxFreeBits = 100;      // nats per latent channel
inline constexpr double kMaxSpectralWeight = 1e6;
inline constexpr int64_t kMaxPriorHidden = 4096;
inline constexpr int64_t kMaxPriorLayers = 8;
// Training files a prior can be conditioned on (one input per file beside each latent frame).
inline constexpr int64_t kMaxPriorFiles = 4096;
inline constexpr int kMaxPriorWindows = 4096;
inline constexpr double kMaxTemperature = 100;
inline constexpr int kMaxEvalSamples = 10'000;   // eval --samples
inline constexpr int kMaxBatch = 4096;
inline constexpr double kMaxLearningRate = 10;
inline constexpr double kMaxBeta = 1e6;
inline constexpr double kMaxClipGrad = 1e12;
inline constexpr int kMaxCount = 10'000;         // generate --count
inline constexpr int kMaxGrid = 64;              // generate --grid (K x K clips)
inline constexpr double kMaxGridRange = 100;
inline constexpr int kMaxGriffinLim = 10'000;
inline constexpr int kMaxSteps = 1000;           // interpolate --steps
inline constexpr int kMinSampleRate = 1000, kMaxSampleRate = 192'000;  // inside checkpoints
// Latent points decoded at once by generate and interpolate: memory stays
// that of 16 clips however many are asked for.
inline constexpr int64_t kDecodeBatch = 16;

// Bytes of the clips and their features for `clips` clips.
double dataset_bytes(const FeatureConfig& f, double clips);

// Bytes decoding `batch` latent points to audio takes (decoder activations,
// features, Griffin-Lim's spectrograms and the audio).
double decode_bytes(const mg::nn::ConvVaeConfig& c, const FeatureConfig& f, int64_t batch);

}  // namespace jazz
