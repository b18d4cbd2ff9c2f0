#pragma once
// The size limits of chopin-lstm. Every size a user controls, on the command
// line or inside a checkpoint, is checked against these before anything is
// allocated; --help shows them, README.md lists them.
#include <cstddef>
#include <cstdint>

#include "models/chopin_lstm.h"

namespace chopin {

inline constexpr int kMaxBatch = 65536;
inline constexpr int64_t kMaxSeqLen = 1000;
inline constexpr int64_t kMaxLayer = 4096;        // --hidden1, --hidden2, --dense, --embed-dim
inline constexpr int64_t kMaxVocab = 100'000;     // distinct tokens a checkpoint may hold
inline constexpr double kMaxLearningRate = 10;
inline constexpr double kMaxDropout = 0.95;
inline constexpr int64_t kMaxNotes = 1'000'000;   // generate --notes
inline constexpr int64_t kMaxEvalNotes = 100'000; // eval --notes
inline constexpr int64_t kMaxPieces = 1000;       // eval --pieces, generate --count
inline constexpr double kMaxTemperature = 100;
inline constexpr double kMinStep = 1.0 / 64, kMaxStep = 64;  // beats per token
inline constexpr double kMinTempo = 4, kMaxTempo = 1000;     // beats per minute
inline constexpr double kMaxWavSeconds = 3600;    // --wav renders pieces up to an hour
inline constexpr int64_t kMaxRollTokens = 2000;   // the piano roll shows at most this many generated tokens
inline constexpr size_t kMaxPrimers = 1000;       // primer windows a checkpoint may hold

// Elements in the network's parameters for a config, without building it.
int64_t parameter_count(const mg::nn::ChopinConfig& c);

// Bytes one training run takes besides the data: parameters, gradients and
// the two optimizer moments, and the activations of one batch kept for backward.
double training_bytes(const mg::nn::ChopinConfig& c, int64_t batch, int64_t seq_len);

}  // namespace chopin
